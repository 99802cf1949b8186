package stats

import (
	"fmt"
	"html"
	"strconv"
	"strings"
	"time"
)

// PageInfo is what the HTML page shows besides the proxies.
type PageInfo struct {
	// URI is the page's URI prefix, for its links.
	URI string
	// Refresh says the page refreshes itself (its link then offers to
	// stop that).
	Refresh bool
	// HideVersion hides Version.
	HideVersion bool
	Version     string
	// Node and Desc are added to the title ("" = not shown).
	Node, Desc string
	// Status is the ";st=" verdict shown on top ("DENY": action denied).
	Status string
	// Down: servers DOWN are hidden (";up").
	Down bool
	// NoRefresh: the page's refresh is off (";norefresh"), which the
	// status message's link keeps.
	NoRefresh bool
	// Actions are the choices of the admin forms ("stats admin"); none
	// means no form.
	Actions []Action
}

const style = `body { font-family: arial, helvetica, sans-serif; font-size: 12px; font-weight: normal; color: black; background: white;}
th,td { font-size: 10px;}
h1 { font-size: x-large; margin-bottom: 0.5em;}
h2 { font-family: helvetica, arial; font-size: x-large; font-weight: bold; font-style: italic; color: #6020a0; margin-top: 0em; margin-bottom: 0em;}
h3 { font-family: helvetica, arial; font-size: 16px; font-weight: bold; color: #b00040; background: #e8e8d0; margin-top: 0em; margin-bottom: 0em;}
.hr {margin-top: 0.25em; border-color: black; border-bottom-style: solid;}
.titre {background: #20D0D0;color: #000000; font-weight: bold; text-align: center;}
.frontend {background: #e8e8d0;}
.backend {background: #e8e8d0;}
.active_down {background: #ff9090;}
.active_going_down {background: #ffffa0;}
.active_up {background: #c0ffc0;}
.active_nolb {background: #20a0ff;}
.active_draining {background: #20a0FF;}
.active_no_check {background: #e0e0e0;}
.backup_up {background: #b0d0ff;}
.backup_nolb {background: #90b0e0;}
.backup_draining {background: #cc9900;}
.backup_no_check {background: #90b0e0;}
.maintain {background: #c07820;}
.ac {text-align: center;}
table.tbl { border-collapse: collapse; border-style: none;}
table.tbl td { text-align: right; border-width: 1px 1px 1px 1px; border-style: solid solid solid solid; padding: 2px 3px; border-color: gray; white-space: nowrap;}
table.tbl td.ac { text-align: center;}
table.tbl th { border-width: 1px; border-style: solid solid solid solid; border-color: gray;}
table.tbl th.pxname { background: #b00040; color: #ffff40; font-weight: bold; border-style: solid solid none solid; padding: 2px 3px; white-space: nowrap;}
table.tbl th.empty { border-style: none; empty-cells: hide; background: white;}
table.tbl th.desc { background: white; border-style: solid solid none solid; text-align: left; padding: 2px 3px;}
table.lgd { border-collapse: collapse; border-width: 1px; border-style: none none none solid; border-color: black;}
table.lgd td { border-width: 1px; border-style: solid solid solid solid; border-color: gray; padding: 2px;}
table.lgd td.noborder { border-style: none; padding: 2px; white-space: nowrap;}
a.px:link, a.px:visited {color: #ffff40; text-decoration: none;}
a.lfsb:link, a.lfsb:visited {color: #000000; text-decoration: none;}
`

// columnHeads are the two heading rows of a proxy's table, as HAProxy's.
const columnHeads = `<tr class="titre"><th rowspan=2></th><th colspan=3>Queue</th><th colspan=3>Session rate</th><th colspan=6>Sessions</th><th colspan=2>Bytes</th><th colspan=2>Denied</th><th colspan=3>Errors</th><th colspan=2>Warnings</th><th colspan=9>Server</th></tr>
<tr class="titre"><th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Limit</th><th>Total</th><th>LbTot</th><th>Last</th><th>In</th><th>Out</th><th>Req</th><th>Resp</th><th>Req</th><th>Conn</th><th>Resp</th><th>Retr</th><th>Redis</th><th>Status</th><th>LastChk</th><th>Wght</th><th>Act</th><th>Bck</th><th>Chk</th><th>Dwn</th><th>Dwntme</th><th>Thrtle</th>
</tr>`

