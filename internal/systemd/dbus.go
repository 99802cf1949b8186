package systemd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
)

// Bus is a connection to systemd's D-Bus API (org.freedesktop.systemd1).
type Bus struct {
	conn *sdbus.Conn
}

// DialBus connects to the system bus; as root it falls back to systemd's
// private socket (/run/systemd/private) when no bus daemon runs.
func DialBus(ctx context.Context) (*Bus, error) {
	c, err := sdbus.NewWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to systemd over d-bus: %w", err)
	}
	return &Bus{conn: c}, nil
}

// Close closes the connection.
func (b *Bus) Close() { b.conn.Close() }

// UnitStatus is the part of a service unit's D-Bus state lb and lbctl use.
// Properties a systemd version lacks stay zero.
type UnitStatus struct {
	Unit        string
	LoadState   string // "loaded", "not-found", …
	ActiveState string // "active", "reloading", "inactive", "failed", …
	SubState    string // "running", "reload", …
	Type        string // service Type=: "notify", "notify-reload", …

	MainPID    uint32
	ControlPID uint32
	StatusText string // last STATUS=
	Result     string // "success" or why the service last failed
	// ReloadResult is "success" or why the last reload failed.
	ReloadResult string
	NRestarts    uint32

	NotifyAccess           string // "none", "main", "exec", "all"
	NFileDescriptorStore   uint32 // fds in the store now
	FileDescriptorStoreMax uint32
	// WatchdogUSec is WatchdogSec= in µs; 0 = no watchdog. A reload
	// process, which gets no WATCHDOG_USEC, can pass it on from here.
	WatchdogUSec uint64
}

// UnitStatus reads the unit's state and service properties.
func (b *Bus) UnitStatus(ctx context.Context, unit string) (UnitStatus, error) {
	st := UnitStatus{Unit: unit}
	up, err := b.conn.GetUnitPropertiesContext(ctx, unit)
	if err != nil {
		return st, fmt.Errorf("unit %q: properties: %w", unit, err)
	}
	st.LoadState = str(up["LoadState"])
	st.ActiveState = str(up["ActiveState"])
	st.SubState = str(up["SubState"])
	if st.LoadState != "loaded" {
		return st, nil
	}
	sp, err := b.conn.GetUnitTypePropertiesContext(ctx, unit, "Service")
	if err != nil {
		return st, fmt.Errorf("unit %q: service properties: %w", unit, err)
	}
	st.Type = str(sp["Type"])
	st.MainPID = u32(sp["MainPID"])
	st.ControlPID = u32(sp["ControlPID"])
	st.StatusText = str(sp["StatusText"])
	st.Result = str(sp["Result"])
	st.ReloadResult = str(sp["ReloadResult"])
	st.NRestarts = u32(sp["NRestarts"])
	st.NotifyAccess = str(sp["NotifyAccess"])
	st.NFileDescriptorStore = u32(sp["NFileDescriptorStore"])
	st.FileDescriptorStoreMax = u32(sp["FileDescriptorStoreMax"])
	if v, ok := sp["WatchdogUSec"].(uint64); ok {
		st.WatchdogUSec = v
	}
	return st, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func u32(v any) uint32 {
	n, _ := v.(uint32)
	return n
}

// JobDone is the result of a job that succeeded; the others are
// "canceled", "timeout", "failed", "dependency" and "skipped".
const JobDone = "done"

// ReloadUnit asks systemd to reload unit (job mode "replace") and waits for
// the job to finish, or for ctx. It returns the job result (JobDone on
// success); err is set only when the job could not be queued or waited for.
func (b *Bus) ReloadUnit(ctx context.Context, unit string) (result string, err error) {
	ch := make(chan string, 1) // go-systemd must be able to deliver without a reader
	if _, err := b.conn.ReloadUnitContext(ctx, unit, "replace", ch); err != nil {
		return "", fmt.Errorf("reload %q: %w", unit, err)
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return "", fmt.Errorf("reload %q: waiting for the job: %w", unit, ctx.Err())
	}
}

// Check returns what makes the unit unfit for lb's design (LIFECYCLE.md §2),
// one sentence each; none for a unit that fits.
func (st UnitStatus) Check() []string {
	var warns []string
	if st.LoadState != "" && st.LoadState != "loaded" {
		return []string{fmt.Sprintf("unit %s is %s", st.Unit, st.LoadState)}
	}
	if st.Type != "" && st.Type != "notify" && st.Type != "notify-reload" {
		warns = append(warns, fmt.Sprintf("unit %s has Type=%s: lb reports readiness and reloads with sd_notify, use Type=notify", st.Unit, st.Type))
	}
	if st.FileDescriptorStoreMax == 0 {
		warns = append(warns, fmt.Sprintf("unit %s has no fd store (FileDescriptorStoreMax=0): listeners lb binds itself are closed on restart; set FileDescriptorStoreMax=", st.Unit))
	}
	if st.NotifyAccess != "exec" {
		warns = append(warns, fmt.Sprintf("unit %s has NotifyAccess=%s: reload by hand-over needs NotifyAccess=exec", st.Unit, st.NotifyAccess))
	}
	return warns
}

// UnitCheck returns the warnings of [UnitStatus.Check] for unit; with unit
// "" it checks the service this process runs in ([OwnUnit]). Not under
// systemd, or not in a service, it returns (nil, nil).
func UnitCheck(ctx context.Context, unit string) ([]string, error) {
	if !Booted() {
		return nil, nil
	}
	if unit == "" {
		if unit = OwnUnit(); unit == "" {
			return nil, nil
		}
	}
	b, err := DialBus(ctx)
	if err != nil {
		return nil, fmt.Errorf("unit check: %w", err)
	}
	defer b.Close()
	st, err := b.UnitStatus(ctx, unit)
	if err != nil {
		return nil, fmt.Errorf("unit check: %w", err)
	}
	return st.Check(), nil
}

// Booted reports whether systemd is the init system (sd_booted(3)).
func Booted() bool {
	fi, err := os.Lstat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// OwnUnit returns the service unit this process runs in, from
// /proc/self/cgroup ("" outside a .service).
func OwnUnit() string {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	return unitFromCgroup(string(b))
}

var errNoUnit = errors.New("no service unit")

// unitFromCgroup finds the innermost *.service component of the cgroup path,
// preferring the unified (v2, "0::") hierarchy, then name=systemd (v1).
func unitFromCgroup(s string) string {
	var v1 string
	for _, line := range strings.Split(s, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		u, err := serviceIn(parts[2])
		if err != nil {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			return u
		case parts[1] == "name=systemd":
			v1 = u
		}
	}
	return v1
}

func serviceIn(path string) (string, error) {
	comps := strings.Split(path, "/")
	for i := len(comps) - 1; i >= 0; i-- {
		if strings.HasSuffix(comps[i], ".service") {
			return comps[i], nil
		}
	}
	return "", errNoUnit
}
