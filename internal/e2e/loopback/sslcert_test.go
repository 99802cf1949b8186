package loopback

import (
	"bufio"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSSLCertRuntime: "set ssl cert" with a payload then "commit ssl cert" on the runtime
// socket give the new handshakes the new certificate, in both bind lines that use the
// file, while a keep-alive connection made before goes on; "show ssl cert" lists the
// store and the transaction, and details a file; the replies are HAProxy 2.6's.
func TestSSLCertRuntime(t *testing.T) {
	ca := newTestCA(t, "lb test CA")
	dir := t.TempDir()
	oldCrt, oldKey := ca.issue(t, "old.example.com", []string{"old.example.com"}, false, false)
	newCrt, newKey := ca.issue(t, "new.example.com", []string{"new.example.com", "www.new.example.com"}, false, false)
	crt := writeFile(t, dir, "site.pem", oldCrt, ca.pem, oldKey)
	other := writeFile(t, dir, "other.pem", ca.issueJoined(t, "other.example.com"))
	sock := filepath.Join(dir, "admin.sock")
	p1, p2 := freePort(t), freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %s level admin
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:%d ssl crt %s crt %s
    bind 127.0.0.1:%d ssl crt %s
    http-request return status 200 content-type text/plain string ok
`, sock, p1, crt, other, p2, crt))
	addr1, addr2 := fmt.Sprintf("127.0.0.1:%d", p1), fmt.Sprintf("127.0.0.1:%d", p2)
	parse := func(b []byte) *x509.Certificate {
		blk, _ := pem.Decode(b)
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	oldC, newC := parse(oldCrt), parse(newCrt)
	detail := func(name, status string, c *x509.Certificate, chain bool) string {
		san := []string{}
		for _, d := range c.DNSNames {
			san = append(san, "DNS:"+d)
		}
		date := func(t time.Time) string { return t.UTC().Format("Jan _2 15:04:05 2006") + " GMT" }
		s := fmt.Sprintf("Filename: %s\nStatus: %s\nSerial: %X\nnotBefore: %s\nnotAfter: %s\n"+
			"Subject Alternative Name: %s\nAlgorithm: EC256\nSHA1 FingerPrint: %X\n"+
			"Subject: /C=FR/O=lb tests/CN=%s\nIssuer: /O=lb tests/CN=lb test CA\n",
			name, status, c.SerialNumber.Bytes(), date(c.NotBefore), date(c.NotAfter),
			strings.Join(san, ", "), sha1.Sum(c.Raw), c.Subject.CommonName)
		if chain {
			s += "Chain Subject: /O=lb tests/CN=lb test CA\nChain Issuer: /O=lb tests/CN=lb test CA\n"
		}
		return s + "OCSP Response Key: \n\n"
	}
	client := func(name string) *tls.Config {
		pool := x509.NewCertPool()
		pool.AddCert(ca.cert)
		return &tls.Config{RootCAs: pool, ServerName: name}
	}
	var cur *testing.T // the subtest running
	serverCN := func(addr, name string) string {
		t := cur
		t.Helper()
		code, body, st, err := tlsGet(t, addr, client(name), "/")
		if err != nil || code != 200 || body != "ok" {
			t.Fatalf("GET on %s for %s: %d %q %v", addr, name, code, body, err)
		}
		return st.PeerCertificates[0].Subject.CommonName
	}
	ask := func(cmd, want string) {
		t := cur
		t.Helper()
		if got := adminCommand(t, sock, cmd); got != want {
			t.Errorf("%q:\n got %q\nwant %q", strings.SplitN(cmd, "\n", 2)[0], got, want)
		}
	}
	payload := func(parts ...[]byte) string {
		var b strings.Builder
		for _, p := range parts {
			b.Write(p)
		}
		return strings.TrimRight(b.String(), "\n") + "\n" // adminCommand adds the empty line
	}
	onLBAndHAProxy(t, cfg, addr1, func(t *testing.T, _ *outFile) {
		cur = t
		waitListen(t, addr2)
		ask("show ssl cert", "# filename\n"+other+"\n"+crt+"\n\n")
		ask("show ssl cert "+crt, detail(crt, "Used", oldC, true))
		ask("show ssl cert "+dir+"/none.pem", "Can't display the certificate: Not found or the certificate is a bundle!\n\n")
		ask("commit ssl cert "+crt, "No ongoing transaction! !\nCan't commit "+crt+"!\n\n")
		ask("set ssl cert "+crt, "'set ssl cert expects a filename and a certificate as a payload\n\n")
		ask("set ssl cert "+dir+"/none.pem <<\n"+payload(newCrt, newKey), "Can't replace a certificate which is not referenced by the configuration!\nCan't update "+dir+"/none.pem!\n\n")
		ask("set ssl cert "+crt+" <<\ngarbage\n", "unable to load certificate from file '"+crt+"'.\nCan't load the payload\nCan't update "+crt+"!\n\n")

		// A keep-alive connection made with the old certificate.
		keep, err := tls.Dial("tcp", addr1, client("old.example.com"))
		if err != nil {
			t.Fatal(err)
		}
		defer keep.Close()
		br := bufio.NewReader(keep)
		get := func() {
			t.Helper()
			_ = keep.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(keep, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("keep-alive request: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(b) != "ok" {
				t.Fatalf("keep-alive request: %d %q", resp.StatusCode, b)
			}
		}
		get()

		ask("set ssl cert "+crt+" <<\n"+payload(newCrt, newKey), "Transaction created for certificate "+crt+"!\n\n")
		ask("show ssl cert", "# transaction\n*"+crt+"\n# filename\n"+other+"\n"+crt+"\n\n")
		ask("show ssl cert *"+crt, detail("*"+crt, "Unused", newC, false))
		if cn := serverCN(addr1, "old.example.com"); cn != "old.example.com" {
			t.Fatalf("before the commit: %q", cn)
		}
		ask("commit ssl cert "+other, "The ongoing transaction is about '"+crt+"' but you are trying to set '"+other+"'\nCan't commit "+other+"!\n\n")
		ask("commit ssl cert "+crt, "Committing "+crt+"..\nSuccess!\n\n")
		ask("show ssl cert "+crt, detail(crt, "Used", newC, false))
		for _, a := range []string{addr1, addr2} {
			if cn := serverCN(a, "new.example.com"); cn != "new.example.com" {
				t.Errorf("after the commit, %s: %q", a, cn)
			}
		}
		// The names index follows the certificate: the new names are found, and the old
		// one is no longer the file's (the first line's default is the new one anyway).
		if cn := serverCN(addr1, "www.new.example.com"); cn != "new.example.com" {
			t.Errorf("new SAN: %q", cn)
		}
		if cn := serverCN(addr1, "other.example.com"); cn != "other.example.com" {
			t.Errorf("the other file: %q", cn)
		}
		// The connection established before goes on, with its certificate.
		get()
		if cn := keep.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "old.example.com" {
			t.Errorf("established connection: %q", cn)
		}
		ask("abort ssl cert "+crt, "No ongoing transaction!\n\n")
		ask("set ssl cert "+crt+" <<\n"+payload(oldCrt), "Transaction created for certificate "+crt+"!\n\n")
		// A certificate without its key leaves the transaction without one.
		ask("commit ssl cert "+crt, "The transaction must contain at least a certificate and a private key!\nCan't commit "+crt+"!\n\n")
		ask("set ssl cert "+crt+".key <<\n"+payload(newKey), "Transaction updated for certificate "+crt+"!\n\n")
		ask("commit ssl cert "+crt, "inconsistencies between private key and certificate loaded '"+crt+"'.\nCan't commit "+crt+"!\n\n")
		ask("abort ssl cert "+other, "The ongoing transaction is about '"+crt+"' but you are trying to abort a transaction for '"+other+"'\n\n")
		ask("abort ssl cert "+crt, "Transaction aborted for certificate '"+crt+"'!\n\n")
	})
}

// issueJoined is a certificate for cn with its key, in one PEM.
func (ca *testCA) issueJoined(t *testing.T, cn string) []byte {
	c, k := ca.issue(t, cn, []string{cn}, false, false)
	return append(c, k...)
}
