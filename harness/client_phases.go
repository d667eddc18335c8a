package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mtlskit/mtlskit/internal/wire"
)

// clientRun is one encounter of the reference client in progress, in the
// manner of crypto/tls's handshake state: each phase (dialTCP, handshake,
// upgrade, echo, closeHandshake) is a method that records its layer and
// returns false when the encounter ended there, with the verdict set by
// end.
type clientRun struct {
	ctx     context.Context
	c       *referenceClient
	cfg     ClientConfig
	v       Verdict
	tickets *ticketRecorder

	raw   net.Conn
	tc    *tls.Conn
	state tls.ConnectionState
	ws    *websocket.Conn
	// handshook is set when the first handshake finished: a certificate
	// request after it belongs to a renegotiation, which runs on the
	// goroutine of the phase that reads.
	handshook bool
	// unique is the first handshake's tls-unique, copied: crypto/tls
	// hands out a slice of its own array, which a renegotiation rewrites.
	unique []byte
	// settled is set when a renegotiation before the 101 completed: a
	// later alert did not end it.
	settled bool
}

func newClientRun(ctx context.Context, c *referenceClient, cfg ClientConfig) *clientRun {
	r := &clientRun{ctx: ctx, c: c, cfg: cfg, tickets: &ticketRecorder{}}
	L := &r.v.Layers
	for _, st := range []*LayerStatus{&L.TCP.Status, &L.TLS.Status, &L.HTTP.Status, &L.WS.Status, &L.Close.Status} {
		*st = LayerSkipped
	}
	L.TCP.Addr, L.TLS.ServerName, L.HTTP.URL = cfg.Addr, cfg.Host(), cfg.URL()
	L.TLS.ClientCertRequest = RequestUnknown
	return r
}

// release closes what the phases opened.
func (r *clientRun) release() {
	if r.ws != nil {
		r.ws.Close()
	}
	if r.raw != nil {
		r.raw.Close()
	}
}

// end sets the verdict: the layer the encounter ended at, its outcome,
// who refused and why. It returns false, for the phases to return.
func (r *clientRun) end(layer LayerName, o Outcome, by Party, why Reason) bool {
	r.renegotiated()
	r.v.Layer, r.v.Outcome, r.v.RefusedBy, r.v.Reason = layer, o, by, why
	r.v.Layers.TLS.SessionTicket = r.tickets.got()
	return false
}

// dialTCP connects, always to a loopback address whatever the URL's host
// (for a Target, to its host's addresses of both families, in turn).
func (r *clientRun) dialTCP() bool {
	L, cfg := &r.v.Layers, r.cfg
	start := time.Now()
	raw, answered, tried, err := wire.DialFirst(r.ctx, cfg.Addr, cfg.Timeout)
	L.TCP.Millis = ms(time.Since(start))
	if err != nil {
		L.TCP.Status, L.TCP.Error = LayerFailed, err.Error()
		where := cfg.Addr
		if len(tried) > 1 {
			where = fmt.Sprintf("%s (tried %s)", cfg.Addr, strings.Join(tried, " and "))
		}
		why := Reason{ID: ReasonUnclassified, Text: err.Error()}
		switch {
		case wire.IsRefused(err):
			why = Reason{ID: ReasonConnectRefused, Text: fmt.Sprintf("nothing listens on %s (connection refused)", where)}
		case wire.IsTimeout(err):
			why = Reason{ID: ReasonConnectTimeout, Text: fmt.Sprintf("no TCP connection to %s within %s", where, cfg.Timeout)}
		}
		L.TCP.Detail = why.Text
		return r.end(LayerTCP, ConnectFailed, "", why)
	}
	r.raw = raw
	L.TCP.Addr = answered
	L.TCP.Status, L.TCP.Detail = LayerOK, "connected to "+answered
	if answered != cfg.Addr {
		L.TCP.Detail += fmt.Sprintf(" (%s: the first of %s that answered)", cfg.Addr, strings.Join(tried, ", "))
	}
	return true
}