// Title is the page's title: HAProxy's wording, with the node.
func Title(pi *PageInfo) string {
	t := "Statistics Report for HAProxy"
	if pi.Node != "" {
		t += " on " + pi.Node
	}
	return t
}

// HTML renders the page: HAProxy's title lines, the process information,
// and for each proxy in scope HAProxy's table (Queue, Session rate,
// Sessions, Bytes, Denied, Errors, Warnings, Server) with its FRONTEND,
// server and BACKEND lines. What lb does not count is left blank.
func HTML(s *Snapshot, o *Options, pi *PageInfo) []byte {
	var b strings.Builder
	e := html.EscapeString
	b.WriteString("<!DOCTYPE html>\n<html><head><title>" + e(Title(pi)) + "</title>\n")
	b.WriteString(`<link rel="icon" href="data:,">` + "\n")
	b.WriteString(`<meta http-equiv="content-type" content="text/html; charset=utf-8">` + "\n")
	b.WriteString("<style type=\"text/css\">\n" + style + "</style></head>\n<body>")
	h1 := "lb"
	if !pi.HideVersion && pi.Version != "" {
		h1 += " version " + pi.Version
	}
	b.WriteString("<h1>" + e(h1) + "</h1>\n")
	h2 := "Statistics Report for pid " + strconv.Itoa(s.PID)
	if pi.Node != "" {
		h2 += " on " + pi.Node
	}
	if pi.Desc != "" {
		h2 += ": " + pi.Desc
	}
	b.WriteString("<h2>" + e(h2) + "</h2>\n<hr width=\"100%\" class=\"hr\">\n")
	if m, ok := statusMessages[pi.Status]; ok {
		u := pi.URI
		if pi.Down {
			u += ";up"
		}
		if pi.NoRefresh {
			u += ";norefresh"
		}
		fmt.Fprintf(&b, "<p><div class=%s><a class=lfsb href=\"%s\" title=\"Remove this message\">[X]</a> %s</div>\n<p>\n", m[0], e(u), m[1])
	}
	b.WriteString("<h3>&gt; General process information</h3>\n")
	b.WriteString("<table border=0><tr><td align=\"left\" nowrap width=\"1%\">\n")
	fmt.Fprintf(&b, "<p><b>pid = </b> %d<br>\n<b>uptime = </b> %s<br>\n", s.PID, uptime(s.Uptime))
	if s.Maxconn > 0 {
		fmt.Fprintf(&b, "<b>maxconn = </b> %d<br>\n", s.Maxconn)
	}
	fmt.Fprintf(&b, "current conns = %d<br>\n</td>", s.Sessions)
	b.WriteString(`<td align="center" nowrap><table class="lgd"><tr>
<td class="active_up">&nbsp;</td><td class="noborder">active UP </td><td class="backup_up">&nbsp;</td><td class="noborder">backup UP </td></tr><tr>
<td class="active_down"></td><td class="noborder">active or backup DOWN &nbsp;</td><td class="active_no_check"></td><td class="noborder">not checked </td></tr><tr>
<td class="maintain"></td><td class="noborder" colspan="3">active or backup DOWN for maintenance (MAINT) &nbsp;</td></tr><tr>
<td class="active_draining"></td><td class="noborder" colspan="3">active or backup SOFT STOPPED for maintenance &nbsp;</td></tr></table>
Note: "NOLB"/"DRAIN" = UP with load-balancing disabled.</td>`)
	b.WriteString(`<td align="left" valign="top" nowrap width="1%"><b>Display option:</b><ul style="margin-top: 0.25em;">` + "\n")
	u := e(pi.URI)
	if pi.Down {
		fmt.Fprintf(&b, "<li><a href=\"%s\">Show all servers</a><br>\n", u)
	} else {
		fmt.Fprintf(&b, "<li><a href=\"%s;up\">Hide 'DOWN' servers</a><br>\n", u)
	}
	if pi.Refresh {
		fmt.Fprintf(&b, "<li><a href=\"%s;norefresh\">Disable refresh</a><br>\n", u)
	}
	fmt.Fprintf(&b, "<li><a href=\"%s\">Refresh now</a><br>\n<li><a href=\"%s;csv;norefresh\">CSV export</a><br>\n</ul></td></tr></table>\n", u, u)

	for i := range s.Proxies {
		p := &s.Proxies[i]
		if !o.inScope(p.Name) {
			continue
		}
		n := e(p.Name)
		legend := ""
		if o.ShowLegends {
			legend = fmt.Sprintf(` title="id: %d, mode: %s%s"`, p.ID, e(p.Mode), algoLegend(p))
		}
		// The admin form of a backend with servers (HAProxy's
		// stats_dump_html_px_hdr and _end).
		form := len(pi.Actions) > 0 && p.Backend != nil && len(p.Backend.Servers) > 0
		if form {
			b.WriteString(`<form method="post">`)
		}
		fmt.Fprintf(&b, "<table class=\"tbl\" width=\"100%%\">\n<tr class=\"titre\"><th class=\"pxname\" width=\"10%%\"%s><a name=\"%s\"></a><a class=px href=\"#%s\">%s</a></th><th class=\"empty\" width=\"90%%\"></th></tr>\n</table>\n", legend, n, n, n)
		b.WriteString("<table class=\"tbl\" width=\"100%\">\n")
		heads := columnHeads
		if form {
			th := "<th rowspan=2></th>"
			if _, act, bck := p.Backend.weights(); act+bck > 0 {
				th = fmt.Sprintf(`<th rowspan=2 width=1><input type="checkbox" onclick="for(c in document.getElementsByClassName('%s-checkbox')) document.getElementsByClassName('%s-checkbox').item(c).checked = this.checked"></th>`, n, n)
			}
			heads = strings.Replace(heads, `<tr class="titre">`, `<tr class="titre">`+th, 1)
		}
		b.WriteString(heads)
		if f := p.Frontend; f != nil {
			frontendHTML(&b, p, f, form)
		}
		if bk := p.Backend; bk != nil {
			for j := range bk.Servers {
				if sv := &bk.Servers[j]; !o.hidden(sv) {
					serverHTML(&b, p, sv, o, form)
				}
			}
			backendHTML(&b, p, bk, form)
		}
		b.WriteString("</table>")
		if form {
			b.WriteString("Choose the action to perform on the checked servers : <select name=action>")
			for _, a := range pi.Actions {
				fmt.Fprintf(&b, "<option value=\"%s\">%s</option>", e(a.Value), e(a.Label))
			}
			fmt.Fprintf(&b, "</select><input type=\"hidden\" name=\"b\" value=\"#%d\">&nbsp;<input type=\"submit\" value=\"Apply\"></form>", p.ID)
		}
		b.WriteString("<p>\n")
	}
	b.WriteString("</body></html>\n")
	return []byte(b.String())
}

