package harness

import (
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/mtlskit/mtlskit/internal/wire"
)

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
		if a.IsCertificateAlert() {
			return true, ""
		}
		return false, fmt.Sprintf("alert %d is not a certificate alert", uint8(*a))
	case version == tls.VersionTLS13:
		return false, "in TLS 1.3 the client sends its certificate only at the end of its handshake, so an alert during that handshake cannot be about it"
	case a.IsCertificateAlert() || *a == wire.AlertHandshakeFailure:
		return true, ""
	}
	return false, fmt.Sprintf("alert %d is not a certificate alert", uint8(*a))
}

// verifyMessages are the certificate verification messages of the common
// TLS stacks (docs/troubleshooting.md), lower case, by reason ID, the more
// specific first: a client's output that holds one corroborates a refusal
// the wire alone cannot show (a close without an alert, a close after the
// handshake).
var verifyMessages = []struct {
	text string
	id   ReasonID
}{
	// OpenSSL (Python's ssl, curl, Ruby, nginx, Node's messages).
	{"certificate revoked", ReasonRevoked},
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
	// Node's error codes. Its IP check says "IP: 127.0.0.1 is not in the
	// cert's list", under the same ERR_TLS_CERT_ALTNAME_INVALID code as a
	// host name mismatch, so it comes first.
	{"is not in the cert's list", ReasonNoIPSAN},
	{"cert_revoked", ReasonRevoked},
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
	// Chromium's net errors (fixtures/subjects/chromium prints them from
	// its net log; it always sends alert 46). ERR_CERT_DATE_INVALID
	// (expired or not yet valid) and ERR_CERT_INVALID do not say which
	// check failed, so they name no reason.
	{"net::err_cert_revoked", ReasonRevoked},
	{"net::err_cert_authority_invalid", ReasonUnknownCA},
	{"net::err_cert_common_name_invalid", ReasonHostMismatch},
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
func verifyMessageReason(out string) (ReasonID, bool) {
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
