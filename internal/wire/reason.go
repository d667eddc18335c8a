package wire

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// ReasonID is a stable short name for why an encounter ended as it did.
// Tests, reports and CI filters use them; their spelling is part of the
// JSON schema.
type ReasonID string

// The reason IDs.
const (
	ReasonUnknownCA            ReasonID = "unknown-ca"
	ReasonExpired              ReasonID = "expired"
	ReasonNotYetValid          ReasonID = "not-yet-valid"
	ReasonCertificateRequired  ReasonID = "certificate-required"
	ReasonBadCertificate       ReasonID = "bad-certificate"
	ReasonHostMismatch         ReasonID = "host-mismatch"
	ReasonNoIPSAN              ReasonID = "no-ip-san"
	ReasonLegacyCN             ReasonID = "legacy-cn"
	ReasonIncompatibleKeyUsage ReasonID = "incompatible-key-usage"
	ReasonHandshakeFailure     ReasonID = "handshake-failure"
	ReasonTLSAlert             ReasonID = "tls-alert"
	ReasonHandshakeAborted     ReasonID = "handshake-aborted"
	ReasonHandshakeTimeout     ReasonID = "handshake-timeout"
	ReasonConnectRefused       ReasonID = "connect-refused"
	ReasonConnectTimeout       ReasonID = "connect-timeout"
	ReasonHTTPStatus           ReasonID = "http-status"
	ReasonUpgradeTimeout       ReasonID = "upgrade-timeout"
	ReasonClosedBeforeUpgrade  ReasonID = "closed-before-upgrade"
	ReasonBadUpgrade           ReasonID = "bad-upgrade"
	ReasonEchoTimeout          ReasonID = "echo-timeout"
	ReasonEchoClosed           ReasonID = "echo-closed"
	ReasonEchoMismatch         ReasonID = "echo-mismatch"
	ReasonEchoVerified         ReasonID = "echo-verified"
	ReasonUnclassified         ReasonID = "unclassified"
	// ReasonRenegotiation: after the handshake, a TLS 1.2 server asked
	// to renegotiate (to ask for a client certificate it did not ask
	// for in the handshake), and the reference client refused: it
	// answers one renegotiation, unless told not to (--no-renegotiation).
	ReasonRenegotiation ReasonID = "renegotiation-requested"

	// ReasonUpgraded: --accept-on upgrade, the server answered 101 and
	// the echo was not checked.
	ReasonUpgraded ReasonID = "upgraded"
	// ReasonClientExit: an external client's exit status contradicts
	// what the server saw, or is all there is to go on.
	ReasonClientExit ReasonID = "client-exit"
	// ReasonClientTimeout: an external client was still running at the
	// command timeout and was killed.
	ReasonClientTimeout ReasonID = "client-timeout"
	// ReasonNoConnection: an external client never connected.
	ReasonNoConnection ReasonID = "no-connection"
	// ReasonClosedAfterHandshake: the client finished the handshake,
	// then closed without sending any application data.
	ReasonClosedAfterHandshake ReasonID = "closed-after-handshake"
	// ReasonNotApplicable: the scenario was skipped.
	ReasonNotApplicable ReasonID = "not-applicable"
	// ReasonRevoked: the certificate is listed in its CA's CRL (or the
	// OCSP responder says revoked).
	ReasonRevoked ReasonID = "certificate-revoked"
	// ReasonRevocationUnknown: a strict verifier could not check
	// revocation (the CRL could not be fetched) and refused.
	ReasonRevocationUnknown ReasonID = "revocation-unknown"
	// ReasonConnectionKept: an observation, the WebSocket opened with a
	// certificate that then expired or was revoked still echoed at the
	// end of the observation window.
	ReasonConnectionKept ReasonID = "connection-kept"
	// ReasonConnectionClosed: an observation, the server closed that
	// WebSocket (Verdict.Session says after how long).
	ReasonConnectionClosed ReasonID = "connection-closed"
)

// Reason is a stable short ID with a plain-words explanation.
type Reason struct {
	ID   ReasonID `json:"id"`
	Text string   `json:"text"`
}

// Party names a side of the connection.
type Party string

const (
	// PartyServer is the server.
	PartyServer Party = "server"
	// PartyClient is the client.
	PartyClient Party = "client"
)

// AlertReason turns an alert a peer sent into a reason.
func AlertReason(a *Alert, by Party) Reason {
	who := string(by)
	switch *a {
	case AlertCertificateRequired:
		return Reason{ID: ReasonCertificateRequired, Text: fmt.Sprintf("the %s requires a certificate and none was sent (%s)", who, a)}
	case AlertUnknownCA:
		return Reason{ID: ReasonUnknownCA, Text: fmt.Sprintf("the %s does not trust the CA that issued the certificate (%s)", who, a)}
	case AlertCertificateExpired:
		return Reason{ID: ReasonExpired, Text: fmt.Sprintf("the %s found the certificate expired or not yet valid (%s)", who, a)}
	case AlertBadCertificate:
		return Reason{ID: ReasonBadCertificate, Text: fmt.Sprintf("the %s refused the certificate (%s)", who, a)}
	case AlertCertificateRevoked:
		// The alert names the reason itself: OpenSSL sends it only for
		// X509_V_ERR_CERT_REVOKED (Apache's SSLCARevocationFile,
		// lighttpd's ssl.ca-crl-file), not a generic abort.
		return Reason{ID: ReasonRevoked, Text: fmt.Sprintf("the %s refused the certificate as revoked (%s)", who, a)}
	case AlertUnsupportedCertificate:
		return Reason{ID: ReasonBadCertificate, Text: fmt.Sprintf("the %s refused the certificate as unsupported (%s)", who, a)}
	case AlertHandshakeFailure:
		return Reason{ID: ReasonHandshakeFailure, Text: fmt.Sprintf("the %s aborted the handshake (%s)", who, a)}
	}
	return Reason{ID: ReasonTLSAlert, Text: fmt.Sprintf("the %s aborted the handshake (%s)", who, a)}
}

