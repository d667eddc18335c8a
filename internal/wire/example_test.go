package wire_test

import (
	"fmt"

	"github.com/mtlskit/mtlskit/internal/wire"
)

// One parser for every endpoint the user types: --target and
// verify --connect read them alike, and say what is wrong.
func ExampleParseEndpoint() {
	for _, in := range []string{"wss://localhost:8443/echo?x=1", "localhost:8443", "wss://example.test", "ws://localhost:80/", "localhost"} {
		e, err := wire.ParseEndpoint(in)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(e.Addr(), e.Path, e.URL())
	}
	// Output:
	// localhost:8443 /echo?x=1 wss://localhost:8443/echo?x=1
	// localhost:8443 / wss://localhost:8443/
	// example.test:443 / wss://example.test:443/
	// "ws://localhost:80/": ws:// has no TLS, and mutual TLS needs wss:// (use HOST:PORT or wss://HOST:PORT/PATH)
	// "localhost": no port (use HOST:PORT or wss://HOST:PORT/PATH)
}

// Alerts are typed, named, and know whether they speak of a certificate.
func ExampleAlert() {
	for _, a := range []wire.Alert{wire.AlertUnknownCA, wire.AlertCertificateRequired, wire.AlertProtocolVersion} {
		fmt.Println(wire.NewAlert(a), a.IsCertificateAlert())
	}
	// Output:
	// alert 48 unknown_ca true
	// alert 116 certificate_required true
	// alert 70 protocol_version false
}
