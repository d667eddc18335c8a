package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mtlskit/mtlskit/internal/wire"

	"github.com/gorilla/websocket"
)

// ClientConfig is what a client needs for one encounter.
type ClientConfig struct {
	// Encounter gives the client certificate (Client, ClientSendsChain),
	// the roots it trusts (RootCAs), how it dials (Dial) and what it
	// sends (Messages).
	Encounter Encounter
	// Addr is the loopback host:port the server listens on.
	Addr string
	// TLSVersion pins the TLS version; 0 lets the peers negotiate.
	TLSVersion uint16
	// Timeout bounds each phase.
	Timeout time.Duration
	// Scenario names the scenario (for the files of external clients).
	Scenario string
	// Target, when set, is the wss:// URL of an external server: the
	// client verifies the server against its host and requests its path
	// (Addr is then the URL's host and port).
	Target string
	// AcceptOnUpgrade ends an encounter as accepted at the 101, without
	// the echo (--accept-on upgrade, for servers that do not echo).
	AcceptOnUpgrade bool

	// ticketBaseline is true when the valid-client control on the same
	// subject received a TLS 1.3 session ticket: only then does a close
	// without an alert, a ticket or an answer show a refusal.
	ticketBaseline bool
}

// URL is the wss:// URL the client dials: the Target when set, else by
// name (localhost) or by address (127.0.0.1), on the server's port, path
// /echo.
func (c ClientConfig) URL() string {
	if c.Target != "" {
		return c.Target
	}
	_, port, _ := net.SplitHostPort(c.Addr)
	return "wss://" + net.JoinHostPort(c.Encounter.Dial.Host(), port) + "/echo"
}

// Host is the name or address the client verifies the server against.
func (c ClientConfig) Host() string {
	if c.Target != "" {
		if u, err := url.Parse(c.Target); err == nil {
			return u.Hostname()
		}
	}
	return c.Encounter.Dial.Host()
}

// ClientSubject is a WebSocket client that connects for an encounter: the
// client judged by client-side scenarios. Issue 4's external clients (a
// command run once per scenario) implement it too.
type ClientSubject interface {
	// Name identifies the subject in reports.
	Name() string
	// Connect runs one encounter and reports it layer by layer. It must
	// return within a few multiples of cfg.Timeout.
	Connect(ctx context.Context, cfg ClientConfig) Verdict
}

// referenceClient is a ClientSubject built on crypto/tls and gorilla.
type referenceClient struct {
	name string
	// tweak changes the TLS configuration; only the negative controls
	// set it.
	tweak func(*tls.Config)
}

// ReferenceClient is the strict client: it dials 127.0.0.1 (even for
// "localhost"), verifies the server against the encounter's roots and the
// dialled name or address, presents its certificate (and chain), upgrades
// to WebSocket, sends every message and checks each echo byte for byte,
// then closes with 1000.
func ReferenceClient() ClientSubject { return &referenceClient{name: "reference"} }

func (c *referenceClient) Name() string { return c.name }