// tlsConfig is the strict client's configuration: the encounter's roots,
// the dialled name, its certificate when the server asks for one.
func (r *clientRun) tlsConfig() *tls.Config {
	e, L := r.cfg.Encounter, &r.v.Layers
	tcfg := &tls.Config{
		RootCAs:    wire.CertPool(e.RootCAs),
		ServerName: r.cfg.Host(),
		NextProtos: []string{"http/1.1"},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			L.TLS.ClientCertRequested, L.TLS.ClientCertRequest = true, RequestSeen
			if r.handshook {
				L.TLS.ClientCertRequest = RequestRenegotiation
			}
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
	tcfg.ClientSessionCache = r.tickets
	if e.CheckRevocation {
		// After crypto/tls verified the chain and the name: a certificate
		// naming a CRL distribution point is looked up there. It only
		// refuses, it never relaxes anything.
		tcfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) < 2 {
				return nil
			}
			ch := cs.VerifiedChains[0]
			return wire.CheckDistributionPoint(r.ctx, ch[0], ch[1], r.cfg.Timeout)
		}
	}
	if !r.cfg.NoRenegotiation {
		// TLS 1.2 only (crypto/tls ignores it in 1.3): a server that wants
		// the certificate for some paths only asks for it in a
		// renegotiation after reading the request; once is all such a
		// server needs, and a second request is still refused.
		tcfg.Renegotiation = tls.RenegotiateOnceAsClient
	}
	wire.PinVersion(tcfg, r.cfg.TLSVersion)
	if r.c.tweak != nil {
		r.c.tweak(tcfg)
	}
	return tcfg
}

// renegotiated reports (and records) whether the server renegotiated
// after the first handshake. crypto/tls keeps no count in its
// ConnectionState and skips VerifyConnection in a renegotiation (it only
// checks the leaf is unchanged), so it is seen two ways: a certificate
// request after the first handshake, or a new tls-unique (the client's
// Finished of the latest handshake, reported for every full TLS 1.2
// handshake; this client never resumes), which also catches a
// renegotiation that asked for no certificate.
func (r *clientRun) renegotiated() bool {
	L := &r.v.Layers
	if !L.TLS.Renegotiated && r.handshook && r.state.Version == tls.VersionTLS12 {
		cs := r.tc.ConnectionState()
		L.TLS.Renegotiated = L.TLS.ClientCertRequest == RequestRenegotiation || !bytes.Equal(cs.TLSUnique, r.unique)
	}
	return L.TLS.Renegotiated
}

// handshake runs the TLS handshake and records both directions of it.
func (r *clientRun) handshake() bool {
	L := &r.v.Layers
	start := time.Now()
	r.tc = tls.Client(r.raw, r.tlsConfig())
	hctx, cancel := context.WithTimeout(r.ctx, r.cfg.Timeout)
	err := r.tc.HandshakeContext(hctx)
	cancel()
	L.TLS.Millis = ms(time.Since(start))
	r.state = r.tc.ConnectionState()
	if r.state.Version != 0 {
		L.TLS.Version, L.TLS.Negotiated = tls.VersionName(r.state.Version), r.state.Version
	}
	for _, pc := range r.state.PeerCertificates {
		L.TLS.PeerChain = append(L.TLS.PeerChain, pc.Subject.CommonName)
	}
	if err != nil {
		L.TLS.Status, L.TLS.Error = LayerFailed, err.Error()
		return r.handshakeFailed(err)
	}
	r.handshook, r.unique = true, bytes.Clone(r.state.TLSUnique)
	if L.TLS.ClientCertRequest != RequestSeen {
		// The handshake finished and never asked: in TLS 1.2 and 1.3
		// the CertificateRequest comes before the server's Finished.
		L.TLS.ClientCertRequest = RequestNotSent
	}
	L.TLS.Status, L.TLS.CipherSuite = LayerOK, tls.CipherSuiteName(r.state.CipherSuite)
	L.TLS.Detail = fmt.Sprintf("%s, server certificate %q verified for %s", L.TLS.Version, L.TLS.PeerChain[0], r.cfg.Host())
	if L.TLS.ClientCertSent {
		L.TLS.Detail += fmt.Sprintf(", client certificate %q sent", r.cfg.Encounter.Client.Cert.Subject.CommonName)
	}
	return true
}

