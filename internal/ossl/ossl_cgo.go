//go:build linux && cgo

package ossl

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <string.h>
#include <stdlib.h>

// The few libcrypto 3 functions used, resolved with dlsym: lb needs no
// OpenSSL headers to build and starts without libcrypto.so.3.
typedef void EVP_PKEY;
typedef void EVP_PKEY_CTX;
typedef void EVP_MD;

static EVP_PKEY *(*p_d2i_PrivateKey)(int, EVP_PKEY **, const unsigned char **, long);
static void (*p_EVP_PKEY_free)(EVP_PKEY *);
static EVP_PKEY_CTX *(*p_EVP_PKEY_CTX_new)(EVP_PKEY *, void *);
static void (*p_EVP_PKEY_CTX_free)(EVP_PKEY_CTX *);
static int (*p_EVP_PKEY_sign_init)(EVP_PKEY_CTX *);
static int (*p_EVP_PKEY_sign)(EVP_PKEY_CTX *, unsigned char *, size_t *, const unsigned char *, size_t);
static int (*p_EVP_PKEY_CTX_set_rsa_padding)(EVP_PKEY_CTX *, int);
static int (*p_EVP_PKEY_CTX_set_rsa_pss_saltlen)(EVP_PKEY_CTX *, int);
static int (*p_EVP_PKEY_CTX_set_signature_md)(EVP_PKEY_CTX *, const EVP_MD *);
static const EVP_MD *(*p_EVP_sha1)(void);
static const EVP_MD *(*p_EVP_sha256)(void);
static const EVP_MD *(*p_EVP_sha384)(void);
static const EVP_MD *(*p_EVP_sha512)(void);
static unsigned long (*p_ERR_get_error)(void);
static void (*p_ERR_error_string_n)(unsigned long, char *, size_t);
static void (*p_ERR_clear_error)(void);
static const char *(*p_OpenSSL_version)(int);

#define LOAD(name) if ((*(void **)&p_##name = dlsym(h, #name)) == NULL) return #name;

// lb_ossl_load opens libcrypto.so.3; it returns NULL, or what was missing.
static const char *lb_ossl_load(void) {
	void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		return dlerror();
	LOAD(d2i_PrivateKey)
	LOAD(EVP_PKEY_free)
	LOAD(EVP_PKEY_CTX_new)
	LOAD(EVP_PKEY_CTX_free)
	LOAD(EVP_PKEY_sign_init)
	LOAD(EVP_PKEY_sign)
	LOAD(EVP_PKEY_CTX_set_rsa_padding)
	LOAD(EVP_PKEY_CTX_set_rsa_pss_saltlen)
	LOAD(EVP_PKEY_CTX_set_signature_md)
	LOAD(EVP_sha1)
	LOAD(EVP_sha256)
	LOAD(EVP_sha384)
	LOAD(EVP_sha512)
	LOAD(ERR_get_error)
	LOAD(ERR_error_string_n)
	LOAD(ERR_clear_error)
	LOAD(OpenSSL_version)
	return NULL;
}

static const char *lb_ossl_version(void) { return p_OpenSSL_version(0); }

// lb_ossl_err writes the oldest queued error in buf and clears the queue.
static void lb_ossl_err(char *buf, size_t len) {
	unsigned long e = p_ERR_get_error();
	buf[0] = 0;
	if (e != 0)
		p_ERR_error_string_n(e, buf, len);
	p_ERR_clear_error();
}

// lb_ossl_rsa_key reads a PKCS #1 DER RSA private key (6 is EVP_PKEY_RSA).
static EVP_PKEY *lb_ossl_rsa_key(const unsigned char *der, long len) {
	return p_d2i_PrivateKey(6, NULL, &der, len);
}

static void lb_ossl_free(EVP_PKEY *k) { p_EVP_PKEY_free(k); }

