package logs

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"lb/internal/lbtest"
)

// freePort returns a loopback port nothing listens on, reserved for the whole test.
func freePort(t *testing.T) int { return lbtest.ReservePort(t) }

// TestAgainstHAProxy runs the reference HAProxy on loopback, makes one
// connection through a tcplog proxy and one through a proxy without it,
// and checks that our formatters print its lines byte for byte from the
// same fields. It is skipped when haproxy is not installed.
func TestAgainstHAProxy(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy not installed")
	}
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	tlPort, dlPort := freePort(t), freePort(t)
	cfg := fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option dontlognull
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen tl
    bind 127.0.0.1:%d
    option tcplog
    server s1 %s
listen dl
    bind 127.0.0.1:%d
    server s1 %s
`, tlPort, echo.Addr(), dlPort, echo.Addr())
	path := filepath.Join(t.TempDir(), "h.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// Wait until the tcplog proxy accepts; these empty probe connections
	// are not logged thanks to dontlognull.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", tlPort))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy did not listen: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	readLine := func() string {
		select {
		case l := <-lines:
			return l
		case <-time.After(5 * time.Second):
			t.Fatal("no log line from haproxy within 5s")
		}
		return ""
	}

	// A tcplog line.
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", tlPort))
	if err != nil {
		t.Fatal(err)
	}
	client := netip.MustParseAddrPort(c.LocalAddr().String())
	io.WriteString(c, "hello\n")
	buf := make([]byte, 6)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	c.Close()
	line := readLine()
	re := regexp.MustCompile(`^(\S+):(\d+) \[(\S+)\] (\S+) (\S+)/(\S+) (-?\d+)/(-?\d+)/(-?\d+) (\d+) (\S\S) (\d+)/(\d+)/(\d+)/(\d+)/(\+?)(\d+) (\d+)/(\d+)$`)
	m := re.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("haproxy tcplog line %q does not have the tcplog shape", line)
	}
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	ms := func(s string) time.Duration {
		if n := atoi(s); n >= 0 {
			return time.Duration(n) * time.Millisecond
		}
		return -1
	}
	acc, err := time.ParseInLocation(dateLayout, m[3], time.Local)
	if err != nil {
		t.Fatalf("date %q: %v", m[3], err)
	}
	tl := TCPLog{
		Client: client, Accept: acc, Frontend: "tl", Backend: "tl", Server: "s1",
		Tw: ms(m[7]), Tc: ms(m[8]), Tt: ms(m[9]), Bytes: 6, Term: "--",
		ActConn: atoi(m[12]), FeConn: atoi(m[13]), BeConn: atoi(m[14]), SrvConn: atoi(m[15]),
		Redispatched: m[16] == "+", Retries: atoi(m[17]), SrvQueue: atoi(m[18]), BeQueue: atoi(m[19]),
	}
	if got := tl.String(); got != line {
		t.Errorf("TCPLog =\n%s\nhaproxy printed\n%s", got, line)
	}

	// The default "Connect from" line.
	c, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", dlPort))
	if err != nil {
		t.Fatal(err)
	}
	want := ConnectMessage(netip.MustParseAddrPort(c.LocalAddr().String()),
		netip.MustParseAddrPort(c.RemoteAddr().String()), "dl", "TCP")
	c.Close()
	if got := readLine(); got != want {
		t.Errorf("ConnectMessage = %q; haproxy printed %q", want, got)
	}
}
