package loopback

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// checkRecorder is a server that records what each check sends: the bytes
// of a connection until the check closes it (tcp), or its request (http),
// tagged with the run (gen) current when it was accepted, so that a check
// of a stopped process is not taken for one of the next.
type checkRecorder struct {
	addr string
	gen  atomic.Int32
	recs chan checkRec
}

type checkRec struct {
	gen  int32
	data string
}

func startCheckRecorder(t *testing.T, http bool, reply string) *checkRecorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	r := &checkRecorder{addr: ln.Addr().String(), recs: make(chan checkRec, 64)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			gen := r.gen.Load()
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				var data []byte
				if http {
					data = readCheckRequest(c)
					io.WriteString(c, reply)
				} else {
					io.WriteString(c, reply)
					data, _ = io.ReadAll(c)
				}
				select {
				case r.recs <- checkRec{gen, string(data)}:
				default:
				}
			}()
		}
	}()
	return r
}

// readCheckRequest reads a request's head and its content-length's body.
func readCheckRequest(c net.Conn) []byte {
	var data []byte
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		data = append(data, buf[:n]...)
		if head, body, ok := bytes.Cut(data, []byte("\r\n\r\n")); ok {
			clen := 0
			for _, l := range strings.Split(string(head), "\r\n") {
				if v, ok := strings.CutPrefix(strings.ToLower(l), "content-length: "); ok {
					clen, _ = strconv.Atoi(v)
				}
			}
			if len(body) >= clen {
				return data
			}
		}
		if err != nil {
			return data
		}
	}
}

// next returns the next n records of the current run.
func (r *checkRecorder) next(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	timeout := time.After(15 * time.Second)
	for len(out) < n {
		select {
		case rec := <-r.recs:
			if rec.gen == r.gen.Load() {
				out = append(out, rec.data)
			}
		case <-timeout:
			t.Fatalf("%s: %d of %d checks recorded", r.addr, len(out), n)
		}
	}
	return out
}

// TestCheckVarsBytesAsHAProxy: tcp-check and http-check rules with
// variables and log-formats make lb send the bytes HAProxy sends, run after
// run (a proc variable set by the first run is in the second one's), and
// leave the servers in the same state.
func TestCheckVarsBytesAsHAProxy(t *testing.T) {
	hap := haproxyBin(t)
	tcp := startCheckRecorder(t, false, "xxfooyy")
	http := startCheckRecorder(t, true, "HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nxfooy\n")
	sock := filepath.Join(t.TempDir(), "admin.sock")
	cfg := writeConfig(t, fmt.Sprintf(`
global
    stats socket %s level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 1s
frontend fe
    bind 127.0.0.1:%d
    default_backend t
backend t
    option tcp-check
    tcp-check set-var(check.x) str(foo)
    tcp-check set-var-fmt(check.f) "F-%%[var(check.x)]-%%H"
    tcp-check send-lf "A:%%[var(check.x)] N:%%[var(proc.n)] F:%%[var(check.f)] P:%%pid\n"
    tcp-check send-binary-lf "%%[str(hi),hex]0a"
    tcp-check expect string-lf "%%[var(check.x)]"
    tcp-check unset-var(check.x)
    tcp-check send-lf "C:%%[var(check.x)]\n"
    tcp-check set-var(proc.n) int(5)
    server s %s check inter 200ms
backend h
    mode http
    option httpchk
    http-check set-var(check.x) str(foo)
    http-check set-var-fmt(check.f) "F-%%[var(check.x)]"
    http-check send meth POST uri-lf "/p/%%[var(check.x)]?n=%%[var(proc.m)]" ver HTTP/1.1 hdr X-A "%%[var(check.f)]" hdr X-B plain body-lf "b=%%[var(check.x)]"
    http-check expect string-lf "%%[var(check.x)]"
    http-check unset-var(check.x)
    http-check set-var(proc.m) int(7)
    server s %s check inter 200ms
`, sock, freePort(t), tcp.addr, http.addr))

	type outcome struct{ tcp, http []string }
	run := func(bin string) (outcome, []string) {
		tcp.gen.Add(1)
		http.gen.Add(1)
		proc := startProc(t, bin, "-db", "-f", cfg)
		defer proc.stop()
		pid := strconv.Itoa(proc.pid())
		var o outcome
		for _, s := range tcp.next(t, 2) {
			o.tcp = append(o.tcp, strings.ReplaceAll(s, "P:"+pid+"\n", "P:<pid>\n"))
		}
		o.http = http.next(t, 2)
		// Both servers have passed two checks since the start: their
		// state no longer changes. The check columns do, with the check
		// in progress or not at the time of the dump (stateLines).
		return o, stateLines(adminCommand(t, sock, "show servers state"))
	}
	want, wantState := run(hap)
	got, gotState := run(lbBinary(t))
	for i := range 2 {
		if got.tcp[i] != want.tcp[i] {
			t.Errorf("tcp-check run %d: lb sent %q; HAProxy %q", i+1, got.tcp[i], want.tcp[i])
		}
		if got.http[i] != want.http[i] {
			t.Errorf("http-check run %d: lb sent %q; HAProxy %q", i+1, got.http[i], want.http[i])
		}
	}
	// The runs differ by the proc variables only.
	if want.tcp[0] == want.tcp[1] || want.http[0] == want.http[1] {
		t.Errorf("HAProxy's two runs sent the same bytes: %q", want)
	}
	if strings.Join(gotState, "\n") != strings.Join(wantState, "\n") {
		t.Errorf("show servers state:\nlb\n%s\nHAProxy\n%s", strings.Join(gotState, "\n"), strings.Join(wantState, "\n"))
	}
}