// lb_ossl_sign signs the digest tbs: pad is 1 (PKCS #1 v1.5) or 6 (PSS, salt as
// long as the digest); md is the digest's size in bytes, 20 for SHA-1.
static int lb_ossl_sign(EVP_PKEY *k, int pad, int md, const unsigned char *tbs, size_t tbslen,
		unsigned char *sig, size_t *siglen) {
	const EVP_MD *m;
	switch (md) {
	case 20: m = p_EVP_sha1(); break;
	case 32: m = p_EVP_sha256(); break;
	case 48: m = p_EVP_sha384(); break;
	case 64: m = p_EVP_sha512(); break;
	default: return 0;
	}
	EVP_PKEY_CTX *c = p_EVP_PKEY_CTX_new(k, NULL);
	if (c == NULL)
		return 0;
	int ok = p_EVP_PKEY_sign_init(c) > 0 &&
		p_EVP_PKEY_CTX_set_rsa_padding(c, pad) > 0 &&
		(pad != 6 || p_EVP_PKEY_CTX_set_rsa_pss_saltlen(c, -1) > 0) &&
		p_EVP_PKEY_CTX_set_signature_md(c, m) > 0 &&
		p_EVP_PKEY_sign(c, sig, siglen, tbs, tbslen) > 0;
	p_EVP_PKEY_CTX_free(c);
	return ok;
}
*/
import "C"

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"unsafe"
)

var load = sync.OnceValues(func() (string, error) {
	if e := C.lb_ossl_load(); e != nil {
		return "", fmt.Errorf("libcrypto.so.3: %s", C.GoString(e))
	}
	return C.GoString(C.lb_ossl_version()), nil
})

// Version loads libcrypto.so.3 and returns its version string
// ("OpenSSL 3.0.19 27 Jan 2026"), or why it could not.
func Version() (string, error) { return load() }

type signerImpl struct {
	once sync.Once
	pkey unsafe.Pointer // EVP_PKEY *; nil: Go signs
}

func lastError() error {
	var buf [256]C.char
	C.lb_ossl_err(&buf[0], C.size_t(len(buf)))
	if buf[0] == 0 {
		return errors.New("OpenSSL failed without saying why")
	}
	return errors.New(C.GoString(&buf[0]))
}

// NewRSASigner returns a signer for k. libcrypto is loaded, and the key
// handed to it, at the first signature: a process that never makes one
// (no RSA handshake, or lb -c) never maps the library (3.6 MB of resident
// memory once initialised). Where it cannot be loaded, or refuses the key,
// the Go key signs.
func NewRSASigner(k *rsa.PrivateKey) (*Signer, error) {
	return &Signer{key: k}, nil
}

// evpKey is the key in OpenSSL, nil when Go signs.
func (s *Signer) evpKey() unsafe.Pointer {
	s.impl.once.Do(func() {
		if _, err := load(); err != nil {
			return
		}
		der := x509.MarshalPKCS1PrivateKey(s.key)
		cder := C.CBytes(der)
		clear(der)
		p := C.lb_ossl_rsa_key((*C.uchar)(cder), C.long(len(der)))
		C.memset(cder, 0, C.size_t(len(der)))
		C.free(cder)
		if p == nil {
			lastError()
			return
		}
		s.impl.pkey = unsafe.Pointer(p)
		runtime.AddCleanup(s, func(p unsafe.Pointer) { C.lb_ossl_free(p) }, unsafe.Pointer(p))
	})
	return s.impl.pkey
}

// InOpenSSL loads the key into OpenSSL now and reports whether it signs there.
func (s *Signer) InOpenSSL() bool { return s.evpKey() != nil }

// Sign signs digest as (*rsa.PrivateKey).Sign does.
func (s *Signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	pad := C.int(1)
	if pss, ok := opts.(*rsa.PSSOptions); ok {
		if pss.SaltLength != rsa.PSSSaltLengthEqualsHash {
			return s.key.Sign(rand, digest, opts)
		}
		pad = 6
	}
	switch opts.HashFunc() {
	case crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return s.key.Sign(rand, digest, opts)
	}
	if len(digest) != opts.HashFunc().Size() {
		return nil, errors.New("crypto/rsa: input must be hashed message")
	}
	pkey := s.evpKey()
	if pkey == nil {
		return s.key.Sign(rand, digest, opts)
	}
	sig := make([]byte, s.key.Size())
	n := C.size_t(len(sig))
	if C.lb_ossl_sign(pkey, pad, C.int(len(digest)), (*C.uchar)(unsafe.Pointer(&digest[0])), C.size_t(len(digest)),
		(*C.uchar)(unsafe.Pointer(&sig[0])), &n) == 0 {
		return nil, fmt.Errorf("OpenSSL RSA signature: %v", lastError())
	}
	runtime.KeepAlive(s)
	return sig[:n], nil
}
