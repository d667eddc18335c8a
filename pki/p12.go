package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"

	"software.sslmate.com/src/go-pkcs12"
)

// ErrWrongPKCS12Password is returned by DecodePKCS12 when the password
// does not open the file.
var ErrWrongPKCS12Password = errors.New("the password does not open the PKCS#12 file")

// EncodePKCS12 packs an issued certificate, its private key and its chain
// (the intermediates of iss.Chain, then root when it is not nil) into a
// PKCS#12 file protected by password, for browsers, Java key stores and
// OS key chains.
//
// The default encoding is PKCS12Modern: the key and the certificates are
// encrypted with PBES2 (PBKDF2-HMAC-SHA-256 and AES-256-CBC) and the file
// carries an HMAC-SHA-256 MAC. OpenSSL 1.1.1 and 3, Java 12 and later and
// Windows Server 2019 and later read it. legacy selects PKCS12Legacy:
// 3DES encryption with an HMAC-SHA-1 MAC, for older macOS Keychain,
// Windows and Java 8; it is weak, so protect the file by other means.
// Neither ever uses RC2-40, which OpenSSL 3 (without -legacy) and Node
// refuse. EncodePKCS12For picks the encoding a named reader (a target)
// imports.
//
// An empty password is allowed, and the file is still encrypted and
// MACed with keys derived from it, so it protects nothing; callers should
// say so to the user. OpenSSL 3 opens such a file with `-passin pass:`
// (it tries the empty password both as an empty string and as none) and
// Java's keytool lists it with `-storepass ""`, in both encodings (see
// TestPKCS12EmptyPassword).
func EncodePKCS12(iss *Issued, root *x509.Certificate, password string, legacy bool) ([]byte, error) {
	enc := PKCS12Modern
	if legacy {
		enc = PKCS12Legacy
	}
	return EncodePKCS12With(iss, root, password, enc)
}

// PKCS12Cipher is the password-based encryption of a PKCS#12 file's key
// and certificates.
type PKCS12Cipher int

const (
	// PKCS12AES256 is PBES2 (RFC 8018) with PBKDF2-HMAC-SHA-256 and
	// AES-256-CBC, OpenSSL 3's default.
	PKCS12AES256 PKCS12Cipher = iota + 1
	// PKCS12TripleDES is pbeWithSHAAnd3-KeyTripleDES-CBC (RFC 7292
	// appendix C): three-key 3DES with the PKCS#12 key derivation over
	// SHA-1, what OpenSSL 1.x writes for keys (and for certificates with
	// -descert) and Windows' Export-PfxCertificate writes by default.
	PKCS12TripleDES
)

func (c PKCS12Cipher) String() string {
	switch c {
	case PKCS12AES256:
		return "AES-256-CBC (PBES2, PBKDF2-HMAC-SHA256)"
	case PKCS12TripleDES:
		return "3DES (pbeWithSHAAnd3-KeyTripleDES-CBC)"
	}
	return fmt.Sprintf("PKCS12Cipher(%d)", int(c))
}

// PKCS12Encoding is how EncodePKCS12With protects a PKCS#12 file: the
// cipher of the key and the certificates, the MAC and their iteration
// counts, the salt length, and the friendly name of the key and its
// certificate (the alias in a Java key store, the nickname in NSS, the
// label in a key chain).
type PKCS12Encoding struct {
	Cipher PKCS12Cipher
	// MAC is the digest of the HMAC over the contents: crypto.SHA256 or
	// crypto.SHA1. Its key comes from the password through the PKCS#12
	// key derivation (RFC 7292 appendix B) over the same digest.
	MAC           crypto.Hash
	Iterations    int // key derivation iterations of the key and certificate encryption
	MACIterations int // and of the MAC key
	SaltLen       int // bytes of every salt
	// FriendlyName is set on the key and the leaf certificate; empty
	// leaves it out.
	FriendlyName string
}

// PKCS12Modern is the default encoding: the parameters of go-pkcs12's
// Modern2023 (AES-256-CBC, HMAC-SHA-256, 2048 iterations, 16-byte salts,
// no friendly name).
var PKCS12Modern = PKCS12Encoding{Cipher: PKCS12AES256, MAC: crypto.SHA256, Iterations: 2048, MACIterations: 2048, SaltLen: 16}

// PKCS12Legacy is the weak encoding of old readers: the parameters of
// go-pkcs12's LegacyDES (3DES for the key and the certificates, 2048
// iterations, an HMAC-SHA-1 MAC with one iteration, 8-byte salts, no
// friendly name).
var PKCS12Legacy = PKCS12Encoding{Cipher: PKCS12TripleDES, MAC: crypto.SHA1, Iterations: 2048, MACIterations: 1, SaltLen: 8}