// alertReason is the reason of an alert the server sent. Alerts are
// coarse, and a server's alert is sharpened only by what the client knows
// of the certificate it sent, never by guessing:
//   - 45 certificate_expired is what servers (Go, OpenSSL) send for an
//     expired and for a not-yet-valid certificate alike, and OpenSSL 3
//     (Apache's mod_ssl) sends 42 bad_certificate for a not-yet-valid
//     one: the dates of the client's own chain say which; for 45, when by
//     this machine's clock it is neither, the server's clock is the
//     suspect;
//   - 43 unsupported_certificate is OpenSSL's alert for an unsuitable
//     purpose: a leaf whose extended key usage excludes clientAuth names it;
//   - 40 handshake_failure in TLS 1.2, after a CertificateRequest the
//     client answered with no certificate, is how TLS 1.2 servers
//     (OpenSSL's SSL_VERIFY_FAIL_IF_NO_PEER_CERT) refuse a missing one.
func (r *clientRun) alertReason(a *Alert) Reason {
	why := wire.AlertReason(a, PartyServer)
	c, L := r.cfg.Encounter.Client, &r.v.Layers
	switch {
	case *a == wire.AlertHandshakeFailure && r.state.Version == tls.VersionTLS12 && L.TLS.ClientCertRequested && !L.TLS.ClientCertSent:
		return Reason{ID: ReasonCertificateRequired, Text: fmt.Sprintf("the server requires a certificate and none was sent (%s, how TLS 1.2 refuses a missing certificate)", a)}
	case c == nil || c.Cert == nil:
		return why
	case *a == wire.AlertUnsupportedCertificate && !allowsClientAuth(c.Cert):
		return Reason{ID: ReasonIncompatibleKeyUsage, Text: fmt.Sprintf("the server refused the certificate: its extended key usage does not include client authentication (%s, which OpenSSL sends for an unsuitable purpose)", a)}
	case *a != wire.AlertCertificateExpired && *a != wire.AlertBadCertificate:
		return why
	}
	if dated, ok := datedReason(a, append([]*x509.Certificate{c.Cert}, c.Chain...)); ok {
		return dated
	}
	if *a == wire.AlertCertificateExpired {
		stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
		why.Text += fmt.Sprintf("; by this machine's clock the certificate and its chain are valid (the leaf %s to %s): is the server's clock wrong?", stamp(c.Cert.NotBefore), stamp(c.Cert.NotAfter))
	}
	return why
}

// datedReason names the first certificate of the client's chain (the
// leaf, then what it sent above it: an expired intermediate gets the same
// alert) that is out of its dates by this machine's clock.
func datedReason(a *Alert, chain []*x509.Certificate) (Reason, bool) {
	now := time.Now()
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	also := "servers send for a not-yet-valid certificate too"
	if *a == wire.AlertBadCertificate {
		also = "OpenSSL 3 sends for a not-yet-valid certificate"
	}
	for i, cert := range chain {
		what := "the certificate"
		if i > 0 {
			what = fmt.Sprintf("the certificate's issuer %q", cert.Subject.CommonName)
		}
		switch {
		case now.Before(cert.NotBefore):
			return Reason{ID: ReasonNotYetValid, Text: fmt.Sprintf("the server refused the certificate: %s is not valid before %s (%s, which %s)", what, stamp(cert.NotBefore), a, also)}, true
		case now.After(cert.NotAfter):
			return Reason{ID: ReasonExpired, Text: fmt.Sprintf("the server refused the certificate: %s expired at %s (%s)", what, stamp(cert.NotAfter), a)}, true
		}
	}
	return Reason{}, false
}

// allowsClientAuth reports whether a certificate may authenticate a TLS
// client by its extended key usage (none at all allows any use).
func allowsClientAuth(c *x509.Certificate) bool {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return true
	}
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

