package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/mtlskit/mtlskit/internal/wire"

	"github.com/gorilla/websocket"
	"github.com/mtlskit/mtlskit/pki"
)

// probeBodyMax is how much of a non-101 answer's body is kept.
const probeBodyMax = 512

// keyHeaders are the response headers the probe reports.
var keyHeaders = []string{"Server", "Content-Type", "Content-Length", "Connection", "Upgrade",
	"Sec-WebSocket-Accept", "Sec-WebSocket-Protocol", "Sec-WebSocket-Version", "Location", "WWW-Authenticate"}

// upgrade sends the WebSocket upgrade request over the verified
// connection and fills in live-client-cert-accepted (from the first
// read), live-http-upgrade, live-ws-echo and live-lax-server.
func (p *prober) upgrade(ctx context.Context, tc *tls.Conn) {
	start := time.Now()
	ws, resp, timedOut, err := wire.DialUpgrade(ctx, tc, p.cfg.URL(), p.cfg.Timeout)
	took := time.Since(start).Round(time.Microsecond)
	reqLine := "request: GET " + p.cfg.path() + " with Upgrade: websocket, Host: " + net.JoinHostPort(p.cfg.Host, p.cfg.Port)
	if err != nil {
		if k := wire.ClassifyUpgrade(resp, timedOut, err); k == wire.AnswerStatus || k == wire.AnswerBad101 {
			p.answered(resp, reqLine, took)
			return
		}
		if timedOut && !wire.IsTimeout(err) {
			// bufio returned the partial line without the deadline's error
			err = fmt.Errorf("%w (reading the answer: %w)", err, os.ErrDeadlineExceeded)
		}
		p.noAnswer(err, reqLine)
		return
	}
	defer ws.Close()
	h := p.recordHTTP(resp, nil)
	p.clientAccepted()
	ev := append([]string{reqLine, "status: " + h.Status}, headerLines(h)...)
	ev = append(ev, "answered in "+took.String())
	p.set(LiveHTTPUpgrade, pki.StatusPass, "101 Switching Protocols: the WebSocket is open", ev...)
	if p.cfg.ClientCert == nil {
		c := p.set(LiveLaxServer, pki.StatusFail, "the server accepted a client without a certificate: the TLS handshake completed and the WebSocket upgrade succeeded", p.laxEvidence()...)
		c.Fix = laxFix
	}
	p.echo(ws)
}

const laxFix = "require and verify client certificates in the TLS handshake (nginx: ssl_verify_client on; Go: ClientAuth: tls.RequireAndVerifyClientCert)"

func (p *prober) laxEvidence() []string {
	if !p.rep.ClientAuth.Requested {
		return []string{"the server never asked for a client certificate"}
	}
	return []string{"the server asked for a client certificate, mtlskit sent none, and the server went on (optional client certificates)"}
}

// recordHTTP keeps the status, key headers and the first bytes of body.
func (p *prober) recordHTTP(resp *http.Response, body []byte) *HTTP {
	h := &HTTP{StatusCode: resp.StatusCode, Status: resp.Proto + " " + resp.Status, Headers: map[string]string{}}
	for _, k := range keyHeaders {
		if v := resp.Header.Values(k); len(v) > 0 {
			h.Headers[k] = strings.Join(v, ", ")
		}
	}
	h.BodyPrefix = string(wire.Prefix(body, probeBodyMax))
	p.rep.HTTP = h
	return h
}

func headerLines(h *HTTP) []string {
	var out []string
	for _, k := range keyHeaders {
		if v, ok := h.Headers[k]; ok {
			out = append(out, k+": "+v)
		}
	}
	return out
}

// clientAccepted records that the server went on after the handshake
// (it answered the request): it accepted the client certificate.
func (p *prober) clientAccepted() {
	if p.isSet(LiveClientCertAccepted) {
		return
	}
	if p.cfg.ClientCert == nil {
		p.set(LiveClientCertAccepted, pki.StatusSkip, "no client certificate was sent (see live-lax-server)")
		return
	}
	ev := []string{"the server answered the first request, so it did not refuse the certificate"}
	if p.rep.TLS.Negotiated == tls.VersionTLS13 {
		ev = append(ev, "TLS 1.3: the server checks the client certificate after the client's side of the handshake; no alert came on the first read")
	}
	p.set(LiveClientCertAccepted, pki.StatusPass, fmt.Sprintf("the server accepted the client certificate %q", p.clientSubject()), ev...)
}

