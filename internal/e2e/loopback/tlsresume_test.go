package loopback

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// writeCertPEM writes a self-signed ECDSA P-256 certificate for 127.0.0.1 and its key, in
// one PEM file as "crt" takes it, and returns the path.
func writeCertPEM(t *testing.T, dir string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	b = append(b, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})...)
	path := filepath.Join(dir, "site.pem")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// tlsResumes connects to addr over TLS with client (and its session cache), reads the
// backend's name, which also takes in a TLS 1.3 session ticket, and reports whether the
// session was resumed.
func tlsResumes(t *testing.T, addr string, client *tls.Config) bool {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", addr, client)
	if err != nil {
		t.Fatalf("TLS to %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if strings.TrimSpace(line) != "s1" {
		t.Fatalf("TLS to %s: read %q, %v", addr, line, err)
	}
	return c.ConnectionState().DidResume
}

// mainPid reads MAINPID= from a notification.
func mainPid(msg string) int {
	for _, l := range strings.Split(msg, "\n") {
		if v, ok := strings.CutPrefix(l, "MAINPID="); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// TestTLSResumeAcrossReloads: the TLS session ticket keys survive a reload by -sf -x and an
// in-process reload (SIGUSR2), so that TLS 1.3 and TLS 1.2 clients resume their sessions on
// the new process; a process started without a handover has keys of its own, on which they
// do not resume (the control that the test can fail).
func TestTLSResumeAcrossReloads(t *testing.T) {
	dir := t.TempDir()
	crt := writeCertPEM(t, dir)
	s := startNameServer(t, "s1")
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	sock := filepath.Join(dir, "admin.sock")
	cfg := writeConfig(t, fmt.Sprintf(`
global
    stats socket %s mode 600 level admin expose-fd listeners
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen app
    bind 127.0.0.1:%d ssl crt %s
    server s1 %s
`, sock, port, crt, s.addr()))
	if out, err := exec.Command(lbBinary(t), "-c", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("lb -c: %v\n%s", err, out)
	}

	clients := map[string]*tls.Config{}
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		clients[tls.VersionName(v)] = &tls.Config{InsecureSkipVerify: true, MinVersion: v, MaxVersion: v,
			ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	}
	check := func(when string, want bool) {
		t.Helper()
		for name, c := range clients {
			if got := tlsResumes(t, addr, c); got != want {
				t.Errorf("%s, %s: DidResume = %v; want %v", when, name, got, want)
			}
		}
	}

	old := startLB(t, "-db", "-f", cfg)
	check("first connection", false)
	check("second connection to the same process", true)

	// A reload by -sf -x: the new process fetches the listeners and the keys.
	next, n := reloadSfX(t, old, cfg, sock)
	check("after a -sf -x reload", true)

	// SIGUSR2: the child generation inherits them with the listeners.
	child := reloadUSR2(t, next, n)
	check("after SIGUSR2", true)

	// The control: stop the lineage, start afresh without a handover.
	if err := syscall.Kill(child, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitGone(t, child, 10*time.Second)
	startLB(t, "-db", "-f", cfg)
	check("on a process started afresh", false)
}

// fdStore is a fake NOTIFY_SOCKET that keeps what lb stores (FDSTORE=1, FDNAME=), as
// systemd's fd store would.
type fdStore struct {
	path string
	mu   sync.Mutex
	fds  map[string]*os.File // by FDNAME=; the last one stored under a name
}

func newFDStore(t *testing.T) *fdStore {
	t.Helper()
	dir, err := os.MkdirTemp("", "lbs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &fdStore{path: filepath.Join(dir, "notify"), fds: map[string]*os.File{}}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: s.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, f := range s.fds {
			f.Close()
		}
	})
	go func() {
		buf := make([]byte, 65536)
		oob := make([]byte, 4096)
		for {
			n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
			if err != nil {
				return
			}
			var fds []int
			if msgs, err := syscall.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for _, m := range msgs {
					if r, err := syscall.ParseUnixRights(&m); err == nil {
						fds = append(fds, r...)
					}
				}
			}
			msg := string(buf[:n])
			name := ""
			for _, l := range strings.Split(msg, "\n") {
				if v, ok := strings.CutPrefix(l, "FDNAME="); ok {
					name = v
				}
			}
			s.mu.Lock()
			if strings.Contains(msg, "FDSTORE=1") && len(fds) == 1 {
				if old := s.fds[name]; old != nil {
					old.Close()
				}
				s.fds[name] = os.NewFile(uintptr(fds[0]), name)
				fds = nil
			}
			s.mu.Unlock()
			for _, fd := range fds {
				syscall.Close(fd)
			}
		}
	}()
	return s
}

// has reports whether something is stored under name.
func (s *fdStore) has(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fds[name] != nil
}

// passed returns the stored files and their LISTEN_FDNAMES.
func (s *fdStore) passed() ([]*os.File, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var files []*os.File
	var names []string
	for n, f := range s.fds {
		files = append(files, f)
		names = append(names, n)
	}
	return files, strings.Join(names, ":")
}

// TestTLSResumeAcrossFDStoreRestart: the ticket keys go to systemd's fd store with the
// listeners, and a process started with them in LISTEN_FDS (systemctl restart, or a restart
// after a crash) resumes the sessions of the process before it.
func TestTLSResumeAcrossFDStoreRestart(t *testing.T) {
	dir := t.TempDir()
	crt := writeCertPEM(t, dir)
	s := startNameServer(t, "s1")
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen app
    bind 127.0.0.1:%d ssl crt %s
    server s1 %s
`, port, crt, s.addr()))
	if out, err := exec.Command(lbBinary(t), "-c", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("lb -c: %v\n%s", err, out)
	}
	client := &tls.Config{InsecureSkipVerify: true, ClientSessionCache: tls.NewLRUClientSessionCache(4)}

	store := newFDStore(t)
	first := startLBNotify(t, &notifySocket{path: store.path}, "-db", "-f", cfg)
	deadline := time.Now().Add(10 * time.Second)
	for !store.has("lb-tls-ticket-keys") {
		if time.Now().After(deadline) {
			t.Fatalf("the ticket keys never reached the fd store:\n%s", first.out.String())
		}
		time.Sleep(20 * time.Millisecond) // no other signal that the store message arrived
	}
	if tlsResumes(t, addr, client) || !tlsResumes(t, addr, client) {
		t.Fatal("no resumption on the first process: the test cannot tell anything")
	}
	first.signal(syscall.SIGKILL) // a crash: only the fd store keeps anything
	first.wait(5 * time.Second)

	files, names := store.passed()
	n := newNotifySocket(t)
	// LISTEN_PID must be lb's own pid: a shell sets it, then becomes lb.
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ exec "$0" -db -f "$1"`, lbBinary(t), cfg)
	cmd.ExtraFiles = files
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+n.path, fmt.Sprintf("LISTEN_FDS=%d", len(files)), "LISTEN_FDNAMES="+names)
	p := startCmd(t, cmd)
	out := p.out
	defer func() { cmd.Process.Signal(syscall.SIGTERM); p.wait(5 * time.Second) }()
	n.waitFor(t, "READY=1", 10*time.Second)
	if !tlsResumes(t, addr, client) {
		t.Errorf("no resumption after a restart with the fd store\n%s", out.String())
	}
}