func algoLegend(p *Proxy) string {
	if p.Backend == nil || p.Algo == "" {
		return ""
	}
	return ", algo: " + html.EscapeString(p.Algo)
}

// cells writes one <td> per value.
func cells(b *strings.Builder, vs ...string) {
	for _, v := range vs {
		b.WriteString("<td>" + v + "</td>")
	}
}

// respErrCell is the content of the response errors cell: eresp, with the
// aborts in a tip, as HAProxy shows them on hover.
func respErrCell(eresp, cli, srv uint64) string {
	return fmt.Sprintf(`<u title="Connection resets during transfers: %d client, %d server">%d</u>`, cli, srv, eresp)
}

// totalCell is the content of the sessions' total cell: the total, with
// the HTTP responses by class and the times in a tip, as HAProxy shows them
// on hover (http: the proxy is in mode http; h or t nil: none).
func totalCell(total uint64, http bool, h *HTTP, frontend bool, t *Times) string {
	var tip []string
	if http && h != nil {
		if !frontend {
			tip = append(tip, fmt.Sprintf("Cum. HTTP requests: %d", h.Requests))
		}
		for i, c := range []string{"1xx", "2xx", "3xx", "4xx", "5xx"} {
			tip = append(tip, fmt.Sprintf("- HTTP %s responses: %d", c, h.Rsp[i+1]))
		}
		tip = append(tip, fmt.Sprintf("- other responses: %d", h.Rsp[0]))
		if frontend {
			tip = append(tip, fmt.Sprintf("Intercepted requests: %d", h.Intercepted))
		}
		if h.CacheLookups > 0 || h.CompRsp > 0 {
			tip = append(tip, fmt.Sprintf("Cache lookups: %d", h.CacheLookups), fmt.Sprintf("Cache hits: %d", h.CacheHits),
				fmt.Sprintf("Compressed responses: %d", h.CompRsp))
		}
	}
	if t != nil {
		for i, n := range []string{"queue", "connect", "response", "total"} {
			tip = append(tip, fmt.Sprintf("Max %s time: %d ms", n, t.Max[i]))
		}
		tip = append(tip, "Avg over last 1024 success. conn.")
		for i, n := range []string{"Queue", "Connect", "Response", "Total"} {
			tip = append(tip, fmt.Sprintf("- %s time: %d ms", n, t.Avg[i]))
		}
	}
	if len(tip) == 0 {
		return utoa(total)
	}
	// One line per figure: a line feed, written as a character reference.
	return fmt.Sprintf(`<u title="%s">%d</u>`, strings.ReplaceAll(html.EscapeString(strings.Join(tip, "\n")), "\n", "&#10;"), total)
}

