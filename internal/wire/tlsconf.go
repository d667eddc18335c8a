package wire

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"
)

// DefaultTimeout bounds each phase (dial, TLS, upgrade, echo, close).
const DefaultTimeout = 5 * time.Second

// MaxMessageSize is the read limit for one WebSocket message of the
// reference server, the reference client and the probe: a larger message,
// or a frame header claiming one, ends the connection with 1009 before any
// of the payload is read.
const MaxMessageSize = 4 << 20

// MaxHeaderBytes bounds the request line and headers of an upgrade
// request the reference server reads (a larger request is answered 431),
// and the status line and headers of an answer the reference client and
// the probe read (a larger answer is a bad-upgrade).
const MaxHeaderBytes = 16 << 10

// CertPool is a pool of certs.
func CertPool(certs []*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// PinVersion sets cfg to TLS 1.2 or later, and to exactly v when v is
// not 0.
func PinVersion(cfg *tls.Config, v uint16) {
	cfg.MinVersion = tls.VersionTLS12
	if v != 0 {
		cfg.MinVersion, cfg.MaxVersion = v, v
	}
}

// VersionName spells a pinned version for reports: "1.2", "1.3" or
// "negotiated" for 0.
func VersionName(v uint16) string {
	switch v {
	case tls.VersionTLS12:
		return "1.2"
	case tls.VersionTLS13:
		return "1.3"
	case 0:
		return "negotiated"
	}
	return fmt.Sprintf("0x%04x", v)
}
