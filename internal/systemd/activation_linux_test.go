package systemd

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// childEnv makes the test binary run activationChild instead of the tests.
const childEnv = "LB_SYSTEMD_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "activation" {
		os.Exit(activationChild())
	}
	os.Exit(m.Run())
}

// activationChild prints one line per fd ListenFDs returns, then the LISTEN_*
// variables left in the environment.
func activationChild() int {
	acts := ListenFDs()
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for _, a := range acts {
		flags, err := unix.FcntlInt(uintptr(listenFDsStart+indexOf(acts, a)), unix.F_GETFD, 0)
		cloexec := err == nil && flags&unix.FD_CLOEXEC != 0
		si, err := InspectSocket(a.File)
		switch {
		case IsNotSocket(err):
			fmt.Fprintf(w, "fd %s notsocket cloexec=%t\n", a.Name, cloexec)
		case err != nil:
			fmt.Fprintf(w, "fd %s error %v\n", a.Name, err)
		default:
			fmt.Fprintf(w, "fd %s %s listening=%t stream=%t cloexec=%t\n", a.Name, si.Addr, si.Listening, si.Stream(), cloexec)
		}
	}
	for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if s, ok := os.LookupEnv(v); ok {
			fmt.Fprintf(w, "env %s=%s\n", v, s)
		}
	}
	fmt.Fprintf(w, "again %d\n", len(ListenFDs()))
	return 0
}

func indexOf(acts []Activated, a Activated) int {
	for i := range acts {
		if acts[i].File == a.File {
			return i
		}
	}
	return -1
}

func TestListenFDsChild(t *testing.T) {
	tcp, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	sockPath := filepath.Join(t.TempDir(), "admin.sock")
	unixLn, err := net.ListenUnix("unix", &net.UnixAddr{Name: sockPath, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer unixLn.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	tcpFile, _ := tcp.File()
	defer tcpFile.Close()
	unixFile, _ := unixLn.File()
	defer unixFile.Close()

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		pid      string // LISTEN_PID; "$$" = the child itself
		fdnames  string
		setNames bool
		want     []string
	}{
		{
			name: "named", pid: "$$", fdnames: "http:admin:state", setNames: true,
			want: []string{
				"fd http " + tcp.Addr().String() + " listening=true stream=true cloexec=true",
				"fd admin " + sockPath + " listening=true stream=true cloexec=true",
				"fd state notsocket cloexec=true",
				"again 0",
			},
		},
		{
			name: "unnamed", pid: "$$", setNames: false,
			want: []string{
				"fd  " + tcp.Addr().String() + " listening=true stream=true cloexec=true",
				"fd  " + sockPath + " listening=true stream=true cloexec=true",
				"fd  notsocket cloexec=true",
				"again 0",
			},
		},
		{
			name: "other pid", pid: "1", fdnames: "http:admin:state", setNames: true,
			want: []string{"again 0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// sh's $$ is the pid that exec keeps: LISTEN_PID names the
			// test binary itself, as systemd does after fork.
			script := `LISTEN_PID=` + tt.pid + `; export LISTEN_PID; exec "$0" -test.run=^$`
			cmd := exec.Command("/bin/sh", "-c", script, self)
			cmd.ExtraFiles = []*os.File{tcpFile, unixFile, pr}
			cmd.Env = append(os.Environ(), childEnv+"=activation", "LISTEN_FDS=3")
			if tt.setNames {
				cmd.Env = append(cmd.Env, "LISTEN_FDNAMES="+tt.fdnames)
			}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			got := strings.Split(strings.TrimSpace(string(out)), "\n")
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("child saw:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestInspectSocket(t *testing.T) {
	tcp, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	conn, err := net.DialTCP("tcp4", nil, tcp.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	abstract := "@lb-inspect-test-" + fmt.Sprint(os.Getpid())
	abs, err := net.ListenUnix("unix", &net.UnixAddr{Name: abstract, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer abs.Close()
	gram, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(t.TempDir(), "g"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer gram.Close()

	type filer interface{ File() (*os.File, error) }
	tests := []struct {
		name      string
		sock      filer
		network   string
		addr      string
		listening bool
		stream    bool
		family    int
	}{
		{"tcp listener", tcp, "tcp", tcp.Addr().String(), true, true, unix.AF_INET},
		{"tcp conn", conn, "tcp", conn.LocalAddr().String(), false, true, unix.AF_INET},
		{"udp", udp, "udp", udp.LocalAddr().String(), false, false, unix.AF_INET},
		{"abstract unix listener", abs, "unix", abstract, true, true, unix.AF_UNIX},
		{"unixgram", gram, "unixgram", gram.LocalAddr().String(), false, false, unix.AF_UNIX},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := tt.sock.File()
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			si, err := InspectSocket(f)
			if err != nil {
				t.Fatalf("InspectSocket() = %v", err)
			}
			if si.Addr == nil || si.Addr.Network() != tt.network || si.Addr.String() != tt.addr {
				t.Errorf("Addr = %v; want %s %s", si.Addr, tt.network, tt.addr)
			}
			if si.Listening != tt.listening || si.Stream() != tt.stream || si.Family != tt.family {
				t.Errorf("Listening, Stream, Family = %t, %t, %d; want %t, %t, %d",
					si.Listening, si.Stream(), si.Family, tt.listening, tt.stream, tt.family)
			}
		})
	}
	t.Run("pipe", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		if _, err := InspectSocket(r); !IsNotSocket(err) {
			t.Errorf("InspectSocket(pipe) = %v; want a not-a-socket error", err)
		}
	})
}

func TestNamed(t *testing.T) {
	acts := []Activated{{Name: "http"}, {Name: "admin"}, {Name: "http"}}
	if got := Named(acts, "http"); len(got) != 2 {
		t.Errorf("Named(http) = %d entries; want 2", len(got))
	}
	if got := Named(acts, "none"); got != nil {
		t.Errorf("Named(none) = %v; want nil", got)
	}
}
