package harness

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mtlskit/mtlskit/internal/wire"

	"github.com/mtlskit/mtlskit/pki"
)

// ClientCommand is an external client judged by the client-side
// scenarios: a command run once per scenario against the reference
// server. The contract (docs/conformance.md): connect to {url}, send one
// text message, get it back, exit 0 on success and non-zero otherwise.
//
// A command reports only its exit status and output, so the verdict is
// built from what the reference server saw of it (did it abort the
// handshake and with which alert, did it present a certificate, did it
// send an HTTP request or any application data, did its message come
// back), and the exit status must agree with it.
type ClientCommand struct {
	Command *Template
	// Dir is where each scenario's files go (Dir/SCENARIO/); it must
	// exist.
	Dir string
	// Timeout bounds each run of the command; 0 means 4 phase timeouts.
	Timeout time.Duration
}

// Name is the command line.
func (c *ClientCommand) Name() string { return c.Command.Raw }

// URLFor is the {url} of an encounter: wss://localhost:PORT/, or
// wss://127.0.0.1:PORT/ for a scenario that dials by address.
func URLFor(e Encounter, addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return "wss://" + net.JoinHostPort(e.Dial.Host(), port) + "/"
}

// Connect writes the scenario's files and runs the command once. The
// verdict is completed by combine once the server has stopped.
func (c *ClientCommand) Connect(ctx context.Context, cfg ClientConfig) Verdict {
	e := cfg.Encounter
	v := Verdict{}
	limit := c.Timeout
	if limit <= 0 {
		limit = 4 * cfg.Timeout
	}
	name := cfg.Scenario
	if name == "" {
		name = "client"
	}
	dir := filepath.Join(c.Dir, name)
	roots := make([]*pki.Issued, len(e.RootCAs))
	for i, r := range e.RootCAs {
		roots[i] = &pki.Issued{Cert: r}
	}
	var files SubjectFiles
	err := os.MkdirAll(dir, 0o700)
	if err == nil {
		files, err = writeSubjectFiles(dir, roots, e.Client, e.ServerCRLs)
	}
	if err != nil {
		v.Client = &ClientProcess{ExitCode: -1, Error: fmt.Sprintf("writing the client's files into %s: %v", dir, err)}
		return v
	}
	vals := files.values()
	_, port, _ := net.SplitHostPort(cfg.Addr)
	vals["host"], vals["port"], vals["url"] = e.Dial.Host(), port, URLFor(e, cfg.Addr)
	p := runCommand(ctx, c.Command.Expand(vals), limit)
	v.Client = &p
	v.Layers.HTTP.URL = vals["url"]
	v.Layers.TCP.Addr = cfg.Addr
	v.Layers.TLS.ServerName = e.Dial.Host()
	return v
}

// genericCertAlert reports whether a certificate alert is too coarse to
// say what the client's output (reason id) says: 42 bad_certificate, 43
// unsupported_certificate and 46 certificate_unknown say nothing of why,
// and 45 certificate_expired is also what OpenSSL sends for a certificate
// that is not yet valid.
func genericCertAlert(a Alert, id ReasonID) bool {
	switch a {
	case wire.AlertBadCertificate, wire.AlertUnsupportedCertificate, wire.AlertCertificateUnknown:
		return true
	case wire.AlertCertificateExpired:
		return id == ReasonNotYetValid
	}
	return false
}

// progress ranks how far a connection got, to pick the one to judge when
// a client connected more than once (a TCP readiness probe, then the
// real connection).
func progress(o ServerObservation) int {
	switch {
	case o.WS.HandlerRan:
		return 5
	case o.HTTP.RequestReceived || o.HTTP.BytesReceived > 0:
		return 4
	case o.TLS.Status == LayerOK:
		return 3
	case o.TLS.AlertReceived != nil || o.TLS.AbortedAfterFlight:
		return 2
	case o.TLS.HelloReceived:
		return 1
	}
	return 0
}

