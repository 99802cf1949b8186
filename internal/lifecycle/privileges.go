package lifecycle

import (
	"fmt"
	"os/user"
	"strconv"

	"golang.org/x/sys/unix"

	"lb/internal/config"
)

// dropPrivileges does LIFECYCLE.md §1 step 7: chroot (with chdir "/"), then group and user.
// Everything living outside the chroot (notify socket, journal, pidfile, listeners) must be
// open before.
func dropPrivileges(cfg *config.Config) error {
	g := cfg.Global
	uid, gid := g.UID, g.GID
	if g.User != "" {
		u, err := user.Lookup(g.User)
		if err != nil {
			return fmt.Errorf("global: user %q: %w", g.User, err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		if gid < 0 && g.Group == "" {
			gid, _ = strconv.Atoi(u.Gid)
		}
	}
	if g.Group != "" {
		gr, err := user.LookupGroup(g.Group)
		if err != nil {
			return fmt.Errorf("global: group %q: %w", g.Group, err)
		}
		gid, _ = strconv.Atoi(gr.Gid)
	}
	if g.Chroot != "" {
		if err := unix.Chroot(g.Chroot); err != nil {
			return fmt.Errorf("global: chroot %q: %w", g.Chroot, err)
		}
		if err := unix.Chdir("/"); err != nil {
			return fmt.Errorf("global: chdir / in chroot: %w", err)
		}
	}
	if gid >= 0 && gid != unix.Getgid() {
		if err := unix.Setgroups(nil); err != nil {
			return fmt.Errorf("global: setgroups: %w", err)
		}
		if err := unix.Setgid(gid); err != nil {
			return fmt.Errorf("global: setgid %d: %w", gid, err)
		}
	}
	if uid >= 0 && uid != unix.Getuid() {
		if err := unix.Setuid(uid); err != nil {
			return fmt.Errorf("global: setuid %d: %w", uid, err)
		}
	}
	return nil
}

// applyCPUMap binds the process to the union of the CPUs of its cpu-map lines (lb runs one
// process; Go schedules its threads itself, so per-thread maps are folded into the set).
func applyCPUMap(cfg *config.Config) error {
	var set unix.CPUSet
	n := 0
	for _, m := range cfg.Global.CPUMaps {
		for _, c := range m.CPUs {
			set.Set(c)
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("sched_setaffinity: %w", err)
	}
	return nil
}
