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
	"sync/atomic"
	"time"

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
	raw, answered, tried, err := dialFirst(ctx, cfg.Addr, cfg.Timeout)
	L.TCP.Millis = ms(time.Since(start))
	if err != nil {
		L.TCP.Status, L.TCP.Error = LayerFailed, err.Error()
		where := cfg.Addr
		if len(tried) > 1 {
			where = fmt.Sprintf("%s (tried %s)", cfg.Addr, strings.Join(tried, " and "))
		}
		r := Reason{ReasonUnclassified, err.Error()}
		switch {
		case errors.Is(err, errConnRefused):
			r = Reason{ReasonConnectRefused, fmt.Sprintf("nothing listens on %s (connection refused)", where)}
		case isTimeout(err):
			r = Reason{ReasonConnectTimeout, fmt.Sprintf("no TCP connection to %s within %s", where, cfg.Timeout)}
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
		RootCAs:    certPool(e.RootCAs),
		ServerName: host,
		NextProtos: []string{"http/1.1"},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			L.TLS.ClientCertRequested = true
			if e.Client == nil {
				return &tls.Certificate{}, nil
			}
			L.TLS.ClientCertSent = true
			cert := tlsCertificate(e.Client, e.ClientSendsChain)
			return &cert, nil
		},
	}
	// The session cache only records whether a TLS 1.3 server sent a
	// session ticket. A server that sends one after accepting the
	// client's Finished (the valid-client control shows whether this one
	// does) and closes a connection without an alert, an answer or a
	// ticket refused it in the handshake.
	tcfg.ClientSessionCache = tickets
	pinVersion(tcfg, cfg.TLSVersion)
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
		switch a := remoteAlert(err); {
		case errors.As(err, &cve):
			for _, pc := range cve.UnverifiedCertificates {
				L.TLS.PeerChain = append(L.TLS.PeerChain, pc.Subject.CommonName)
			}
			r, ok := verifyReason(err)
			if !ok {
				r = Reason{ReasonUnclassified, err.Error()}
			}
			L.TLS.RefusedBy, L.TLS.Reason, L.TLS.Alert = PartyClient, &r, alertGoSends(err, false, st.Version)
			L.TLS.Detail = "the client refused the server certificate: " + r.Text
			return end("tls", RejectedTLS, PartyClient, r)
		case a != nil:
			L.TLS.RefusedBy, L.TLS.Alert = PartyServer, a
			if ok, why := clientCertAlert(a, st.Version, L.TLS.ClientCertRequested, false); !ok {
				r := Reason{ReasonTLSAlert, fmt.Sprintf("the server aborted the handshake with %s, which is not a refusal of the client certificate: %s", a, why)}
				L.TLS.Reason, L.TLS.Detail = &r, r.Text
				return end("tls", ConnectFailed, "", r)
			}
			r := alertReason(a, PartyServer)
			L.TLS.Reason = &r
			L.TLS.Detail = "the server aborted the handshake with " + a.String()
			return end("tls", RejectedTLS, PartyServer, r)
		case isTimeout(err):
			r := Reason{ReasonHandshakeTimeout, fmt.Sprintf("the TLS handshake did not finish within %s", cfg.Timeout)}
			L.TLS.Detail = r.Text
			return end("tls", ConnectFailed, "", r)
		case isClosed(err) && st.Version == tls.VersionTLS12 && L.TLS.ClientCertRequested:
			// TLS 1.2: the client's certificate went out before the
			// server's Finished, and the server hung up on it.
			r := Reason{ReasonHandshakeAborted, "TLS 1.2: after asking for the client certificate, the server closed the connection during the handshake without a TLS alert"}
			L.TLS.RefusedBy, L.TLS.Reason, L.TLS.Detail = PartyServer, &r, r.Text
			return end("tls", RejectedTLS, PartyServer, r)
		case isClosed(err):
			why := "before asking for a client certificate"
			switch {
			case st.Version == 0:
				why = "before its ServerHello (not a TLS server on this port, or one that refuses this TLS version without saying so)"
			case st.Version == tls.VersionTLS13:
				why = "before the client had sent its certificate (TLS 1.3 sends it at the end of the client's handshake)"
			}
			r := Reason{ReasonHandshakeAborted, "the server closed the connection during the handshake without a TLS alert, " + why + ": not a refusal of the client certificate"}
			L.TLS.Reason, L.TLS.Detail = &r, r.Text
			return end("tls", ConnectFailed, "", r)
		}
		r := Reason{ReasonUnclassified, err.Error()}
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
			r := Reason{ReasonTLSAlert, fmt.Sprintf("after the client's handshake finished, the server sent %s, which is not a refusal of the client certificate: %s", a, why)}
			L.TLS.Alert, L.TLS.LateAlert = a, true
			layer.Detail = r.Text
			if layer == &L.HTTP.Layer {
				return end("http", NoUpgrade, "", r)
			}
			return end("ws", NoEcho, "", r)
		}
		r := alertReason(a, PartyServer)
		L.TLS.Status, L.TLS.RefusedBy, L.TLS.Reason, L.TLS.Alert, L.TLS.LateAlert = LayerFailed, PartyServer, &r, a, true
		L.TLS.Detail = fmt.Sprintf("the client's handshake finished, then the server refused it with %s on the first read (%s)", a, L.TLS.Version)
		layer.Status, layer.Detail = LayerSkipped, "not reached: the server refused the TLS connection"
		return end("tls", RejectedTLS, PartyServer, r)
	}

	// HTTP upgrade over the connection we just verified.
	start = time.Now()
	L.HTTP.Status = LayerFailed
	ws, resp, timedOut, err := dialUpgrade(ctx, tc, cfg.URL(), cfg.Timeout)
	L.HTTP.Millis = ms(time.Since(start))
	if err != nil {
		L.HTTP.Error = err.Error()
		kind := classifyUpgrade(resp, timedOut, err)
		if kind == answerAlert {
			L.HTTP.Error = ""
			return lateRefusal(remoteAlert(err), &L.HTTP.Layer)
		}
		if kind == answerTooLarge {
			r := Reason{ReasonBadUpgrade, fmt.Sprintf("the server's answer to the upgrade request did not end its headers within %d bytes", MaxHeaderBytes)}
			L.HTTP.Detail = r.Text
			return end("http", NoUpgrade, "", r)
		}
		if kind == answerStatus || kind == answerBad101 {
			L.HTTP.StatusCode = resp.StatusCode
			var body bytes.Buffer
			_, _ = body.ReadFrom(resp.Body)
			L.HTTP.BodyPrefix = string(prefix(body.Bytes(), 256))
			L.HTTP.CertificateRefusal = certRefusal(resp.StatusCode, body.Bytes())
			if resp.StatusCode != http.StatusSwitchingProtocols {
				r := Reason{ReasonHTTPStatus, fmt.Sprintf("the server answered %s instead of 101", resp.Status)}
				if t := htmlTitle(body.Bytes()); t != "" {
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
			r := Reason{ReasonBadUpgrade, "the server answered 101 without valid Upgrade, Connection and Sec-WebSocket-Accept headers"}
			L.HTTP.Detail = r.Text
			return end("http", NoUpgrade, "", r)
		}
		var r Reason
		switch {
		case kind == answerTimeout:
			r = Reason{ReasonUpgradeTimeout, fmt.Sprintf("TLS is fine but the server did not answer the upgrade request within %s", cfg.Timeout)}
		case kind == answerClosed && st.Version == tls.VersionTLS13 && L.TLS.ClientCertRequested && !tickets.got() && !cfg.ticketBaseline:
			r = Reason{ReasonClosedBeforeUpgrade, "TLS 1.3: after the client's handshake finished, the server closed the connection without an alert, a session ticket or an HTTP answer; cannot tell whether the certificate was refused (the valid-client control got no session ticket from this server to compare with)"}
		case kind == answerClosed && st.Version == tls.VersionTLS13 && L.TLS.ClientCertRequested && !tickets.got():
			// Servers that drop a refused TLS 1.3 client without sending
			// the alert (Python's asyncio does) look like this.
			r := Reason{ReasonHandshakeAborted, "TLS 1.3: after the client's handshake finished, the server closed the connection without an alert, a session ticket or an HTTP answer, where it sent the valid-client control a ticket: a refusal of the client certificate whose alert was not sent"}
			L.HTTP.Status, L.HTTP.Detail = LayerSkipped, "not reached: the server refused the TLS connection"
			L.TLS.Status, L.TLS.RefusedBy, L.TLS.Reason, L.TLS.LateAlert, L.TLS.Detail = LayerFailed, PartyServer, &r, true, r.Text
			return end("tls", RejectedTLS, PartyServer, r)
		case kind == answerClosed:
			r = Reason{ReasonClosedBeforeUpgrade, "TLS is fine but the server closed the connection without answering the upgrade request"}
		default:
			r = Reason{ReasonUnclassified, err.Error()}
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
		return end("http", Accepted, "", Reason{ReasonUpgraded, "the server answered 101 Switching Protocols; the echo was not checked (--accept-on upgrade)"})
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
			mismatch = fmt.Sprintf("message %d came back different: sent %s, got %s", i+1, describe(m.Binary, m.Data), describe(mt == websocket.BinaryMessage, data))
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
		if a := remoteAlert(readErr); a != nil {
			return lateRefusal(a, &L.WS.Layer)
		}
		var ce *websocket.CloseError
		var r Reason
		switch {
		case errors.As(readErr, &ce):
			r = Reason{ReasonEchoClosed, fmt.Sprintf("after 101 the server closed with %d %q; %d of %d messages echoed", ce.Code, ce.Text, L.WS.Echoed, len(msgs))}
		case errors.Is(readErr, websocket.ErrReadLimit):
			r = Reason{ReasonEchoMismatch, fmt.Sprintf("after 101 the server sent a message larger than the %d-byte read limit (closed with 1009 before reading it); %d of %d messages echoed", MaxMessageSize, L.WS.Echoed, len(msgs))}
		case isTimeout(readErr):
			r = Reason{ReasonEchoTimeout, fmt.Sprintf("after 101, %d of %d messages came back within %s", L.WS.Echoed, len(msgs), cfg.Timeout)}
		case isClosed(readErr):
			r = Reason{ReasonEchoClosed, fmt.Sprintf("after 101 the server dropped the connection; %d of %d messages echoed", L.WS.Echoed, len(msgs))}
		default:
			r = Reason{ReasonUnclassified, readErr.Error()}
		}
		L.WS.Detail = r.Text
		return end("ws", NoEcho, "", r)
	}
	if mismatch != "" {
		r := Reason{ReasonEchoMismatch, mismatch}
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
	return end("ws", Accepted, "", Reason{ReasonEchoVerified, L.WS.Detail})
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

// htmlTitle is the <title> of an HTML error page (nginx's "400 No
// required SSL certificate was sent"), "" when there is none.
func htmlTitle(b []byte) string {
	lower := bytes.ToLower(b)
	i := bytes.Index(lower, []byte("<title>"))
	if i < 0 {
		return ""
	}
	rest := b[i+len("<title>"):]
	j := bytes.Index(bytes.ToLower(rest), []byte("</title>"))
	if j < 0 {
		return ""
	}
	return strings.TrimSpace(string(rest[:j]))
}

func prefix(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

func describe(binary bool, data []byte) string {
	kind := "text"
	if binary {
		kind = "binary"
	}
	return fmt.Sprintf("%s of %d bytes starting %q", kind, len(data), prefix(data, 16))
}

// cappedConn fails reads with errTooLarge once limit bytes have been read,
// until lift is called: the WebSocket handshake reads the server's answer
// through it, so an endless header costs at most limit bytes.
//
// It also records a read that hit the deadline: bufio hands back a partial
// line without the error, so a server trickling its answer past the
// deadline makes http.ReadResponse report a malformed answer instead.
type cappedConn struct {
	net.Conn
	left     atomic.Int64 // -1: lifted
	deadline atomic.Bool
}

// timedOut reports whether a read hit the deadline.
func (c *cappedConn) timedOut() bool { return c.deadline.Load() }

func newCappedConn(c net.Conn, limit int64) *cappedConn {
	cc := &cappedConn{Conn: c}
	cc.left.Store(limit)
	return cc
}

func (c *cappedConn) lift() { c.left.Store(-1) }

func (c *cappedConn) Read(p []byte) (int, error) {
	left := c.left.Load()
	if left < 0 {
		return c.Conn.Read(p)
	}
	if left == 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := c.Conn.Read(p)
	c.left.Add(-int64(n))
	if err != nil && isTimeout(err) {
		c.deadline.Store(true)
	}
	return n, err
}

// upgradeReadCap is the most dialUpgrade reads before the answer's
// headers end: MaxHeaderBytes plus one bufio read of slack.
const upgradeReadCap = MaxHeaderBytes + 4096

// dialUpgrade sends the WebSocket upgrade request for url over conn (the
// TLS handshake already done) and reads the server's answer, within
// timeout, reading at most upgradeReadCap bytes before the headers end
// (more fails with errTooLarge). timedOut reports a read that hit the
// deadline. The reference client and the probe both read answers here.
func dialUpgrade(ctx context.Context, conn net.Conn, url string, timeout time.Duration) (ws *websocket.Conn, resp *http.Response, timedOut bool, err error) {
	_ = conn.SetDeadline(time.Now().Add(timeout))
	capped := newCappedConn(conn, upgradeReadCap)
	dialer := websocket.Dialer{
		NetDialTLSContext: func(context.Context, string, string) (net.Conn, error) { return capped, nil },
		HandshakeTimeout:  timeout,
	}
	ws, resp, err = dialer.DialContext(ctx, url, nil)
	capped.lift()
	return ws, resp, capped.timedOut(), err
}

// upgradeAnswer is what became of an upgrade request (classifyUpgrade).
type upgradeAnswer int

const (
	answerUpgraded upgradeAnswer = iota // a valid 101: the WebSocket is open
	answerStatus                        // an HTTP answer other than 101
	answerBad101                        // 101 without valid Upgrade, Connection and Sec-WebSocket-Accept
	answerAlert                         // a TLS alert instead of an answer
	answerTooLarge                      // the headers did not end within MaxHeaderBytes
	answerTimeout                       // no complete answer within the timeout
	answerClosed                        // the server closed without a complete answer
	answerOther                         // anything else (the error says what)
)

var answerNames = [...]string{"upgraded", "status", "bad-101", "alert", "too-large", "timeout", "closed", "other"}

func (a upgradeAnswer) String() string { return answerNames[a] }

// classifyUpgrade sorts dialUpgrade's results; the reference client and
// the probe report each kind in their own words.
func classifyUpgrade(resp *http.Response, timedOut bool, err error) upgradeAnswer {
	switch {
	case err == nil:
		return answerUpgraded
	case remoteAlert(err) != nil:
		return answerAlert
	case errors.Is(err, errTooLarge):
		return answerTooLarge
	case errors.Is(err, websocket.ErrBadHandshake) && resp != nil:
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return answerBad101
		}
		return answerStatus
	case isTimeout(err) || timedOut:
		return answerTimeout
	case isClosed(err):
		return answerClosed
	}
	return answerOther
}

// dialFirst connects to addr within timeout. A host name is tried at each
// of its addresses in turn, IPv4 first ("localhost" at 127.0.0.1 and ::1,
// whatever /etc/hosts says), so a server listening on only one family is
// found; answered names the address that accepted, tried every address.
func dialFirst(ctx context.Context, addr string, timeout time.Duration) (conn net.Conn, answered string, tried []string, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, "", []string{addr}, err
	}
	tried = hostAddrs(ctx, host, port, timeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var errs []error
	for _, a := range tried {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", a)
		if err == nil {
			return c, a, tried, nil
		}
		errs = append(errs, err)
	}
	return nil, "", tried, errors.Join(errs...)
}

// hostAddrs lists the host:port addresses to try for host.
func hostAddrs(ctx context.Context, host, port string, timeout time.Duration) []string {
	if strings.EqualFold(host, "localhost") {
		return []string{net.JoinHostPort("127.0.0.1", port), net.JoinHostPort("::1", port)}
	}
	if net.ParseIP(host) != nil {
		return []string{net.JoinHostPort(host, port)}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil || len(ips) == 0 {
		return []string{net.JoinHostPort(host, port)}
	}
	var v4, v6 []string
	for _, ip := range ips {
		if ip.IP.To4() != nil {
			v4 = append(v4, net.JoinHostPort(ip.IP.String(), port))
		} else {
			v6 = append(v6, net.JoinHostPort(ip.String(), port))
		}
	}
	return append(v4, v6...)
}
