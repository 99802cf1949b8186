// Package nspawn boots a throwaway systemd container for end-to-end tests: systemd-nspawn over a
// writable overlay of a root file system, with a private network (systemd-nspawn(1)).
//
// Two roots are offered (Release): the machine's own root (Debian 12, systemd 252, on the
// machines that build lb) and a Debian 13 root (systemd 257) that the first test needing it
// builds with debootstrap and that later runs reuse from a cache directory.
//
// The container runs that root's systemd as its PID 1, so units, D-Bus, the journal and
// `apt install ./pkg.deb` behave as on a real machine, while nothing is written to the host
// root or the cached one: every change lands in the overlay's upper directory, which is removed
// at the end of the test. Only loopback exists inside; load generators and backends of a test
// run in the container through Exec or Start.
package nspawn

import (
	"os"
	"os/exec"
	"sync"
	"time"
)

// Options tune Boot. The zero value is what most tests want.
type Options struct {
	// Name is the machine name (systemd-nspawn -M). Empty means "lbt-" and random hex,
	// unique per call, so parallel tests and other running containers never collide.
	Name string
	// Mask lists extra units masked in the overlay before boot, on top of DefaultMask and
	// every lb unit found on the host.
	Mask []string
	// BootTimeout bounds the wait for `systemctl is-system-running --wait`. Zero means 90s.
	BootTimeout time.Duration
	// Dir is where the overlay's directories are created. Empty means os.TempDir().
	Dir string
	// Release is the root the container boots. The zero value is Host.
	Release Release
}

// DefaultMask are the units masked before boot: servers that the host root has enabled and
// that would listen on the ports a test uses (haproxy, nginx), or that only slow the boot
// down (postgresql takes seconds to start and nothing here needs it).
var DefaultMask = []string{
	"haproxy.service",
	"nginx.service",
	"postgresql.service",
	"postgresql@.service",
}

// Container is a booted systemd container. Its methods may be called from several goroutines.
type Container struct {
	// Name is the machine name.
	Name string
	// Root is the overlay's merged root on the host: Root + "/etc/x" is the container's /etc/x.
	Root string
	// PID1 is the host pid of the container's systemd.
	PID1 int
	// Release is the root the container booted.
	Release Release

	dir     string // holds upper/, work/, root/ and boot.log
	bootLog string
	nspawn  *exec.Cmd
	exited  chan struct{} // closed when the systemd-nspawn process has been reaped

	mu    sync.Mutex // guards procs
	procs map[*Proc]struct{}
}

// Proc is a process started in the container by Container.Start. It runs in its own
// process group on the host, so signals reach the program itself and not only nsenter,
// which does not forward them.
type Proc struct {
	Cmd  *exec.Cmd
	c    *Container
	once sync.Once
	err  error
	done chan struct{}
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the process's exit error, valid once Done is closed.
func (p *Proc) Err() error {
	<-p.done
	return p.err
}

// bootLogTail returns the last n bytes of the container's console output.
func bootLogTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := st.Size() - n
	if off < 0 {
		off = 0
	}
	buf := make([]byte, st.Size()-off)
	_, _ = f.ReadAt(buf, off)
	return string(buf)
}