func itoa(v int) string    { return strconv.Itoa(v) }
func utoa(v uint64) string { return strconv.FormatUint(v, 10) }

func rowName(b *strings.Builder, class, px, name, label, title, first string) {
	anchor := html.EscapeString(px + "/" + name)
	fmt.Fprintf(b, "<tr class=\"%s\">%s<td class=ac%s><a name=\"%s\"></a><a class=lfsb href=\"#%s\">%s</a></td>", class, first, title, anchor, anchor, html.EscapeString(label))
}

// formCell is the first cell of a row of a table with the admin form.
func formCell(form bool) string {
	if form {
		return "<td></td>"
	}
	return ""
}

func frontendHTML(b *strings.Builder, p *Proxy, f *Frontend, form bool) {
	rowName(b, "frontend", p.Name, "Frontend", "Frontend", "", formCell(form))
	limit := ""
	if f.Limit > 0 {
		limit = itoa(f.Limit)
	}
	b.WriteString("<td colspan=3></td>")
	rlim := "-"
	if f.RateLimit > 0 {
		rlim = itoa(f.RateLimit)
	}
	cells(b, itoa(f.SessRate.Cur), itoa(f.SessRate.Max), rlim)
	cells(b, itoa(f.Cur), itoa(f.Max), limit, totalCell(f.Total, p.Mode == "http", &f.HTTP, true, nil), "", "") // sessions
	cells(b, utoa(f.BytesIn), utoa(f.BytesOut))
	cells(b, utoa(f.DeniedReq), utoa(f.DeniedResp))
	cells(b, utoa(f.FailedReq), "", "", "", "")
	fmt.Fprintf(b, "<td class=ac>%s</td><td class=ac colspan=8></td></tr>\n", f.status())
}

