package loopback

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCrtListRuntime: "show ssl crt-list" lists the crt-lists and crt directories and
// reprints a list's lines (options in HAProxy's order and layout, filters after, "-n" with
// line numbers); "add ssl crt-list" inserts a certificate of the store (made with new, set
// and commit ssl cert), plain or as a payload line with options and filters, in every bind
// line using the list, whose SNI selection takes it at once; "del ssl crt-list" removes an
// entry (":line" among duplicates) and refuses a bind line's default certificate. The
// replies are HAProxy 2.6's, on lb and haproxy, and a TLS client checks which certificate
// each name gets.
func TestCrtListRuntime(t *testing.T) {
	ca := newTestCA(t, "lb test CA")
	dir := t.TempDir()
	a := writeFile(t, dir, "a.pem", ca.issueJoined(t, "a.example.com"))
	b := writeFile(t, dir, "b.pem", ca.issueJoined(t, "b.example.com"))
	d := writeFile(t, dir, "d.pem", ca.issueJoined(t, "d.example.com"))
	caFile := writeFile(t, dir, "ca.pem", ca.pem)
	if err := os.Mkdir(dir+"/dir", 0o755); err != nil {
		t.Fatal(err)
	}
	e := writeFile(t, dir+"/dir", "e.pem", ca.issueJoined(t, "e.example.com"))
	list := writeFile(t, dir, "list.txt", []byte("# first line\n"+
		a+" [alpn h2,http/1.1 ssl-min-ver TLSv1.2] a.example.com !x.a.example.com\n"+
		"\n"+
		b+"   b.example.com *.b.example.com\n"+
		a+" c.example.com\n"+
		d+" [ssl-max-ver TLSv1.3 verify optional ca-file "+caFile+" no-ca-names ciphers ECDHE-ECDSA-AES128-GCM-SHA256 curves P-256]\n"+
		e+" []\n"))
	sock := filepath.Join(dir, "admin.sock")
	oper := filepath.Join(dir, "oper.sock")
	p1, p2, p3 := freePort(t), freePort(t), freePort(t)
	addr1, addr2, addr3 := fmt.Sprintf("127.0.0.1:%d", p1), fmt.Sprintf("127.0.0.1:%d", p2), fmt.Sprintf("127.0.0.1:%d", p3)
	cfgText := fmt.Sprintf(`global
    stats socket %s level admin
    stats socket %s level operator
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind %s ssl crt-list %s
    bind %s ssl crt %s crt-list %s
    bind %s ssl strict-sni crt-list %s
    http-request return status 200 content-type text/plain string ok
`, sock, oper, addr1, list, addr2, dir+"/dir", list, addr3, list)
	cfg := writeConfig(t, cfgText)
	// bindPos is "file:line" of the bind line on addr, as HAProxy names it.
	bindPos := func(addr string) string {
		for i, l := range strings.Split(cfgText, "\n") {
			if strings.Contains(l, "bind "+addr+" ") {
				return fmt.Sprintf("%s:%d", cfg, i+1)
			}
		}
		t.Fatalf("no bind on %s", addr)
		return ""
	}
	nw := dir + "/n.pem"
	pem := strings.TrimRight(string(ca.issueJoined(t, "new.example.com")), "\n") + "\n"
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	var cur *testing.T // the subtest running
	// served is the CN of the certificate a client asking name gets on addr ("" = none).
	served := func(addr, name string) string {
		t := cur
		t.Helper()
		c, err := tls.DialWithDialer(dialer(), "tcp", addr, &tls.Config{RootCAs: pool, ServerName: name, InsecureSkipVerify: true})
		if err != nil {
			return ""
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	ask := func(s, cmd, want string) {
		t := cur
		t.Helper()
		if got := adminCommand(t, s, cmd); got != want {
			t.Errorf("%q:\n got %q\nwant %q", strings.SplitN(cmd, "\n", 2)[0], got, want)
		}
	}
	sniIs := func(addr, name, want string) {
		t := cur
		t.Helper()
		if got := served(addr, name); got != want {
			t.Errorf("certificate for %s on %s: %q; want %q", name, addr, got, want)
		}
	}
	lines := func(extra string) string {
		return "# " + list + "\n" +
			a + ":2 [alpn h2,http/1.1\x00 ssl-min-ver TLSv1.2] a.example.com !x.a.example.com\n" +
			b + ":4 b.example.com *.b.example.com\n" +
			a + ":5 c.example.com\n" +
			d + ":6 [verify optional no-ca-names ca-file " + caFile + " ciphers ECDHE-ECDSA-AES128-GCM-SHA256 curves P-256 ssl-max-ver TLSv1.3]\n" +
			e + ":7 []\n" + extra + "\n"
	}
	cant := "Can't edit the crt-list: "
	onLBAndHAProxy(t, cfg, addr1, func(t *testing.T, _ *outFile) {
		cur = t
		waitSock(t, sock)
		waitListen(t, addr3)
		ask(sock, "show ssl crt-list", dir+"/dir\n"+list+"\n\n")
		ask(oper, "show ssl crt-list", "Permission denied\n\n")
		ask(sock, "show ssl crt-list "+list, "# "+list+"\n"+
			a+" [alpn h2,http/1.1\x00 ssl-min-ver TLSv1.2] a.example.com !x.a.example.com\n"+
			b+" b.example.com *.b.example.com\n"+
			a+" c.example.com\n"+
			d+" [verify optional no-ca-names ca-file "+caFile+" ciphers ECDHE-ECDSA-AES128-GCM-SHA256 curves P-256 ssl-max-ver TLSv1.3]\n"+
			e+" []\n\n")
		ask(sock, "show ssl crt-list -n "+list, lines(""))
		ask(sock, "show ssl crt-list -n", "'show ssl crt-list -n' expects a filename or a directory\n\n")
		ask(sock, "show ssl crt-list "+dir+"/dir/", "# "+dir+"/dir\n"+e+"\n\n")
		ask(sock, "show ssl crt-list "+dir+"/none", "didn't find the specified filename\n\n")

		// Adding: the certificate must be in the store, with a certificate.
		ask(sock, "add ssl crt-list "+list, "'add ssl crtlist' expects a filename and a certificate name\n\n")
		ask(oper, "add ssl crt-list "+list+" "+nw, "Permission denied\n\n")
		ask(sock, "add ssl crt-list "+dir+"/none "+nw, cant+"crt-list '"+dir+"/none' does not exist!\n\n")
		ask(sock, "add ssl crt-list "+list+" "+nw, cant+"certificate '"+nw+"' does not exist!\n\n")
		ask(sock, "new ssl cert "+nw, "New empty certificate store '"+nw+"'!\n\n")
		ask(sock, "add ssl crt-list "+list+" "+nw, cant+"certificate '"+nw+"' is empty!\n\n")
		ask(sock, "set ssl cert "+nw+" <<\n"+pem, "Transaction created for certificate "+nw+"!\n\n")
		ask(sock, "commit ssl cert "+nw, "Committing "+nw+"\nSuccess!\n\n")
		sniIs(addr1, "new.example.com", "a.example.com")
		sniIs(addr3, "new.example.com", "")
		ask(sock, "add ssl crt-list "+list+" "+nw, "Inserting certificate '"+nw+"' in crt-list '"+list+"'...\nSuccess!\n\n")
		for _, addr := range []string{addr1, addr2, addr3} {
			sniIs(addr, "new.example.com", "new.example.com")
		}
		ask(sock, "add ssl crt-list "+list+" <<\n"+nw+" [alpn http/1.1 ssl-min-ver TLSv1.2] foo.example.com !bar.foo.example.com\n",
			"Inserting certificate '"+nw+"' in crt-list '"+list+"'...\nSuccess!\n\n")
		sniIs(addr1, "foo.example.com", "new.example.com")
		ask(sock, "add ssl crt-list "+list+" <<\n"+nw+" [bogus] x.example.com\n", cant+"parsing [CLI:1]: unknown ssl keyword bogus\n\n")
		ask(sock, "add ssl crt-list "+list+" <<\n"+nw+" [alpn] x.example.com\n", cant+"parsing [CLI:1]: ssl args out of '[]' for alpn\n\n")
		ask(sock, "add ssl crt-list "+list+" <<\n[alpn h2] x.example.com\n", cant+"parsing [CLI:1]: file must start with a cert\n\n")
		// A line the last bind line cannot take: nothing is added.
		ask(sock, "add ssl crt-list "+list+" <<\n"+nw+" [verify required] v.example.com\n",
			"Inserting certificate '"+nw+"' in crt-list '"+list+"'.\nProxy 'fe': verify is enabled but no CA file specified for bind '"+addr3+"' at ["+bindPos(addr3)+"].\nFailed!\n\n")
		ask(sock, "add ssl crt-list "+dir+"/dir "+nw, cant+"'"+dir+"/dir' is a directory, certificate path '"+nw+"' must contain the directory path\n\n")
		ask(sock, "show ssl crt-list -n "+list, lines(nw+":8\n"+nw+":9 [alpn http/1.1\x00 ssl-min-ver TLSv1.2] foo.example.com !bar.foo.example.com\n"))

		// Deleting.
		del := "Can't delete the entry: "
		ask(sock, "del ssl crt-list "+list, "'del ssl crtlist' expects a filename and a certificate name\n\n")
		ask(oper, "del ssl crt-list "+list+" "+nw, "Permission denied\n\n")
		ask(sock, "del ssl crt-list "+dir+"/none "+nw, del+"crt-list '"+dir+"/none' does not exist!\n\n")
		ask(sock, "del ssl crt-list "+list+" "+dir+"/zz.pem", del+"certificate '"+dir+"/zz.pem' does not exist!\n\n")
		ask(sock, "del ssl crt-list "+list+" "+caFile, del+"certificate '"+caFile+"' does not exist!\n\n")
		ask(sock, "del ssl crt-list "+dir+"/dir "+d, del+"certificate '"+d+"' can't be found in crt-list '"+dir+"/dir'!\n\n")
		// The directory's e.pem is the second bind line's default certificate; the
		// list's line of the same file is no one's.
		ask(sock, "del ssl crt-list "+dir+"/dir "+e, del+"certificate '"+e+"' cannot be deleted, it is used as default certificate by the following frontends:\n\t- "+bindPos(addr2)+"\n\n\n")
		ask(sock, "del ssl crt-list "+list+" "+e, "Entry '"+e+"' deleted in crtlist '"+list+"'!\n\n")
		ask(sock, "del ssl crt-list "+list+" "+nw, del+"found the certificate '"+nw+"' in several entries, please specify a line number preceded by colons (8, 9)!\n\n")
		ask(sock, "del ssl crt-list "+list+" "+nw+":3", del+"found a certificate '"+nw+"' but the line number is incorrect, please specify a correct line number preceded by colons (8, 9)!\n\n")
		ask(sock, "del ssl crt-list "+list+" "+nw+":x", del+"wrong line number after colons in '"+nw+":x'!\n\n")
		ask(sock, "del ssl crt-list "+list+" "+a+":2", del+"certificate '"+a+"' cannot be deleted, it is used as default certificate by the following frontends:\n\t- "+bindPos(addr1)+"\n\n\n")
		ask(sock, "del ssl crt-list "+list+" "+nw+":8", "Entry '"+nw+"' deleted in crtlist '"+list+"'!\n\n")
		sniIs(addr1, "new.example.com", "a.example.com")
		sniIs(addr2, "new.example.com", "e.example.com")
		sniIs(addr3, "new.example.com", "")
		sniIs(addr3, "foo.example.com", "new.example.com")
		ask(sock, "del ssl cert "+nw, "Can't remove the certificate: certificate '"+nw+"' in use, can't be deleted!\n\n\n")
		ask(sock, "del ssl crt-list "+list+"/ "+nw, "Entry '"+nw+"' deleted in crtlist '"+list+"'!\n\n")
		sniIs(addr3, "foo.example.com", "")
		ask(sock, "del ssl crt-list "+list+" "+a+":5", "Entry '"+a+"' deleted in crtlist '"+list+"'!\n\n")
		sniIs(addr3, "c.example.com", "")
		sniIs(addr3, "a.example.com", "a.example.com")
		ask(sock, "del ssl cert "+nw, "Certificate '"+nw+"' deleted!\n\n")
		ask(sock, "show ssl crt-list -n "+list, "# "+list+"\n"+
			a+":2 [alpn h2,http/1.1\x00 ssl-min-ver TLSv1.2] a.example.com !x.a.example.com\n"+
			b+":4 b.example.com *.b.example.com\n"+
			d+":6 [verify optional no-ca-names ca-file "+caFile+" ciphers ECDHE-ECDSA-AES128-GCM-SHA256 curves P-256 ssl-max-ver TLSv1.3]\n\n")
	})
}

// dialer bounds a test's TLS dial.
func dialer() *net.Dialer { return &net.Dialer{Timeout: 5 * time.Second} }
