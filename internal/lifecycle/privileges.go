package lifecycle

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"lb/internal/config"
)

// privEnv is what decides whether lb applies the global section's chroot, user, group and
// daemon itself or leaves them to the systemd unit it runs in.
type privEnv struct {
	// systemd: lb runs as a systemd service ($INVOCATION_ID or $NOTIFY_SOCKET).
	systemd bool
	// canChroot and canSetID: the process has CAP_SYS_CHROOT, and CAP_SETUID with
	// CAP_SETGID (root has them unless its capabilities were cut).
	canChroot, canSetID bool
	// uid, gid and their names are the process's own identity.
	uid, gid    int
	user, group string
	// runtimeDir is the unit's RuntimeDirectory= ($RUNTIME_DIRECTORY, the first of them;
	// "" = none).
	runtimeDir string
	// writable says whether lb may create files in dir.
	writable        func(dir string) bool
	lookupUser      func(name string) (int, int, error) // uid, primary gid
	lookupGroup     func(name string) (int, error)
	lookupUserName  func(uid int) string
	lookupGroupName func(gid int) string
}

// currentPrivEnv reads privEnv from the process.
func currentPrivEnv() privEnv {
	e := privEnv{
		systemd:   os.Getenv("INVOCATION_ID") != "" || os.Getenv("NOTIFY_SOCKET") != "",
		canChroot: hasCap(unix.CAP_SYS_CHROOT),
		canSetID:  hasCap(unix.CAP_SETUID) && hasCap(unix.CAP_SETGID),
		uid:       unix.Getuid(),
		gid:       unix.Getgid(),
		writable:  func(dir string) bool { return unix.Access(dir, unix.W_OK) == nil },
		lookupUser: func(name string) (int, int, error) {
			u, err := user.Lookup(name)
			if err != nil {
				return 0, 0, err
			}
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			return uid, gid, nil
		},
		lookupGroup: func(name string) (int, error) {
			g, err := user.LookupGroup(name)
			if err != nil {
				return 0, err
			}
			return strconv.Atoi(g.Gid)
		},
		lookupUserName: func(uid int) string {
			if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
				return u.Username
			}
			return strconv.Itoa(uid)
		},
		lookupGroupName: func(gid int) string {
			if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
				return g.Name
			}
			return strconv.Itoa(gid)
		},
	}
	if d, _, _ := strings.Cut(os.Getenv("RUNTIME_DIRECTORY"), ":"); d != "" {
		e.runtimeDir = d
	}
	return e
}

// hasCap says whether capability c is in the process's effective set.
func hasCap(c int) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return unix.Geteuid() == 0
	}
	return data[c/32].Effective&(1<<(uint(c)%32)) != 0
}

// privPlan is what this process does about the global section's chroot, user, group and
// daemon (LIFECYCLE.md §1 step 7).
type privPlan struct {
	// chroot is the directory to chroot into ("" = none).
	chroot string
	// uid and gid are the identity to switch to (-1 = stay).
	uid, gid int
	// noDaemon: the configuration's "daemon" is left to the unit.
	noDaemon bool
	// warnings name each line left to the unit, and the setting that does it instead.
	warnings []string
}