// answered handles an answer other than a valid 101.
func (p *prober) answered(resp *http.Response, reqLine string, took time.Duration) {
	var body []byte
	if resp.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, 4*probeBodyMax))
	}
	h := p.recordHTTP(resp, body)
	ev := append([]string{reqLine, "status: " + h.Status}, headerLines(h)...)
	if h.BodyPrefix != "" {
		ev = append(ev, fmt.Sprintf("body (first %d bytes):", len(h.BodyPrefix)))
		for _, line := range strings.Split(strings.TrimRight(h.BodyPrefix, "\r\n"), "\n") {
			ev = append(ev, "| "+strings.TrimRight(line, "\r"))
		}
	}
	ev = append(ev, "answered in "+took.String())

	if resp.StatusCode == http.StatusSwitchingProtocols {
		p.clientAccepted()
		c := p.set(LiveHTTPUpgrade, pki.StatusFail, "the server answered 101 without valid Upgrade, Connection and Sec-WebSocket-Accept headers", ev...)
		c.Fix = "fix the server's WebSocket handshake (RFC 6455 section 4.2.2); behind a proxy, pass Upgrade and Connection through"
		p.laxAfterHTTP(resp.StatusCode, false)
		p.stop(LiveHTTPUpgrade)
		return
	}
	said := wire.HTMLTitle(body)
	if said == "" {
		said = strings.TrimSpace(firstLine(h.BodyPrefix))
	}
	summary := fmt.Sprintf("the server answered %s instead of 101 Switching Protocols", resp.Status)
	if said != "" {
		summary += fmt.Sprintf(": %q", said)
	}
	refused := wire.CertRefusal(resp.StatusCode, body)
	c := p.set(LiveHTTPUpgrade, pki.StatusFail, summary, ev...)
	switch {
	case refused && p.cfg.ClientCert == nil:
		c.Fix = "present a client certificate: --cert client.pem --key client.key"
		a := p.set(LiveClientCertAccepted, pki.StatusFail, "refused at the HTTP layer: the server requires a client certificate and mtlskit sent none", "the TLS handshake completed; the refusal came as HTTP "+resp.Status)
		a.Fix = c.Fix
	case refused:
		c.Fix = "check the client certificate offline: mtlskit verify --cert client.pem --key client.key --purpose client --ca ca.pem"
		ev := append([]string{"the TLS handshake completed; the refusal came as HTTP " + resp.Status}, p.clientCertFacts()...)
		a := p.set(LiveClientCertAccepted, pki.StatusFail, fmt.Sprintf("the server refused the client certificate %q at the HTTP layer: %q", p.clientSubject(), said), ev...)
		a.Fix = "use a client certificate from a CA the server trusts (see the acceptable CAs)"
	default:
		p.clientAccepted()
		switch {
		case resp.StatusCode == http.StatusNotFound:
			c.Fix = "check the path: --path /ws or wss://HOST:PORT/ws"
		case resp.StatusCode < 400:
			c.Fix = "this path is not a WebSocket endpoint: check --path; behind a proxy, pass the upgrade on (nginx: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\")"
		}
	}
	p.laxAfterHTTP(resp.StatusCode, refused)
	p.stop(LiveHTTPUpgrade)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// laxAfterHTTP judges the lax-server finding from an HTTP answer given
// to a client without a certificate.
func (p *prober) laxAfterHTTP(status int, refused bool) {
	if p.cfg.ClientCert != nil {
		return
	}
	ev := p.laxEvidence()
	switch {
	case refused:
		ev = []string{"the TLS handshake completed without a certificate, so such a client can still send a request; a refusal in the handshake is stricter"}
		p.set(LiveLaxServer, pki.StatusPass, fmt.Sprintf("the server refused a client without a certificate, at the HTTP layer (%d)", status), ev...)
	case status < 400:
		c := p.set(LiveLaxServer, pki.StatusFail, fmt.Sprintf("the server accepted a client without a certificate: the TLS handshake completed and the request was answered %d", status), ev...)
		c.Fix = laxFix
	default:
		c := p.set(LiveLaxServer, pki.StatusWarn, fmt.Sprintf("the TLS handshake completed without a client certificate and the server answered %d, which does not say whether it requires one", status), ev...)
		c.Fix = "probe the WebSocket path (--path) to see whether the server lets such a client in"
	}
}

