package listener

import (
	"os"

	"lb/internal/config"
	"lb/internal/systemd"
	"lb/internal/ticketkeys"
)

// A Set also carries the process's TLS session ticket keys (package
// ticketkeys), which go exactly where the listeners go, so that a client
// resumes its TLS session on the process that takes over:
//
//   - to a new process that fetches the sockets with -x: lb's extension of
//     the `_getsocks` exchange (ticketKeysRequest), on the same connection;
//   - to a child generation (PassOn, Inherit): one more inherited
//     descriptor, under the key ticketkeys.Name;
//   - to systemd's fd store (Store), under FDNAME=ticketkeys.Name, which a
//     restart passes back in LISTEN_FDS (Acquire).
//
// What arrives is checked (ticketkeys.FromFile); keys that do not pass are
// logged and replaced by fresh ones, and never cost a listener. A process
// with no keys to start from (the first one, or one whose old process is a
// HAProxy or an older lb) makes them, but only when its configuration
// terminates TLS with tickets and without keys of its own; keys received are
// carried on in any case, for a later configuration that needs them. They
// are not rotated: they live as long as the lineage of processes.

// ticketSource is a memfd of ticket keys received, and where from, for the
// log line when it is refused.
type ticketSource struct {
	from string
	file *os.File
}

// takeTicketKeys removes from acts the descriptors stored under
// ticketkeys.Name and returns them as sources.
func takeTicketKeys(acts []systemd.Activated) ([]systemd.Activated, []ticketSource) {
	var rest []systemd.Activated
	var srcs []ticketSource
	for _, a := range acts {
		if a.Name == ticketkeys.Name {
			srcs = append(srcs, ticketSource{from: "systemd's fd store", file: a.File})
			continue
		}
		rest = append(rest, a)
	}
	return rest, srcs
}

func closeSources(srcs []ticketSource) {
	for _, src := range srcs {
		src.file.Close()
	}
}

// setTicketKeys makes the first source that reads well the Set's keys, and
// closes the others. A source from the fd store that is refused is removed
// from it (Store, UnstoreDropped). Without usable keys, and when cfg needs
// them, fresh ones are made. Only Acquire and Inherit call it, before the
// Set is shared.
func (s *Set) setTicketKeys(cfg *config.Config, srcs []ticketSource) {
	log := s.opts.logger()
	for _, src := range srcs {
		if s.tickets != nil {
			src.file.Close()
			continue
		}
		k, err := ticketkeys.FromFile(src.file)
		if err != nil {
			log.Warn("TLS session ticket keys received are unusable: new ones are made", "from", src.from, "err", err)
			if src.from == "systemd's fd store" {
				s.dropped = append(s.dropped, ticketkeys.Name)
			}
			continue
		}
		s.tickets = k
	}
	if s.tickets != nil || !needsTicketKeys(cfg) {
		return
	}
	k, err := ticketkeys.Generate()
	if err != nil {
		// Keys without a memfd still serve this process; they just do not travel.
		log.Warn("TLS session ticket keys will not survive a reload", "err", err)
	}
	s.tickets = k
}

// needsTicketKeys reports whether a bind line of cfg terminates TLS with
// session tickets and no "tls-ticket-keys" of its own.
func needsTicketKeys(cfg *config.Config) bool {
	for _, fe := range cfg.Frontends() {
		if fe.Disabled {
			continue
		}
		for _, b := range fe.Binds {
			if t := b.TLS; t != nil && !t.NoTickets && len(t.TicketKeys) == 0 {
				return true
			}
		}
	}
	return false
}

// TicketKeys returns the TLS session ticket keys the generation encrypts and
// decrypts session tickets with (plane.Options.TicketKeys): nil when the
// configuration needs none and none were handed over.
func (s *Set) TicketKeys() [][32]byte {
	if s == nil {
		return nil
	}
	return s.tickets.Keys()
}

// ticketFile is the memfd of the keys, to pass on; nil when there is none.
func (s *Set) ticketFile() *os.File {
	if s == nil {
		return nil
	}
	return s.tickets.File()
}
