package config

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// noEffectSamples is a line HAProxy 2.6 accepts for each no-effect keyword.
var noEffectSamples = map[string]string{
	"tune.idle-pool.shared": "on", "tune.buffers.limit": "10", "tune.buffers.reserve": "2",
	"tune.pool-high-fd-ratio": "25", "tune.pool-low-fd-ratio": "20", "tune.fail-alloc": "0",
	"tune.pattern.cache-size": "0", "tune.sched.low-latency": "on", "tune.runqueue-depth": "200",
	"tune.maxpollevents": "200", "tune.fd.edge-triggered": "on", "tune.listener.multi-queue": "off",
	"tune.maxaccept": "64", "tune.recv_enough": "10240", "tune.idletimer": "1000",
	"tune.pipesize": "65536", "maxpipes": "1000", "busy-polling": "", "noepoll": "", "nopoll": "",
	"nokqueue": "", "noevports": "", "nogetaddrinfo": "", "no-memory-trimming": "",
	"profiling.tasks": "auto", "numa-cpu-mapping": "", "mworker-max-reloads": "50",
	"tune.lua.forced-yield": "10000", "tune.lua.maxmem": "64", "tune.lua.service-timeout": "4s",
	"tune.lua.session-timeout": "4s", "tune.lua.task-timeout": "4s",
	"tune.vars.global-max-size": "1024", "tune.vars.proc-max-size": "1024",
	"tune.vars.reqres-max-size": "1024", "tune.vars.sess-max-size": "1024",
	"tune.vars.txn-max-size": "1024", "tune.vars.check-max-size": "1024",
	"tune.peers.max-updates-at-once": "200", "tune.ssl.default-dh-param": "2048",
	"tune.ssl.capture-buffer-size": "96", "tune.ssl.capture-cipherlist-size": "96",
	"tune.ssl.ssl-ctx-cache-size": "1000", "tune.ssl.force-private-cache": "",
}

// TestNoEffectKeywords: each keyword lb accepts without a meaning in its
// design draws exactly one notice, "'<kw>' has no effect in lb: <why>.",
// and nothing else; a bad argument is refused with HAProxy's message; and
// when HAProxy is installed, it accepts the same lines.
func TestNoEffectKeywords(t *testing.T) {
	haproxy, _ := exec.LookPath("haproxy")
	for kw := range noEffectKeywords {
		sample, ok := noEffectSamples[kw]
		if !ok {
			t.Errorf("%s: no sample line", kw)
			continue
		}
		line := strings.TrimSpace(kw + " " + sample)
		src := "global\n    " + line + "\n"
		if kw == "tune.fd.edge-triggered" {
			src = "global\n    expose-experimental-directives\n    " + line + "\n"
		}
		_, diags := loadString(t, src)
		var notices []Diag
		for _, d := range diags {
			switch {
			case d.Severity == Notice:
				notices = append(notices, d)
			case d.Severity == Alert:
				t.Errorf("%q: %v", line, d)
			case kw != "tune.ssl.capture-cipherlist-size": // deprecated in 2.6: warned
				t.Errorf("%q: %v", line, d)
			}
		}
		want := "'" + kw + "' has no effect in lb: " + noEffectKeywords[kw].why + "."
		if len(notices) != 1 || notices[0].Msg != want {
			t.Errorf("%q: notices %v; want one %q", line, notices, want)
		}
		if haproxy != "" {
			f := filepath.Join(t.TempDir(), "h.cfg")
			os.WriteFile(f, []byte(src), 0o644)
			out, err := exec.Command(haproxy, "-c", "-f", f).CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
				t.Errorf("haproxy refuses %q (want exit 2, no listener): %v\n%s", line, err, out)
			}
		}
	}
	// Bad arguments: HAProxy's messages.
	for line, want := range map[string]string{
		"noepoll x":                     "'noepoll' cannot handle unexpected argument 'x'.",
		"tune.idle-pool.shared yes":     "'tune.idle-pool.shared' expects either 'on' or 'off' but got 'yes'.",
		"tune.maxaccept":                "'tune.maxaccept' expects an integer argument.",
		"tune.pool-low-fd-ratio 200":    "'tune.pool-low-fd-ratio' expects an integer argument between 0 and 100.",
		"tune.vars.txn-max-size 10k":    "tune.vars.txn-max-size: '10k' is an invalid size",
		"tune.lua.session-timeout x":    "tune.lua.session-timeout: invalid timeout",
		"tune.ssl.default-dh-param 512": "'tune.ssl.default-dh-param' expects a value >= 1024.",
		"profiling.tasks yes":           "'profiling.tasks' expects either 'on', 'auto', or 'off' but got 'yes'.",
		"tune.fd.edge-triggered on":     "'tune.fd.edge-triggered' directive is experimental, must be allowed via a global 'expose-experimental-directives'",
		"thread-groups 2":               "'thread-groups' value must be between 1 and 1 (was 2)",
	} {
		_, diags := loadString(t, "global\n    "+line+"\n")
		if len(diags) == 0 || diags[0].Severity != Alert || diags[0].Msg != want {
			t.Errorf("%q: %v; want the alert %q", line, diags, want)
		}
	}
}

// TestDidYouMean: the hints of "unknown keyword" are HAProxy 2.6's.
func TestDidYouMean(t *testing.T) {
	src := "global\n    maxconnn 10\n    globl\n    tune.bufsiz 100\ndefaults\n    tiemout connect 5s\n    frontnd\n" +
		"    ringg\nfrontend f\n    bind :8080 tfo2\n    bind :8081 accept-proxi\n    default_backend b\n" +
		"backend b\n    server s 127.0.0.1:80 chek\n    server s2 127.0.0.1:80 weigth 10\n    server s3 127.0.0.1:80 maxcon 10\n"
	_, diags := loadString(t, src)
	var got []string
	for _, d := range diags {
		if d.Severity == Alert {
			got = append(got, d.Msg)
		}
	}
	want := []string{
		"unknown keyword 'maxconnn' in 'global' section; did you mean 'maxconn' maybe ?",
		"unknown keyword 'globl' in 'global' section; did you mean 'global' maybe ?",
		"unknown keyword 'tune.bufsiz' in 'global' section; did you mean 'tune.bufsize' maybe ?",
		"unknown keyword 'tiemout' in 'defaults' section; did you mean 'timeout' maybe ?",
		"unknown keyword 'frontnd' in 'defaults' section; did you mean 'frontend' maybe ?",
		"unknown keyword 'ringg' in 'defaults' section",
		"'bind :8080' in section 'frontend': unknown keyword 'tfo2'; did you mean 'tfo' maybe ?",
		"'bind :8081' in section 'frontend': unknown keyword 'accept-proxi'; did you mean 'accept-proxy' maybe ?",
		"'server b/s' : unknown keyword 'chek'; did you mean 'check' maybe ?",
		"'server b/s2' : unknown keyword 'weigth'; did you mean 'weight' maybe ?",
		"'server b/s3' : unknown keyword 'maxcon'; did you mean 'maxconn' maybe ?",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		return
	}
	f := filepath.Join(t.TempDir(), "h.cfg")
	os.WriteFile(f, []byte(src), 0o644)
	out, _ := exec.Command(haproxy, "-c", "-f", f).CombinedOutput()
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Errorf("haproxy does not print %q:\n%s", w, out)
		}
	}
}
