package load

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/internal/wire"
	"github.com/mtlskit/mtlskit/pki"
)

// fakeServer is a server that fails in one way: a raw TCP listener for
// the modes below TLS, else an mTLS HTTP server (client certificates
// required and verified) whose handler misbehaves.
func fakeServer(t *testing.T, mode string, version uint16) string {
	t.Helper()
	m := testMaterials(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	switch mode {
	case "silent-tcp", "close-before-hello":
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				if mode == "close-before-hello" {
					c.Close()
					continue
				}
				go func() { c.SetDeadline(time.Now().Add(3 * time.Second)); io.Copy(io.Discard, c); c.Close() }()
			}
		}()
		return ln.Addr().String()
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{m.Server.TLSCertificate(true)}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: wire.CertPool([]*x509.Certificate{m.Root.Cert}), SessionTicketsDisabled: mode == "close-no-ticket"}
	wire.PinVersion(cfg, version)
	up := websocket.Upgrader{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hijack := func() net.Conn {
			c, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				panic(err)
			}
			return c
		}
		switch mode {
		case "no-answer":
			c := hijack()
			c.SetDeadline(time.Now().Add(3 * time.Second))
			io.Copy(io.Discard, c)
			c.Close()
		case "status-503":
			http.Error(w, "backend down", http.StatusServiceUnavailable)
		case "status-403":
			http.Error(w, "<title>403 Forbidden</title>", http.StatusForbidden)
		case "close-after-handshake", "close-no-ticket":
			hijack().Close()
		case "bad-101":
			c := hijack()
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\n\r\n")
			c.Close()
		default:
			ws, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer ws.Close()
			ws.SetReadDeadline(time.Now().Add(3 * time.Second))
			switch mode {
			case "101-then-close":
				return
			case "101-then-close-frame":
				ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseInternalServerErr, "shutting down"), time.Now().Add(time.Second))
				ws.ReadMessage()
			case "101-wrong-echo":
				mt, data, err := ws.ReadMessage()
				if err == nil {
					data[0] ^= 0xff
					ws.WriteMessage(mt, data)
				}
				ws.ReadMessage()
			case "101-silent":
				for {
					if _, _, err := ws.ReadMessage(); err != nil {
						return
					}
				}
			}
		}
	})
	srv := &http.Server{Handler: h, ErrorLog: nil, ReadHeaderTimeout: 3 * time.Second}
	srv.ErrorLog = nil
	go srv.Serve(tls.NewListener(ln, cfg))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// parityTimeout bounds each phase of both clients: the cases that time
// out cost it, the others must finish well within it.
const parityTimeout = time.Second

// loadOne makes one connection of package load and returns its error
// class (nil when it completed).
func loadOne(t *testing.T, addr string, id *pki.Issued, version uint16, baseline bool) *ErrorClass {
	t.Helper()
	cfg := baseConfig(t, addr, []*pki.Issued{id})
	cfg.Messages, cfg.Timeout, cfg.TLSVersion, cfg.TicketBaseline = 1, parityTimeout, version, baseline
	r, err := newRunner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.connect(context.Background(), 0)
	c := r.rec.counts
	if c.Attempted != 1 || c.Completed+c.Failed != 1 {
		t.Fatalf("one connection counted %+v", c)
	}
	if c.Failed == 0 {
		return nil
	}
	if len(r.rec.order) != 1 {
		t.Fatalf("one failure, %d classes", len(r.rec.order))
	}
	return r.rec.errs[r.rec.order[0]]
}