// handshakeFailed classifies a failed handshake: the client refused the
// server's certificate, the server refused with an alert or by closing,
// or the handshake broke for a reason that is no refusal.
func (r *clientRun) handshakeFailed(err error) bool {
	L, version := &r.v.Layers, r.state.Version
	var cve *tls.CertificateVerificationError
	var revoked *wire.RevokedError
	var unknown *wire.RevocationUnknownError
	switch a := wire.RemoteAlert(err); {
	case errors.As(err, &revoked) || errors.As(err, &unknown):
		why, _ := wire.VerifyReason(err)
		L.TLS.RefusedBy, L.TLS.Reason, L.TLS.Alert = PartyClient, &why, wire.NewAlert(wire.AlertBadCertificate)
		L.TLS.Detail = "the client refused the server certificate: " + why.Text
		return r.end(LayerTLS, RejectedTLS, PartyClient, why)
	case errors.As(err, &cve):
		for _, pc := range cve.UnverifiedCertificates {
			L.TLS.PeerChain = append(L.TLS.PeerChain, pc.Subject.CommonName)
		}
		why, ok := wire.VerifyReason(err)
		if !ok {
			why = Reason{ID: ReasonUnclassified, Text: err.Error()}
		}
		L.TLS.RefusedBy, L.TLS.Reason, L.TLS.Alert = PartyClient, &why, wire.AlertGoSends(err, false, version)
		L.TLS.Detail = "the client refused the server certificate: " + why.Text
		return r.end(LayerTLS, RejectedTLS, PartyClient, why)
	case a != nil:
		L.TLS.RefusedBy, L.TLS.Alert = PartyServer, a
		if ok, because := clientCertAlert(a, version, L.TLS.ClientCertRequested, false); !ok {
			why := Reason{ID: ReasonTLSAlert, Text: fmt.Sprintf("the server aborted the handshake with %s, which is not a refusal of the client certificate: %s", a, because)}
			L.TLS.Reason, L.TLS.Detail = &why, why.Text
			return r.end(LayerTLS, ConnectFailed, "", why)
		}
		why := r.alertReason(a)
		L.TLS.Reason = &why
		L.TLS.Detail = "the server aborted the handshake with " + a.String()
		return r.end(LayerTLS, RejectedTLS, PartyServer, why)
	case wire.IsTimeout(err):
		why := Reason{ID: ReasonHandshakeTimeout, Text: fmt.Sprintf("the TLS handshake did not finish within %s", r.cfg.Timeout)}
		L.TLS.Detail = why.Text
		return r.end(LayerTLS, ConnectFailed, "", why)
	case wire.IsClosed(err) && version == tls.VersionTLS12 && L.TLS.ClientCertRequested:
		// TLS 1.2: the client's certificate went out before the
		// server's Finished, and the server hung up on it.
		why := Reason{ID: ReasonHandshakeAborted, Text: "TLS 1.2: after asking for the client certificate, the server closed the connection during the handshake without a TLS alert"}
		L.TLS.RefusedBy, L.TLS.Reason, L.TLS.Detail = PartyServer, &why, why.Text
		return r.end(LayerTLS, RejectedTLS, PartyServer, why)
	case wire.IsClosed(err):
		when := "before asking for a client certificate"
		switch {
		case version == 0:
			when = "before its ServerHello (not a TLS server on this port, or one that refuses this TLS version without saying so)"
		case version == tls.VersionTLS13:
			when = "before the client had sent its certificate (TLS 1.3 sends it at the end of the client's handshake)"
		}
		why := Reason{ID: ReasonHandshakeAborted, Text: "the server closed the connection during the handshake without a TLS alert, " + when + ": not a refusal of the client certificate"}
		L.TLS.Reason, L.TLS.Detail = &why, why.Text
		return r.end(LayerTLS, ConnectFailed, "", why)
	}
	why := Reason{ID: ReasonUnclassified, Text: err.Error()}
	L.TLS.Detail = "the handshake failed: " + err.Error()
	return r.end(LayerTLS, ConnectFailed, "", why)
}

