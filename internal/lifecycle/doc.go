// Package lifecycle owns lb's process: HAProxy's command line and start-up order, the
// signals, -sf/-st reloads with listener handover, daemon mode and systemd's reload by
// MAINPID handover (see LIFECYCLE in the README and haproxy(1)).
package lifecycle
