package lifecycle

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lb/internal/config"
	"lb/internal/listener"
)

// selfSigned is an ECDSA P-256 certificate for 127.0.0.1.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tlsProcess is a process whose configuration terminates TLS on port, in
// front of server, with a runtime socket exposing its listeners at sock.
// Its listeners are not obtained yet.
func tlsProcess(t *testing.T, port int, server, sock string, cert tls.Certificate) *process {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lb.cfg")
	text := fmt.Sprintf("global\n    stats socket %s mode 600 level admin expose-fd listeners\n"+
		"defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n"+
		"listen app\n    bind 127.0.0.1:%d\n    server s1 %s\n", sock, port, server)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load([]string{path}, config.Options{})
	if config.ExitCode(cfg, diags) != 0 {
		t.Fatalf("config: %v", diags)
	}
	// What "ssl crt FILE" resolves to, set here so that the test does not depend on the
	// parser's support for it.
	cfg.Frontends()[0].Binds[0].TLS = &config.BindTLS{Config: &tls.Config{Certificates: []tls.Certificate{cert}}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := &process{args: &Args{Files: []string{path}}, cfg: cfg, log: log, requests: newRequests()}
	t.Cleanup(p.runAtExit)
	return p
}

// serve obtains p's listeners (with -x sock when sock is set) and starts its generation.
func serve(t *testing.T, p *process, oldSocket string) {
	t.Helper()
	p.args.OldSocket = oldSocket
	var err error
	if p.lns == nil {
		if p.lns, err = p.obtainListeners(nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err = p.startGeneration(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.gen.CloseAll(); p.gen.Stop() })
}

// backendServer answers every connection with "hello\n".
func backendServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "hello\n")
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// resumed connects to addr over TLS with the client's session cache, reads the backend's
// answer (which also takes in a TLS 1.3 ticket), and reports whether the session was
// resumed.
func resumed(t *testing.T, addr string, cfg *tls.Config) bool {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("TLS to %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if string(b) != "hello\n" {
		t.Fatalf("TLS to %s: read %q, %v", addr, b, err)
	}
	return c.ConnectionState().DidResume
}

// TestTicketKeysAcrossProcesses: a TLS session made with one process resumes on the process
// that took its listeners over with -x, and on a child generation, which get its ticket
// keys; it does not on a process that started afresh.
func TestTicketKeysAcrossProcesses(t *testing.T) {
	cert := selfSigned(t)
	server := backendServer(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	port := freeTCPPort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			client := &tls.Config{InsecureSkipVerify: true, MinVersion: v, MaxVersion: v,
				ClientSessionCache: tls.NewLRUClientSessionCache(4)}

			old := tlsProcess(t, port, server, sock, cert)
			serve(t, old, "")
			old.serveAdmin()
			start(t, old) // it hears that it was superseded
			if resumed(t, addr, client) {
				t.Fatal("the first connection resumed")
			}
			if !resumed(t, addr, client) {
				t.Fatal("no resumption on the same process: the test cannot tell anything")
			}

			// -x: the new process fetches the listeners and the keys from the old one.
			next := tlsProcess(t, port, server, sock, cert)
			serve(t, next, sock)
			next.lns.TellSuperseded(os.Getpid())
			old.gen.StopAccepting()
			old.lns.CloseAll()
			if !resumed(t, addr, client) {
				t.Error("no resumption after a -x handover")
			}

			// A child generation (SIGUSR2): the keys are inherited with the listeners.
			files, fds := passOn(next.lns)
			passed := make([]listener.Passed, len(fds))
			for i, fd := range fds {
				passed[i] = listener.Passed{Key: fd.Key, Origin: fd.Origin}
			}
			child := tlsProcess(t, port, server, sock, cert)
			var err error
			if child.lns, err = listener.Inherit(child.cfg, files, passed, listener.Options{}); err != nil {
				t.Fatal(err)
			}
			serve(t, child, "")
			next.gen.StopAccepting()
			if !resumed(t, addr, client) {
				t.Error("no resumption on a child generation")
			}
			child.gen.StopAccepting()
			child.lns.CloseAll()
			next.lns.CloseAll()

			// The control: a process started without any handover has keys of its own.
			fresh := tlsProcess(t, port, server, sock, cert)
			serve(t, fresh, "")
			defer fresh.lns.CloseAll()
			if resumed(t, addr, client) {
				t.Error("a session resumed on a process that did not get the keys")
			}
		})
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