// serverClass is the HTML class of a server's row, which HAProxy 2.6 derives
// from the status word, the health counter and the weight.
func serverClass(s *Server) string {
	st := s.status()
	if strings.HasPrefix(st, "MAINT") {
		return "maintain"
	}
	side := "active"
	if s.Backup {
		side = "backup"
	}
	var style string
	switch c := s.Check; {
	case st == "DOWN" || st == "DOWN (agent)":
		style = "down"
	case strings.HasPrefix(st, "DOWN "):
		style = "going_up"
	case st == "DRAIN":
		style = "draining"
	case strings.HasPrefix(st, "NOLB "):
		style = "going_down"
	case st == "NOLB":
		style = "nolb"
	case st == "no check":
		style = "no_check"
	case c == nil || c.Paused || c.Health == s.Rise+s.Fall-1:
		// no check, or at full health: "DRAIN (agent)" too
		style = "up"
		if s.effWeight() == 0 {
			style = "draining"
		}
	default:
		style = "going_down"
	}
	return side + "_" + style
}

func serverHTML(b *strings.Builder, p *Proxy, s *Server, o *Options, form bool) {
	title := ""
	if o.ShowLegends {
		title = fmt.Sprintf(` title="%s, id: %d"`, html.EscapeString(s.Addr), s.ID)
	}
	first := ""
	if form {
		first = fmt.Sprintf(`<td><input class='%s-checkbox' type="checkbox" name="s" value="%s"></td>`, html.EscapeString(p.Name), html.EscapeString(s.Name))
	}
	rowName(b, serverClass(s), p.Name, s.Name, s.Name, title, first)
	opt := func(v int) string {
		if v > 0 {
			return itoa(v)
		}
		return "-"
	}
	cells(b, itoa(s.Queue), itoa(s.MaxQueue), opt(s.QueueLimit))
	cells(b, itoa(s.SessRate.Cur), itoa(s.SessRate.Max), "")
	cells(b, itoa(s.Cur), itoa(s.Max), opt(s.Limit), totalCell(s.Total, p.Mode == "http", &s.HTTP, false, &s.Times),
		utoa(s.LBTotal), humanTime(s.LastSess))
	cells(b, utoa(s.BytesIn), utoa(s.BytesOut))
	cells(b, "", utoa(s.DeniedResp))
	cells(b, "", utoa(s.Failed), respErrCell(s.RespErrors, s.CliAborts, s.SrvAborts), utoa(s.Retries), utoa(s.Redispatches))
	act, bck := "Y", "-"
	if s.Backup {
		act, bck = "-", "Y"
	}
	b.WriteString("<td class=ac>")
	serverStatusHTML(b, s)
	fmt.Fprintf(b, "</td><td class=ac>%d/%d</td><td class=ac>%s</td><td class=ac>%s</td>", s.effWeight(), s.Weight, act, bck)
	if c := s.Check; s.MaintResolution && s.State == Maint {
		b.WriteString("<td class=ac colspan=3>resolution</td>")
	} else if c != nil {
		fmt.Fprintf(b, "<td><u>%d<div class=tips>Failed Health Checks</div></u></td><td>%d</td><td>%s</td>",
			c.Failed, s.DownTrans, humanTime(s.Downtime))
	} else if s.Tracked != "" {
		fmt.Fprintf(b, "<td class=ac colspan=3><a class=lfsb href=\"#%s\">via %s</a></td>", s.Tracked, s.Tracked)
	} else {
		b.WriteString("<td colspan=3></td>")
	}
	if s.Throttle > 0 {
		fmt.Fprintf(b, "<td class=ac>%d %%</td></tr>\n", s.Throttle)
		return
	}
	b.WriteString("<td class=ac>-</td></tr>\n")
}

