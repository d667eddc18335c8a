package harness

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"strings"
	"syscall"
)

// alertNames are the TLS alert descriptions (RFC 8446 section 6 and RFC
// 5246 section 7.2), by number.
var alertNames = map[uint8]string{
	0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac",
	21: "decryption_failed", 22: "record_overflow", 30: "decompression_failure",
	40: "handshake_failure", 41: "no_certificate", 42: "bad_certificate",
	43: "unsupported_certificate", 44: "certificate_revoked", 45: "certificate_expired",
	46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
	49: "access_denied", 50: "decode_error", 51: "decrypt_error",
	60: "export_restriction", 70: "protocol_version", 71: "insufficient_security",
	80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled",
	100: "no_renegotiation", 109: "missing_extension", 110: "unsupported_extension",
	111: "certificate_unobtainable", 112: "unrecognized_name",
	113: "bad_certificate_status_response", 114: "bad_certificate_hash_value",
	115: "unknown_psk_identity", 116: "certificate_required", 120: "no_application_protocol",
}

func newAlert(code uint8) *Alert {
	name, ok := alertNames[code]
	if !ok {
		name = fmt.Sprintf("alert_%d", code)
	}
	return &Alert{Code: code, Name: name}
}

// remoteAlert finds the TLS alert the peer sent in err. crypto/tls reports
// it as a *net.OpError with Op "remote error" whose Err is its unexported
// alert type (a uint8); tls.AlertError is accepted too.
func remoteAlert(err error) *Alert {
	var ae tls.AlertError
	if errors.As(err, &ae) {
		return newAlert(uint8(ae))
	}
	var op *net.OpError
	for e := err; errors.As(e, &op); e = op.Err {
		if op.Op == "remote error" && op.Err != nil {
			v := reflect.ValueOf(op.Err)
			if v.Kind() == reflect.Uint8 && v.Type().PkgPath() == "crypto/tls" {
				return newAlert(uint8(v.Uint()))
			}
		}
		if op.Err == nil {
			break
		}
	}
	return nil
}

// isBadRecordMAC reports crypto/tls's own bad_record_mac: a record it
// could not decrypt (a local error, sent to the peer as alert 20).
func isBadRecordMAC(err error) bool {
	var op *net.OpError
	for e := err; errors.As(e, &op); e = op.Err {
		if op.Op == "local error" && op.Err != nil {
			v := reflect.ValueOf(op.Err)
			return v.Kind() == reflect.Uint8 && v.Type().PkgPath() == "crypto/tls" && v.Uint() == 20
		}
		if op.Err == nil {
			break
		}
	}
	return false
}

// alertReason turns an alert the peer sent into a reason.
func alertReason(a *Alert, by Party) Reason {
	who := string(by)
	switch a.Code {
	case 116:
		return Reason{ReasonCertificateRequired, fmt.Sprintf("the %s requires a certificate and none was sent (%s)", who, a)}
	case 48:
		return Reason{ReasonUnknownCA, fmt.Sprintf("the %s does not trust the CA that issued the certificate (%s)", who, a)}
	case 45:
		return Reason{ReasonExpired, fmt.Sprintf("the %s found the certificate expired or not yet valid (%s)", who, a)}
	case 42:
		return Reason{ReasonBadCertificate, fmt.Sprintf("the %s refused the certificate (%s)", who, a)}
	case 40:
		return Reason{ReasonHandshakeFailure, fmt.Sprintf("the %s aborted the handshake (%s)", who, a)}
	}
	return Reason{ReasonTLSAlert, fmt.Sprintf("the %s aborted the handshake (%s)", who, a)}
}

// errNoClientCert is the text crypto/tls gives a server whose client sent
// no certificate when one is required (an untyped error, so compared
// whole).
const errNoClientCert = "tls: client didn't provide a certificate"

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

// certName describes a certificate by its subject CN.
func certName(c *x509.Certificate) string {
	if c == nil {
		return "the certificate"
	}
	return fmt.Sprintf("certificate %q", c.Subject.CommonName)
}

