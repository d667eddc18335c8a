package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"
)

// Issued is a certificate with its private key (nil when the key stayed
// outside, as for a signed CSR) and the intermediates between it and the
// root, nearest first. The root itself is never in Chain.
type Issued struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// Issuer is a CA certificate and key that can sign certificates.
type Issuer struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate // intermediates above Cert, nearest first
	// CRLURLs and OCSPURLs, when set, go into every leaf it issues as a
	// CRL distribution point and an Authority Information Access OCSP
	// URL (a request's own RevocationURLs win). A store's issuer carries
	// those of `ca init --crl-url/--ocsp-url`.
	CRLURLs  []string
	OCSPURLs []string
}

// Issuer returns i as a signer for further certificates. It fails when i
// is not a CA or has no key.
func (i *Issued) Issuer() (*Issuer, error) {
	if !i.Cert.IsCA {
		return nil, fmt.Errorf("certificate %q is not a CA and cannot sign", i.Cert.Subject.CommonName)
	}
	if i.Key == nil {
		return nil, fmt.Errorf("CA %q has no private key loaded", i.Cert.Subject.CommonName)
	}
	return &Issuer{Cert: i.Cert, Key: i.Key, Chain: i.Chain}, nil
}

// FullChain is the certificate followed by its intermediates: what a TLS
// peer sends.
func (i *Issued) FullChain() []*x509.Certificate {
	return append([]*x509.Certificate{i.Cert}, i.Chain...)
}

// NewRootCA makes a self-signed root CA. The Kind of req is ignored.
func NewRootCA(req Request) (*Issued, error) {
	req.Kind = KindRoot
	if req.CommonName == "" {
		req.CommonName = "mtlskit Root CA"
	}
	return selfSign(req, time.Now())
}

// NewSelfSignedLeaf makes a self-signed server or client certificate: no
// CA vouches for it, so every verifier should refuse it. The harness uses
// it for its self-signed scenarios.
func NewSelfSignedLeaf(req Request) (*Issued, error) {
	if req.Kind.IsCA() {
		return nil, errors.New("NewSelfSignedLeaf makes leaves only: use NewRootCA for a CA")
	}
	return selfSign(req, time.Now())
}

func selfSign(req Request, now time.Time) (*Issued, error) {
	key, err := requestKey(req)
	if err != nil {
		return nil, err
	}
	tmpl, err := template(req, key.Public(), now)
	if err != nil {
		return nil, err
	}
	if !req.Kind.IsCA() {
		// RFC 5280 4.2.1.1 excuses only a self-signed CA from naming its
		// key; Go omits the AKI whenever issuer and subject match.
		tmpl.AuthorityKeyId = tmpl.SubjectKeyId
	}
	cert, err := sign(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return &Issued{Cert: cert, Key: key}, nil
}

// Issue signs a new certificate described by req.
func (iss *Issuer) Issue(req Request) (*Issued, error) {
	if req.Kind == KindRoot {
		return nil, errors.New("a root CA is self-signed: use NewRootCA")
	}
	key, err := requestKey(req)
	if err != nil {
		return nil, err
	}
	cert, err := iss.certify(req, key.Public(), time.Now())
	if err != nil {
		return nil, err
	}
	return &Issued{Cert: cert, Key: key, Chain: iss.chainBelowRoot()}, nil
}

// SignCSR certifies the key of a certificate signing request made
// elsewhere. The CSR's signature is checked; its Common Name and SANs are
// used unless req sets its own. Only leaf kinds are accepted.
func (iss *Issuer) SignCSR(csr *x509.CertificateRequest, req Request) (*Issued, error) {
	if req.Kind != KindServer && req.Kind != KindClient {
		return nil, fmt.Errorf("CSR profile %q is not supported: use server or client", req.Kind)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("CSR signature does not verify (%v): the request was altered or made with another key", err)
	}
	req, err := requestFromCSR(csr, req)
	if err != nil {
		return nil, err
	}
	if err := checkPublicKey(csr.PublicKey); err != nil {
		return nil, fmt.Errorf("CSR: %v", err)
	}
	cert, err := iss.certify(req, csr.PublicKey, time.Now())
	if err != nil {
		return nil, err
	}
	return &Issued{Cert: cert, Chain: iss.chainBelowRoot()}, nil
}

// requestFromCSR fills the Common Name and SANs that req leaves empty from
// the CSR, checking each name as ParseSANs would: a CSR is outside input.
func requestFromCSR(csr *x509.CertificateRequest, req Request) (Request, error) {
	if req.CommonName == "" {
		req.CommonName = csr.Subject.CommonName
	}
	if req.SANs.Empty() {
		var checked SANs
		for _, s := range SANsOf(csr.DNSNames, csr.IPAddresses, csr.EmailAddresses, csr.URIs).Strings() {
			if err := checked.Add(s); err != nil {
				return Request{}, fmt.Errorf("CSR: %v", err)
			}
		}
		req.SANs = checked
	}
	return req, nil
}

// chainBelowRoot is what a leaf signed by iss sends after itself: iss and
// its own intermediates, without the root. A CA whose issuer is its own
// subject is a root here: peers must already trust it, so it is never
// sent. (The name comparison is enough and saves a signature check per
// certificate issued.)
func (iss *Issuer) chainBelowRoot() []*x509.Certificate {
	if string(iss.Cert.RawIssuer) == string(iss.Cert.RawSubject) {
		return nil
	}
	return append([]*x509.Certificate{iss.Cert}, iss.Chain...)
}

func (iss *Issuer) certify(req Request, pub crypto.PublicKey, now time.Time) (*x509.Certificate, error) {
	if !req.Kind.IsCA() && req.CRLURLs == nil && req.OCSPURLs == nil {
		req.CRLURLs, req.OCSPURLs = iss.CRLURLs, iss.OCSPURLs
	}
	tmpl, err := template(req, pub, now)
	if err != nil {
		return nil, err
	}
	if !iss.Cert.IsCA || iss.Cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("issuer %q is not a CA allowed to sign certificates", iss.Cert.Subject.CommonName)
	}
	if req.Kind.IsCA() && iss.Cert.MaxPathLenZero {
		return nil, fmt.Errorf("issuer %q has path length 0 and may not sign another CA", iss.Cert.Subject.CommonName)
	}
	// A name the CA may not certify would be refused by every verifier:
	// refuse it here rather than write a certificate that cannot work.
	for _, ca := range append([]*x509.Certificate{iss.Cert}, iss.Chain...) {
		if v := nameViolations(ca, tmpl); len(v) > 0 && !req.UnsafeAllowOutsideNameConstraints {
			return nil, fmt.Errorf("%s: CA %q allows only %s: use names the CA allows, or a CA without those constraints", v[0], ca.Subject.CommonName, describeConstraints(ca))
		}
	}
	if tmpl.NotAfter.After(iss.Cert.NotAfter) && !req.UnsafeAllowOutliveIssuer {
		return nil, &OutlivesIssuerError{Validity: req.validity(), NotAfter: tmpl.NotAfter,
			Issuer: iss.Cert.Subject.CommonName, IssuerNotAfter: iss.Cert.NotAfter, Remaining: iss.Cert.NotAfter.Sub(now)}
	}
	return sign(tmpl, iss.Cert, pub, iss.Key)
}

