package loopback

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The 401 page HAProxy 2.6 answers "http-request auth" with.
const auth401 = "HTTP/1.1 401 Unauthorized\r\ncontent-length: 112\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n" +
	"www-authenticate: Basic realm=\"%s\"\r\n\r\n" +
	"<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n"

// TestHTTPAuth: a userlist with every kind of password lb checks (plain, SHA-256-, SHA-512-,
// MD5-crypt, bcrypt), "http-request auth" with and without a realm, the http_auth,
// http_auth_group (as a fetch and as an ACL on groups), http_auth_user, http_auth_pass,
// http_auth_type and http_auth_bearer fetches: the same bytes and log lines from lb and
// HAProxy.
func TestHTTPAuth(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
userlist users
    group admins users bob
    group ops
    user alice insecure-password wonder groups ops
    user bob password $5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5
    user carol password $6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1 groups admins
    user dave password $1$saltstri$YMyguxXMBpd2TEZ.vS/3q1
    user erin password $2b$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a
frontend fe
    bind %s
    option httplog
    acl admin http_auth_group(users) admins
    http-request return status 200 content-type text/plain lf-string "bearer=%%[http_auth_bearer] type=%%[http_auth_type] tok=%%[http_auth_bearer(x-token)]\n" if { path /bearer }
    http-request auth realm "Admin area" if { path_beg /admin } !admin
    http-request auth unless { http_auth(users) }
    http-request return status 200 content-type text/plain lf-string "u=%%[http_auth_user] p=%%[http_auth_pass] t=%%[http_auth_type] g=%%[http_auth_group(users)]\n"
`, addr))
	basic := func(up string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(up)) }
	ok := func(body string) string {
		return fmt.Sprintf("HTTP/1.1 200 OK\r\ncontent-length: %d\r\ncontent-type: text/plain\r\n\r\n%s", len(body), body)
	}
	cases := []struct {
		path, authz, extra, want string
	}{
		{"/", "", "", fmt.Sprintf(auth401, "fe")},
		{"/", basic("alice:wonder"), "", ok("u=alice p=wonder t=Basic g=alice\n")},
		{"/", basic("alice:wonder "), "", fmt.Sprintf(auth401, "fe")},
		{"/", basic("bob:Hello world!"), "", ok("u=bob p=Hello world! t=Basic g=bob\n")},
		{"/", basic("bob:Hello world!"), "", ok("u=bob p=Hello world! t=Basic g=bob\n")}, // remembered
		{"/", basic("bob:hello world!"), "", fmt.Sprintf(auth401, "fe")},
		{"/", basic("carol:Hello world!"), "", ok("u=carol p=Hello world! t=Basic g=carol\n")},
		{"/", basic("dave:Hello world!"), "", ok("u=dave p=Hello world! t=Basic g=dave\n")},
		{"/", basic("erin:secret"), "", ok("u=erin p=secret t=Basic g=erin\n")},
		{"/", basic("erin:Secret"), "", fmt.Sprintf(auth401, "fe")},
		{"/", basic("nobody:wonder"), "", fmt.Sprintf(auth401, "fe")},
		// HAProxy compares the scheme on the length the client sent.
		{"/", "Bas " + base64.StdEncoding.EncodeToString([]byte("alice:wonder")), "", ok("u=alice p=wonder t=Basic g=alice\n")},
		{"/", "basic   " + base64.StdEncoding.EncodeToString([]byte("alice:wonder")), "", ok("u=alice p=wonder t=Basic g=alice\n")},
		{"/", "Basic !!!!", "", fmt.Sprintf(auth401, "fe")},
		{"/", "Digest x", "", fmt.Sprintf(auth401, "fe")},
		// Groups: bob by the group's "users", carol by her "groups"; alice is in ops only.
		{"/admin", basic("bob:Hello world!"), "", ok("u=bob p=Hello world! t=Basic g=bob\n")},
		{"/admin", basic("carol:Hello world!"), "", ok("u=carol p=Hello world! t=Basic g=carol\n")},
		{"/admin", basic("alice:wonder"), "", fmt.Sprintf(auth401, "Admin area")},
		{"/bearer", "Bearer abc.def", "X-Token: bearer xyz\r\n", ok("bearer=abc.def type=Bearer tok=xyz\n")},
		{"/bearer", basic("alice:wonder"), "", ok("bearer= type=Basic tok=\n")},
	}
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		for i, tc := range cases {
			c := dialHTTP(t, addr)
			req := "GET " + tc.path + " HTTP/1.1\r\nHost: h\r\n" + tc.extra
			if tc.authz != "" {
				req += "Authorization: " + tc.authz + "\r\n"
			}
			c.send(req + "\r\n")
			head, body := c.response()
			if got := head + body; got != tc.want {
				t.Errorf("%d: %s %q:\n got %q\nwant %q", i, tc.path, tc.authz, got, tc.want)
			}
			c.c.Close()
		}
		// The log: answered by lb itself ("LR"), 401 with the page's size.
		var lines []string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			if lines = httplogLines(out.String()); len(lines) > len(cases) {
				break
			}
			time.Sleep(20 * time.Millisecond) // polling a log: there is no other signal
		}
		want := `127.0.0.1:* [*] fe fe/<NOSRV> */*/*/*/* 401 247 - - LR-- */*/0/0/0 0/0 "GET / HTTP/1.1"`
		found := false
		for _, l := range lines {
			found = found || l == want
		}
		if !found {
			t.Errorf("no log line %q in\n%s", want, strings.Join(lines, "\n"))
		}
	})
}