// Now is the clock VerifyReason uses to tell expired from not-yet-valid.
var Now = time.Now

// VerifyReason classifies a certificate verification error from its x509
// type. The second result is false when err holds no known x509 error.
func VerifyReason(err error) (Reason, bool) {
	var re *RevokedError
	if errors.As(err, &re) {
		return Reason{ID: ReasonRevoked, Text: re.Error()}, true
	}
	var ru *RevocationUnknownError
	if errors.As(err, &ru) {
		return Reason{ID: ReasonRevocationUnknown, Text: ru.Error()}, true
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		c := ua.Cert
		switch {
		case c != nil && string(c.RawIssuer) == string(c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil:
			return Reason{ID: ReasonUnknownCA, Text: fmt.Sprintf("%s is self-signed: no trusted CA vouches for it", CertName(c))}, true
		case c != nil:
			return Reason{ID: ReasonUnknownCA, Text: fmt.Sprintf("%s is issued by %q, which is neither trusted nor sent as an intermediate", CertName(c), c.Issuer.CommonName)}, true
		}
		return Reason{ID: ReasonUnknownCA, Text: "the certificate was issued by an unknown CA"}, true
	}
	var ci x509.CertificateInvalidError
	if errors.As(err, &ci) {
		c := ci.Cert
		switch ci.Reason {
		case x509.Expired:
			if c != nil && c.NotBefore.After(Now()) {
				return Reason{ID: ReasonNotYetValid, Text: fmt.Sprintf("%s is not valid until %s", CertName(c), c.NotBefore.UTC().Format("2006-01-02 15:04 MST"))}, true
			}
			if c != nil {
				return Reason{ID: ReasonExpired, Text: fmt.Sprintf("%s expired on %s", CertName(c), c.NotAfter.UTC().Format("2006-01-02 15:04 MST"))}, true
			}
			return Reason{ID: ReasonExpired, Text: "the certificate has expired or is not yet valid"}, true
		case x509.IncompatibleUsage:
			return Reason{ID: ReasonIncompatibleKeyUsage, Text: fmt.Sprintf("%s has extended key usage %s only, wrong for its role here", CertName(c), ekuNames(c))}, true
		}
		return Reason{ID: ReasonBadCertificate, Text: fmt.Sprintf("%s is invalid: %v", CertName(c), ci)}, true
	}
	var he x509.HostnameError
	if errors.As(err, &he) {
		c := he.Certificate
		switch {
		case c != nil && net.ParseIP(he.Host) != nil && len(c.IPAddresses) == 0:
			return Reason{ID: ReasonNoIPSAN, Text: fmt.Sprintf("dialled by address %s, but %s has no IP SAN (its names: %s)", he.Host, CertName(c), sanList(c))}, true
		case c != nil && !hasSANExtension(c):
			return Reason{ID: ReasonLegacyCN, Text: fmt.Sprintf("%s has no SAN, only a legacy Common Name, which verifiers ignore", CertName(c))}, true
		case c != nil:
			return Reason{ID: ReasonHostMismatch, Text: fmt.Sprintf("dialled %s, but %s is for %s", he.Host, CertName(c), sanList(c))}, true
		}
		return Reason{ID: ReasonHostMismatch, Text: fmt.Sprintf("the certificate is not valid for %s", he.Host)}, true
	}
	return Reason{}, false
}

// oidSAN is the subjectAltName extension.
var oidSAN = asn1.ObjectIdentifier{2, 5, 29, 17}

func hasSANExtension(c *x509.Certificate) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oidSAN) {
			return true
		}
	}
	return false
}

// CertName describes a certificate by its subject CN.
func CertName(c *x509.Certificate) string {
	if c == nil {
		return "the certificate"
	}
	return fmt.Sprintf("certificate %q", c.Subject.CommonName)
}

func sanList(c *x509.Certificate) string {
	var names []string
	for _, d := range c.DNSNames {
		names = append(names, "DNS:"+d)
	}
	for _, ip := range c.IPAddresses {
		names = append(names, "IP:"+ip.String())
	}
	if len(names) == 0 {
		return "no names"
	}
	return strings.Join(names, ", ")
}

func ekuNames(c *x509.Certificate) string {
	if c == nil || len(c.ExtKeyUsage) == 0 {
		return "(none)"
	}
	var names []string
	for _, u := range c.ExtKeyUsage {
		switch u {
		case x509.ExtKeyUsageServerAuth:
			names = append(names, "serverAuth")
		case x509.ExtKeyUsageClientAuth:
			names = append(names, "clientAuth")
		default:
			names = append(names, fmt.Sprintf("#%d", u))
		}
	}
	return strings.Join(names, ",")
}
