// Package systemd owns lb's side of the systemd protocols: sd_notify with fd
// passing (READY, RELOADING, STOPPING, STATUS, WATCHDOG, MAINPID, FDSTORE,
// BARRIER), socket activation (LISTEN_FDS), the watchdog interval, native
// journald logging and the D-Bus unit checks used by lb and lbctl.
//
// Specs: sd_notify(3), sd_listen_fds(3), systemd.service(5),
// https://systemd.io/FILE_DESCRIPTOR_STORE/, https://systemd.io/JOURNAL_NATIVE_PROTOCOL/
//
// Not running under systemd is not an error: every notification is then a
// silent no-op that returns nil, [ListenFDs] returns nil, the watchdog
// interval is zero and logging falls back to plain text lines.
//
// The package is Linux code; on other systems it builds but never detects
// systemd.
//
// # Hand-over to a successor
//
// Run on systemd 252 with the shipped lb.service (Type=notify,
// NotifyAccess=exec, KillMode=mixed), the steps below worked:
//
//  1. The process that hands over (ExecReload's `lb -sf $MAINPID`, or the
//     main process on SIGUSR2) may send RELOADING= ([Notifier.Reloading]).
//  2. It starts the successor through an intermediate process that exits
//     at once (a double fork). The successor is then re-parented to PID 1
//     before MAINPID= names it. Otherwise systemd flags the new main
//     process "alien" ("Supervising process N which is not our child"),
//     and from then on `systemctl stop` and `restart` do not wait for it
//     to drain: SIGUSR1 is followed at once by SIGKILL to the whole
//     cgroup (KillMode=mixed waits only for a main process that is its
//     child).
//  3. The successor reports readiness and its pid over a pipe. It sends no
//     notification of its own yet: until MAINPID= is processed, it is
//     neither the main nor the control process.
//  4. The process that hands over sends [Notifier.MainPIDReady] (MAINPID=,
//     and MAINPIDFDID= where the kernel has pidfd ids: systemd 257 refuses
//     the message if the pid names another process, 252 ignores the field)
//     and then
//     [Notifier.Barrier]. Only after that does it tell the old main process
//     to drain and exit. It also stops its own [Notifier.RunWatchdog] loop.
//     The successor learns the watchdog interval from [WatchdogEnv] (an
//     ExecReload process has no WATCHDOG_USEC: read [UnitStatus].WatchdogUSec
//     over D-Bus).
package systemd
