package lifecycle

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"lb/internal/admin"
	"lb/internal/plane"
	"lb/internal/proxy"
)

// registerErrorCommands installs "show errors [<px>] [request|response]" with
// HAProxy 2.6's help line, level (operator) and layout (proxy.c's
// cli_io_handler_show_errors, mux_h1.c's h1_show_error_snapshot).
func registerErrorCommands(srv *admin.Server, rt plane.Control) {
	srv.Handle(admin.Command{Words: strings.Fields("show errors"),
		Help:  "show errors [<px>] [request|response]   : report last request and/or response errors for each proxy",
		Level: admin.LevelOperator,
		Run: func(args []string, w io.Writer) error {
			return showErrors(args, w, rt.InvalidMessages(), proxy.ErrorEvents(), time.Now())
		}})
}

// showErrors renders the captures of pxs: all proxies', or those of the proxy named
// (or numbered) by args[0] and of the captures whose other end it is; only requests or
// responses when args[1] says so. events is the number of captures of the process.
func showErrors(args []string, w io.Writer, pxs []plane.ProxyErrors, events uint32, now time.Time) error {
	iid := -1
	if a := arg(args, 0); a != "" {
		iid = 0
		for _, p := range pxs {
			if p.Name == a {
				iid = p.ID
				break
			}
		}
		if iid == 0 {
			iid = atoi(a)
		}
		if iid == 0 {
			return errors.New("No such proxy.\n")
		}
	}
	wantReq, wantRes := true, true
	switch arg(args, 1) {
	case "request":
		wantRes = false
	case "response":
		wantReq = false
	}
	ids := make(map[string]int, len(pxs))
	for _, p := range pxs {
		ids[p.Name] = p.ID
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Total events captured on [%s] : %d\n", logDate(now), events)
	for _, p := range pxs {
		for _, es := range [2]*proxy.ErrorSnapshot{p.Request, p.Response} {
			if es == nil || es.Response && !wantRes || !es.Response && !wantReq {
				continue
			}
			other, otherID := "<NONE>", -1
			if es.Other != "" {
				other, otherID = es.Other, ids[es.Other]
			}
			if iid >= 0 && p.ID != iid && (es.Other == "" || otherID != iid) {
				continue
			}
			writeSnapshot(&b, p, es, other, otherID)
		}
	}
	io.WriteString(w, b.String())
	return nil
}

// logDate is HAProxy's date of "show errors": local time, milliseconds.
func logDate(t time.Time) string { return t.Format("02/Jan/2006:15:04:05.000") }

// htxHeadroom is sizeof(struct htx): HAProxy's H1 layer receives at this offset of an
// empty buffer, so a message read into an empty buffer "wraps at" bufsize less this.
const htxHeadroom = 48

// writeSnapshot writes one capture of proxy p, whose other end is other (otherID).
func writeSnapshot(b *strings.Builder, p plane.ProxyErrors, es *proxy.ErrorSnapshot, other string, otherID int) {
	fmt.Fprintf(b, " \n[%s]", logDate(es.When))
	if es.Response {
		fmt.Fprintf(b, " backend %s (#%d): invalid response\n  frontend %s (#%d)", p.Name, p.ID, other, otherID)
	} else {
		fmt.Fprintf(b, " frontend %s (#%d): invalid request\n  backend %s (#%d)", p.Name, p.ID, other, otherID)
	}
	srv, sid := "<NONE>", -1
	if es.Server != "" {
		srv, sid = es.Server, es.ServerID
	}
	src, port := "unix", 0
	if es.Src.IsValid() {
		src, port = es.Src.Addr().String(), int(es.Src.Port())
	}
	fmt.Fprintf(b, ", server %s (#%d), event #%d, src %s:%d\n"+
		"  buffer starts at 0 (including 0 out), %d free,\n"+
		"  len %d, wraps at %d, error at position %d\n",
		srv, sid, es.Event, src, port, es.BufSize-len(es.Buf), len(es.Buf), es.BufSize-htxHeadroom-es.Offset, es.ErrPos)
	fmt.Fprintf(b, "  H1 connection flags 0x%08x, H1 stream flags 0x%08x\n"+
		"  H1 msg state %s(%d), H1 msg flags 0x%08x\n"+
		"  H1 chunk len %d bytes, H1 body len %d bytes :\n",
		es.ConnFlags, es.StreamFlags, es.State, int(es.State), es.MsgFlags, es.ChunkLen, es.BodyLen)
	b.WriteString("  \n")
	for ptr, bol := 0, 0; ptr < len(es.Buf); {
		ptr, bol = dumpTextLine(b, es.Buf, ptr, bol)
	}
}

// escapes are the letters of the bytes dumpTextLine escapes with a backslash.
var escapes = map[byte]byte{'\t': 't', '\n': 'n', '\r': 'r', 0x1b: 'e', '\\': '\\'}

// dumpTextLine writes one line of buf from ptr as HAProxy's dump_text_line: the offset
// ('+' after it when the line continues one cut at 80 columns), the bytes printable
// as they are, \t \n \r \e \\ escaped, others as \xHH. It returns where the next line
// starts and the start of the current text line.
func dumpTextLine(b *strings.Builder, buf []byte, ptr, bol int) (int, int) {
	const width = 80
	mark := byte('+')
	if ptr == bol {
		mark = ' '
	}
	line := make([]byte, 0, width)
	line = fmt.Appendf(line, "  %05d%c ", ptr, mark)
	for ptr < len(buf) {
		c := buf[ptr]
		switch {
		case c >= 0x20 && c < 0x7f && c != '\\':
			if len(line) > width-2 {
				goto out
			}
			line = append(line, c)
		case c == '\t' || c == '\n' || c == '\r' || c == 0x1b || c == '\\':
			if len(line) > width-3 {
				goto out
			}
			line = append(line, '\\', escapes[c])
		default:
			if len(line) > width-5 {
				goto out
			}
			line = append(line, '\\', 'x', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
		}
		ptr++
		if c == '\n' {
			b.Write(append(line, '\n'))
			return ptr, ptr
		}
	}
out:
	b.Write(append(line, '\n'))
	return ptr, bol
}
