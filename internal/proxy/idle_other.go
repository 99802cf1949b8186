//go:build !linux

package proxy

import "time"

// tryPark never parks outside Linux: every session gets its copiers.
func (s *session) tryPark() bool { return false }

func (c *Conn) unpark() {}

func (c *Conn) parkClient(time.Time, func()) bool { return false }

func (c *Conn) canPark() bool { return false }

func parkedSessions() int { return 0 }

// idleFD cannot peek outside Linux: the socket is taken as readable.
func idleFD(int) bool { return false }
