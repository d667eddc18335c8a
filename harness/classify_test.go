package harness

import "testing"

// TestVerifyMessageReason: a client's own words name the reason a bare
// alert does not; each row is one stack's message as it prints it.
func TestVerifyMessageReason(t *testing.T) {
	for _, tt := range []struct {
		stack, output string
		want          ReasonID
	}{
		{"openssl", "SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, certificate is not valid for 'localhost'", ReasonHostMismatch},
		{"openssl", "certificate verify failed: unable to get local issuer certificate", ReasonUnknownCA},
		{"node", "Error: certificate has expired (CERT_HAS_EXPIRED)", ReasonExpired},
		{"node", "Error [ERR_TLS_CERT_ALTNAME_INVALID]: IP: 127.0.0.1 is not in the cert's list: ", ReasonNoIPSAN},
		{"node", "Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate's altnames: Host: localhost. is not in the cert's altnames: DNS:not-this-host.example", ReasonHostMismatch},
		{"go", "x509: certificate has expired or is not yet valid: current time 2026-12-01T10:00:00Z is before 2026-12-02T00:00:00Z", ReasonNotYetValid},
		{"go", "x509: certificate has expired or is not yet valid: current time 2026-12-01T10:00:00Z is after 2026-11-30T00:00:00Z", ReasonExpired},
		{"chromium", "chromium net log: net::ERR_CERT_AUTHORITY_INVALID", ReasonUnknownCA},
		{"chromium", "chromium net log: net::ERR_CERT_COMMON_NAME_INVALID", ReasonHostMismatch},
		{"chromium", "chromium net log: net::ERR_CERT_REVOKED", ReasonRevoked},
		// Expired or not yet valid: Chromium does not say which.
		{"chromium", "chromium net log: net::ERR_CERT_DATE_INVALID", ""},
		{"chromium", "chromium net log: net::ERR_CERT_INVALID", ""},
		{"any", "connection reset by peer", ""},
	} {
		got, ok := verifyMessageReason(tt.output)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("%s %q: %q %v, want %q", tt.stack, tt.output, got, ok, tt.want)
		}
	}
}