// planPrivileges decides, from the configuration and the process's environment, what lb
// does itself and what it leaves to systemd. With the privileges it needs, lb binds, then
// chroots and drops privileges as HAProxy does. Without them, under systemd, the unit has
// done that job already (User=, Group=, ProtectSystem=, Type=notify): each line it takes over
// gets one warning naming the unit's setting. Without them and outside systemd, a line lb
// cannot honour is an error naming its file and line.
func planPrivileges(cfg *config.Config, env privEnv) (privPlan, error) {
	g := cfg.Global
	plan := privPlan{chroot: g.Chroot, uid: g.UID, gid: g.GID}
	uidLine, gidLine := "uid", "gid"
	if g.UID >= 0 {
		uidLine = fmt.Sprintf("uid %d", g.UID)
	}
	if g.GID >= 0 {
		gidLine = fmt.Sprintf("gid %d", g.GID)
	}
	if g.User != "" {
		uid, gid, err := env.lookupUser(g.User)
		if err != nil {
			return plan, fmt.Errorf("%s: global: user %q: %w", where(cfg, "user"), g.User, err)
		}
		plan.uid, uidLine = uid, "user "+g.User
		if plan.gid < 0 && g.Group == "" {
			plan.gid = gid
		}
	}
	if g.Group != "" {
		gid, err := env.lookupGroup(g.Group)
		if err != nil {
			return plan, fmt.Errorf("%s: global: group %q: %w", where(cfg, "group"), g.Group, err)
		}
		plan.gid, gidLine = gid, "group "+g.Group
	}
	uidKw, gidKw := strings.Fields(uidLine)[0], strings.Fields(gidLine)[0]

	if plan.chroot != "" && !env.canChroot {
		if !env.systemd {
			return plan, fmt.Errorf("%s: 'chroot %s' needs root (CAP_SYS_CHROOT), and lb runs as %s: "+
				"run lb as root, or remove the line", where(cfg, "chroot"), plan.chroot, env.userName(env.uid))
		}
		plan.warnings = append(plan.warnings, fmt.Sprintf("%s: 'chroot %s' is left to the unit: lb may not chroot; "+
			"the unit confines it (lb.service: ProtectSystem=strict; RootDirectory= makes a chroot)",
			where(cfg, "chroot"), plan.chroot))
		plan.chroot = ""
	}
	// A user or group lb runs as already is honoured as it is: nothing to switch.
	if plan.uid == env.uid {
		plan.uid = -1
	}
	if plan.gid == env.gid {
		plan.gid = -1
	}
	if (plan.uid >= 0 || plan.gid >= 0) && !env.canSetID {
		if !env.systemd {
			kw, line := uidKw, uidLine
			if plan.uid < 0 {
				kw, line = gidKw, gidLine
			}
			return plan, fmt.Errorf("%s: '%s' needs root (CAP_SETUID, CAP_SETGID), and lb runs as %s: "+
				"run lb as root, or remove the line", where(cfg, kw), line, env.userName(env.uid))
		}
		if plan.uid >= 0 {
			plan.warnings = append(plan.warnings, fmt.Sprintf("%s: '%s' is left to the unit: lb runs as its User= (%s)",
				where(cfg, uidKw), uidLine, env.userName(env.uid)))
		}
		// A group that comes with the user is covered by the user's warning.
		if plan.gid >= 0 && (g.Group != "" || g.GID >= 0) {
			plan.warnings = append(plan.warnings, fmt.Sprintf("%s: '%s' is left to the unit: lb runs as its Group= (%s)",
				where(cfg, gidKw), gidLine, env.groupName(env.gid)))
		}
		plan.uid, plan.gid = -1, -1
	}
	if g.Daemon && env.systemd {
		plan.noDaemon = true
		plan.warnings = append(plan.warnings, fmt.Sprintf("%s: 'daemon' is left to the unit: "+
			"systemd runs lb in the foreground (lb.service: Type=notify)", where(cfg, "daemon")))
	}
	return plan, nil
}

func (e privEnv) userName(uid int) string {
	if e.lookupUserName == nil {
		return strconv.Itoa(uid)
	}
	return e.lookupUserName(uid)
}

func (e privEnv) groupName(gid int) string {
	if e.lookupGroupName == nil {
		return strconv.Itoa(gid)
	}
	return e.lookupGroupName(gid)
}

