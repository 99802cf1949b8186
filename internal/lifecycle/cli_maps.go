package lifecycle

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"lb/internal/admin"
	"lb/internal/plane"
	"lb/internal/rules"
)

// registerMapCommands installs HAProxy 2.6's map and ACL commands: they read and change
// the pattern references of the running generation, and a change is seen at once by the
// next evaluation of every ACL and map using the reference. Versions ("prepare", "add
// @<ver>", "commit") fill a new set of entries beside the current one and swap it in
// at once. As in HAProxy 2.6 every one of them is allowed at the user level.
func registerMapCommands(srv *admin.Server, rt plane.Control) {
	m, ok := rt.(plane.Maps)
	if !ok {
		return
	}
	handle := func(words, help string, run func([]string, io.Writer) error) {
		srv.Handle(admin.Command{Words: strings.Fields(words), Help: help, Level: admin.LevelUser, Run: run})
	}
	for _, isMap := range []bool{false, true} {
		isMap := isMap
		kind, label := "acl", "ACL"
		if isMap {
			kind, label = "map", "map"
		}
		unknown := errors.New("Unknown " + label + " identifier. Please use #<id> or <file>.\n")
		showHelp := "show acl [@<ver>] <acl>]                : report available acls or dump an acl's contents"
		addHelp := "add acl [@<ver>] <acl> <pattern>        : add an acl entry"
		clearHelp := "clear acl [@<ver>] <acl>                : clear the contents of this acl"
		delHelp := "del acl <acl> [<key>|#<ref>]            : delete acl entries matching <key>"
		getHelp := "get acl <acl> <value>                   : report the patterns matching a sample for an ACL"
		prepareHelp := "prepare acl <acl>                       : prepare a new version for atomic ACL replacement"
		commitHelp := "commit acl @<ver> <acl>                 : commit the ACL at this version"
		if isMap {
			showHelp = "show map [@ver] [map]                   : report available maps or dump a map's contents"
			addHelp = "add map [@<ver>] <map> <key> <val>      : add a map entry (payload supported instead of key/val)"
			clearHelp = "clear map [@<ver>] <map>                : clear the contents of this map"
			delHelp = "del map <map> [<key>|#<ref>]            : delete map entries matching <key>"
			getHelp = "get map <acl> <value>                   : report the keys and values matching a sample for a map"
			prepareHelp = "prepare map <acl>                       : prepare a new version for atomic map replacement"
			commitHelp = "commit map @<ver> <map>                 : commit the map at this version"
		}
		// of finds the reference named by name among those shown by this kind.
		of := func(name string) *rules.PatRef {
			ref := m.PatternRefs().Lookup(name)
			if ref == nil || isMap && !ref.IsMap() || !isMap && !ref.IsACL() {
				return nil
			}
			return ref
		}
		handle("show "+kind, showHelp, func(args []string, w io.Writer) error {
			gen, versioned, args := mapVersion(args)
			if arg(args, 0) == "" && !versioned {
				io.WriteString(w, "# id (file) description\n")
				for _, ref := range m.PatternRefs().List(isMap) {
					cur, next := ref.Versions()
					fmt.Fprintf(w, "%d (%s) %s. curr_ver=%d next_ver=%d entry_cnt=%d\n", ref.ID(), ref.File(), ref.Display(),
						cur, next, ref.EntryCount())
				}
				return nil
			}
			ref := of(arg(args, 0))
			if ref == nil {
				return unknown
			}
			entries := ref.Entries()
			if versioned {
				entries = ref.EntriesOf(gen)
			}
			for _, e := range entries {
				if e.HasValue {
					fmt.Fprintf(w, "0x%x %s %s\n", e.ID, e.Key, e.Value)
				} else {
					fmt.Fprintf(w, "0x%x %s\n", e.ID, e.Key)
				}
			}
			return nil
		})
		handle("get "+kind, getHelp, func(args []string, w io.Writer) error {
			if arg(args, 0) == "" || arg(args, 1) == "" {
				return errors.New("Missing " + label + " identifier and/or key.\n")
			}
			ref := m.PatternRefs().Lookup(args[0])
			if ref == nil {
				return unknown
			}
			for _, l := range ref.Lookup(args[1], isMap) {
				io.WriteString(w, l+"\n")
			}
			return nil
		})
		add := func(args []string, payload []byte, w io.Writer) error {
			gen, versioned, args := mapVersion(args)
			if isMap && payload != nil && arg(args, 0) != "" {
				ref := m.PatternRefs().Lookup(args[0])
				if ref == nil {
					return unknown
				}
				return addMapPayload(string(payload), func(k, v string) error {
					if versioned {
						return ref.AddVersion(gen, k, v, true)
					}
					return ref.Add(k, v, true)
				}, kind)
			}
			if isMap && (arg(args, 0) == "" || arg(args, 1) == "" || arg(args, 2) == "") {
				return errors.New("'add map' expects three parameters (map identifier, key and value) or one parameter (map identifier) and a payload\n")
			}
			if !isMap && (arg(args, 0) == "" || arg(args, 1) == "") {
				return errors.New("'add acl' expects two parameters: ACL identifier and pattern.\n")
			}
			ref := m.PatternRefs().Lookup(args[0])
			if ref == nil {
				return unknown
			}
			if !isMap && ref.HasValues() {
				return errors.New("This ACL is shared with a map containing samples. You must use the command 'add map' to add values.\n")
			}
			var err error
			if versioned {
				err = ref.AddVersion(gen, args[1], arg(args, 2), isMap)
			} else {
				err = ref.Add(args[1], arg(args, 2), isMap)
			}
			return addError(err, kind)
		}
		srv.Handle(admin.Command{Words: []string{"add", kind}, Help: addHelp, Level: admin.LevelUser,
			Run:        func(args []string, w io.Writer) error { return add(args, nil, w) },
			RunPayload: add})
		handle("del "+kind, delHelp, func(args []string, w io.Writer) error {
			if arg(args, 0) == "" || arg(args, 1) == "" {
				return errors.New("This command expects two parameters: " + label + " identifier and key.\n")
			}
			ref := of(args[0])
			if ref == nil {
				// HAProxy 2.6 says "map" for both.
				return errors.New("Unknown map identifier. Please use #<id> or <file>.\n")
			}
			id, byID, err := entryID(args[1])
			if err != nil {
				return err
			}
			if !ref.Delete(args[1], id, byID) {
				return errors.New("Key not found.\n")
			}
			return nil
		})
		handle("clear "+kind, clearHelp, func(args []string, w io.Writer) error {
			gen, versioned, args := mapVersion(args)
			if arg(args, 0) == "" {
				return errors.New("Missing " + label + " identifier.\n")
			}
			ref := of(args[0])
			if ref == nil {
				return unknown
			}
			if versioned {
				ref.ClearVersion(gen)
			} else {
				ref.Clear()
			}
			return nil
		})
		handle("prepare "+kind, prepareHelp, func(args []string, w io.Writer) error {
			ref := of(arg(args, 0))
			if ref == nil {
				return unknown
			}
			fmt.Fprintf(w, "New version created: %d\n", ref.Prepare())
			return nil
		})
		handle("commit "+kind, commitHelp, func(args []string, w io.Writer) error {
			gen, versioned, args := mapVersion(args)
			if !versioned {
				return errors.New("Missing version number.\n")
			}
			if arg(args, 0) == "" {
				return errors.New("Missing " + label + " identifier.\n")
			}
			ref := of(args[0])
			if ref == nil {
				return unknown
			}
			if err := ref.CommitVersion(gen); err != nil {
				return errors.New("Version number out of range.\n")
			}
			return nil
		})
	}
	handle("set map", "set map <map> [<key>|#<ref>] <value>    : modify a map entry", func(args []string, w io.Writer) error {
		if arg(args, 0) == "" || arg(args, 1) == "" || arg(args, 2) == "" {
			return errors.New("'set map' expects three parameters: map identifier, key and value.\n")
		}
		ref := m.PatternRefs().Lookup(args[0])
		if ref == nil {
			return errors.New("Unknown map identifier. Please use #<id> or <file>.\n")
		}
		id, byID, err := entryID(args[1])
		if err != nil {
			return err
		}
		if err := ref.Set(args[1], id, byID, args[2]); err != nil {
			switch {
			case errors.Is(err, rules.ErrEntryNotFound) && byID:
				return errors.New("key or pattern not found.\n")
			case errors.Is(err, rules.ErrEntryNotFound):
				return errors.New("entry not found.\n")
			}
			return errors.New(err.Error() + ".\n")
		}
		return nil
	})
}

