package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/internal/wire"
)

// muteConn drops everything written once muted.
type muteConn struct {
	net.Conn
	muted atomic.Bool
}

func (c *muteConn) Write(p []byte) (int, error) {
	if c.muted.Load() {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// pumaLike is a fake of the bug log's Puma + faye-websocket server as
// Debian runs it: it verifies client certificates in the handshake and
// refuses a bad or missing one by closing without an alert (in TLS 1.2
// and 1.3 alike), sends no session tickets, and never answers an upgrade
// request. It returns its port.
func pumaLike(t *testing.T, m *harness.Materials) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer raw.Close()
				mc := &muteConn{Conn: raw}
				cfg := &tls.Config{
					Certificates:           []tls.Certificate{m.Server.TLSCertificate(true)},
					ClientAuth:             tls.RequestClientCert,
					SessionTicketsDisabled: true,
					NextProtos:             []string{"http/1.1"},
					VerifyPeerCertificate: func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
						if len(rawCerts) == 0 {
							mc.muted.Store(true)
							return errors.New("no certificate")
						}
						c, err := x509.ParseCertificate(rawCerts[0])
						if err == nil {
							_, err = c.Verify(x509.VerifyOptions{Roots: wire.CertPool([]*x509.Certificate{m.Root.Cert}), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
						}
						if err != nil {
							mc.muted.Store(true)
						}
						return err
					},
				}
				tc := tls.Server(mc, cfg)
				_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
				if tc.Handshake() != nil {
					return
				}
				// Read the upgrade request, answer nothing.
				buf := make([]byte, 4096)
				_, _ = tc.Read(buf)
				select {
				case <-done:
				case <-time.After(5 * time.Second):
				}
			}()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// Against a server that refuses by closing without an alert and never
// answers the upgrade, a TLS 1.3 probe cannot tell whether the client was
// refused; a TLS 1.2 probe can, and decides the client-certificate
// checks: with a valid certificate, TLS and the certificate are fine and
// the upgrade is never answered; without one, the server refuses.
func TestProbeDecidesATLS13CloseInTLS12(t *testing.T) {
	m := probeMaterials()
	port := pumaLike(t, m)
	cert := m.Client.TLSCertificate(true)
	base := Config{Host: "localhost", Port: port, Path: "/echo", Roots: []*x509.Certificate{m.Root.Cert}, Echo: true, Timeout: 700 * time.Millisecond, NoLint: true}

	withCert := base
	withCert.ClientCert = &cert
	rep := Probe(context.Background(), withCert)
	acc, _ := rep.Check(LiveClientCertAccepted)
	up, _ := rep.Check(LiveHTTPUpgrade)
	if rep.TLS == nil || rep.TLS.Version != "TLS 1.3" || rep.TLS12 == nil || rep.TLS12.TLS == nil || rep.TLS12.TLS.Version != "TLS 1.2" {
		t.Fatalf("want a TLS 1.3 probe decided by a TLS 1.2 one: %+v / %+v", rep.TLS, rep.TLS12)
	}
	if acc.Status != pass || !strings.HasPrefix(acc.Summary, "decided in TLS 1.2: the server accepted the client certificate") ||
		!strings.Contains(strings.Join(acc.Evidence, "\n"), "TLS and the certificate are fine, the WebSocket layer is not") {
		t.Errorf("with a certificate: %s %s %q", acc.Status, acc.Summary, acc.Evidence)
	}
	if up.Status != fail || !strings.Contains(up.Summary, "no answer to the upgrade request") {
		t.Errorf("upgrade: %s %s", up.Status, up.Summary)
	}

	rep = Probe(context.Background(), base)
	lax, _ := rep.Check(LiveLaxServer)
	if rep.TLS12 == nil || lax.Status != pass || !strings.HasPrefix(lax.Summary, "decided in TLS 1.2: the server refused a client without a certificate") {
		t.Errorf("without a certificate: %s %s (tls12 %v)", lax.Status, lax.Summary, rep.TLS12 != nil)
	}
	if !rep.Failed() {
		t.Error("a server that never answers the upgrade fails the probe")
	}
}