// combine builds the verdict of an external client from the server's
// observations and the command's exit status and output, phase by phase
// (cmdVerdict): no connection at all, a failed handshake, or what the
// client did after a completed one.
func (c *ClientCommand) combine(v *Verdict, obs []ServerObservation) {
	L := &v.Layers
	for _, st := range []*LayerStatus{&L.TCP.Status, &L.TLS.Status, &L.HTTP.Status, &L.WS.Status, &L.Close.Status} {
		*st = LayerSkipped
	}
	if v.Client == nil {
		v.Client = &ClientProcess{ExitCode: -1, Error: "not run"}
	}
	cv := newCmdVerdict(v)
	if len(obs) == 0 {
		cv.noConnection()
		return
	}
	best := obs[0]
	for _, o := range obs[1:] {
		if progress(o) > progress(best) {
			best = o
		}
	}
	best.Connections = len(obs)
	v.Server = &best
	cv.o = &best
	L.TCP.Status, L.TCP.Detail = LayerOK, "the client connected"
	L.TLS.Version, L.TLS.Negotiated = best.TLS.Version, best.TLS.Negotiated
	L.TLS.ClientCertRequested, L.TLS.ClientCertRequest = true, RequestSeen
	L.TLS.ClientCertSent = best.TLS.ClientCert == CertPresented
	if best.TLS.Status != LayerOK {
		L.TLS.Status, L.TLS.Error = LayerFailed, best.TLS.Error
		cv.handshakeFailed()
		return
	}
	cv.afterHandshake()
}

// cmdVerdict is the verdict of one external client run in the making:
// what the command did (p, with its last words and exit status ready
// for the reasons) and the connection the server judged (o).
type cmdVerdict struct {
	v    *Verdict
	L    *Layers
	p    *ClientProcess
	o    *ServerObservation
	said string // "; the client said: ..." or ""
	exit string // "exit 1", "killed at the command timeout", ...
}

func newCmdVerdict(v *Verdict) *cmdVerdict {
	p := v.Client
	cv := &cmdVerdict{v: v, L: &v.Layers, p: p, exit: fmt.Sprintf("exit %d", p.ExitCode)}
	if n := len(p.Output); n > 0 {
		cv.said = fmt.Sprintf("; the client said: %q", p.Output[n-1])
	}
	switch {
	case p.Error != "":
		cv.exit = "could not run: " + p.Error
	case p.TimedOut:
		cv.exit = "killed at the command timeout"
	}
	return cv
}

func (cv *cmdVerdict) end(layer LayerName, o Outcome, by Party, r Reason) {
	cv.v.Layer, cv.v.Outcome, cv.v.RefusedBy, cv.v.Reason = layer, o, by, r
}

// output is everything the client printed, for verify messages.
func (cv *cmdVerdict) output() string { return strings.Join(cv.p.Output, "\n") }

// refusedAfterHandshake: the handshake completed, then the client
// refused the server (with alert a, or nil) without sending any data.
func (cv *cmdVerdict) refusedAfterHandshake(r Reason, a *Alert) {
	L := cv.L
	L.TLS.Status, L.TLS.RefusedBy, L.TLS.Reason, L.TLS.Alert, L.TLS.LateAlert, L.TLS.Detail = LayerFailed, PartyClient, &r, a, true, r.Text
	cv.end(LayerTLS, RejectedTLS, PartyClient, r)
}

// noConnection: the server saw no connection from the client.
func (cv *cmdVerdict) noConnection() {
	L := cv.L
	L.TCP.Status = LayerFailed
	if cv.p.TimedOut {
		L.TCP.Detail = "the client never connected and was killed at the command timeout"
		cv.end(LayerTCP, ConnectFailed, "", Reason{ID: ReasonClientTimeout, Text: L.TCP.Detail + cv.said})
		return
	}
	L.TCP.Detail = fmt.Sprintf("the client never connected to the server (%s)", cv.exit)
	cv.end(LayerTCP, ConnectFailed, "", Reason{ID: ReasonNoConnection, Text: L.TCP.Detail + cv.said})
}