// lateRefusal reports a TLS alert that arrives after the client's
// handshake finished: in TLS 1.3 the server checks the client certificate
// after the client is done, so its refusal shows up on the first read
// (during the upgrade, or the echo).
func (r *clientRun) lateRefusal(a *Alert, layer *Layer, at LayerName) bool {
	L := &r.v.Layers
	if r.renegotiated() && !r.settled {
		return r.renegotiationRefusal(a, layer)
	}
	if ok, because := clientCertAlert(a, r.state.Version, L.TLS.ClientCertRequested, true); !ok {
		why := Reason{ID: ReasonTLSAlert, Text: fmt.Sprintf("after the client's handshake finished, the server sent %s, which is not a refusal of the client certificate: %s", a, because)}
		L.TLS.Alert, L.TLS.LateAlert = a, true
		layer.Detail = why.Text
		if at == LayerHTTP {
			return r.end(LayerHTTP, NoUpgrade, "", why)
		}
		return r.end(LayerWS, NoEcho, "", why)
	}
	why := r.alertReason(a)
	L.TLS.Status, L.TLS.RefusedBy, L.TLS.Reason, L.TLS.Alert, L.TLS.LateAlert = LayerFailed, PartyServer, &why, a, true
	L.TLS.Detail = fmt.Sprintf("the client's handshake finished, then the server refused it with %s on the first read (%s)", a, L.TLS.Version)
	layer.Status, layer.Detail = LayerSkipped, "not reached: the server refused the TLS connection"
	return r.end(LayerTLS, RejectedTLS, PartyServer, why)
}

// renegotiationRefusal reports an alert from a TLS 1.2 server that
// renegotiated after the request: the alert ended a TLS handshake, the
// second, so it is judged as an alert in the first would be (40
// handshake_failure after an empty Certificate is how TLS 1.2 refuses a
// missing certificate), and a refusal there is a TLS refusal, also for
// --strict-tls: no HTTP answer came and the request went no further.
func (r *clientRun) renegotiationRefusal(a *Alert, layer *Layer) bool {
	L := &r.v.Layers
	L.TLS.Status, L.TLS.Alert, L.TLS.LateAlert = LayerFailed, a, true
	layer.Status, layer.Detail = LayerSkipped, "not reached: the renegotiation the server started after the request failed"
	if ok, because := clientCertAlert(a, r.state.Version, L.TLS.ClientCertRequested, false); !ok {
		why := Reason{ID: ReasonTLSAlert, Text: fmt.Sprintf("after the upgrade request the server renegotiated and aborted that handshake with %s, which is not a refusal of the client certificate: %s", a, because)}
		L.TLS.Reason, L.TLS.Detail = &why, why.Text
		return r.end(LayerTLS, ConnectFailed, "", why)
	}
	why := r.alertReason(a)
	why.Text += "; the server asked for the certificate not in the handshake but in a renegotiation after the request, and refused it there"
	L.TLS.RefusedBy, L.TLS.Reason = PartyServer, &why
	L.TLS.Detail = fmt.Sprintf("%s; after the upgrade request the server renegotiated, asked for the client certificate and refused it with %s", L.TLS.Detail, a)
	return r.end(LayerTLS, RejectedTLS, PartyServer, why)
}

// renegotiationNote is added to the verdict of an encounter that got in
// through a renegotiation: clients that do not renegotiate would not.
func (r *clientRun) renegotiationNote() string {
	L := &r.v.Layers
	switch {
	case !r.renegotiated():
		return ""
	case L.TLS.ClientCertRequest == RequestRenegotiation:
		return "; the server asked for the client certificate only in a TLS 1.2 renegotiation after the request, which the reference client answered: " +
			"clients that do not renegotiate (Go's crypto/tls by default, every HTTP/2 client; --no-renegotiation) cannot get in"
	}
	return "; the server renegotiated after the request (TLS 1.2), which the reference client answered"
}