// verifyReason classifies a certificate verification error from its x509
// type. The second result is false when err holds no known x509 error.
func verifyReason(err error) (Reason, bool) {
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		c := ua.Cert
		switch {
		case c != nil && string(c.RawIssuer) == string(c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil:
			return Reason{ReasonUnknownCA, fmt.Sprintf("%s is self-signed: no trusted CA vouches for it", certName(c))}, true
		case c != nil:
			return Reason{ReasonUnknownCA, fmt.Sprintf("%s is issued by %q, which is neither trusted nor sent as an intermediate", certName(c), c.Issuer.CommonName)}, true
		}
		return Reason{ReasonUnknownCA, "the certificate was issued by an unknown CA"}, true
	}
	var ci x509.CertificateInvalidError
	if errors.As(err, &ci) {
		c := ci.Cert
		switch ci.Reason {
		case x509.Expired:
			if c != nil && c.NotBefore.After(timeNow()) {
				return Reason{ReasonNotYetValid, fmt.Sprintf("%s is not valid until %s", certName(c), c.NotBefore.UTC().Format("2006-01-02 15:04 MST"))}, true
			}
			if c != nil {
				return Reason{ReasonExpired, fmt.Sprintf("%s expired on %s", certName(c), c.NotAfter.UTC().Format("2006-01-02 15:04 MST"))}, true
			}
			return Reason{ReasonExpired, "the certificate has expired or is not yet valid"}, true
		case x509.IncompatibleUsage:
			return Reason{ReasonIncompatibleKeyUsage, fmt.Sprintf("%s has extended key usage %s only, wrong for its role here", certName(c), ekuNames(c))}, true
		}
		return Reason{ReasonBadCertificate, fmt.Sprintf("%s is invalid: %v", certName(c), ci)}, true
	}
	var he x509.HostnameError
	if errors.As(err, &he) {
		c := he.Certificate
		switch {
		case c != nil && net.ParseIP(he.Host) != nil && len(c.IPAddresses) == 0:
			return Reason{ReasonNoIPSAN, fmt.Sprintf("dialled by address %s, but %s has no IP SAN (its names: %s)", he.Host, certName(c), sanList(c))}, true
		case c != nil && !hasSANExtension(c):
			return Reason{ReasonLegacyCN, fmt.Sprintf("%s has no SAN, only a legacy Common Name, which verifiers ignore", certName(c))}, true
		case c != nil:
			return Reason{ReasonHostMismatch, fmt.Sprintf("dialled %s, but %s is for %s", he.Host, certName(c), sanList(c))}, true
		}
		return Reason{ReasonHostMismatch, fmt.Sprintf("the certificate is not valid for %s", he.Host)}, true
	}
	return Reason{}, false
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

// alertGoSends is the alert crypto/tls sends for a handshake error it
// returned after verifying a peer certificate (handshake_server.go
// processCertsFromClient and handshake_client.go verifyServerCertificate).
// The reference server reports it as the alert it sent; the client's tls
// layer shows what actually arrived, and the tests check the two agree.
func alertGoSends(err error, isServer bool, version uint16) *Alert {
	if err == nil {
		return nil
	}
	if err.Error() == errNoClientCert {
		if version == tls.VersionTLS13 {
			return newAlert(116)
		}
		return newAlert(40)
	}
	var cve *tls.CertificateVerificationError
	if !errors.As(err, &cve) {
		return nil
	}
	if !isServer {
		return newAlert(42)
	}
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		return newAlert(48)
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return newAlert(45)
	}
	return newAlert(42)
}

// isTimeout reports a deadline or context timeout.
func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isClosed reports an orderly or abrupt close by the peer.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed)
}

// errConnRefused is what dialing a closed loopback port returns.
var errConnRefused = syscall.ECONNREFUSED

// certAlertCodes are the alerts that speak about a certificate:
// bad_certificate, unsupported_certificate, certificate_revoked,
// certificate_expired, certificate_unknown, unknown_ca, access_denied and
// certificate_required.
var certAlertCodes = map[uint8]bool{42: true, 43: true, 44: true, 45: true, 46: true, 48: true, 49: true, 116: true}

// clientCertAlert reports whether an alert the server sent can be a
// refusal of the client certificate, and if not, why not. requested says
// whether the server asked for a certificate (the client's
// GetClientCertificate ran); late, whether the alert arrived after the
// client's handshake had finished (TLS 1.3 servers check the client's
// certificate then).
//
// During the client's handshake, TLS 1.3 cannot carry such a refusal: the
// client sends its certificate in its last flight, after which its
// handshake is done. In TLS 1.2 the client sends it before the server's
// Finished, so a certificate alert (or 40 handshake_failure, which is
// how TLS 1.2 refuses a missing certificate) after a CertificateRequest
// is one.
func clientCertAlert(a *Alert, version uint16, requested, late bool) (bool, string) {
	switch {
	case !requested:
		return false, "the server had not asked for a client certificate"
	case late:
		if certAlertCodes[a.Code] {
			return true, ""
		}
		return false, fmt.Sprintf("alert %d is not a certificate alert", a.Code)
	case version == tls.VersionTLS13:
		return false, "in TLS 1.3 the client sends its certificate only at the end of its handshake, so an alert during that handshake cannot be about it"
	case certAlertCodes[a.Code] || a.Code == 40:
		return true, ""
	}
	return false, fmt.Sprintf("alert %d is not a certificate alert", a.Code)
}

