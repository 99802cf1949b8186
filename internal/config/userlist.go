package config

import (
	"slices"
	"strings"

	"lb/internal/auth"
)

// Userlist is a "userlist" section: the users and groups that the
// http_auth fetches and "http-request auth" check credentials against.
type Userlist struct {
	Pos    Pos
	Name   string
	Users  []*UserlistUser
	Groups []*UserlistGroup
}

// UserlistUser is a "user" line.
type UserlistUser struct {
	Pos  Pos
	Name string
	// Password is the crypt(3) hash of "password", or the password of
	// "insecure-password" (Insecure); empty without either (no password
	// matches).
	Password string
	Insecure bool
	// Groups are the groups of the line's "groups" and of the "users" of
	// the section's "group" lines, resolved once the section is read.
	Groups []string
}

// UserlistGroup is a "group" line.
type UserlistGroup struct {
	Pos   Pos
	Name  string
	Users []string
}

// User returns the user called name, or nil.
func (u *Userlist) User(name string) *UserlistUser {
	for _, x := range u.Users {
		if x.Name == name {
			return x
		}
	}
	return nil
}

// Group returns the group called name, or nil.
func (u *Userlist) Group(name string) *UserlistGroup {
	for _, g := range u.Groups {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// startUserlist opens a "userlist" section (cfg_parse_users).
func (l *loader) startUserlist(pos Pos, args []string) {
	if len(args) < 2 || args[1] == "" {
		l.alert(pos, "'userlist' expects <name> as arguments.")
		l.skipSec = true
		return
	}
	if l.cfg.Userlists[args[1]] != nil {
		l.warn(pos, "ignoring duplicated userlist '%s'.", args[1])
		l.skipSec = true
		return
	}
	if l.cfg.Userlists == nil {
		l.cfg.Userlists = map[string]*Userlist{}
	}
	l.userlist = &Userlist{Pos: pos, Name: args[1]}
	l.cfg.Userlists[args[1]] = l.userlist
}

// userlistLine parses a "group" or "user" line.
func (l *loader) userlistLine(pos Pos, args []string) {
	ul := l.userlist
	switch args[0] {
	case "group":
		if len(args) < 2 || args[1] == "" {
			l.alert(pos, "'%s' expects <name> as arguments.", args[0])
			return
		}
		if ul.Group(args[1]) != nil {
			l.warn(pos, "ignoring duplicated group '%s' in userlist '%s'.", args[1], ul.Name)
			return
		}
		g := &UserlistGroup{Pos: pos, Name: args[1]}
		for i := 2; i < len(args); i += 2 {
			if args[i] != "users" {
				l.alert(pos, "'%s' only supports 'users' option.", args[0])
				return
			}
			if i+1 < len(args) {
				g.Users = append(g.Users, splitList(args[i+1])...)
			}
		}
		ul.Groups = append(ul.Groups, g)
	case "user":
		if len(args) < 2 || args[1] == "" {
			l.alert(pos, "'%s' expects <name> as arguments.", args[0])
			return
		}
		if ul.User(args[1]) != nil {
			l.warn(pos, "ignoring duplicated user '%s' in userlist '%s'.", args[1], ul.Name)
			return
		}
		u := &UserlistUser{Pos: pos, Name: args[1]}
		for i := 2; i < len(args); i += 2 {
			v := ""
			if i+1 < len(args) {
				v = args[i+1]
			}
			switch args[i] {
			case "password":
				u.Password, u.Insecure = v, false
			case "insecure-password":
				u.Password, u.Insecure = v, true
			case "groups":
				u.Groups = append(u.Groups, splitList(v)...)
			default:
				l.alert(pos, "'%s' only supports 'password', 'insecure-password' and 'groups' options.", args[0])
				return
			}
		}
		if !u.Insecure {
			if s := auth.Scheme(u.Password); !auth.Supported(s) {
				l.alert(pos, "'password' with a %s hash is not supported by lb yet", s)
				return
			}
		}
		ul.Users = append(ul.Users, u)
	default:
		l.alert(pos, "unknown keyword '%s' in 'users' section", args[0])
	}
}

// splitList splits a comma-separated list, skipping empty names.
func splitList(s string) []string {
	var out []string
	for _, w := range strings.Split(s, ",") {
		if w != "" {
			out = append(out, w)
		}
	}
	return out
}

// resolveUserlists checks the group and user names of every userlist and
// gives each user the groups naming it (userlist_postinit).
func (l *loader) resolveUserlists() {
	for _, name := range sortedKeys(l.cfg.Userlists) {
		ul := l.cfg.Userlists[name]
		for _, u := range ul.Users {
			for _, g := range u.Groups {
				if ul.Group(g) == nil {
					l.alert(u.Pos, "userlist '%s': no such group '%s' specified in user '%s'", ul.Name, g, u.Name)
				}
			}
		}
		for _, g := range ul.Groups {
			for _, name := range g.Users {
				u := ul.User(name)
				if u == nil {
					l.alert(g.Pos, "userlist '%s': no such user '%s' specified in group '%s'", ul.Name, name, g.Name)
					continue
				}
				if !slices.Contains(u.Groups, g.Name) {
					u.Groups = append(u.Groups, g.Name)
				}
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
