package load

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/internal/wire"
)

// The floor and what mtlskit load does above it, on this machine, client
// and server in one process (bench/load.sh runs them; docs/load.md has
// the figures). Each reports handshakes/s or messages/s besides ns/op.

// BenchmarkFloorHandshake is the floor: bare full mutual-TLS handshakes
// on loopback (crypto/tls, ECDSA P-256 certificates, X25519 only, TLS
// 1.3, both sides verifying), as many at once as keep the cores busy,
// nothing else: no WebSocket, no bookkeeping.
func BenchmarkFloorHandshake(b *testing.B) { benchFloor(b, []tls.CurveID{tls.X25519}) }

// BenchmarkFloorHandshakeDefaultCurves is the same with Go's default key
// exchanges (X25519MLKEM768 first), what a Go client offers unless told.
func BenchmarkFloorHandshakeDefaultCurves(b *testing.B) { benchFloor(b, nil) }

func benchFloor(b *testing.B, curves []tls.CurveID) {
	m := testMaterials(b)
	id := mint(b, 1, 0)[0]
	serverCfg := &tls.Config{Certificates: []tls.Certificate{m.Server.TLSCertificate(true)}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: wire.CertPool([]*x509.Certificate{m.Root.Cert}), SessionTicketsDisabled: true}
	clientCfg := &tls.Config{Certificates: []tls.Certificate{id.TLSCertificate(true)}, RootCAs: wire.CertPool([]*x509.Certificate{m.Root.Cert}),
		ServerName: "localhost", CurvePreferences: curves}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				tc := tls.Server(c, serverCfg)
				if tc.Handshake() == nil {
					_, _ = io.Copy(io.Discard, tc)
				}
			}()
		}
	}()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d := tls.Dialer{Config: clientCfg}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
			cancel()
			if err != nil {
				b.Error(err)
				return
			}
			c.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
}

// BenchmarkFloorEcho is the messages floor: 32-byte round trips over
// established mutual-TLS connections with no WebSocket framing (the
// server copies back what it reads), one in flight per connection, eight
// connections.
func BenchmarkFloorEcho(b *testing.B) {
	m := testMaterials(b)
	id := mint(b, 1, 0)[0]
	serverCfg := &tls.Config{Certificates: []tls.Certificate{m.Server.TLSCertificate(true)}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: wire.CertPool([]*x509.Certificate{m.Root.Cert})}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverCfg)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	clientCfg := &tls.Config{Certificates: []tls.Certificate{id.TLSCertificate(true)}, RootCAs: wire.CertPool([]*x509.Certificate{m.Root.Cert}), ServerName: "localhost"}
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := tls.Dial("tcp", ln.Addr().String(), clientCfg)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		msg, buf := make([]byte, 32), make([]byte, 32)
		for pb.Next() {
			if _, err := c.Write(msg); err != nil {
				b.Error(err)
				return
			}
			if _, err := io.ReadFull(c, buf); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "messages/s")
}

// BenchmarkLoadReference is mtlskit load against the reference server in
// the same process: each op one whole connection (dial, full handshake
// with its own identity, upgrade, one 32-byte echo, close), 64 at a
// time, X25519 as in the floor.
func BenchmarkLoadReference(b *testing.B) {
	benchLoad(b, 1000, 64, 1, true)
}

// BenchmarkLoadMessages is mtlskit load's messages/s: 8 connections,
// each sending b.N/8 WebSocket messages of 32 bytes one at a time, each
// echo checked byte for byte and timed.
func BenchmarkLoadMessages(b *testing.B) {
	benchLoad(b, 8, 8, max(b.N/8, 1), false)
}

func benchLoad(b *testing.B, identities, conns, messages int, perConnection bool) {
	srv := startReference(b, 0, 10*time.Second)
	ids := mint(b, identities, 0)
	cfg := baseConfig(b, srv.Addr(), ids)
	cfg.Connections, cfg.Messages, cfg.MessageSize = conns, messages, 32
	cfg.CurvePreferences = []tls.CurveID{tls.X25519}
	cfg.InProcessServer = true
	if perConnection {
		cfg.Reconnect, cfg.Attempts = true, b.N
	}
	b.ResetTimer()
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if rep.Counts.Failed != 0 {
		b.Fatalf("%d connections failed: %+v", rep.Counts.Failed, rep.Errors)
	}
	if perConnection {
		b.ReportMetric(rep.Rates.HandshakesPerSec, "handshakes/s")
	} else {
		b.ReportMetric(rep.Rates.MessagesPerSec, "messages/s")
	}
}
