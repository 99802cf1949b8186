package health

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMySQLCheckMariaDB runs mysql-check against a real MariaDB server on
// loopback, started in a temporary directory. It is skipped when
// mariadb-server is not installed.
func TestMySQLCheckMariaDB(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a database server")
	}
	server, err1 := exec.LookPath("mariadbd")
	install, err2 := exec.LookPath("mariadb-install-db")
	if err1 != nil || err2 != nil {
		t.Skip("mariadb-server not installed")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	out, err := exec.Command(install, "--no-defaults", "--datadir="+data, "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput()
	if err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	// A user without a password, as mysql-check logs in.
	initFile := filepath.Join(dir, "init.sql")
	os.WriteFile(initFile, []byte("CREATE USER 'haproxy'@'127.0.0.1';\n"), 0o644)
	cmd := exec.Command(server, "--no-defaults", "--datadir="+data, "--user=root", "--bind-address=127.0.0.1",
		"--port="+port, "--socket="+filepath.Join(dir, "s.sock"), "--pid-file="+filepath.Join(dir, "pid"),
		"--skip-grant-tables=0", "--init-file="+initFile, "--skip-log-bin", "--innodb-buffer-pool-size=8M")
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(ready) {
			t.Fatalf("mariadbd did not listen: %v\n%s", err, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, tc := range []struct {
		name   string
		user   string
		pre41  bool
		status Status
		code   int
	}{
		{"handshake", "", false, StatusL7OK, 0},
		{"login", "haproxy", false, StatusL7OK, 0},
		{"unknown user", "nosuchuser", false, StatusL7Sts, 1045},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Probe(context.Background(), Config{Kind: KindMySQL, Addr: addr, MySQLUser: tc.user, MySQLPre41: tc.pre41, Inter: 5 * time.Second})
			if r.Status != tc.status || r.Code != tc.code {
				t.Errorf("Probe = %v %d %q; want %v %d", r.Status, r.Code, r.Info, tc.status, tc.code)
			}
			if tc.status == StatusL7OK && !strings.Contains(r.Info, "MariaDB") {
				t.Errorf("info = %q; want the server version", r.Info)
			}
			t.Logf("%v %d %q", r.Status, r.Code, r.Info)
		})
	}
}
