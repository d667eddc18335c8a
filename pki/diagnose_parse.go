package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// ReadCertFile reads the certificates of a file given as role (a flag such
// as "--cert", "--chain" or "--ca") and says what each block holds in a
// parse check: PEM or DER, and for each block whether it is a
// certificate (whose), a private key or a request. A private key passed
// as a certificate is named as such.
func ReadCertFile(file, role string, data []byte) ([]*x509.Certificate, Check) {
	c := Check{ID: CheckParse, Subject: file}
	var certs []*x509.Certificate
	var keys, others []string
	rest := data
	n := 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		n++
		switch {
		case b.Type == pemCert:
			crt, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				c.Status = StatusFail
				c.Summary = fmt.Sprintf("PEM block %d is a CERTIFICATE that does not parse: %v", n, err)
				c.Fix = "the file is damaged: export the certificate again"
				return nil, c
			}
			certs = append(certs, crt)
			c.Evidence = append(c.Evidence, fmt.Sprintf("block %d: CERTIFICATE %s (issuer %s)", n, subjectOf(crt), crt.Issuer.String()))
		case strings.Contains(b.Type, "PRIVATE KEY"):
			keys = append(keys, b.Type)
			c.Evidence = append(c.Evidence, fmt.Sprintf("block %d: %s (a private key)", n, b.Type))
		default:
			others = append(others, b.Type)
			c.Evidence = append(c.Evidence, fmt.Sprintf("block %d: %s%s", n, b.Type, describeBlock(b.Type)))
		}
	}
	switch {
	case len(certs) > 0:
		c.Status = StatusPass
		c.Summary = fmt.Sprintf("PEM: %d certificate(s)", len(certs))
		if len(keys) > 0 {
			c.Status = StatusWarn
			c.Summary += " and a private key: keep keys out of files you hand to others"
			c.Fix = "split it: put the certificates in one file and the key (" + role + " is for certificates) in another, mode 0600"
		}
		return certs, c
	case len(keys) > 0:
		c.Status = StatusFail
		c.Summary = fmt.Sprintf("holds a private key (%s), not a certificate: it was given as %s", keys[0], role)
		c.Fix = "pass the certificate as " + role + " and this file as --key"
		if role != "--cert" {
			c.Fix = "pass the CA's certificate (such as ca/root.pem) as " + role + ", never its key"
		}
		return nil, c
	case len(others) > 0:
		c.Status = StatusFail
		c.Summary = fmt.Sprintf("holds no certificate, only %s%s", others[0], describeBlock(others[0]))
		c.Fix = "pass a certificate file as " + role
		if strings.Contains(others[0], "CERTIFICATE REQUEST") {
			c.Fix = "sign the request first: mtlskit sign --csr " + file
		}
		return nil, c
	case bytes.Contains(data, []byte("-----BEGIN")):
		c.Status = StatusFail
		c.Summary = "the PEM data is truncated or damaged: no complete block found"
		c.Fix = "copy the whole file again, from -----BEGIN to -----END"
		return nil, c
	case len(bytes.TrimSpace(data)) == 0:
		c.Status = StatusFail
		c.Summary = "the file is empty"
		c.Fix = "pass the certificate file as " + role
		return nil, c
	}
	if der, err := x509.ParseCertificates(data); err == nil && len(der) > 0 {
		c.Status = StatusPass
		c.Summary = fmt.Sprintf("DER: %d certificate(s)", len(der))
		for i, crt := range der {
			c.Evidence = append(c.Evidence, fmt.Sprintf("certificate %d: %s (issuer %s)", i+1, subjectOf(crt), crt.Issuer.String()))
		}
		return der, c
	}
	if k, err := ParseKey(data, nil); err == nil {
		c.Status = StatusFail
		c.Summary = fmt.Sprintf("holds a DER private key (%s), not a certificate: it was given as %s", KeyTypeOf(k.Public()), role)
		c.Fix = "pass the certificate as " + role + " and this file as --key"
		return nil, c
	}
	c.Status = StatusFail
	c.Summary = "neither PEM nor a DER certificate"
	c.Fix = "check the file: `mtlskit inspect " + file + "` says what it holds"
	return nil, c
}

// ReadKeyFile reads a private key file given as --key. An encrypted key is
// not decrypted: the check is skipped and the key is nil.
func ReadKeyFile(file string, data []byte) (crypto.Signer, Check) {
	c := Check{ID: CheckParse, Subject: file}
	k, err := ParseKey(data, nil)
	switch {
	case err == nil:
		c.Status = StatusPass
		c.Summary = fmt.Sprintf("private key (%s)", KeyTypeOf(k.Public()))
		if b, _ := pem.Decode(data); b != nil {
			c.Summary = fmt.Sprintf("PEM %s (%s)", b.Type, KeyTypeOf(k.Public()))
		} else {
			c.Summary = fmt.Sprintf("DER private key (%s)", KeyTypeOf(k.Public()))
		}
		return k, c
	case errors.Is(err, ErrPassphraseNeeded):
		c.Status = StatusSkip
		c.Summary = "the key is encrypted and was not decrypted, so key-match is skipped"
		c.Fix = "to check it, decrypt a copy: openssl pkey -in " + file + " -out plain-key.pem"
		return nil, c
	}
	if certs, _ := ParseCerts(data); len(certs) > 0 {
		c.Status = StatusFail
		c.Summary = fmt.Sprintf("holds a certificate (%s), not a private key: it was given as --key", subjectOf(certs[0]))
		c.Fix = "pass this file as --cert and the private key as --key"
		return nil, c
	}
	c.Status = StatusFail
	c.Summary = "not a readable private key: " + err.Error()
	c.Fix = "check the file: `mtlskit inspect " + file + "` says what it holds"
	return nil, c
}