// serverStatusHTML writes a server's status and last check cells as HAProxy
// 2.6's page, without the first cell's opening tag and the second's closing
// one: the time since the last change and the status, an arrow while the
// checks go the other way, then the last check (the agent's when it set the
// server DOWN), its code and duration, and its description in a tip.
func serverStatusHTML(b *strings.Builder, s *Server) {
	st := s.status()
	c := s.Check
	var health, full uint32 = 0, ^uint32(0) // HAProxy's unset fields: 0, and 0+0-1
	if c != nil && !c.Paused {
		health, full = uint32(c.Health), uint32(s.Rise+s.Fall-1)
	}
	switch {
	case strings.HasPrefix(st, "MAINT"):
		fmt.Fprintf(b, "%s MAINT", humanTime(s.LastChange))
	case st == "no check":
		b.WriteString("<i>no check</i>")
	default:
		fmt.Fprintf(b, "%s %s", humanTime(s.LastChange), st)
		if strings.HasPrefix(st, "DOWN") {
			if health > 0 {
				b.WriteString(" &uarr;")
			}
		} else if health < full {
			b.WriteString(" &darr;")
		}
	}
	last := func(k *Check) {
		fmt.Fprintf(b, "</td><td class=ac><u> %s", k.statusWord())
		if k.HasCode {
			fmt.Fprintf(b, "/%d", k.Code)
		}
		if k.Done {
			// A passive check's verdict: HAProxy's -1 ms, printed unsigned.
			fmt.Fprintf(b, " in %dms", uint64(k.Duration.Milliseconds()))
		}
		fmt.Fprintf(b, "<div class=tips>%s", k.Desc)
		if k.Info != "" {
			b.WriteString(": " + html.EscapeString(k.Info))
		}
		b.WriteString("</div></u>")
	}
	switch {
	case strings.HasPrefix(st, "DOWN") && s.Agent != nil && s.Agent.Health == 0:
		last(s.Agent)
	case c != nil && !c.Paused:
		last(c)
	default:
		b.WriteString("</td><td>")
	}
}

func backendHTML(b *strings.Builder, p *Proxy, bk *Backend, form bool) {
	rowName(b, "backend", p.Name, "Backend", "Backend", "", formCell(form))
	w, act, bck := bk.weights()
	cells(b, itoa(bk.Queue), itoa(bk.MaxQueue), "")
	cells(b, itoa(bk.SessRate.Cur), itoa(bk.SessRate.Max), "")
	cells(b, itoa(bk.Cur), itoa(bk.Max), "", totalCell(bk.Total, p.Mode == "http", &bk.HTTP, false, &bk.Times),
		utoa(bk.LBTotal), humanTime(bk.LastSess))
	cells(b, utoa(bk.BytesIn), utoa(bk.BytesOut))
	cells(b, utoa(bk.DeniedReq), utoa(bk.DeniedResp))
	cells(b, "", utoa(bk.failed()), respErrCell(bk.RespErrors, bk.CliAborts, bk.SrvAborts), utoa(bk.Retries), utoa(bk.Redispatches))
	fmt.Fprintf(b, "<td class=ac>%s</td><td class=ac>&nbsp;</td><td class=ac>%d/%d</td><td class=ac>%d</td><td class=ac>%d</td><td class=ac>&nbsp;</td><td></td><td></td><td></td></tr>", bk.status(), w, w, act, bck)
}

// humanTime formats an age in seconds as HAProxy's human_time: its two
// largest units ("1d2h", "3m4s", "0s"), "?" when negative (never).
func humanTime(t int64) string {
	if t < 0 {
		return "?"
	}
	var b strings.Builder
	n := 2 // units left to print
	if t >= 86400 {
		fmt.Fprintf(&b, "%dd", t/86400)
		n--
	}
	if h := t % 86400 / 3600; n > 0 && h > 0 {
		fmt.Fprintf(&b, "%dh", h)
		n--
	}
	if m := t % 3600 / 60; n > 0 && m > 0 {
		fmt.Fprintf(&b, "%dm", m)
		n--
	}
	if n > 0 && t%60 > 0 || t == 0 {
		fmt.Fprintf(&b, "%ds", t%60)
	}
	return b.String()
}

// uptime formats d as HAProxy does: "0d 0h00m17s".
func uptime(d time.Duration) string {
	s := int(d / time.Second)
	return fmt.Sprintf("%dd %dh%02dm%02ds", s/86400, s/3600%24, s/60%60, s%60)
}