func requestKey(req Request) (crypto.Signer, error) {
	if req.Key != nil {
		return req.Key, nil
	}
	return GenerateKey(req.KeyType)
}

// checkPublicKey refuses keys too weak to certify.
func checkPublicKey(pub crypto.PublicKey) error {
	if k, ok := pub.(*rsa.PublicKey); ok && k.N.BitLen() < 2048 {
		return fmt.Errorf("RSA key of %d bits is too weak: use at least 2048 bits", k.N.BitLen())
	}
	switch KeyTypeOf(pub) {
	case ECDSAP256, ECDSAP384, Ed25519:
		return nil
	}
	if _, ok := pub.(*rsa.PublicKey); ok {
		return nil
	}
	return fmt.Errorf("public key type %s is not supported: use ECDSA P-256/P-384, Ed25519 or RSA", KeyTypeOf(pub))
}

func template(req Request, pub crypto.PublicKey, now time.Time) (*x509.Certificate, error) {
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	serial, err := NewSerial()
	if err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	notBefore, notAfter := req.window(now)
	t := &x509.Certificate{
		SerialNumber:   serial,
		NotBefore:      notBefore,
		NotAfter:       notAfter,
		SubjectKeyId:   ski,
		DNSNames:       req.SANs.DNS,
		IPAddresses:    req.SANs.IPs,
		EmailAddresses: req.SANs.Emails,
		URIs:           req.SANs.URIs,
	}
	cn := req.CommonName
	switch req.Kind {
	case KindRoot, KindIntermediate:
		if cn == "" {
			cn = "mtlskit Intermediate CA"
		}
		org := req.Organization
		if org == "" {
			org = "mtlskit private CA"
		}
		t.Subject = pkix.Name{CommonName: cn, Organization: []string{org}}
		t.IsCA = true
		t.BasicConstraintsValid = true
		t.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		t.MaxPathLen = req.MaxPathLen
		t.MaxPathLenZero = req.MaxPathLen == 0
		if len(req.PermittedDNS)+len(req.ExcludedDNS)+len(req.PermittedIPs) > 0 {
			t.PermittedDNSDomainsCritical = true
			t.PermittedDNSDomains = req.PermittedDNS
			t.ExcludedDNSDomains = req.ExcludedDNS
			t.PermittedIPRanges = req.PermittedIPs
		}
	case KindServer, KindClient:
		if err := req.CheckSubject(); err != nil {
			return nil, err
		}
		if cn == "" {
			cn = req.SANs.Strings()[0]
		}
		if len(cn) > 64 {
			return nil, detailf(ErrCommonNameTooLong, "common name %.20q... is %d characters long, over the limit of 64", cn, len(cn))
		}
		t.Subject = pkix.Name{CommonName: cn}
		if req.Organization != "" {
			t.Subject.Organization = []string{req.Organization}
		}
		t.BasicConstraintsValid = true
		t.KeyUsage = x509.KeyUsageDigitalSignature
		if _, ok := pub.(*rsa.PublicKey); ok && req.Kind == KindServer {
			// TLS 1.2 RSA key exchange encrypts to a server's key. A
			// client key only signs: RFC 5280 4.2.1.12 allows clientAuth
			// with digitalSignature and keyAgreement only.
			t.KeyUsage |= x509.KeyUsageKeyEncipherment
		}
		if req.Kind == KindServer {
			t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			if req.ClientAuth {
				t.ExtKeyUsage = append(t.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
			}
		} else {
			t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		}
		if req.UnsafeExtKeyUsage != nil {
			t.ExtKeyUsage = req.UnsafeExtKeyUsage
		}
		t.CRLDistributionPoints, t.OCSPServer = req.CRLURLs, req.OCSPURLs
	default:
		return nil, fmt.Errorf("unknown certificate kind %q: use root, intermediate, server or client", req.Kind)
	}
	return t, nil
}

func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		return nil, fmt.Errorf("signing certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// subjectKeyID is the leftmost 160 bits of the SHA-256 of the subject
// public key bits (RFC 7093, method 1).
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(info.PublicKey.Bytes)
	return sum[:20], nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return string(c.RawIssuer) == string(c.RawSubject) && c.CheckSignatureFrom(c) == nil
}