// mapVersion reads the "@<ver>" that may start the arguments, as HAProxy's str2uic: the
// digits after '@' ("@x" is version 0). rest are the arguments after it.
func mapVersion(args []string) (gen uint32, ok bool, rest []string) {
	a := arg(args, 0)
	if !strings.HasPrefix(a, "@") {
		return 0, false, args
	}
	for _, c := range a[1:] {
		if c < '0' || c > '9' {
			break
		}
		gen = gen*10 + uint32(c-'0')
	}
	return gen, true, args[1:]
}

// entryID parses "#0x<hex>", an entry's ID as "show map|acl <ref>" prints it; byID is
// false for a key.
func entryID(s string) (id uint64, byID bool, err error) {
	if !strings.HasPrefix(s, "#0x") {
		return 0, false, nil
	}
	id, perr := strconv.ParseUint(s[3:], 16, 63)
	if perr != nil {
		return 0, false, errors.New("Malformed identifier. Please use #<id> or <file>.\n")
	}
	return id, true, nil
}

// addError is the answer to an entry "add map|acl" could not add (nil: none).
func addError(err error, kind string) error {
	switch {
	case errors.Is(err, rules.ErrFutureVersion):
		return errors.New("Version number in the future, please use 'prepare " + kind + "' before.\n")
	case err != nil:
		return errors.New(err.Error() + ".\n")
	}
	return nil
}

// addMapPayload adds the entries of an "add map <map> <<" payload with add, as HAProxy
// 2.6's cli_parse_add_map reads it: the key runs up to the first space or tab (a line
// with neither takes the next line into its key, and the last one is an error), the
// value from the next non-blank character to the end of the line. The entries before an
// error stay added; the key and value given on the command line, if any, are ignored.
func addMapPayload(payload string, add func(k, v string) error, kind string) error {
	p := payload
	for p != "" {
		l := strings.IndexAny(p, " \t")
		if l < 0 {
			return fmt.Errorf("Missing value for key '%s'.\n", p)
		}
		key := p[:l]
		p = strings.TrimLeft(p[l+1:], " \t")
		value := p
		if i := strings.IndexByte(p, '\n'); i >= 0 {
			value, p = p[:i], p[i+1:]
		} else {
			p = ""
		}
		if err := addError(add(key, value), kind); err != nil {
			return err
		}
	}
	return nil
}
