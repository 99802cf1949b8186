package auth

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// The test vectors of the SHA-crypt specification (Ulrich Drepper,
// "Unix crypt using SHA-256 and SHA-512"), and MD5-crypt and bcrypt hashes
// made by glibc's crypt(3).
var cryptVectors = []struct{ pass, hash string }{
	{"Hello world!", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"},
	{"Hello world!", "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"},
	{"This is just a test", "$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5"},
	{"a very much longer text to encrypt.  This one even stretches over morethan one line.",
		"$5$rounds=1400$anotherlongsalts$Rx.j8H.h8HjEDGomFU8bDkXm3XIUnzyxf12oP84Bnq1"},
	{"we have a short salt string but not a short password", "$5$rounds=77777$short$JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/"},
	{"a short string", "$5$rounds=123456$asaltof16chars..$gP3VQ/6X7UUEW3HkBn2w1/Ptq2jxPyzV/cZKmF/wJvD"},
	{"Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
	{"Hello world!", "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."},
	{"This is just a test", "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0"},
	{"a very much longer text to encrypt.  This one even stretches over morethan one line.",
		"$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1"},
	{"we have a short salt string but not a short password",
		"$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0"},
	{"a short string", "$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1"},
	{"", "$5$salt$HrcUzzoef72uxM/YhTU5BAi419Fblqlq//zyM.rIOG0"},
	{strings.Repeat("x", 100), "$6$salt$YpneRMDqacf3Cb8jYBiOgHJ8JSOP0u50ItO7gJeHxZgTzM5LWYkuEU2fu3OFmmvnM6ASCnSvDUM/MFm78SFyy/"},
	{"Hello world!", "$1$saltstri$YMyguxXMBpd2TEZ.vS/3q1"},
	{"", "$1$salt$UsdFqFVB.FsuinRDK5eE.."},
	{"secret", "$2b$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a"},
}

func TestCryptVectors(t *testing.T) {
	for _, v := range cryptVectors {
		if !Verify(v.pass, v.hash) {
			t.Errorf("Verify(%q, %q) = false, want true", v.pass, v.hash)
		}
		if Verify(v.pass+"x", v.hash) {
			t.Errorf("Verify(%q, %q) = true, want false", v.pass+"x", v.hash)
		}
	}
	// Rounds out of the specification's bounds: the hash crypt(3) writes
	// says "rounds=1000", so the one stored here matches nothing.
	if Verify("the minimum number is still observed", "$5$rounds=10$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC") {
		t.Error("a hash with rounds=10 matched")
	}
	for _, h := range []string{"*", "!", "", "$1$", "abNANd1rDfiNc", "$y$j9T$abc$def"} {
		if Verify("secret", h) {
			t.Errorf("Verify(secret, %q) = true", h)
		}
	}
}

// TestCryptOpenSSL checks SHA-256-, SHA-512- and MD5-crypt against the
// hashes "openssl passwd" makes with random salts, when it is installed.
func TestCryptOpenSSL(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed")
	}
	for i, pw := range []string{"p", "correct horse battery staple", "é€ unicode", strings.Repeat("long", 40)} {
		for _, alg := range []string{"-1", "-5", "-6"} {
			out, err := exec.Command(bin, "passwd", alg, "--", pw).Output()
			if err != nil {
				t.Fatalf("openssl passwd %s: %v", alg, err)
			}
			h := strings.TrimSpace(string(out))
			if !Verify(pw, h) {
				t.Errorf("%d: Verify(%q, %q) = false", i, pw, h)
			}
			if Verify(pw[1:], h) {
				t.Errorf("%d: Verify(%q, %q) = true", i, pw[1:], h)
			}
		}
	}
}

func TestScheme(t *testing.T) {
	for h, want := range map[string]string{
		"$5$x$y": "sha256", "$6$x": "sha512", "$1$x$y": "md5", "$2y$05$x": "bcrypt", "$2b$05$x": "bcrypt",
		"$y$j9T$a$b": "yescrypt", "abNANd1rDfiNc": "des", "*": "", "!": "", "_J9..abcd": "bsdi-des",
	} {
		if got := Scheme(h); got != want {
			t.Errorf("Scheme(%q) = %q, want %q", h, got, want)
		}
	}
}

func TestUserlistCache(t *testing.T) {
	ul := NewUserlist("L", []*User{
		{Name: "alice", Hash: cryptVectors[0].hash, Groups: []string{"ops"}},
		{Name: "bob", Plain: "pw", Insecure: true},
		{Name: "nopass"},
	})
	for i := range 3 {
		if !ul.Check([]byte("alice"), []byte("Hello world!")) {
			t.Fatalf("round %d: alice refused", i)
		}
		if ul.Check([]byte("alice"), []byte("Hello world")) {
			t.Fatalf("round %d: alice accepted with a wrong password", i)
		}
	}
	if len(ul.ok) != 1 {
		t.Errorf("cache holds %d entries, want 1 (successes only)", len(ul.ok))
	}
	if !ul.Check([]byte("bob"), []byte("pw")) || ul.Check([]byte("bob"), []byte("p")) || ul.Check([]byte("nopass"), nil) ||
		ul.Check([]byte("carol"), []byte("pw")) {
		t.Error("insecure-password, no password or unknown user checked wrong")
	}
	// A full cache keeps its bound.
	for i := range maxCached + 10 {
		ul.mu.Lock()
		if len(ul.ok) >= maxCached {
			for k := range ul.ok {
				delete(ul.ok, k)
				break
			}
		}
		ul.ok[cacheKey([]byte(fmt.Sprint(i)), nil)] = struct{}{}
		ul.mu.Unlock()
	}
	if !ul.Check([]byte("alice"), []byte("Hello world!")) || len(ul.ok) > maxCached {
		t.Errorf("after filling: cache of %d entries (bound %d)", len(ul.ok), maxCached)
	}
	if !ul.InGroup([]byte("alice"), []string{"x", "ops"}) || ul.InGroup([]byte("bob"), []string{"ops"}) {
		t.Error("InGroup")
	}
}