// String describes the encoding in one line, e.g. "AES-256-CBC (PBES2,
// PBKDF2-HMAC-SHA256), 2048 iterations; HMAC-SHA256 MAC, 2048 iterations".
func (e PKCS12Encoding) String() string {
	mac := map[crypto.Hash]string{crypto.SHA1: "HMAC-SHA1", crypto.SHA256: "HMAC-SHA256"}[e.MAC]
	if mac == "" {
		mac = e.MAC.String()
	}
	return fmt.Sprintf("%v, %d iterations; %s MAC, %d iteration%s", e.Cipher, e.Iterations, mac, e.MACIterations, map[bool]string{true: "s"}[e.MACIterations != 1])
}

// PKCS12Target is a reader of PKCS#12 files and the encoding it imports:
// docs/pkcs12.md says, for each, which encodings it was seen to read
// (or, where it cannot be run here, the source of the choice).
type PKCS12Target struct {
	Name     string
	Encoding PKCS12Encoding // FriendlyName is left to the caller
	// NeedsPassword: the reader refuses (or mis-derives) a file with an
	// empty password.
	NeedsPassword bool
	// ASCIIPassword: the reader opens the file only when the password is
	// printable ASCII (Java's PBE keys refuse anything else).
	ASCIIPassword bool
	// Reads is who the encoding is for, in a phrase.
	Reads string
}

// The OpenSSL 3 layout: `openssl pkcs12 -export` writes AES-256-CBC with
// 2048 iterations, an HMAC-SHA-256 MAC with 2048 and 8-byte salts.
var openssl3Layout = PKCS12Encoding{Cipher: PKCS12AES256, MAC: crypto.SHA256, Iterations: 2048, MACIterations: 2048, SaltLen: 8}

// The 3DES layout OpenSSL 1.x writes with -descert: 3DES for the key and
// the certificates, an HMAC-SHA-1 MAC, 2048 iterations each, 8-byte salts.
var tripleDESLayout = PKCS12Encoding{Cipher: PKCS12TripleDES, MAC: crypto.SHA1, Iterations: 2048, MACIterations: 2048, SaltLen: 8}

var pkcs12Targets = []PKCS12Target{
	{Name: "java", Reads: "Java 12+ keytool and KeyStore (and 8 and 11 builds with the backports, docs/pkcs12.md): what keytool writes itself, 10,000 iterations; printable ASCII passwords only",
		Encoding: PKCS12Encoding{Cipher: PKCS12AES256, MAC: crypto.SHA256, Iterations: 10000, MACIterations: 10000, SaltLen: 8}, ASCIIPassword: true},
	{Name: "node", Reads: "Node 17+ tls.createSecureContext({pfx}) (OpenSSL 3 without its legacy provider)", Encoding: openssl3Layout},
	{Name: "openssl3", Reads: "OpenSSL 3 with and without -legacy, and what links it (curl, Python, Ruby)", Encoding: openssl3Layout},
	{Name: "openssl1", Reads: "OpenSSL 1.0.2 and 1.1.1: the 3DES layout they write themselves with -descert", Encoding: tripleDESLayout},
	{Name: "macos", Reads: "every supported macOS Keychain import (security import, SecPKCS12Import): before macOS 15 they read only PKCS#12 PBE and a SHA-1 MAC, and never an empty password", Encoding: tripleDESLayout, NeedsPassword: true},
	{Name: "windows", Reads: "every Windows certificate store import, Server 2016 included: what Export-PfxCertificate writes by default", Encoding: tripleDESLayout},
	{Name: "browser", Reads: "NSS (Firefox everywhere, Chrome and Chromium on Linux): what pk12util writes itself, 600,000 iterations",
		Encoding: PKCS12Encoding{Cipher: PKCS12AES256, MAC: crypto.SHA256, Iterations: 600000, MACIterations: 600000, SaltLen: 16}},
}

// PKCS12Targets lists the readers EncodePKCS12For knows, in a stable
// order.
func PKCS12Targets() []PKCS12Target {
	return append([]PKCS12Target(nil), pkcs12Targets...)
}

// PKCS12ForTarget returns the target named name (java, node, openssl3,
// openssl1, macos, windows, browser).
func PKCS12ForTarget(name string) (PKCS12Target, bool) {
	for _, t := range pkcs12Targets {
		if t.Name == name {
			return t, true
		}
	}
	return PKCS12Target{}, false
}

// ErrPKCS12NeedsPassword is returned by EncodePKCS12For when the target
// cannot import a file with an empty password.
var ErrPKCS12NeedsPassword = errors.New("this reader does not import a PKCS#12 file with an empty password")

// ErrPKCS12ASCIIPassword is returned by EncodePKCS12For when the target
// opens only files whose password is printable ASCII.
var ErrPKCS12ASCIIPassword = errors.New("this reader opens a PKCS#12 file only when its password is printable ASCII (space to ~)")

