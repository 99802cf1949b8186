package loopback

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestNewDelSSLCert: "new ssl cert" adds an empty file to the certificate store, which
// "set ssl cert" and "commit ssl cert" fill; "del ssl cert" removes a file no bind line
// uses, and refuses one in use, one in a transaction and one unknown; the replies are
// HAProxy 2.6's, on lb and haproxy.
func TestNewDelSSLCert(t *testing.T) {
	ca := newTestCA(t, "lb test CA")
	dir := t.TempDir()
	crt := writeFile(t, dir, "site.pem", ca.issueJoined(t, "site.example.com"))
	sock := filepath.Join(dir, "admin.sock")
	oper := filepath.Join(dir, "oper.sock")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %s level admin
    stats socket %s level operator
defaults
    mode tcp
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind %s ssl crt %s
    default_backend be
backend be
    server s1 127.0.0.1:1
`, sock, oper, addr, crt))
	nw := dir + "/new.pem"
	pem := strings.TrimRight(string(ca.issueJoined(t, "new.example.com")), "\n") + "\n"
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		waitSock(t, sock)
		for _, c := range []struct{ sock, cmd, want string }{
			{sock, "new ssl cert", "'new ssl cert' expects a filename\n\n"},
			{oper, "new ssl cert " + nw, "Permission denied\n\n"},
			{sock, "new ssl cert " + nw, "New empty certificate store '" + nw + "'!\n\n"},
			{sock, "new ssl cert " + nw, "Certificate '" + nw + "' already exists!\n\n"},
			{sock, "new ssl cert " + crt, "Certificate '" + crt + "' already exists!\n\n"},
			{sock, "show ssl cert", "# filename\n" + nw + "\n" + crt + "\n\n"},
			{sock, "show ssl cert " + nw, "Filename: " + nw + "\nStatus: Empty\nOCSP Response Key: \n\n"},
			{sock, "del ssl cert", "'del ssl cert' expects a certificate name\n\n"},
			{oper, "del ssl cert " + nw, "Permission denied\n\n"},
			{sock, "del ssl cert " + crt, "Can't remove the certificate: certificate '" + crt + "' in use, can't be deleted!\n\n\n"},
			{sock, "del ssl cert " + dir + "/nope.pem", "Can't remove the certificate: certificate '" + dir + "/nope.pem' doesn't exist!\n\n\n"},
			{sock, "set ssl cert " + nw + " <<\n" + pem, "Transaction created for certificate " + nw + "!\n\n"},
			{sock, "del ssl cert " + nw, "Can't remove the certificate: ongoing transaction for the certificate '" + nw + "'\n\n"},
			{sock, "commit ssl cert " + nw, "Committing " + nw + "\nSuccess!\n\n"},
			{sock, "del ssl cert " + nw, "Certificate '" + nw + "' deleted!\n\n"},
			{sock, "show ssl cert", "# filename\n" + crt + "\n\n"},
			{sock, "del ssl cert " + nw, "Can't remove the certificate: certificate '" + nw + "' doesn't exist!\n\n\n"},
		} {
			if got := adminCommand(t, c.sock, c.cmd); got != c.want {
				t.Errorf("%q:\n got %q\nwant %q", strings.SplitN(c.cmd, "\n", 2)[0], got, c.want)
			}
		}
		// The committed file's details: "Unused", as no bind line takes it.
		adminCommand(t, sock, "new ssl cert "+nw)
		adminCommand(t, sock, "set ssl cert "+nw+" <<\n"+pem)
		adminCommand(t, sock, "commit ssl cert "+nw)
		if got := adminCommand(t, sock, "show ssl cert "+nw); !strings.HasPrefix(got, "Filename: "+nw+"\nStatus: Unused\n") {
			t.Errorf("show ssl cert of a committed new file = %q; want it Unused", got)
		}
	})
}