// Connect runs the encounter. The verdict's Server field is left for the
// runner to fill in.
func (c *referenceClient) Connect(ctx context.Context, cfg ClientConfig) Verdict {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	e := cfg.Encounter
	v := Verdict{}
	L := &v.Layers
	for _, st := range []*LayerStatus{&L.TCP.Status, &L.TLS.Status, &L.HTTP.Status, &L.WS.Status, &L.Close.Status} {
		*st = LayerSkipped
	}
	host := cfg.Host()
	L.TCP.Addr, L.TLS.ServerName, L.HTTP.URL = cfg.Addr, host, cfg.URL()
	tickets := &ticketRecorder{}
	end := func(layer string, o Outcome, by Party, r Reason) Verdict {
		v.Layer, v.Outcome, v.RefusedBy, v.Reason = layer, o, by, r
		L.TLS.SessionTicket = tickets.got()
		return v
	}

	// TCP, always to the loopback address whatever the URL's host (for a
	// Target, to its host's addresses of both families, in turn).
	start := time.Now()
	raw, answered, tried, err := wire.DialFirst(ctx, cfg.Addr, cfg.Timeout)
	L.TCP.Millis = ms(time.Since(start))
	if err != nil {
		L.TCP.Status, L.TCP.Error = LayerFailed, err.Error()
		where := cfg.Addr
		if len(tried) > 1 {
			where = fmt.Sprintf("%s (tried %s)", cfg.Addr, strings.Join(tried, " and "))
		}
		r := Reason{ID: ReasonUnclassified, Text: err.Error()}
		switch {
		case wire.IsRefused(err):
			r = Reason{ID: ReasonConnectRefused, Text: fmt.Sprintf("nothing listens on %s (connection refused)", where)}
		case wire.IsTimeout(err):
			r = Reason{ID: ReasonConnectTimeout, Text: fmt.Sprintf("no TCP connection to %s within %s", where, cfg.Timeout)}
		}
		L.TCP.Detail = r.Text
		return end("tcp", ConnectFailed, "", r)
	}
	defer raw.Close()
	L.TCP.Addr = answered
	L.TCP.Status, L.TCP.Detail = LayerOK, "connected to "+answered
	if answered != cfg.Addr {
		L.TCP.Detail += fmt.Sprintf(" (%s: the first of %s that answered)", cfg.Addr, strings.Join(tried, ", "))
	}

	// TLS.
	start = time.Now()
	tcfg := &tls.Config{
		RootCAs:    wire.CertPool(e.RootCAs),
		ServerName: host,
		NextProtos: []string{"http/1.1"},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			L.TLS.ClientCertRequested = true
			if e.Client == nil {
				return &tls.Certificate{}, nil
			}
			L.TLS.ClientCertSent = true
			cert := e.Client.TLSCertificate(e.ClientSendsChain)
			return &cert, nil
		},
	}
	// The session cache only records whether a TLS 1.3 server sent a
	// session ticket. A server that sends one after accepting the
	// client's Finished (the valid-client control shows whether this one
	// does) and closes a connection without an alert, an answer or a
	// ticket refused it in the handshake.
	tcfg.ClientSessionCache = tickets
	wire.PinVersion(tcfg, cfg.TLSVersion)
	if c.tweak != nil {
		c.tweak(tcfg)
	}
	tc := tls.Client(raw, tcfg)
	hctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	err = tc.HandshakeContext(hctx)
	cancel()
	L.TLS.Millis = ms(time.Since(start))
	st := tc.ConnectionState()
	if st.Version != 0 {
		L.TLS.Version = tls.VersionName(st.Version)
	}
	for _, pc := range st.PeerCertificates {
		L.TLS.PeerChain = append(L.TLS.PeerChain, pc.Subject.CommonName)
	}
	if err != nil {
		L.TLS.Status, L.TLS.Error = LayerFailed, err.Error()
		var cve *tls.CertificateVerificationError
		switch a := wire.RemoteAlert(err); {
		case errors.As(err, &cve):
			for _, pc := range cve.UnverifiedCertificates {
				L.TLS.PeerChain = append(L.TLS.PeerChain, pc.Subject.CommonName)
			}
			r, ok := wire.VerifyReason(err)
			if !ok {
				r = Reason{ID: ReasonUnclassified, Text: err.Error()}
			}
			L.TLS.RefusedBy, L.TLS.Reason, L.TLS.Alert = PartyClient, &r, wire.AlertGoSends(err, false, st.Version)
			L.TLS.Detail = "the client refused the server certificate: " + r.Text
			return end("tls", RejectedTLS, PartyClient, r)
		case a != nil:
			L.TLS.RefusedBy, L.TLS.Alert = PartyServer, a
			if ok, why := clientCertAlert(a, st.Version, L.TLS.ClientCertRequested, false); !ok {
				r := Reason{ID: ReasonTLSAlert, Text: fmt.Sprintf("the server aborted the handshake with %s, which is not a refusal of the client certificate: %s", a, why)}
				L.TLS.Reason, L.TLS.Detail = &r, r.Text
				return end("tls", ConnectFailed, "", r)
			}
			r := wire.AlertReason(a, PartyServer)
			L.TLS.Reason = &r
			L.TLS.Detail = "the server aborted the handshake with " + a.String()
			return end("tls", RejectedTLS, PartyServer, r)
		case wire.IsTimeout(err):
			r := Reason{ID: ReasonHandshakeTimeout, Text: fmt.Sprintf("the TLS handshake did not finish within %s", cfg.Timeout)}
			L.TLS.Detail = r.Text
			return end("tls", ConnectFailed, "", r)
		case wire.IsClosed(err) && st.Version == tls.VersionTLS12 && L.TLS.ClientCertRequested:
			// TLS 1.2: the client's certificate went out before the
			// server's Finished, and the server hung up on it.
			r := Reason{ID: ReasonHandshakeAborted, Text: "TLS 1.2: after asking for the client certificate, the server closed the connection during the handshake without a TLS alert"}
			L.TLS.RefusedBy, L.TLS.Reason, L.TLS.Detail = PartyServer, &r, r.Text
			return end("tls", RejectedTLS, PartyServer, r)
		case wire.IsClosed(err):
			why := "before asking for a client certificate"
			switch {
			case st.Version == 0:
				why = "before its ServerHello (not a TLS server on this port, or one that refuses this TLS version without saying so)"
			case st.Version == tls.VersionTLS13:
				why = "before the client had sent its certificate (TLS 1.3 sends it at the end of the client's handshake)"
			}
			r := Reason{ID: ReasonHandshakeAborted, Text: "the server closed the connection during the handshake without a TLS alert, " + why + ": not a refusal of the client certificate"}
			L.TLS.Reason, L.TLS.Detail = &r, r.Text
			return end("tls", ConnectFailed, "", r)
		}
		r := Reason{ID: ReasonUnclassified, Text: err.Error()}
		L.TLS.Detail = "the handshake failed: " + err.Error()
		return end("tls", ConnectFailed, "", r)
	}
	L.TLS.Status, L.TLS.CipherSuite = LayerOK, tls.CipherSuiteName(st.CipherSuite)
	L.TLS.Detail = fmt.Sprintf("%s, server certificate %q verified for %s", L.TLS.Version, L.TLS.PeerChain[0], host)
	if L.TLS.ClientCertSent {
		L.TLS.Detail += fmt.Sprintf(", client certificate %q sent", e.Client.Cert.Subject.CommonName)
	}

	// lateRefusal reports a TLS alert that arrives after the client's
	// handshake finished: in TLS 1.3 the server checks the client
	// certificate after the client is done, so its refusal shows up on
	// the first read.
	lateRefusal := func(a *Alert, layer *Layer) Verdict {
		if ok, why := clientCertAlert(a, st.Version, L.TLS.ClientCertRequested, true); !ok {
			r := Reason{ID: ReasonTLSAlert, Text: fmt.Sprintf("after the client's handshake finished, the server sent %s, which is not a refusal of the client certificate: %s", a, why)}
			L.TLS.Alert, L.TLS.LateAlert = a, true
			layer.Detail = r.Text
			if layer == &L.HTTP.Layer {
				return end("http", NoUpgrade, "", r)
			}
			return end("ws", NoEcho, "", r)
		}
		r := wire.AlertReason(a, PartyServer)
		L.TLS.Status, L.TLS.RefusedBy, L.TLS.Reason, L.TLS.Alert, L.TLS.LateAlert = LayerFailed, PartyServer, &r, a, true
		L.TLS.Detail = fmt.Sprintf("the client's handshake finished, then the server refused it with %s on the first read (%s)", a, L.TLS.Version)
		layer.Status, layer.Detail = LayerSkipped, "not reached: the server refused the TLS connection"
		return end("tls", RejectedTLS, PartyServer, r)
	}

	// HTTP upgrade over the connection we just verified.
	start = time.Now()
	L.HTTP.Status = LayerFailed
	ws, resp, timedOut, err := wire.DialUpgrade(ctx, tc, cfg.URL(), cfg.Timeout)
	L.HTTP.Millis = ms(time.Since(start))
	if err != nil {
		L.HTTP.Error = err.Error()
		kind := wire.ClassifyUpgrade(resp, timedOut, err)
		if kind == wire.AnswerAlert {
			L.HTTP.Error = ""
			return lateRefusal(wire.RemoteAlert(err), &L.HTTP.Layer)
		}
		if kind == wire.AnswerTooLarge {
			r := Reason{ID: ReasonBadUpgrade, Text: fmt.Sprintf("the server's answer to the upgrade request did not end its headers within %d bytes", MaxHeaderBytes)}
			L.HTTP.Detail = r.Text
			return end("http", NoUpgrade, "", r)
		}
		if kind == wire.AnswerStatus || kind == wire.AnswerBad101 {
			L.HTTP.StatusCode = resp.StatusCode
			var body bytes.Buffer
			_, _ = body.ReadFrom(resp.Body)
			L.HTTP.BodyPrefix = string(wire.Prefix(body.Bytes(), 256))
			L.HTTP.CertificateRefusal = wire.CertRefusal(resp.StatusCode, body.Bytes())
			if resp.StatusCode != http.StatusSwitchingProtocols {
				r := Reason{ID: ReasonHTTPStatus, Text: fmt.Sprintf("the server answered %s instead of 101", resp.Status)}
				if t := wire.HTMLTitle(body.Bytes()); t != "" {
					r.Text += fmt.Sprintf(": %q", t)
				} else if L.HTTP.BodyPrefix != "" {
					r.Text += fmt.Sprintf(": %q", L.HTTP.BodyPrefix)
				}
				switch {
				case L.HTTP.CertificateRefusal:
					r.Text += ", after a completed TLS handshake (an HTTP-level refusal of the certificate: --strict-tls fails it)"
				case resp.StatusCode >= 400 && resp.StatusCode < 500:
					r.Text += fmt.Sprintf(", after a completed TLS handshake: refused for another reason (HTTP %d, the answer does not mention a certificate)", resp.StatusCode)
				}
				L.HTTP.Detail = r.Text
				return end("http", RejectedHTTP, PartyServer, r)
			}
			r := Reason{ID: ReasonBadUpgrade, Text: "the server answered 101 without valid Upgrade, Connection and Sec-WebSocket-Accept headers"}
			L.HTTP.Detail = r.Text
			return end("http", NoUpgrade, "", r)
		}
		var r Reason
		switch {
		case kind == wire.AnswerTimeout:
			r = Reason{ID: ReasonUpgradeTimeout, Text: fmt.Sprintf("TLS is fine but the server did not answer the upgrade request within %s", cfg.Timeout)}
		case kind == wire.AnswerClosed && st.Version == tls.VersionTLS13 && L.TLS.ClientCertRequested && !tickets.got() && !cfg.ticketBaseline:
			r = Reason{ID: ReasonClosedBeforeUpgrade, Text: "TLS 1.3: after the client's handshake finished, the server closed the connection without an alert, a session ticket or an HTTP answer; cannot tell whether the certificate was refused (the valid-client control got no session ticket from this server to compare with)"}
		case kind == wire.AnswerClosed && st.Version == tls.VersionTLS13 && L.TLS.ClientCertRequested && !tickets.got():
			// Servers that drop a refused TLS 1.3 client without sending
			// the alert (Python's asyncio does) look like this.
			r := Reason{ID: ReasonHandshakeAborted, Text: "TLS 1.3: after the client's handshake finished, the server closed the connection without an alert, a session ticket or an HTTP answer, where it sent the valid-client control a ticket: a refusal of the client certificate whose alert was not sent"}
			L.HTTP.Status, L.HTTP.Detail = LayerSkipped, "not reached: the server refused the TLS connection"
			L.TLS.Status, L.TLS.RefusedBy, L.TLS.Reason, L.TLS.LateAlert, L.TLS.Detail = LayerFailed, PartyServer, &r, true, r.Text
			return end("tls", RejectedTLS, PartyServer, r)
		case kind == wire.AnswerClosed:
			r = Reason{ID: ReasonClosedBeforeUpgrade, Text: "TLS is fine but the server closed the connection without answering the upgrade request"}
		default:
			r = Reason{ID: ReasonUnclassified, Text: err.Error()}
		}
		L.HTTP.Detail = r.Text
		return end("http", NoUpgrade, "", r)
	}
	defer ws.Close()
	L.HTTP.Status, L.HTTP.StatusCode = LayerOK, http.StatusSwitchingProtocols
	L.HTTP.Detail = "101 Switching Protocols"
	if cfg.AcceptOnUpgrade {
		deadline := time.Now().Add(cfg.Timeout)
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"), deadline)
		L.WS.Detail = "not checked (--accept-on upgrade)"
		return end("http", Accepted, "", Reason{ID: ReasonUpgraded, Text: "the server answered 101 Switching Protocols; the echo was not checked (--accept-on upgrade)"})
	}

	// WebSocket round trip: a writer sends everything while the reader
	// checks each echo in order, all within one timeout.
	start = time.Now()
	L.WS.Status = LayerFailed
	ws.SetReadLimit(MaxMessageSize)
	deadline := start.Add(cfg.Timeout)
	_ = ws.SetReadDeadline(deadline)
	_ = ws.SetWriteDeadline(deadline)
	msgs := e.Messages
	type sent struct {
		n     int
		bytes int64
		err   error
	}
	done := make(chan sent, 1)
	go func() {
		var s sent
		for _, m := range msgs {
			t := websocket.TextMessage
			if m.Binary {
				t = websocket.BinaryMessage
			}
			if s.err = ws.WriteMessage(t, m.Data); s.err != nil {
				break
			}
			s.n++
			s.bytes += int64(len(m.Data))
		}
		done <- s
	}()
	var readErr error
	var mismatch string
	for i, m := range msgs {
		mt, data, err := ws.ReadMessage()
		if err != nil {
			readErr = err
			break
		}
		if (mt == websocket.BinaryMessage) != m.Binary || !bytes.Equal(data, m.Data) {
			mismatch = fmt.Sprintf("message %d came back different: sent %s, got %s", i+1, wire.DescribeMessage(m.Binary, m.Data), wire.DescribeMessage(mt == websocket.BinaryMessage, data))
			break
		}
		L.WS.Echoed++
		L.WS.BytesEchoed += int64(len(data))
	}
	if readErr != nil || mismatch != "" {
		_ = raw.Close() // unblock the writer
	}
	s := <-done
	L.WS.Millis = ms(time.Since(start))
	L.WS.Sent, L.WS.BytesSent = s.n, s.bytes
	if readErr != nil {
		L.WS.Error = readErr.Error()
		if a := wire.RemoteAlert(readErr); a != nil {
			return lateRefusal(a, &L.WS.Layer)
		}
		var ce *websocket.CloseError
		var r Reason
		switch {
		case errors.As(readErr, &ce):
			r = Reason{ID: ReasonEchoClosed, Text: fmt.Sprintf("after 101 the server closed with %d %q; %d of %d messages echoed", ce.Code, ce.Text, L.WS.Echoed, len(msgs))}
		case errors.Is(readErr, websocket.ErrReadLimit):
			r = Reason{ID: ReasonEchoMismatch, Text: fmt.Sprintf("after 101 the server sent a message larger than the %d-byte read limit (closed with 1009 before reading it); %d of %d messages echoed", MaxMessageSize, L.WS.Echoed, len(msgs))}
		case wire.IsTimeout(readErr):
			r = Reason{ID: ReasonEchoTimeout, Text: fmt.Sprintf("after 101, %d of %d messages came back within %s", L.WS.Echoed, len(msgs), cfg.Timeout)}
		case wire.IsClosed(readErr):
			r = Reason{ID: ReasonEchoClosed, Text: fmt.Sprintf("after 101 the server dropped the connection; %d of %d messages echoed", L.WS.Echoed, len(msgs))}
		default:
			r = Reason{ID: ReasonUnclassified, Text: readErr.Error()}
		}
		L.WS.Detail = r.Text
		return end("ws", NoEcho, "", r)
	}
	if mismatch != "" {
		r := Reason{ID: ReasonEchoMismatch, Text: mismatch}
		L.WS.Detail = r.Text
		return end("ws", NoEcho, "", r)
	}
	if s.err != nil { // every echo arrived yet a write failed: cannot happen, but never hide it
		L.WS.Error = s.err.Error()
	}
	L.WS.Status, L.WS.ByteExact = LayerOK, true
	L.WS.Detail = fmt.Sprintf("%d of %d messages (%d bytes) echoed byte-exact", L.WS.Echoed, len(msgs), L.WS.BytesEchoed)

	// Closing handshake: send 1000 and wait for the server's close frame.
	start = time.Now()
	L.Close.Status = LayerFailed
	deadline = start.Add(cfg.Timeout)
	if err := ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"), deadline); err != nil {
		L.Close.Error, L.Close.Detail = err.Error(), "could not send the close frame"
	} else {
		_ = ws.SetReadDeadline(deadline)
		for {
			_, _, err := ws.ReadMessage()
			if err == nil {
				continue
			}
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				L.Close.Code = ce.Code
				L.Close.Status, L.Close.Detail = LayerOK, fmt.Sprintf("the server answered the close with %d", ce.Code)
			} else {
				L.Close.Error, L.Close.Detail = err.Error(), "the server did not answer the close frame"
			}
			break
		}
	}
	L.Close.Millis = ms(time.Since(start))
	return end("ws", Accepted, "", Reason{ID: ReasonEchoVerified, Text: L.WS.Detail})
}

// ticketRecorder is a tls.ClientSessionCache that resumes nothing and
// records whether the server sent a session ticket.
type ticketRecorder struct {
	mu  sync.Mutex
	put bool
}

func (t *ticketRecorder) Get(string) (*tls.ClientSessionState, bool) { return nil, false }

func (t *ticketRecorder) Put(string, *tls.ClientSessionState) {
	t.mu.Lock()
	t.put = true
	t.mu.Unlock()
}

func (t *ticketRecorder) got() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.put
}