// noAnswer handles an upgrade request that got no HTTP answer: a TLS
// alert on the first read (TLS 1.3's late refusal of the client), a
// timeout or a close.
func (p *prober) noAnswer(err error, reqLine string) {
	if a := wire.RemoteAlert(err); a != nil && p.rep.ClientAuth.Requested {
		p.refusedClient(a, true)
		return
	}
	ev := []string{reqLine, "error: " + err.Error()}
	var c *Check
	switch a := wire.RemoteAlert(err); {
	case a != nil:
		c = p.set(LiveHTTPUpgrade, pki.StatusFail, "the server answered the request with "+a.String(), ev...)
	case errors.Is(err, wire.ErrTooLarge):
		c = p.set(LiveHTTPUpgrade, pki.StatusFail, fmt.Sprintf("the server's answer to the upgrade request did not end its headers within %d bytes", wire.MaxHeaderBytes), ev...)
		c.Fix = "fix the server's WebSocket handshake: its answer never ends (RFC 6455 section 4.2.2)"
	case wire.IsTimeout(err):
		c = p.set(LiveHTTPUpgrade, pki.StatusFail, fmt.Sprintf("no answer to the upgrade request within %s", p.cfg.Timeout), ev...)
		c.Fix = "the server accepted TLS but does not answer HTTP on this path: check the server's log"
	case wire.IsClosed(err):
		c = p.set(LiveHTTPUpgrade, pki.StatusFail, "the server closed the connection without answering the upgrade request", ev...)
		c.Fix = "check the server's log: it may drop clients whose certificate it dislikes without an alert"
	default:
		c = p.set(LiveHTTPUpgrade, pki.StatusFail, "the upgrade request failed: "+err.Error(), ev...)
	}
	_ = c
	tls12 := p.rep.TLS.Negotiated == tls.VersionTLS12
	switch {
	case p.cfg.ClientCert != nil && p.rep.ClientAuth.Requested && tls12:
		// In TLS 1.2 the client's certificate goes out before the
		// server's Finished: a server that finished the handshake
		// accepted it, whatever it does with the request afterwards.
		after := "then the upgrade request was never answered (see live-http-upgrade): TLS and the certificate are fine, the WebSocket layer is not"
		if !wire.IsTimeout(err) {
			after = "then the server dropped the upgrade request without an answer (see live-http-upgrade): the TLS layer accepted the certificate; the layer above it either refuses it without saying so or is broken"
		}
		p.set(LiveClientCertAccepted, pki.StatusPass, fmt.Sprintf("the server accepted the client certificate %q in the TLS 1.2 handshake", p.clientSubject()),
			"TLS 1.2: the client sends its certificate before the server's Finished, and the server finished the handshake, so it accepted the certificate", after)
	case p.cfg.ClientCert != nil && p.rep.ClientAuth.Requested && !p.isSet(LiveClientCertAccepted):
		p.set(LiveClientCertAccepted, pki.StatusSkip, "cannot tell: the server neither refused the certificate with an alert nor answered the request")
	}
	if p.cfg.ClientCert == nil && !p.isSet(LiveLaxServer) {
		why := "cannot tell: the server neither refused the connection nor answered the request"
		if tls12 {
			why = "cannot tell: the server let a client without a certificate finish the TLS 1.2 handshake, then never answered its request, so whether it would let it in above TLS cannot be seen"
		}
		p.set(LiveLaxServer, pki.StatusSkip, why)
	}
	p.stop(LiveHTTPUpgrade)
}

// echo sends one text message and waits for it to come back, then closes
// with 1000.
func (p *prober) echo(ws *websocket.Conn) {
	if !p.cfg.Echo {
		p.set(LiveWSEcho, pki.StatusSkip, "not tried (--no-echo): the probe stops at the upgrade")
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"), time.Now().Add(p.cfg.Timeout))
		return
	}
	msg := fmt.Sprintf("mtlskit verify --connect probe %d", time.Now().UnixNano())
	start := time.Now()
	deadline := start.Add(p.cfg.Timeout)
	_ = ws.SetWriteDeadline(deadline)
	_ = ws.SetReadDeadline(deadline)
	ws.SetReadLimit(wire.MaxMessageSize)
	fix := "if the server is not meant to echo, stop at the upgrade with --no-echo"
	if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		c := p.set(LiveWSEcho, pki.StatusFail, "the message could not be sent: "+err.Error())
		c.Fix = fix
		p.stop(LiveWSEcho)
		return
	}
	mt, data, err := ws.ReadMessage()
	took := time.Since(start).Round(time.Microsecond)
	sent := fmt.Sprintf("sent text %q", msg)
	if err != nil {
		var ce *websocket.CloseError
		var c *Check
		switch {
		case errors.As(err, &ce):
			c = p.set(LiveWSEcho, pki.StatusFail, fmt.Sprintf("the server closed the WebSocket with %d %q instead of echoing", ce.Code, ce.Text), sent)
		case errors.Is(err, websocket.ErrReadLimit):
			c = p.set(LiveWSEcho, pki.StatusFail, fmt.Sprintf("the server sent a message larger than the %d-byte read limit instead of the echo (closed with 1009)", wire.MaxMessageSize), sent)
		case wire.IsTimeout(err):
			c = p.set(LiveWSEcho, pki.StatusFail, fmt.Sprintf("nothing came back within %s", p.cfg.Timeout), sent)
		case wire.IsClosed(err):
			c = p.set(LiveWSEcho, pki.StatusFail, "the server dropped the connection after the upgrade without echoing", sent)
		default:
			c = p.set(LiveWSEcho, pki.StatusFail, "reading the echo failed: "+err.Error(), sent)
		}
		c.Fix = fix
		p.stop(LiveWSEcho)
		return
	}
	if mt != websocket.TextMessage || !bytes.Equal(data, []byte(msg)) {
		c := p.set(LiveWSEcho, pki.StatusFail, "a different message came back", sent, "got "+wire.DescribeMessage(mt == websocket.BinaryMessage, data))
		c.Fix = fix
		p.stop(LiveWSEcho)
		return
	}
	p.set(LiveWSEcho, pki.StatusPass, fmt.Sprintf("one text message (%d bytes) echoed byte-exact in %s", len(data), took), sent)
	closeBy := time.Now().Add(min(p.cfg.Timeout, time.Second))
	if ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"), closeBy) == nil {
		_ = ws.SetReadDeadline(closeBy)
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				break
			}
		}
	}
}
