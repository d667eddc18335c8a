package probe_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/pki"
	"github.com/mtlskit/mtlskit/probe"
)

// Probe a strict mutual-TLS WebSocket server (the harness's reference
// server, on a loopback port) as a client with a valid certificate, then
// with none, and print each check's status. In TLS 1.3 the client's side
// of the handshake completes before the server judges its certificate,
// so the refusal of the client without one shows on the first read, in
// live-client-cert-accepted.
func ExampleProbe() {
	m, err := harness.NewMaterials()
	if err != nil {
		panic(err)
	}
	valid, _ := harness.Lookup("valid-client")
	enc := valid[0].Setup(m)
	srv, err := harness.ReferenceServer().Start(context.Background(), harness.ServerConfig{Encounter: enc, Timeout: 5 * time.Second})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Addr())

	cert := m.Client.TLSCertificate(true)
	for _, c := range []*pki.Issued{m.Client, nil} {
		cfg := probe.Config{Host: "localhost", Port: port, Path: "/echo", Roots: enc.RootCAs, Echo: true, Timeout: 5 * time.Second, NoLint: true}
		if c != nil {
			cfg.ClientCert = &cert
		}
		rep := probe.Probe(context.Background(), cfg)
		for _, ch := range rep.Checks {
			if ch.ID != probe.LiveDNS && ch.ID != probe.LiveTCP {
				fmt.Printf("%-4s %s\n", ch.Status, ch.ID)
			}
		}
		fmt.Println("--")
	}
	// Output:
	// pass live-tls
	// pass live-server-chain
	// pass live-client-cert-request
	// pass live-client-cert-accepted
	// pass live-http-upgrade
	// pass live-ws-echo
	// skip live-lax-server
	// --
	// pass live-tls
	// pass live-server-chain
	// pass live-client-cert-request
	// fail live-client-cert-accepted
	// skip live-http-upgrade
	// skip live-ws-echo
	// pass live-lax-server
	// --
}
