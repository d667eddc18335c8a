package harness

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/mtlskit/mtlskit/pki"
)

// ServeOptions configure Serve.
type ServeOptions struct {
	// Materials are the certificates (NewMaterials, or MaterialsFromCA
	// for a store's CA).
	Materials *Materials
	// ListenHost is the loopback address to listen on: 127.0.0.1
	// (default) or ::1.
	ListenHost string
	// Dir receives the client's files (ca.pem, cert.pem, key.pem,
	// chain.pem); it must exist.
	Dir string
	// Timeout bounds each phase of each connection; 0 means 30 s.
	Timeout time.Duration
	// Observe, when set, is called after each connection with the
	// scenario's name and what the server saw.
	Observe func(scenario string, o ServerObservation)
}

// ServedScenario is one scenario server.
type ServedScenario struct {
	Scenario Scenario
	URL      string
	Addr     string
}

// Served is the set of running scenario servers.
type Served struct {
	Scenarios []ServedScenario
	// Files are what a client under test uses: CA to trust, its
	// certificate, key and chain.
	Files   SubjectFiles
	servers []RunningServer
	// revocation serves the CRL and OCSP answers of server-revoked.
	revocation *revocationService
}

// Serve starts one reference server per client-side scenario, each on its
// own loopback port and with that scenario's certificate, for testing a
// client by hand (a local "badssl" for mutual-TLS WebSockets). Skipped
// scenarios (see Materials.NoIntermediate) are left out.
func Serve(ctx context.Context, opts ServeOptions) (*Served, error) {
	host := opts.ListenHost
	if host == "" {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("--listen-host %q: scenario servers listen on the loopback only (127.0.0.1 or ::1)", host)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	m := opts.Materials
	out := &Served{}
	// server-revoked's certificate names a CRL and OCSP service that runs
	// as long as the scenario servers do; the client's crl.pem lists it.
	var err error
	if out.revocation, err = startRevocationService(m.leafIssuer, opts.Timeout); err != nil {
		return nil, err
	}
	revoked, revokedCRL, err := out.revocation.mintRevoked()
	if err != nil {
		out.Close()
		return nil, fmt.Errorf("minting server-revoked's certificate: %v", err)
	}
	crls := append([][]byte{revokedCRL}, m.crlsBelowRoot()...)
	if out.Files, err = writeSubjectFiles(opts.Dir, []*pki.Issued{m.Root}, m.Client, crls); err != nil {
		out.Close()
		return nil, fmt.Errorf("writing the client's files into %s: %v", opts.Dir, err)
	}
	for _, s := range OfSide(Scenarios(), ClientSide) {
		if s.NeedsIntermediate && m.NoIntermediate != "" {
			continue
		}
		name := s.Name
		subject := &referenceServer{name: "serve/" + name, mode: modeStrict, listenHost: host}
		if opts.Observe != nil {
			subject.observe = func(o ServerObservation) { opts.Observe(name, o) }
		}
		enc := s.Setup(m)
		if enc.RevokedServer {
			enc.Server, enc.ServerSendsChain = revoked, true
		}
		srv, err := subject.Start(ctx, ServerConfig{Encounter: enc, Timeout: opts.Timeout})
		if err != nil {
			out.Close()
			return nil, err
		}
		out.servers = append(out.servers, srv)
		_, port, _ := net.SplitHostPort(srv.Addr())
		u := "wss://" + net.JoinHostPort("localhost", port) + "/"
		if enc.Dial == DialByAddress {
			u = "wss://" + net.JoinHostPort(host, port) + "/"
		}
		out.Scenarios = append(out.Scenarios, ServedScenario{Scenario: s, URL: u, Addr: srv.Addr()})
	}
	return out, nil
}

// Close stops every scenario server and waits for them.
func (s *Served) Close() {
	for _, srv := range s.servers {
		_ = srv.Close()
	}
	if s.revocation != nil {
		s.revocation.close()
	}
}