// verifyMessages are the certificate verification messages of the common
// TLS stacks (docs/troubleshooting.md), lower case, by reason ID, the more
// specific first: a client's output that holds one corroborates a refusal
// the wire alone cannot show (a close without an alert, a close after the
// handshake).
var verifyMessages = []struct{ text, id string }{
	// OpenSSL (Python's ssl, curl, Ruby, nginx, Node's messages).
	{"certificate has expired", ReasonExpired},
	{"certificate is not yet valid", ReasonNotYetValid},
	{"hostname mismatch", ReasonHostMismatch},
	{"ip address mismatch", ReasonNoIPSAN},
	{"unsuitable certificate purpose", ReasonIncompatibleKeyUsage},
	{"self-signed certificate", ReasonUnknownCA},
	{"self signed certificate", ReasonUnknownCA},
	{"unable to get local issuer certificate", ReasonUnknownCA},
	{"unable to get issuer certificate", ReasonUnknownCA},
	{"unable to verify the first certificate", ReasonUnknownCA},
	// curl checks the host name itself, after the handshake.
	{"no alternative certificate subject name matches target host name", ReasonHostMismatch},
	// Node's error codes.
	{"cert_has_expired", ReasonExpired},
	{"cert_not_yet_valid", ReasonNotYetValid},
	{"err_tls_cert_altname_invalid", ReasonHostMismatch},
	{"depth_zero_self_signed_cert", ReasonUnknownCA},
	{"self_signed_cert_in_chain", ReasonUnknownCA},
	{"unable_to_verify_leaf_signature", ReasonUnknownCA},
	{"unable_to_get_issuer_cert_locally", ReasonUnknownCA},
	{"invalid_purpose", ReasonIncompatibleKeyUsage},
	// Go's crypto/x509.
	{"x509: certificate signed by unknown authority", ReasonUnknownCA},
	{"x509: certificate has expired or is not yet valid: current time", ReasonExpired},
	{"because it doesn't contain any ip sans", ReasonNoIPSAN},
	{"x509: certificate relies on legacy common name field", ReasonLegacyCN},
	{"x509: certificate is valid for", ReasonHostMismatch},
	{"x509: certificate is not valid for any names", ReasonHostMismatch},
	{"x509: certificate specifies an incompatible key usage", ReasonIncompatibleKeyUsage},
	// Java (JSSE).
	{"pkix path building failed", ReasonUnknownCA},
	{"no subject alternative dns name matching", ReasonHostMismatch},
	{"no subject alternative names matching ip address", ReasonNoIPSAN},
	{"no subject alternative names present", ReasonLegacyCN},
	{"certificateexpiredexception", ReasonExpired},
	{"certificatenotyetvalidexception", ReasonNotYetValid},
	{"extended key usage does not permit", ReasonIncompatibleKeyUsage},
	// rustls.
	{"invalid peer certificate: unknownissuer", ReasonUnknownCA},
	{"invalid peer certificate: expired", ReasonExpired},
	{"invalid peer certificate: notvalidyet", ReasonNotYetValid},
	{"invalid peer certificate: notvalidforname", ReasonHostMismatch},
	{"invalid peer certificate: invalidpurpose", ReasonIncompatibleKeyUsage},
	{"invalid peer certificate: badsignature", ReasonBadCertificate},
	{"certificate not valid for name", ReasonHostMismatch},
	{"certificate expired: verification time", ReasonExpired},
	{"certificate not valid yet: verification time", ReasonNotYetValid},
}

// verifyMessageReason finds a known certificate verification message in a
// client's output and returns its reason ID.
func verifyMessageReason(out string) (string, bool) {
	lower := strings.ToLower(out)
	for _, m := range verifyMessages {
		if strings.Contains(lower, m.text) {
			if m.id == ReasonExpired && strings.Contains(lower, "x509: certificate has expired or is not yet valid: current time") && strings.Contains(lower, " is before ") {
				return ReasonNotYetValid, true
			}
			return m.id, true
		}
	}
	return "", false
}