// EncodePKCS12For encodes like EncodePKCS12With in the encoding of the
// named target (see PKCS12Targets), with friendlyName on the key and its
// certificate. A target that needs a password refuses an empty one
// (ErrPKCS12NeedsPassword), one that takes ASCII only a password with
// other characters (ErrPKCS12ASCIIPassword).
func EncodePKCS12For(iss *Issued, root *x509.Certificate, password, target, friendlyName string) ([]byte, PKCS12Encoding, error) {
	t, ok := PKCS12ForTarget(target)
	if !ok {
		return nil, PKCS12Encoding{}, fmt.Errorf("unknown PKCS#12 target %q", target)
	}
	if t.NeedsPassword && password == "" {
		return nil, PKCS12Encoding{}, fmt.Errorf("%s: %w", target, ErrPKCS12NeedsPassword)
	}
	if t.ASCIIPassword {
		for _, r := range password {
			if r < ' ' || r > '~' {
				return nil, PKCS12Encoding{}, fmt.Errorf("%s: %w", target, ErrPKCS12ASCIIPassword)
			}
		}
	}
	enc := t.Encoding
	enc.FriendlyName = friendlyName
	data, err := EncodePKCS12With(iss, root, password, enc)
	return data, enc, err
}

// EncodePKCS12With packs iss, its chain and root like EncodePKCS12, in
// the encoding enc. The layout is OpenSSL's: a first, encrypted, safe
// holds the certificate bags (the leaf first, with the local key ID and
// the friendly name), a second, plain, safe the shrouded key bag, and a
// MAC covers both.
func EncodePKCS12With(iss *Issued, root *x509.Certificate, password string, enc PKCS12Encoding) ([]byte, error) {
	if iss == nil || iss.Cert == nil {
		return nil, errors.New("PKCS#12 export needs a certificate")
	}
	if iss.Key == nil {
		return nil, fmt.Errorf("certificate %q has no private key here (it was signed from a CSR, so the key stayed with the requester): export it where the key is", iss.Cert.Subject.CommonName)
	}
	if !KeyMatches(iss.Key, iss.Cert.PublicKey) {
		return nil, fmt.Errorf("the private key does not belong to certificate %q", iss.Cert.Subject.CommonName)
	}
	if err := enc.check(); err != nil {
		return nil, err
	}
	var cas []*x509.Certificate
	add := func(c *x509.Certificate) {
		if c == nil || c.Equal(iss.Cert) {
			return
		}
		for _, have := range cas {
			if have.Equal(c) {
				return
			}
		}
		cas = append(cas, c)
	}
	for _, c := range iss.Chain {
		add(c)
	}
	add(root)
	data, err := encodePKCS12(rand.Reader, iss.Key, iss.Cert, cas, password, enc)
	if err != nil {
		return nil, fmt.Errorf("encoding PKCS#12 for %q: %v", iss.Cert.Subject.CommonName, err)
	}
	return data, nil
}

func (e PKCS12Encoding) check() error {
	switch {
	case e.Cipher != PKCS12AES256 && e.Cipher != PKCS12TripleDES:
		return fmt.Errorf("PKCS#12: unknown cipher %v", e.Cipher)
	case e.MAC != crypto.SHA1 && e.MAC != crypto.SHA256:
		return fmt.Errorf("PKCS#12: the MAC digest must be SHA-1 or SHA-256, not %v", e.MAC)
	case e.Iterations < 1 || e.MACIterations < 1 || e.Iterations > maxKeyIterations || e.MACIterations > maxKeyIterations:
		return fmt.Errorf("PKCS#12: iteration counts must be between 1 and %d, not %d and %d", maxKeyIterations, e.Iterations, e.MACIterations)
	case e.SaltLen < 8 || e.SaltLen > 64:
		return fmt.Errorf("PKCS#12: the salt must have 8 to 64 bytes, not %d", e.SaltLen)
	}
	if _, err := bmpString(e.FriendlyName); err != nil {
		return fmt.Errorf("PKCS#12 friendly name %q: %v", e.FriendlyName, err)
	}
	return nil
}

// DecodePKCS12 reads a PKCS#12 file holding one private key and its
// certificate chain. The self-signed CA certificate, if the file has one,
// is returned as root; the other CA certificates are in the Chain of the
// Issued. A wrong password gives ErrWrongPKCS12Password.
func DecodePKCS12(data []byte, password string) (iss *Issued, root *x509.Certificate, err error) {
	key, cert, cas, err := pkcs12.DecodeChain(data, password)
	if errors.Is(err, pkcs12.ErrIncorrectPassword) {
		return nil, nil, ErrWrongPKCS12Password
	}
	if err != nil {
		return nil, nil, fmt.Errorf("not a readable PKCS#12 file: %v", err)
	}
	signer, err := asSigner(key)
	if err != nil {
		return nil, nil, err
	}
	iss = &Issued{Cert: cert, Key: signer}
	for _, c := range cas {
		if root == nil && isSelfSigned(c) {
			root = c
			continue
		}
		iss.Chain = append(iss.Chain, c)
	}
	return iss, root, nil
}
