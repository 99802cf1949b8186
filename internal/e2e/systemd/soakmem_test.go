package systemd_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"lb/internal/lbtest"
	"lb/internal/lbtest/nspawn"
)

// TestSoakSystemdMemoryMax is issue 16's scenario 4 for memory, in the container with the
// long variant only (LB_SOAK=1): lb.service under `MemoryMax=64M` (no swap) while 20000
// clients hold TCP connections through it (each costs lb two sockets, kernel memory charged
// to the unit) and HTTP load runs. lb must not be killed (MainPID and NRestarts unchanged),
// must stay under one CPU, log a failing accept at most once, and serve every request of a
// new load once the clients left.
//
// It needs a memory controller in the container: on a host whose kernel gives the memory
// controller to cgroup v1 (the test machines here), systemd-nspawn mounts it read-only, the
// container's systemd has no memory accounting (MemoryCurrent=[not set]) and MemoryMax= is
// not enforced; the test is skipped then, saying so.
func TestSoakSystemdMemoryMax(t *testing.T) {
	if !soakLong() {
		t.Skip("memory pressure in a container: LB_SOAK=1 only")
	}
	forEachRelease(t, testSoakSystemdMemoryMax)
}

func testSoakSystemdMemoryMax(t *testing.T, rel nspawn.Release) {
	const memMax = 64 << 20
	bin := t.TempDir()
	lb, lbctl := buildLB(t, bin, "0.0.0-soak")
	w := mkWorld(t, rel)
	w.installLB(lb, lbctl)
	w.writeFile("/etc/lb/lb.cfg", soakCfg, 0o644)
	w.writeFile("/etc/systemd/system/lb.service.d/lbtest-memory.conf", fmt.Sprintf("[Service]\nMemoryMax=%d\nMemorySwapMax=0\n", memMax), 0o644)
	w.run("systemctl", "daemon-reload")
	w.run("systemd-run", "--unit=lbtest-backend-a", "-p", "Type=notify", "--", backendPath, "-name", "a", "-http", "127.0.0.1:9001", "-echo", "127.0.0.1:9101")
	w.startBackend("b", "127.0.0.1:9002")
	w.dumpOnFailure(unitSvc, unitSock)
	w.journalOnFailure(unitSvc)
	w.ensureSocketService()
	if mc := w.show(unitSvc, "MemoryCurrent"); mc == "[not set]" || mc == "" {
		t.Skipf("no memory accounting in the container (MemoryCurrent=%s): this kernel gives the memory controller to cgroup v1 and systemd-nspawn does not delegate it, so MemoryMax= is not enforced here", mc)
	}
	pid := w.mainPID(unitSvc)
	restarts := w.show(unitSvc, "NRestarts")

	web := w.startLoad(true, "-addr", frontAddr, "-c", "2", "-rate", "100", "-timeout", "10s")
	hold := w.startLoad(false, "-addr", soakEchoAddr, "-mode", "tcp", "-c", "20000", "-n", "20000", "-hold", "30s", "-timeout", "60s")
	var peak int64
	var cpu0 int64
	t0 := time.Now()
	for i := 0; i < 20; i++ {
		time.Sleep(time.Second) // the pressure builds; sampled each second
		if mc, err := strconv.ParseInt(w.show(unitSvc, "MemoryCurrent"), 10, 64); err == nil && mc > peak {
			peak = mc
		}
		if i == 4 {
			cpu0, t0 = w.cpuTicks(pid), time.Now()
		}
	}
	cpu := float64(w.cpuTicks(pid)-cpu0) / 100 / time.Since(t0).Seconds()
	_ = hold.p.Signal(9) // the clients leave at once
	<-hold.done
	during := web.stop()
	if now := w.mainPID(unitSvc); now != pid || w.show(unitSvc, "NRestarts") != restarts {
		t.Fatalf("lb was killed under MemoryMax=%d: MainPID %d -> %d, NRestarts %s -> %s", memMax, pid, now, restarts, w.show(unitSvc, "NRestarts"))
	}
	if cpu > 0.3 {
		t.Errorf("lb used %.2f CPU under memory pressure; want < 0.3", cpu)
	}
	after := w.startLoad(true, "-addr", frontAddr, "-c", "2", "-n", "200", "-timeout", "10s")
	ra := after.wait()
	if ra.Failed != 0 || ra.OK != 200 {
		t.Errorf("after the pressure: %v; want 200 ok", ra)
	}
	warn := strings.Count(w.c.Journal(unitSvc), "accept frontend=")
	if warn > 1 {
		t.Errorf("%d accept warnings in the journal; want one per episode at most", warn)
	}
	t.Logf("MemoryMax %d: peak MemoryCurrent %d, lb at %.3f CPU, %d accept warnings; HTTP load during the pressure: %v; after: %v", memMax, peak, cpu, warn, during, ra)
	lbtest.SoakTableRow(t, fmt.Sprintf("`MemoryMax=64M` in lb.service (%s)", rel),
		"20000 TCP clients held open, HTTP load beside",
		fmt.Sprintf("peak MemoryCurrent %d MiB; not killed; %.3f CPU; %d accept warning(s); served again once the clients left", peak>>20, cpu, warn),
		fmt.Sprintf("%d of %d HTTP requests during the pressure", during.Failed, during.Total),
		soakRepro("TestSoakSystemdMemoryMax"))
}

// cpuTicks is the CPU time (utime+stime, 1/100 s) of the container's process pid.
func (w *world) cpuTicks(pid int) int64 {
	w.t.Helper()
	out := w.run("cat", fmt.Sprintf("/proc/%d/stat", pid))
	f := strings.Fields(out[strings.LastIndexByte(out, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut + st
}
