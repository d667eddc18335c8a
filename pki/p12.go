package pki

import (
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
// The default encoding is modern (go-pkcs12's Modern): the key and the
// certificates are encrypted with PBES2 (PBKDF2-HMAC-SHA-256 and
// AES-256-CBC) and the file carries an HMAC-SHA-256 MAC. OpenSSL 1.1.1 and
// 3, Java 12 and later and Windows Server 2019 and later read it. legacy
// selects 3DES encryption with an HMAC-SHA-1 MAC (go-pkcs12's LegacyDES),
// for older macOS Keychain, Windows and Java 8; it is weak, so protect the
// file by other means. Neither ever uses RC2-40, which OpenSSL 3 (without
// -legacy) and Node refuse.
//
// An empty password is allowed, and the file is still encrypted and
// MACed with keys derived from it, so it protects nothing; callers should
// say so to the user. OpenSSL 3 opens such a file with `-passin pass:`
// (it tries the empty password both as an empty string and as none) and
// Java's keytool lists it with `-storepass ""`, in both encodings (see
// TestPKCS12EmptyPassword).
func EncodePKCS12(iss *Issued, root *x509.Certificate, password string, legacy bool) ([]byte, error) {
	if iss == nil || iss.Cert == nil {
		return nil, errors.New("PKCS#12 export needs a certificate")
	}
	if iss.Key == nil {
		return nil, fmt.Errorf("certificate %q has no private key here (it was signed from a CSR, so the key stayed with the requester): export it where the key is", iss.Cert.Subject.CommonName)
	}
	if !KeyMatches(iss.Key, iss.Cert.PublicKey) {
		return nil, fmt.Errorf("the private key does not belong to certificate %q", iss.Cert.Subject.CommonName)
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
	enc := pkcs12.Modern
	if legacy {
		enc = pkcs12.LegacyDES
	}
	data, err := enc.Encode(iss.Key, iss.Cert, cas, password)
	if err != nil {
		return nil, fmt.Errorf("encoding PKCS#12 for %q: %v", iss.Cert.Subject.CommonName, err)
	}
	return data, nil
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