// handshakeFailed: the handshake did not complete; who ended it, and why.
func (cv *cmdVerdict) handshakeFailed() {
	L, o, said, exit, end := cv.L, cv.o, cv.said, cv.exit, cv.end
	switch {
	case o.TLS.AlertReceived != nil:
		a := o.TLS.AlertReceived
		r := wire.AlertReason(a, PartyClient)
		if !strings.HasPrefix(r.Text, "the client aborted the handshake") {
			r.Text = "the client aborted the handshake: " + r.Text
		}
		r.Text += said
		if !a.IsCertificateAlert() {
			id, ok := verifyMessageReason(cv.output())
			if !ok {
				r = Reason{ID: ReasonTLSAlert, Text: fmt.Sprintf("the client aborted the handshake with %s, which is not a certificate alert, and its output has no certificate verification error: not a refusal of the server certificate", a) + said}
				L.TLS.Alert, L.TLS.Reason, L.TLS.Detail = a, &r, r.Text
				end(LayerTLS, ConnectFailed, "", r)
				return
			}
			r = Reason{ID: id, Text: fmt.Sprintf("the client aborted the handshake with %s; its output names a certificate verification error", a) + said}
		} else if id, ok := verifyMessageReason(cv.output()); ok && id != r.ID && genericCertAlert(*a, id) {
			// OpenSSL sends 42 bad_certificate for a host name
			// mismatch or a not-yet-valid certificate, 43 for a wrong
			// key usage: the alert says the client refused the
			// certificate, its own message says why.
			r = Reason{ID: id, Text: fmt.Sprintf("the client aborted the handshake with %s, which does not say why; its output names the reason", a) + said}
		}
		L.TLS.RefusedBy, L.TLS.Reason, L.TLS.Alert, L.TLS.Detail = PartyClient, &r, a, r.Text
		end(LayerTLS, RejectedTLS, PartyClient, r)
	case o.TLS.AbortedAfterFlight:
		// TLS 1.3: the client got our whole flight, certificate
		// included, and answered with a record crypto/tls could not
		// decrypt instead of its Finished. It never completed the
		// handshake and sent no application data: it refused the
		// server. Why is unknown unless its output says; the
		// valid-server control tells a client that aborts everything.
		r := Reason{ID: ReasonHandshakeAborted, Text: "the client aborted the handshake after receiving the server certificate; reason not readable (its alert arrived as: " + o.TLS.Error + ", and its output names no certificate verification error)" + said}
		if id, ok := verifyMessageReason(cv.output()); ok {
			r = Reason{ID: id, Text: "the client aborted the handshake after receiving the server certificate (its alert arrived as: " + o.TLS.Error + "); its output names a certificate verification error" + said}
		}
		L.TLS.RefusedBy, L.TLS.Reason, L.TLS.Detail = PartyClient, &r, r.Text
		end(LayerTLS, RejectedTLS, PartyClient, r)
	case o.TLS.Reason != nil && o.TLS.Reason.ID == ReasonHandshakeTimeout:
		r := Reason{ID: ReasonHandshakeTimeout, Text: "the client did not finish the TLS handshake before the timeout" + said}
		L.TLS.Detail = r.Text
		end(LayerTLS, ConnectFailed, "", r)
	case o.TLS.Reason != nil:
		// The server refused the client (no certificate, say). In TLS
		// 1.3 the client learns it only on its first read, and may
		// report a broken HTTP reply: the server's account is the truth.
		r := *o.TLS.Reason
		r.Text = "the server refused the client: " + r.Text + said
		L.TLS.RefusedBy, L.TLS.Reason, L.TLS.Alert, L.TLS.Detail = PartyServer, &r, o.TLS.AlertSent, r.Text
		L.TLS.LateAlert = o.TLS.Negotiated == tls.VersionTLS13
		end(LayerTLS, RejectedTLS, PartyServer, r)
	case o.TLS.ClosedWithoutAlert && !o.TLS.HelloReceived:
		r := Reason{ID: ReasonHandshakeAborted, Text: fmt.Sprintf("the client connected and closed before sending a ClientHello (%s): it never started TLS", exit) + said}
		L.TLS.Detail = r.Text
		end(LayerTLS, ConnectFailed, "", r)
	case o.TLS.ClosedWithoutAlert:
		// Python's asyncio and others drop the connection without
		// sending the alert: the wire says only that the client
		// hung up; its own message may say why.
		r := Reason{ID: ReasonHandshakeAborted, Text: "the client closed the connection during the handshake without a TLS alert" + said}
		if id, ok := verifyMessageReason(cv.output()); ok {
			r.ID = id
			r.Text = "the client refused the server certificate (reason from its output: it closed the handshake without a TLS alert)" + said
		}
		L.TLS.RefusedBy, L.TLS.Reason, L.TLS.Detail = PartyClient, &r, r.Text
		end(LayerTLS, RejectedTLS, PartyClient, r)
	default:
		r := Reason{ID: ReasonUnclassified, Text: "the handshake failed: " + o.TLS.Error + said}
		L.TLS.Detail = r.Text
		end(LayerTLS, ConnectFailed, "", r)
	}
}

