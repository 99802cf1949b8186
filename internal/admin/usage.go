package admin

import (
	"io"
	"lb/internal/wordfp"
	"slices"
	"strings"
)

// The list of commands HAProxy 2.6 answers to "help" and to a command it does not know
// (cli_gen_usage_msg): the commands whose first words are those given, or, when a word
// matches none, the few whose next words look most like it, compared by their
// fingerprints. lb lists its own commands, in HAProxy's words; like HAProxy, it lists
// them whatever the socket's level.

const (
	// maxMatches is HAProxy's CLI_MAX_MATCHES: the most commands proposed for a typo.
	maxMatches = 5
	// prefixWords is HAProxy's CLI_PREFIX_KW_NB: the most words of a command.
	prefixWords = 5
)

// usageTail are the lines HAProxy always ends the list with.
const usageTail = "  help [<command>]                        : list matching or all commands\n" +
	"  prompt                                  : toggle interactive mode with prompt\n" +
	"  quit                                    : disconnect\n"

// usage writes the list of commands for args, the words of "help …" or of a command
// that is not known.
func (s *Server) usage(args []string, w io.Writer) {
	isHelp := false
	if len(args) > 0 && args[0] == "help" {
		args, isHelp = args[1:], true
	}
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	s.mu.Lock()
	cmds := slices.Clone(s.cmds)
	s.mu.Unlock()

	// The number of leading words some command has exactly.
	length := 0
	for _, c := range cmds {
		for i := 0; i < prefixWords && i < len(c.Words); i++ {
			if arg(i) == "" || c.Words[i] != arg(i) {
				break
			}
			length = max(length, i+1)
		}
	}
	// matched reports whether c's first length words are those given.
	matched := func(c *Command) bool {
		for i := 0; i < length; i++ {
			if i >= len(c.Words) || arg(i) == "" || c.Words[i] != arg(i) {
				return false
			}
		}
		return true
	}

	var b strings.Builder
	switch {
	case isHelp:
		b.WriteString("The following commands are valid at this level:\n")
	case length == 0 && arg(0) == "":
		b.WriteString("Unknown command. Please enter one of the following commands only:\n")
	default:
		b.WriteString("Unknown command, but maybe one of the following ones is a better match:\n")
	}

	type match struct {
		c    *Command
		dist int
	}
	var matches [maxMatches]match
	for i := range matches {
		matches[i].dist = int(^uint(0) >> 1)
	}
	if arg(length) != "" {
		for i := range cmds {
			c := &cmds[i]
			if c.Help == "" || !matched(c) {
				continue
			}
			var wordSig, listSig wordfp.Fingerprint
			totlen := 0
			for j := length; j < prefixWords && arg(j) != ""; j++ {
				wordSig.Update(arg(j))
				totlen += len(arg(j))
			}
			for j := length; j < prefixWords && j < len(c.Words); j++ {
				listSig.Update(c.Words[j])
				totlen += len(c.Words[j])
			}
			dist := wordSig.Distance(&listSig)
			if dist < 5*totlen/2 && dist < matches[maxMatches-1].dist {
				swp := match{c, dist}
				matches[maxMatches-1] = swp
				for j := maxMatches - 2; j >= 0; j-- {
					if matches[j+1].dist >= matches[j].dist {
						break
					}
					matches[j+1] = matches[j]
					matches[j] = swp
				}
			}
		}
	}

	var entries []*Command
	if matches[0].c != nil {
		for _, m := range matches {
			if m.c == nil || m.dist > 5*matches[0].dist/2 {
				break
			}
			entries = append(entries, m.c)
		}
	} else {
		for i := range cmds {
			if c := &cmds[i]; c.Help != "" && matched(c) {
				entries = append(entries, c)
			}
		}
	}
	slices.SortFunc(entries, func(x, y *Command) int { return strings.Compare(x.Help, y.Help) })
	for _, c := range entries {
		b.WriteString("  " + c.Help + "\n")
	}
	b.WriteString(usageTail)
	io.WriteString(w, b.String())
}
