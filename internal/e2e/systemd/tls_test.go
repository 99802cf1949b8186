package systemd_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// The TLS listener of the certificate renewal scenario, added to lifecycleCfg: lb binds it
// itself and hands it over on each reload.
const (
	tlsAddr = "127.0.0.1:8443"
	tlsCert = "/etc/lb/tls/site.pem"
	tlsCfg  = lifecycleCfg + `
listen site
    bind ` + tlsAddr + ` ssl crt ` + tlsCert + `
    server a 127.0.0.1:9001
    server b 127.0.0.1:9002
`
)

// selfSigned returns the PEM of a self-signed ECDSA certificate for cn and its key.
func selfSigned(t *testing.T, cn string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     []string{cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) +
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

// (h) A renewed certificate is served after `systemctl reload`, with TLS clients connecting
// all along and none failing; the listener is the same socket throughout. Then sessions
// resume across a reload and `systemctl restart`s.
func scenarioTLSRenewal(w *world) {
	t := w.t
	// From a fresh start: the scenario before may leave lb.service running alone,
	// which lb.socket refuses to join.
	w.run("systemctl", "stop", unitSvc)
	w.resetFailed()
	w.ensureSocketService()
	w.sh("mkdir -p /etc/lb/tls && chown root:lb /etc/lb/tls && chmod 750 /etc/lb/tls")
	putCert := func(cn string) {
		w.writeFile(tlsCert, selfSigned(t, cn), 0o640)
		w.sh("chown root:lb " + tlsCert)
	}
	putCert("site-v1.test")
	w.writeFile("/etc/lb/lb.cfg", tlsCfg, 0o644)
	defer func() {
		w.writeFile("/etc/lb/lb.cfg", lifecycleCfg, 0o644)
		if out, err := w.reload(); err != nil {
			t.Errorf("reload back to the plain configuration: %v\n%s", err, out)
		}
	}()
	if out, err := w.reload(); err != nil {
		t.Fatalf("reload with the TLS listener: %v\n%s", err, out)
	}
	load := w.startLoad(true, "-addr", tlsAddr, "-tls", "-c", "4", "-rate", "400", "-timeout", "5s")
	time.Sleep(500 * time.Millisecond) // serve the old certificate a while
	putCert("site-v2.test")
	if out, err := w.reload(); err != nil {
		load.stop()
		t.Fatalf("reload with the renewed certificate: %v\n%s", err, out)
	}
	time.Sleep(500 * time.Millisecond) // and the new one
	r := load.stop()
	requireNoFailure(t, "TLS certificate renewal", r)
	if r.Certs["site-v1.test"] == 0 || r.Certs["site-v2.test"] == 0 {
		t.Errorf("certificates served under load: %v; want both site-v1.test and site-v2.test", r.Certs)
	}
	after := w.startLoad(false, "-addr", tlsAddr, "-tls", "-n", "20", "-c", "2", "-timeout", "5s").wait()
	requireNoFailure(t, "after the renewal", after)
	if len(after.Certs) != 1 || after.Certs["site-v2.test"] != 20 {
		t.Errorf("after the reload, certificates served: %v; want only site-v2.test", after.Certs)
	}

	// The session ticket keys are kept in the fd store with the listener: one client
	// resuming its session all along has one full handshake, its first, across a reload and
	// two restarts.
	resume := w.startLoad(true, "-addr", tlsAddr, "-tls", "-resume", "-c", "1", "-rate", "200", "-timeout", "5s")
	if out, err := w.reload(); err != nil {
		resume.stop()
		t.Fatalf("reload: %v\n%s", err, out)
	}
	for i := 0; i < 2; i++ {
		time.Sleep(300 * time.Millisecond) // resume on the new process a while
		w.run("systemctl", "restart", unitSvc)
	}
	time.Sleep(300 * time.Millisecond)
	rr := resume.stop()
	requireNoFailure(t, "TLS sessions across a reload and restarts", rr)
	if rr.Full != 1 {
		t.Errorf("%d full handshakes of %d connections across a reload and 2 restarts; want 1 (the first)", rr.Full, rr.Total)
	}
}

// (i) Operator changes made with lbctl over the runtime API (maintenance, a weight, an added
// server) survive `systemctl reload` and `systemctl restart`: the state travels with the
// listeners.
func scenarioRuntimeChangesSurvive(w *world) {
	t := w.t
	w.run("systemctl", "stop", unitSvc)
	w.resetFailed()
	w.ensureSocketService()
	w.run("lbctl", "disable", "server", "app/a")
	w.run("lbctl", "set", "weight", "app/b", "7")
	w.run("lbctl", "add", "server", "app/c", "127.0.0.1:9002", "weight", "3")
	w.run("lbctl", "enable", "server", "app/c")
	defer func() {
		w.run("lbctl", "disable", "server", "app/c")
		w.run("lbctl", "del", "server", "app/c")
		w.run("lbctl", "enable", "server", "app/a")
		w.run("lbctl", "set", "weight", "app/b", "1")
	}()
	check := func(when string) {
		t.Helper()
		out := w.run("lbctl", "--json", "show", "servers", "app")
		var servers []map[string]string
		if err := json.Unmarshal([]byte(out), &servers); err != nil || len(servers) != 3 {
			t.Fatalf("%s: lbctl show servers: %v\n%s", when, err, out)
		}
		a, b, c := servers[0], servers[1], servers[2]
		if a["srv_admin_state"] != "1" || b["srv_uweight"] != "7" || c["srv_name"] != "c" || c["srv_admin_state"] != "0" || c["srv_uweight"] != "3" {
			t.Errorf("%s: a admin %q (want 1), b weight %q (want 7), added %q admin %q weight %q (want c 0 3)",
				when, a["srv_admin_state"], b["srv_uweight"], c["srv_name"], c["srv_admin_state"], c["srv_uweight"])
		}
		requireNoFailure(t, when, w.startLoad(true, "-addr", frontAddr, "-c", "2", "-n", "30").wait())
	}
	check("before")
	if out, err := w.reload(); err != nil {
		t.Fatalf("reload: %v\n%s", err, out)
	}
	check("after systemctl reload")
	w.run("systemctl", "restart", unitSvc)
	w.requireActive(unitSvc)
	check("after systemctl restart")
}
