package harness

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/internal/wire"
)

// The floor: what one scenario cannot go below. BenchmarkMutualTLSHandshake
// is a bare mutual-TLS handshake on loopback with the harness's P-256
// certificates (both sides verify, no WebSocket); BenchmarkMutualTLSEcho
// adds one 16-byte round trip. Compare with BenchmarkOneScenario.
func BenchmarkMutualTLSHandshake(b *testing.B) { benchMutualTLS(b, false) }

// BenchmarkMutualTLSEcho is a mutual-TLS handshake and one echo.
func BenchmarkMutualTLSEcho(b *testing.B) { benchMutualTLS(b, true) }

func benchMutualTLS(b *testing.B, echo bool) {
	m := testMaterials()
	enc := standard(m)
	serverCfg := &tls.Config{
		Certificates: []tls.Certificate{enc.Server.TLSCertificate(false)},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    wire.CertPool(enc.ClientCAs),
	}
	clientCfg := &tls.Config{
		Certificates: []tls.Certificate{enc.Client.TLSCertificate(false)},
		RootCAs:      wire.CertPool(enc.RootCAs),
		ServerName:   "localhost",
	}
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
				c.SetDeadline(time.Now().Add(5 * time.Second))
				tc := tls.Server(c, serverCfg)
				if tc.Handshake() != nil {
					return
				}
				io.Copy(tc, tc)
			}()
		}
	}()
	msg := []byte("0123456789abcdef")
	buf := make([]byte, len(msg))
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		d := tls.Dialer{Config: clientCfg}
		c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if echo {
			if _, err := c.Write(msg); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(c, buf); err != nil {
				b.Fatal(err)
			}
		}
		c.Close()
	}
}