// TestLoadClassifiesAsHarness: for every way a server can fail a
// connection, package load names the ending exactly as the harness's
// reference client does (layer, outcome, refusing side, reason, alert,
// status), against the same server.
func TestLoadClassifiesAsHarness(t *testing.T) {
	m := testMaterials(t)
	good := mint(t, 1, 0)[0]
	bad := mint(t, 1, 1)[0]
	cases := []struct {
		mode    string
		id      *pki.Issued
		version uint16
		want    string // layer/outcome/by/reason, a check that the case is what it says
	}{
		{"silent-tcp", good, 0, "tls/connect-failed//handshake-timeout"},
		{"close-before-hello", good, 0, "tls/connect-failed//handshake-aborted"},
		{"reference", bad, tls.VersionTLS13, "tls/rejected-tls/server/unknown-ca"},
		{"reference", bad, tls.VersionTLS12, "tls/rejected-tls/server/unknown-ca"},
		{"no-answer", good, 0, "http/no-upgrade//upgrade-timeout"},
		{"status-503", good, 0, "http/rejected-http//http-status"},
		{"status-403", good, 0, "http/rejected-http/server/http-status"},
		{"close-after-handshake", good, 0, "http/no-upgrade//closed-before-upgrade"},
		{"close-no-ticket", good, tls.VersionTLS13, "http/no-upgrade//closed-before-upgrade"},
		{"close-no-ticket", good, tls.VersionTLS12, "http/no-upgrade//closed-before-upgrade"},
		{"bad-101", good, 0, "http/no-upgrade//bad-upgrade"},
		{"101-then-close", good, 0, "ws/no-echo//echo-closed"},
		{"101-then-close-frame", good, 0, "ws/no-echo//echo-closed"},
		{"101-wrong-echo", good, 0, "ws/no-echo//echo-mismatch"},
		{"101-silent", good, 0, "ws/no-echo//echo-timeout"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%s", c.mode, wire.VersionName(c.version)), func(t *testing.T) {
			var addr string
			if c.mode == "reference" {
				addr = startReference(t, c.version, 2*time.Second).Addr()
			} else {
				addr = fakeServer(t, c.mode, c.version)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			hv := harness.ReferenceClient().Connect(ctx, harness.ClientConfig{
				Encounter: harness.Encounter{Client: c.id, ClientSendsChain: true, RootCAs: []*x509.Certificate{m.Root.Cert},
					Dial: harness.DialByAddress, Messages: []harness.Message{{Binary: true, Data: payload(64)[:64]}}},
				Addr: addr, Target: "wss://" + addr + "/", Timeout: parityTimeout, TLSVersion: c.version})
			harnessSays := fmt.Sprintf("%s/%s/%s/%s", hv.Layer, hv.Outcome, hv.RefusedBy, hv.Reason.ID)
			if harnessSays != c.want {
				t.Fatalf("the harness says %s (%s), the case expects %s", harnessSays, hv.Reason.Text, c.want)
			}
			e := loadOne(t, addr, c.id, c.version, false)
			if e == nil {
				t.Fatalf("load completed the connection; the harness says %s", harnessSays)
			}
			loadSays := fmt.Sprintf("%s/%s/%s/%s", e.Layer, e.Outcome, e.RefusedBy, e.Reason)
			if loadSays != harnessSays {
				t.Errorf("load says %s (%s), the harness %s (%s)", loadSays, e.Example, harnessSays, hv.Reason.Text)
			}
			if fmt.Sprint(e.Alert) != fmt.Sprint(hv.Layers.TLS.Alert) {
				t.Errorf("load saw alert %v, the harness %v", e.Alert, hv.Layers.TLS.Alert)
			}
			if hv.Outcome == harness.RejectedHTTP && e.Status != hv.Layers.HTTP.StatusCode {
				t.Errorf("load saw status %d, the harness %d", e.Status, hv.Layers.HTTP.StatusCode)
			}
		})
	}
	// With a valid client's ticket as the baseline, a TLS 1.3 close
	// without alert, ticket or answer is the server refusing in the
	// handshake (docs/harness.md, "TLS 1.3 closes").
	addr := fakeServer(t, "close-no-ticket", tls.VersionTLS13)
	e := loadOne(t, addr, good, tls.VersionTLS13, true)
	if e == nil || e.Layer != harness.LayerTLS || e.Outcome != harness.RejectedTLS || e.RefusedBy != harness.PartyServer || e.Reason != harness.ReasonHandshakeAborted {
		t.Errorf("TLS 1.3 close without a ticket against a ticket baseline: %+v, want refused in TLS by the server: handshake-aborted", e)
	}
	// And a port nothing listens on, the reference client's dial.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr = ln.Addr().String()
	ln.Close()
	if e := loadOne(t, addr, good, 0, false); e == nil || e.Layer != harness.LayerTCP || e.Reason != harness.ReasonConnectRefused || e.Outcome != harness.ConnectFailed {
		t.Errorf("closed port: %+v, want tcp connect-refused", e)
	}
}
