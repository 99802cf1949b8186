package srvstate

// Name is the reserved name the server state travels under from process to
// process: the FDNAME= of its memfd in systemd's fd store, the key of its
// descriptor among those a child generation inherits, and the memfd's own
// name.
const Name = "lb-server-state"

// maxMemfd bounds what FromFile reads.
const maxMemfd = 64 << 20