// upgrade sends the WebSocket upgrade over the verified connection and
// sorts the answer.
func (r *clientRun) upgrade() bool {
	L := &r.v.Layers
	start := time.Now()
	L.HTTP.Status = LayerFailed
	ws, resp, timedOut, err := wire.DialUpgrade(r.ctx, r.tc, r.cfg.URL(), r.cfg.Timeout)
	L.HTTP.Millis = ms(time.Since(start))
	if err != nil {
		L.HTTP.Error = err.Error()
		return r.noUpgrade(wire.ClassifyUpgrade(resp, timedOut, err), resp, err)
	}
	r.ws, r.settled = ws, r.renegotiated()
	L.HTTP.Status, L.HTTP.StatusCode = LayerOK, http.StatusSwitchingProtocols
	L.HTTP.Detail = "101 Switching Protocols" + r.renegotiationNote()
	if L.TLS.ClientCertRequest == RequestRenegotiation && L.TLS.ClientCertSent {
		L.TLS.Detail += "; after the upgrade request the server renegotiated and asked for the client certificate, which was sent"
	}
	if r.cfg.AcceptOnUpgrade {
		deadline := time.Now().Add(r.cfg.Timeout)
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"), deadline)
		L.WS.Detail = "not checked (--accept-on upgrade)"
		return r.end(LayerHTTP, Accepted, "", Reason{ID: ReasonUpgraded, Text: "the server answered 101 Switching Protocols; the echo was not checked (--accept-on upgrade)" + r.renegotiationNote()})
	}
	return true
}

// noUpgrade ends an encounter whose upgrade got no valid 101: a late TLS
// refusal, an HTTP status, a broken or oversized answer, or none at all.
func (r *clientRun) noUpgrade(kind wire.UpgradeAnswer, resp *http.Response, err error) bool {
	L := &r.v.Layers
	switch kind {
	case wire.AnswerAlert:
		L.HTTP.Error = ""
		return r.lateRefusal(wire.RemoteAlert(err), &L.HTTP.Layer, LayerHTTP)
	case wire.AnswerTooLarge:
		why := Reason{ID: ReasonBadUpgrade, Text: fmt.Sprintf("the server's answer to the upgrade request did not end its headers within %d bytes", MaxHeaderBytes)}
		L.HTTP.Detail = why.Text
		return r.end(LayerHTTP, NoUpgrade, "", why)
	case wire.AnswerStatus, wire.AnswerBad101:
		return r.answered(resp)
	}
	var why Reason
	requested := r.state.Version == tls.VersionTLS13 && L.TLS.ClientCertRequested
	switch {
	case kind == wire.AnswerTimeout:
		why = Reason{ID: ReasonUpgradeTimeout, Text: fmt.Sprintf("%s but the server did not answer the upgrade request within %s", r.handshakeWords(), r.cfg.Timeout)}
	case kind == wire.AnswerClosed && requested && !r.tickets.got() && !r.cfg.ticketBaseline:
		why = Reason{ID: ReasonClosedBeforeUpgrade, Text: "TLS 1.3: after the client's handshake finished, the server closed the connection without an alert, a session ticket or an HTTP answer; cannot tell whether the certificate was refused (the valid-client control got no session ticket from this server to compare with)"}
		L.TLS.Ambiguous = true
	case kind == wire.AnswerClosed && requested && !r.tickets.got():
		// Servers that drop a refused TLS 1.3 client without sending
		// the alert (Python's asyncio does) look like this.
		why := Reason{ID: ReasonHandshakeAborted, Text: "TLS 1.3: after the client's handshake finished, the server closed the connection without an alert, a session ticket or an HTTP answer, where it sent the valid-client control a ticket: a refusal of the client certificate whose alert was not sent"}
		L.HTTP.Status, L.HTTP.Detail = LayerSkipped, "not reached: the server refused the TLS connection"
		L.TLS.Status, L.TLS.RefusedBy, L.TLS.Reason, L.TLS.LateAlert, L.TLS.Detail = LayerFailed, PartyServer, &why, true, why.Text
		return r.end(LayerTLS, RejectedTLS, PartyServer, why)
	case kind == wire.AnswerClosed:
		why = Reason{ID: ReasonClosedBeforeUpgrade, Text: r.handshakeWords() + " but the server closed the connection without answering the upgrade request"}
	case isNoRenegotiation(err):
		why = Reason{ID: ReasonRenegotiation, Text: renegotiationWords(r.cfg.NoRenegotiation)}
	default:
		why = Reason{ID: ReasonUnclassified, Text: err.Error()}
	}
	L.HTTP.Detail = why.Text
	return r.end(LayerHTTP, NoUpgrade, "", why)
}

