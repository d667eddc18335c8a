package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/youmark/pkcs8"
)

// PEM block types.
const (
	pemCert         = "CERTIFICATE"
	pemKey          = "PRIVATE KEY"
	pemEncryptedKey = "ENCRYPTED PRIVATE KEY"
	pemCSR          = "CERTIFICATE REQUEST"
)

// EncodeCertsPEM writes certificates as concatenated PEM blocks.
func EncodeCertsPEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: pemCert, Bytes: c.Raw})
	}
	return b.Bytes()
}

// EncodeKeyPEM writes a private key as unencrypted PKCS#8 PEM.
func EncodeKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemKey, Bytes: der}), nil
}

// EncodeEncryptedKeyPEM writes a private key as encrypted PKCS#8 PEM
// (PBES2: PBKDF2-HMAC-SHA256 and AES-256-CBC), which OpenSSL reads.
func EncodeEncryptedKeyPEM(key crypto.Signer, passphrase []byte) ([]byte, error) {
	if len(passphrase) == 0 {
		return nil, errors.New("an encrypted key needs a non-empty passphrase")
	}
	der, err := pkcs8.MarshalPrivateKey(key, passphrase, &pkcs8.Opts{
		Cipher: pkcs8.AES256CBC,
		KDFOpts: pkcs8.PBKDF2Opts{
			SaltSize: 16, IterationCount: 600000, HMACHash: crypto.SHA256,
		},
	})
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemEncryptedKey, Bytes: der}), nil
}

// ErrPassphraseNeeded is returned by ParseKey for an encrypted key when no
// passphrase was given.
var ErrPassphraseNeeded = errors.New("the key is encrypted and needs a passphrase")

// ErrWrongPassphrase is returned by ParseKey when the passphrase does not
// decrypt the key.
var ErrWrongPassphrase = errors.New("the passphrase does not decrypt the key")

// IsEncryptedKeyPEM reports whether data holds an encrypted PKCS#8 key.
func IsEncryptedKeyPEM(data []byte) bool {
	b, _ := pem.Decode(data)
	return b != nil && b.Type == pemEncryptedKey
}

// ParseKey reads a private key: PKCS#8 (plain or encrypted), PKCS#1 RSA or
// SEC 1 EC, as PEM or DER.
func ParseKey(data, passphrase []byte) (crypto.Signer, error) {
	der := data
	typ := ""
	if b, _ := pem.Decode(data); b != nil {
		der, typ = b.Bytes, b.Type
		if _, isProcType := b.Headers["Proc-Type"]; isProcType {
			return nil, errors.New("the key uses legacy OpenSSL PEM encryption: convert it with `openssl pkcs8 -topk8`")
		}
	} else if bytes.Contains(data, []byte("-----BEGIN")) {
		return nil, errors.New("the PEM data is truncated or damaged: no complete block found")
	}
	switch typ {
	case pemCert:
		return nil, errors.New("this is a certificate, not a private key")
	case pemCSR:
		return nil, errors.New("this is a certificate request, not a private key")
	case pemEncryptedKey:
		if len(passphrase) == 0 {
			return nil, ErrPassphraseNeeded
		}
		if n, ok := pbkdf2Iterations(der); ok && n > maxKeyIterations {
			return nil, fmt.Errorf("the key's PBKDF2 iteration count %d is over %d: the file is damaged or hostile", n, maxKeyIterations)
		}
		k, err := pkcs8.ParsePKCS8PrivateKey(der, passphrase)
		if err != nil {
			return nil, ErrWrongPassphrase
		}
		return asSigner(k)
	}
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return asSigner(k)
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	if typ == "" {
		return nil, errors.New("no PEM block and not a DER private key")
	}
	return nil, fmt.Errorf("PEM block %q does not hold a readable private key", typ)
}

func asSigner(k any) (crypto.Signer, error) {
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key of type %T cannot sign", k)
	}
	return s, nil
}

// ParseCerts reads one or more certificates from PEM (skipping blocks of
// other types only when at least one certificate is found) or from DER.
func ParseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	var other []string
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != pemCert {
			other = append(other, b.Type)
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d does not parse: %v", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) > 0 {
		return certs, nil
	}
	if len(other) > 0 {
		return nil, fmt.Errorf("no certificate found, only a PEM block of type %q%s", other[0], describeBlock(other[0]))
	}
	if bytes.Contains(data, []byte("-----BEGIN")) {
		return nil, errors.New("the PEM data is truncated or damaged: no complete block found")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("the file is empty")
	}
	c, err := x509.ParseCertificates(data)
	if err != nil || len(c) == 0 {
		return nil, errors.New("neither PEM nor a DER certificate")
	}
	return c, nil
}

func describeBlock(t string) string {
	switch t {
	case pemKey, pemEncryptedKey, "RSA PRIVATE KEY", "EC PRIVATE KEY":
		return " (a private key, not a certificate)"
	case pemCSR, "NEW CERTIFICATE REQUEST":
		return " (a certificate request: sign it with `mtlskit sign --csr`)"
	}
	return ""
}

// ParseCSR reads a PKCS#10 certificate signing request from PEM or DER and
// checks its signature.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	der := data
	if b, _ := pem.Decode(data); b != nil {
		if b.Type != pemCSR && b.Type != "NEW CERTIFICATE REQUEST" {
			return nil, fmt.Errorf("PEM block is %q, not a certificate request%s", b.Type, describeBlock(b.Type))
		}
		der = b.Bytes
	} else if bytes.Contains(data, []byte("-----BEGIN")) {
		return nil, errors.New("the PEM data is truncated or damaged: no complete block found")
	} else if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("the file is empty")
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("not a readable certificate request: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("the request's signature does not verify (%v): it was altered or made with another key", err)
	}
	return csr, nil
}
