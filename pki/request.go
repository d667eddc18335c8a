package pki

import (
	"crypto"
	"crypto/x509"
	"net"
	"time"
)

// Kind is the role a certificate plays.
type Kind string

// The kinds of certificate mtlskit issues.
const (
	KindRoot         Kind = "root"
	KindIntermediate Kind = "intermediate"
	KindServer       Kind = "server"
	KindClient       Kind = "client"
)

// IsCA reports whether certificates of this kind sign other certificates.
func (k Kind) IsCA() bool { return k == KindRoot || k == KindIntermediate }

// Request describes a certificate to issue. The zero value of each field
// picks the safe default.
type Request struct {
	Kind         Kind
	CommonName   string
	Organization string
	SANs         SANs

	// KeyType selects the algorithm of a generated key. Key, when set, is
	// used instead of generating one (the public half is certified).
	KeyType KeyType
	Key     crypto.Signer

	// Validity is the lifetime; zero means the default for the kind.
	// NotBefore, when zero, is the moment of issue less Backdate.
	Validity  time.Duration
	NotBefore time.Time

	// ClientAuth adds the clientAuth EKU to a server certificate, for peers
	// that act as both server and client.
	ClientAuth bool

	// CRLURLs and OCSPURLs put a CRL distribution point and an Authority
	// Information Access OCSP URL into a leaf (nil: the issuer's).
	CRLURLs  []string
	OCSPURLs []string

	// MaxPathLen bounds the CAs below a CA certificate: 0 means it may sign
	// only leaves, -1 means no limit. Ignored for leaves.
	MaxPathLen int

	// Name constraints for a CA certificate (RFC 5280 4.2.1.10).
	PermittedDNS []string
	ExcludedDNS  []string
	PermittedIPs []*net.IPNet

	// UnsafeAllowMissingSAN lets a server certificate be issued with no
	// subject alternative name, its host only in the Common Name. Modern
	// verifiers reject it; the harness uses it to reproduce that failure.
	UnsafeAllowMissingSAN bool
	// UnsafeExtKeyUsage replaces the extended key usages of the kind, for
	// certificates that are meant to be refused (a server-only certificate
	// presented as a client certificate, say).
	UnsafeExtKeyUsage []x509.ExtKeyUsage
	// UnsafeAllowOutliveIssuer lets a certificate end after its issuer.
	UnsafeAllowOutliveIssuer bool
	// UnsafeAllowOutsideNameConstraints lets a certificate carry names that
	// the issuer's name constraints (or those of the intermediates in its
	// Chain) forbid, for tests that verifiers refuse it. Without it Issue
	// and SignCSR refuse such a name. (A root above an intermediate issuer
	// is not in the Issuer, so its constraints are checked only by
	// verifiers; the store puts the same constraints on both.)
	UnsafeAllowOutsideNameConstraints bool
}

// CheckSubject reports whether a server or client request names its
// subject as it must: ErrServerNeedsSAN for a server request without SAN
// (unless UnsafeAllowMissingSAN), then ErrNeedsName for one with neither
// a Common Name nor a SAN. Issue and SignCSR apply it; a caller can use
// it to refuse a request before it opens a store or asks for a
// passphrase. Other kinds pass.
func (r Request) CheckSubject() error {
	if r.Kind != KindServer && r.Kind != KindClient {
		return nil
	}
	if r.Kind == KindServer && r.SANs.Empty() && !r.UnsafeAllowMissingSAN {
		return ErrServerNeedsSAN
	}
	if r.CommonName == "" && r.SANs.Empty() {
		return detailf(ErrNeedsName, "a %s certificate needs a Common Name or a SAN", r.Kind)
	}
	return nil
}

func (r Request) validity() time.Duration {
	if r.Validity > 0 {
		return r.Validity
	}
	switch r.Kind {
	case KindRoot:
		return DefaultRootValidity
	case KindIntermediate:
		return DefaultIntermediateValidity
	}
	return DefaultLeafValidity
}

func (r Request) window(now time.Time) (notBefore, notAfter time.Time) {
	notBefore = r.NotBefore
	if notBefore.IsZero() {
		notBefore = now.Add(-Backdate)
		// The lifetime is counted from now, so "90d" means 90 days of use.
		return notBefore.UTC().Truncate(time.Second), now.Add(r.validity()).UTC().Truncate(time.Second)
	}
	return notBefore.UTC().Truncate(time.Second), notBefore.Add(r.validity()).UTC().Truncate(time.Second)
}