// renegotiationWords explain a TLS 1.2 HelloRequest after the upgrade
// request that the reference client refused: crypto/tls answers it with
// no_renegotiation and reports a local error. It takes part in one
// renegotiation unless --no-renegotiation says not to; a second one it
// refuses, since no server needs two to ask for a certificate.
func renegotiationWords(optedOut bool) string {
	const asks = "TLS 1.2: after the upgrade request the server asked to renegotiate (a HelloRequest), " +
		"which is how a server asks for a client certificate it did not ask for in the handshake (Apache's SSLVerifyClient inside <Location> or <Directory>, IIS); "
	if !optedOut {
		return asks + "it asked again after the renegotiation the reference client took part in, and the client refused the second one (no_renegotiation), so the upgrade was never answered"
	}
	return asks + "the reference client (--no-renegotiation), like Go's crypto/tls by default and every HTTP/2 client, does not renegotiate and answered no_renegotiation, so the upgrade was never answered: " +
		"ask for the client certificate in the handshake (Apache: SSLVerifyClient require for the whole virtual host)"
}

// isNoRenegotiation: the client refused the server's HelloRequest.
func isNoRenegotiation(err error) bool {
	a := wire.LocalAlert(err)
	return a != nil && *a == wire.AlertNoRenegotiation
}

// postHandshakeAuthWords are added to a TLS 1.3 refusal by a server that
// never asked for a client certificate in the handshake: one that wants it
// for some paths only can ask after the handshake (post-handshake
// authentication), and refuses clients that did not offer that.
const postHandshakeAuthWords = "; the server never asked for a client certificate in the handshake: a server that wants one only for some paths asks after it, " +
	"by TLS 1.3 post-handshake authentication, which the reference client (like Go's crypto/tls and Chrome) does not offer, and refuses the request " +
	"(Apache: 403, its log says AH10158 \"cannot perform post-handshake authentication\"); if so, ask for the certificate in the handshake (SSLVerifyClient require for the whole virtual host)"

// handshakeWords says how far TLS got, for an upgrade that got no answer:
// in TLS 1.3 the client's side of the handshake finishes before the
// server's, so only that much is known.
func (r *clientRun) handshakeWords() string {
	if r.state.Version == tls.VersionTLS13 {
		return "the client's side of the TLS 1.3 handshake finished"
	}
	return "TLS is fine"
}

// answered records an HTTP answer other than a valid 101: a status (a
// refusal by the server at the HTTP layer), or a 101 without the
// WebSocket headers.
func (r *clientRun) answered(resp *http.Response) bool {
	L := &r.v.Layers
	L.HTTP.StatusCode, L.HTTP.ServerHeader = resp.StatusCode, resp.Header.Get("Server")
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	L.HTTP.BodyPrefix = string(wire.Prefix(body.Bytes(), 256))
	L.HTTP.CertificateRefusal = wire.CertRefusal(resp.StatusCode, body.Bytes())
	if resp.StatusCode == http.StatusSwitchingProtocols {
		why := Reason{ID: ReasonBadUpgrade, Text: "the server answered 101 without valid Upgrade, Connection and Sec-WebSocket-Accept headers"}
		L.HTTP.Detail = why.Text
		return r.end(LayerHTTP, NoUpgrade, "", why)
	}
	why := Reason{ID: ReasonHTTPStatus, Text: fmt.Sprintf("the server answered %s instead of 101", resp.Status)}
	if t := wire.HTMLTitle(body.Bytes()); t != "" {
		why.Text += fmt.Sprintf(": %q", t)
	} else if L.HTTP.BodyPrefix != "" {
		why.Text += fmt.Sprintf(": %q", L.HTTP.BodyPrefix)
	}
	L.HTTP.Detail = why.Text
	if resp.StatusCode/100 != 4 {
		// A 5xx (a proxy whose backend is down) or any other status is
		// the server failing, not refusing anyone.
		return r.end(LayerHTTP, RejectedHTTP, "", why)
	}
	why.Text += ", after a completed TLS handshake"
	if r.state.Version == tls.VersionTLS13 && !L.TLS.ClientCertRequested && r.cfg.Encounter.Client != nil {
		why.Text += postHandshakeAuthWords
	}
	L.HTTP.Detail = why.Text
	return r.end(LayerHTTP, RejectedHTTP, PartyServer, why)
}