// afterHandshake: the handshake completed; what did the client do next?
func (cv *cmdVerdict) afterHandshake() {
	L, o, p, said, exit, end := cv.L, cv.o, cv.p, cv.said, cv.exit, cv.end
	L.TLS.Status, L.TLS.Detail = LayerOK, fmt.Sprintf("%s handshake completed (client certificate: %s)", o.TLS.Version, o.TLS.ClientCert)

	switch {
	case o.WS.HandlerRan:
		L.HTTP.Status, L.HTTP.StatusCode, L.HTTP.Detail = LayerOK, 101, fmt.Sprintf("the client sent %s %s and got 101", o.HTTP.Method, o.HTTP.Path)
		L.WS.Echoed, L.WS.BytesEchoed = o.WS.Echoed, o.WS.BytesEchoed
		if o.WS.Echoed > 0 && p.ExitCode == 0 && !p.TimedOut && p.Error == "" {
			L.WS.Status, L.WS.ByteExact = LayerOK, true
			L.WS.Detail = fmt.Sprintf("the server echoed %d message(s) (%d bytes) and the client exited 0", o.WS.Echoed, o.WS.BytesEchoed)
			if o.WS.CloseCode != 0 {
				L.Close.Status, L.Close.Code, L.Close.Detail = LayerOK, o.WS.CloseCode, fmt.Sprintf("the client closed with %d", o.WS.CloseCode)
			}
			end(LayerWS, Accepted, "", Reason{ID: ReasonEchoVerified, Text: L.WS.Detail + said})
			return
		}
		id := ReasonClientExit
		if p.TimedOut {
			id = ReasonClientTimeout
		}
		L.WS.Status = LayerFailed
		L.WS.Detail = fmt.Sprintf("after 101 the server echoed %d message(s), and the client did not confirm the echo (%s)", o.WS.Echoed, exit)
		end(LayerWS, NoEcho, "", Reason{ID: id, Text: L.WS.Detail + said})
	case o.HTTP.RequestReceived:
		L.HTTP.Status = LayerFailed
		L.HTTP.Detail = fmt.Sprintf("the client sent %s %s, which is not a WebSocket upgrade (%s)", o.HTTP.Method, o.HTTP.Path, exit)
		end(LayerHTTP, NoUpgrade, "", Reason{ID: ReasonBadUpgrade, Text: L.HTTP.Detail + said})
	case o.HTTP.BytesReceived > 0:
		L.HTTP.Status = LayerFailed
		L.HTTP.Detail = fmt.Sprintf("the client sent %d bytes that are not an HTTP request (%s)", o.HTTP.BytesReceived, exit)
		end(LayerHTTP, NoUpgrade, "", Reason{ID: ReasonUnclassified, Text: L.HTTP.Detail + said})
	case o.TLS.AlertAfterHandshake != nil && o.TLS.AlertAfterHandshake.IsCertificateAlert():
		// A client that checks the server after the handshake (or a TLS
		// 1.3 post-handshake alert): it refused, and sent no data.
		r := wire.AlertReason(o.TLS.AlertAfterHandshake, PartyClient)
		r.Text = "the handshake completed, then the client refused the server without sending any data: " + r.Text + said
		cv.refusedAfterHandshake(r, o.TLS.AlertAfterHandshake)
	case p.TimedOut:
		r := Reason{ID: ReasonClientTimeout, Text: "the handshake completed, then the client sent nothing and was killed at the command timeout" + said}
		L.HTTP.Status, L.HTTP.Detail = LayerFailed, r.Text
		end(LayerHTTP, ConnectFailed, "", r)
	default:
		// The client closed after the handshake without a byte of data.
		// A completed handshake means it accepted the chain; only a
		// verification error in its own output (Node verifies after the
		// handshake) says it then refused the server.
		alert := ""
		if a := o.TLS.AlertAfterHandshake; a != nil {
			alert = fmt.Sprintf(" with %s", a)
		}
		if id, ok := verifyMessageReason(cv.output()); ok {
			r := Reason{ID: id, Text: fmt.Sprintf("the handshake completed, then the client closed%s without sending any application data (%s), and its output names a certificate verification error: it refused the server after the handshake", alert, exit) + said}
			cv.refusedAfterHandshake(r, o.TLS.AlertAfterHandshake)
			return
		}
		r := Reason{ID: ReasonUnclassified, Text: fmt.Sprintf("the client accepted the handshake, then closed%s without sending any application data (%s); its output names no certificate verification error, and a completed handshake means it accepted the server's chain", alert, exit) + said}
		L.HTTP.Status, L.HTTP.Detail = LayerFailed, r.Text
		end(LayerHTTP, NoUpgrade, "", r)
	}
}
