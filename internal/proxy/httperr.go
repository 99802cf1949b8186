package proxy

import (
	"strconv"
)

// HAProxy 2.6's built-in error pages (http_err_msgs in src/http.c), by
// status. The same bytes go out, in two shapes as HAProxy sends them: an
// error the H1 layer answers itself (a request it cannot parse, the wait for
// a request running out) goes out as stored, capitalised field names and
// "Connection: close"; an error the stream answers (a rule, no server, a
// bad server response) goes through HAProxy's internal message format,
// which lowercases field names and drops "Connection", adding
// "connection: close" last only when the connection closes after it.
var errorPages = map[int]struct{ reason, text string }{
	200: {"OK", "Service ready."},
	400: {"Bad request", "Your browser sent an invalid request."},
	401: {"Unauthorized", "You need a valid user and password to access this content."},
	403: {"Forbidden", "Request forbidden by administrative rules."},
	404: {"Not Found", "The resource could not be found."},
	405: {"Method Not Allowed", "A request was made of a resource using a request method not supported by that resource"},
	407: {"Unauthorized", "You need a valid user and password to access this content."},
	408: {"Request Time-out", "Your browser didn't send a complete request in time."},
	410: {"Gone", "The resource is no longer available and will not be available again."},
	413: {"Payload Too Large", "The request entity exceeds the maximum allowed."},
	422: {"Unprocessable Content", "The server cannot process the contained instructions."},
	425: {"Too Early", "Your browser sent early data."},
	429: {"Too Many Requests", "You have sent too many requests in a given amount of time."},
	500: {"Internal Server Error", "An internal server error occurred."},
	501: {"Not Implemented", ".The server does not support the functionality required to fulfill the request."},
	502: {"Bad Gateway", "The server returned an invalid or incomplete response."},
	503: {"Service Unavailable", "No server is available to handle this request."},
	504: {"Gateway Time-out", "The server didn't respond in time."},
}

// errorBody returns the HTML body of HAProxy's page for status.
func errorBody(status int) (reason, body string) {
	p, ok := errorPages[status]
	if !ok {
		p = errorPages[500]
		status = 500
	}
	return p.reason, "<html><body><h1>" + strconv.Itoa(status) + " " + p.reason + "</h1>\n" + p.text + "\n</body></html>\n"
}

// appendMuxError appends the page for status as HAProxy's H1 layer sends it
// (it always closes after).
func appendMuxError(b []byte, status int) []byte {
	reason, body := errorBody(status)
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, reason...)
	b = append(b, "\r\nContent-length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	if status == 422 {
		// HAProxy's stored 422 has no Connection field (it closes all
		// the same).
		b = append(b, "\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n"...)
	} else {
		b = append(b, "\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n"...)
	}
	return append(b, body...)
}

// appendStreamError appends the page for status as HAProxy's stream sends
// it; closing adds "connection: close".
func appendStreamError(b []byte, status int, closing bool) []byte {
	reason, body := errorBody(status)
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, reason...)
	b = append(b, "\r\ncontent-length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n"...)
	if closing {
		b = append(b, "connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}
