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
package systemd
