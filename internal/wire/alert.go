package wire

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"reflect"
)

// Alert is a TLS alert description (RFC 8446 section 6, RFC 5246 section
// 7.2). Reports carry it as a *Alert: nil means no alert was seen.
type Alert uint8

// The alerts the harness and the probe name.
const (
	AlertCloseNotify            Alert = 0
	AlertUnexpectedMessage      Alert = 10
	AlertBadRecordMAC           Alert = 20
	AlertHandshakeFailure       Alert = 40
	AlertBadCertificate         Alert = 42
	AlertUnsupportedCertificate Alert = 43
	AlertCertificateRevoked     Alert = 44
	AlertCertificateExpired     Alert = 45
	AlertCertificateUnknown     Alert = 46
	AlertIllegalParameter       Alert = 47
	AlertUnknownCA              Alert = 48
	AlertAccessDenied           Alert = 49
	AlertDecodeError            Alert = 50
	AlertDecryptError           Alert = 51
	AlertProtocolVersion        Alert = 70
	AlertUnrecognizedName       Alert = 112
	AlertInternalError          Alert = 80
	AlertNoRenegotiation        Alert = 100
	AlertCertificateRequired    Alert = 116
	AlertNoApplicationProtocol  Alert = 120
)

// alertNames are the alert descriptions' RFC names, by number.
var alertNames = map[Alert]string{
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

// NewAlert is a *Alert for code, for reports.
func NewAlert(code Alert) *Alert { return &code }

// Name is the RFC name ("unknown_ca"), or alert_N for an unassigned one.
func (a Alert) Name() string {
	if n, ok := alertNames[a]; ok {
		return n
	}
	return fmt.Sprintf("alert_%d", uint8(a))
}

// String is "alert 48 unknown_ca"; a nil *Alert prints as "".
func (a *Alert) String() string {
	if a == nil {
		return ""
	}
	return fmt.Sprintf("alert %d %s", uint8(*a), a.Name())
}

// alertJSON is an alert's JSON form (schema v1): number and name.
type alertJSON struct {
	Code uint8  `json:"code"`
	Name string `json:"name"`
}

// MarshalJSON writes {"code": 48, "name": "unknown_ca"}.
func (a Alert) MarshalJSON() ([]byte, error) {
	return json.Marshal(alertJSON{uint8(a), a.Name()})
}

// UnmarshalJSON reads what MarshalJSON wrote (the name is derived).
func (a *Alert) UnmarshalJSON(b []byte) error {
	var j alertJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*a = Alert(j.Code)
	return nil
}

// IsCertificateAlert reports the alerts that speak about a certificate:
// bad_certificate, unsupported_certificate, certificate_revoked,
// certificate_expired, certificate_unknown, unknown_ca, access_denied and
// certificate_required.
func (a Alert) IsCertificateAlert() bool {
	switch a {
	case AlertBadCertificate, AlertUnsupportedCertificate, AlertCertificateRevoked,
		AlertCertificateExpired, AlertCertificateUnknown, AlertUnknownCA,
		AlertAccessDenied, AlertCertificateRequired:
		return true
	}
	return false
}

// RemoteAlert finds the TLS alert the peer sent in err. crypto/tls reports
// it as a *net.OpError with Op "remote error" whose Err is its unexported
// alert type (a uint8); tls.AlertError is accepted too.
func RemoteAlert(err error) *Alert {
	var ae tls.AlertError
	if errors.As(err, &ae) {
		return NewAlert(Alert(ae))
	}
	return opAlert(err, "remote error")
}

// LocalAlert is the alert crypto/tls itself sent and reported as a "local
// error" (no_renegotiation, when a TLS 1.2 server asks to renegotiate and
// the client does not), or nil.
func LocalAlert(err error) *Alert {
	return opAlert(err, "local error")
}

// opAlert digs crypto/tls's alert out of a *net.OpError with operation op.
func opAlert(err error, opName string) *Alert {
	var op *net.OpError
	for e := err; errors.As(e, &op); e = op.Err {
		if op.Op == opName && op.Err != nil {
			v := reflect.ValueOf(op.Err)
			if v.Kind() == reflect.Uint8 && v.Type().PkgPath() == "crypto/tls" {
				return NewAlert(Alert(v.Uint()))
			}
		}
		if op.Err == nil {
			break
		}
	}
	return nil
}

// IsBadRecordMAC reports crypto/tls's own bad_record_mac: a record it
// could not decrypt (a local error, sent to the peer as alert 20).
func IsBadRecordMAC(err error) bool {
	var op *net.OpError
	for e := err; errors.As(e, &op); e = op.Err {
		if op.Op == "local error" && op.Err != nil {
			v := reflect.ValueOf(op.Err)
			return v.Kind() == reflect.Uint8 && v.Type().PkgPath() == "crypto/tls" && Alert(v.Uint()) == AlertBadRecordMAC
		}
		if op.Err == nil {
			break
		}
	}
	return false
}

// ErrNoClientCert is the text crypto/tls gives a server whose client sent
// no certificate when one is required (an untyped error, so compared
// whole).
const ErrNoClientCert = "tls: client didn't provide a certificate"

// AlertGoSends is the alert crypto/tls sends for a handshake error it
// returned after verifying a peer certificate (handshake_server.go
// processCertsFromClient and handshake_client.go verifyServerCertificate).
// The reference server reports it as the alert it sent; the client's tls
// layer shows what actually arrived, and the tests check the two agree.
func AlertGoSends(err error, isServer bool, version uint16) *Alert {
	if err == nil {
		return nil
	}
	if err.Error() == ErrNoClientCert {
		if version == tls.VersionTLS13 {
			return NewAlert(AlertCertificateRequired)
		}
		return NewAlert(AlertHandshakeFailure)
	}
	var cve *tls.CertificateVerificationError
	if !errors.As(err, &cve) {
		return nil
	}
	if !isServer {
		return NewAlert(AlertBadCertificate)
	}
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		return NewAlert(AlertUnknownCA)
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return NewAlert(AlertCertificateExpired)
	}
	return NewAlert(AlertBadCertificate)
}