// echo is the WebSocket round trip: a writer sends every message while
// the reader checks each echo in order, all within one timeout.
func (r *clientRun) echo() bool {
	L, ws := &r.v.Layers, r.ws
	start := time.Now()
	L.WS.Status = LayerFailed
	ws.SetReadLimit(MaxMessageSize)
	deadline := start.Add(r.cfg.Timeout)
	_ = ws.SetReadDeadline(deadline)
	_ = ws.SetWriteDeadline(deadline)
	msgs := r.cfg.Encounter.Messages
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
		_ = r.raw.Close() // unblock the writer
	}
	s := <-done
	L.WS.Millis = ms(time.Since(start))
	L.WS.Sent, L.WS.BytesSent = s.n, s.bytes
	if readErr != nil {
		return r.echoFailed(readErr, len(msgs))
	}
	if mismatch != "" {
		why := Reason{ID: ReasonEchoMismatch, Text: mismatch}
		L.WS.Detail = why.Text
		return r.end(LayerWS, NoEcho, "", why)
	}
	if s.err != nil { // every echo arrived yet a write failed: cannot happen, but never hide it
		L.WS.Error = s.err.Error()
	}
	L.WS.Status, L.WS.ByteExact = LayerOK, true
	L.WS.Detail = fmt.Sprintf("%d of %d messages (%d bytes) echoed byte-exact", L.WS.Echoed, len(msgs), L.WS.BytesEchoed)
	return true
}

// echoFailed classifies a read that failed before every echo came back.
func (r *clientRun) echoFailed(readErr error, total int) bool {
	L := &r.v.Layers
	L.WS.Error = readErr.Error()
	if a := wire.RemoteAlert(readErr); a != nil {
		return r.lateRefusal(a, &L.WS.Layer, LayerWS)
	}
	var ce *websocket.CloseError
	var why Reason
	switch {
	case errors.As(readErr, &ce):
		why = Reason{ID: ReasonEchoClosed, Text: fmt.Sprintf("after 101 the server closed with %d %q; %d of %d messages echoed", ce.Code, ce.Text, L.WS.Echoed, total)}
	case errors.Is(readErr, websocket.ErrReadLimit):
		why = Reason{ID: ReasonEchoMismatch, Text: fmt.Sprintf("after 101 the server sent a message larger than the %d-byte read limit (closed with 1009 before reading it); %d of %d messages echoed", MaxMessageSize, L.WS.Echoed, total)}
	case wire.IsTimeout(readErr):
		why = Reason{ID: ReasonEchoTimeout, Text: fmt.Sprintf("after 101, %d of %d messages came back within %s", L.WS.Echoed, total, r.cfg.Timeout)}
	case wire.IsClosed(readErr):
		why = Reason{ID: ReasonEchoClosed, Text: fmt.Sprintf("after 101 the server dropped the connection; %d of %d messages echoed", L.WS.Echoed, total)}
	default:
		why = Reason{ID: ReasonUnclassified, Text: readErr.Error()}
	}
	L.WS.Detail = why.Text
	return r.end(LayerWS, NoEcho, "", why)
}

// closeHandshake sends 1000 and waits for the server's close frame; the
// encounter is accepted whatever the answer (the close layer records it).
func (r *clientRun) closeHandshake() {
	L, ws := &r.v.Layers, r.ws
	start := time.Now()
	L.Close.Status = LayerFailed
	deadline := start.Add(r.cfg.Timeout)
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
	r.end(LayerWS, Accepted, "", Reason{ID: ReasonEchoVerified, Text: L.WS.Detail + r.renegotiationNote()})
}
