package stats

import (
	"strings"
	"testing"
	"time"
)

// TestAdminPage: with "stats admin" the page has HAProxy's form per
// backend with servers (a checkbox per server, the action list, the
// backend's id), a POST is carried out and redirected with its verdict
// (";up" and ";norefresh" kept), and the verdict's message is shown; when
// the condition fails, the page has no form and a POST is denied.
func TestAdminPage(t *testing.T) {
	p := NewPage(Config{URI: "/stats", Refresh: 5 * time.Second, Self: "st", Version: "1.2.3"})
	snap := func() *Snapshot { return sample() }
	posted := 0
	admin := func(allowed bool) func() *Admin {
		return func() *Admin {
			return &Admin{Allowed: allowed, Actions: []Action{{"", ""}, {"maint", "Set state to MAINT"}},
				Post: func() (string, bool) { posted++; return "DONE", false }}
		}
	}
	serve := func(method, uri string, allowed bool) string {
		return string(p.ServeAdmin(method, uri, nil, false, snap, admin(allowed)))
	}
	page := serve("GET", "/stats", true)
	for _, want := range []string{
		`<form method="post"><table class="tbl" width="100%">` + "\n" + `<tr class="titre"><th class="pxname" width="10%"><a name="be"></a>`,
		`<tr class="titre"><th rowspan=2 width=1><input type="checkbox" onclick="for(c in document.getElementsByClassName('be-checkbox')) document.getElementsByClassName('be-checkbox').item(c).checked = this.checked"></th><th rowspan=2></th><th colspan=3>Queue</th>`,
		`<tr class="active_no_check"><td><input class='be-checkbox' type="checkbox" name="s" value="s1"></td><td class=ac><a name="be/s1"></a>`,
		`<tr class="backend"><td></td><td class=ac><a name="be/Backend"></a>`,
		`</table>Choose the action to perform on the checked servers : <select name=action><option value=""></option><option value="maint">Set state to MAINT</option></select><input type="hidden" name="b" value="#2">&nbsp;<input type="submit" value="Apply"></form><p>` + "\n",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(serve("GET", "/stats", false), "<form method=\"post\">") {
		t.Errorf("a form without admin rights")
	}
	for _, c := range []struct {
		uri     string
		allowed bool
		loc     string
	}{
		{"/stats", true, "/stats;st=DONE"},
		{"/stats;up;norefresh", true, "/stats;st=DONE;up;norefresh"},
		{"/stats;up", false, "/stats;st=DENY;up"},
	} {
		want := "HTTP/1.1 303 See Other\r\ncache-control: no-cache\r\ncontent-type: text/plain\r\ncontent-length: 0\r\nlocation: " + c.loc + "\r\n\r\n"
		if got := serve("POST", c.uri, c.allowed); got != want {
			t.Errorf("POST %s (admin %v): %q, want %q", c.uri, c.allowed, got, want)
		}
	}
	if posted != 2 {
		t.Errorf("%d posts carried out, want 2", posted)
	}
	for code, want := range map[string]string{
		"DONE": `<p><div class=active_up><a class=lfsb href="/stats;up" title="Remove this message">[X]</a> Action processed successfully.</div>` + "\n<p>\n",
		"NONE": `<div class=active_going_down><a class=lfsb href="/stats;up" title="Remove this message">[X]</a> Nothing has changed.</div>`,
		"PART": `Action partially processed.<br>`,
		"ERRP": `<div class=active_down><a class=lfsb href="/stats;up" title="Remove this message">[X]</a> Action not processed because of invalid parameters.<ul>`,
		"EXCD": `<b>Action not processed : the buffer couldn't store all the data.<br>`,
		"DENY": `<b>Action denied.</b>`,
		"XYZW": `<div class=active_no_check><a class=lfsb href="/stats;up" title="Remove this message">[X]</a> Unexpected result.</div>`,
	} {
		if got := serve("GET", "/stats;up;st="+code, false); !strings.Contains(got, want) {
			t.Errorf("st=%s: no %q", code, want)
		}
	}
}