// dropPrivileges does LIFECYCLE.md §1 step 7 as plan says: chroot (with chdir "/"), then
// group and user. Everything living outside the chroot (notify socket, journal, pidfile,
// listeners) must be open before.
func dropPrivileges(plan privPlan) error {
	if plan.chroot != "" {
		if err := unix.Chroot(plan.chroot); err != nil {
			return fmt.Errorf("global: chroot %q: %w", plan.chroot, err)
		}
		if err := unix.Chdir("/"); err != nil {
			return fmt.Errorf("global: chdir / in chroot: %w", err)
		}
	}
	if gid := plan.gid; gid >= 0 && gid != unix.Getgid() {
		if err := unix.Setgroups(nil); err != nil {
			return fmt.Errorf("global: setgroups: %w", err)
		}
		if err := unix.Setgid(gid); err != nil {
			return fmt.Errorf("global: setgid %d: %w", gid, err)
		}
	}
	if uid := plan.uid; uid >= 0 && uid != unix.Getuid() {
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

// sectionKeywords lists the keywords that start a section: a global section ends at one.
var sectionKeywords = map[string]bool{
	"global": true, "defaults": true, "frontend": true, "backend": true, "listen": true,
	"peers": true, "resolvers": true, "userlist": true, "mailers": true, "program": true,
	"http-errors": true, "ring": true, "cache": true, "fcgi-app": true,
}

// where is "file:line" of the first global line starting with keyword in the configuration
// files, for messages about settings the configuration keeps no position of; the first file
// when no line is found.
func where(cfg *config.Config, keyword string) string {
	for _, f := range cfg.Files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		inGlobal := false
		for i, line := range strings.Split(string(data), "\n") {
			fields := strings.Fields(line)
			if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
				continue
			}
			if sectionKeywords[fields[0]] {
				inGlobal = fields[0] == "global"
				continue
			}
			if inGlobal && fields[0] == keyword {
				return config.Pos{File: f, Line: i + 1}.String()
			}
		}
	}
	if cfg.Global.Pos.File != "" {
		return cfg.Global.Pos.File
	}
	if len(cfg.Files) > 0 {
		return cfg.Files[0]
	}
	return "global"
}

// placeStatsSockets returns cfg, or a copy of it whose unix stats sockets that lb could not
// create are in the unit's RuntimeDirectory= instead, with one warning for each. Only under
// systemd with a RuntimeDirectory=: there, ProtectSystem=strict leaves lb no other writable
// place below /run, and a socket directory of another service (Debian's haproxy.cfg names
// /run/haproxy) is not lb's to create or share. Two sockets that would end up at the same
// path are an error.
func placeStatsSockets(cfg *config.Config, env privEnv) (*config.Config, []string, error) {
	if !env.systemd || env.runtimeDir == "" {
		return cfg, nil, nil
	}
	var moved []config.StatsSocket
	var warnings []string
	taken := map[string]bool{}
	for _, ss := range cfg.Global.StatsSockets {
		if ss.Addr.Network == "unix" {
			taken[ss.Addr.Path] = true
		}
	}
	for i, ss := range cfg.Global.StatsSockets {
		if ss.Addr.Network != "unix" {
			continue
		}
		dir := filepath.Dir(ss.Addr.Path)
		if dir == env.runtimeDir || env.writable(dir) {
			continue
		}
		to := filepath.Join(env.runtimeDir, filepath.Base(ss.Addr.Path))
		if taken[to] {
			return nil, nil, fmt.Errorf("%s: 'stats socket %s': lb may not create files in %s under the unit, "+
				"and %s is taken: name a free path in the unit's RuntimeDirectory= (%s)",
				ss.Pos, ss.Addr.Path, dir, to, env.runtimeDir)
		}
		taken[to] = true
		if moved == nil {
			moved = append([]config.StatsSocket(nil), cfg.Global.StatsSockets...)
		}
		moved[i].Addr.Path = to
		warnings = append(warnings, fmt.Sprintf("%s: 'stats socket %s' is at %s: lb may not create files in %s; "+
			"the unit gives it RuntimeDirectory= %s", ss.Pos, ss.Addr.Path, to, dir, env.runtimeDir))
	}
	if moved == nil {
		return cfg, nil, nil
	}
	c := *cfg
	c.Global.StatsSockets = moved
	return &c, warnings, nil
}
