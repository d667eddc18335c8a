package harness

import (
	"fmt"
	"time"
)

// Outcome is what happened to an encounter, as the client saw it.
type Outcome string

// The outcomes. Their spelling is part of the JSON schema.
const (
	// Accepted: TLS and the upgrade succeeded and every message came back
	// byte-exact.
	Accepted Outcome = "accepted"
	// RejectedTLS: one side refused the TLS handshake (Verdict.RefusedBy
	// says which, Verdict.Reason why).
	RejectedTLS Outcome = "rejected-tls"
	// RejectedHTTP: TLS succeeded and the server answered the upgrade
	// request with a status other than 101. For a 4xx RefusedBy is the
	// server; a 5xx is the server failing, refused by nobody.
	RejectedHTTP Outcome = "rejected-http"
	// NoUpgrade: TLS succeeded but no HTTP answer to the upgrade came
	// before the timeout or before the connection closed, or the answer
	// was a broken 101.
	NoUpgrade Outcome = "no-upgrade"
	// NoEcho: the server answered 101 but a message never came back, or
	// came back different.
	NoEcho Outcome = "no-echo"
	// ConnectFailed: no TCP connection, or the TLS handshake never
	// finished (a silent peer), or an external client never connected.
	ConnectFailed Outcome = "connect-failed"
	// Skipped: the scenario cannot be set up with the run's CA (a store
	// whose root may not sign intermediates, say); it neither passes nor
	// fails the run, and the reason says why.
	Skipped Outcome = "skipped"
)

// LayerName names a layer of an encounter, bottom up: tcp, tls, http
// (the upgrade), ws (the echo) and close. Their spelling is part of the
// JSON schema.
type LayerName string

// The layers, bottom up.
const (
	LayerTCP   LayerName = "tcp"
	LayerTLS   LayerName = "tls"
	LayerHTTP  LayerName = "http"
	LayerWS    LayerName = "ws"
	LayerClose LayerName = "close"
)

// layerOrder ranks the layers bottom up; an unknown name ranks lowest.
var layerOrder = map[LayerName]int{LayerTCP: 1, LayerTLS: 2, LayerHTTP: 3, LayerWS: 4, LayerClose: 5}

// Below reports whether l is a lower layer than m.
func (l LayerName) Below(m LayerName) bool { return layerOrder[l] < layerOrder[m] }

// CertRequest is what the client knows of the server's CertificateRequest.
type CertRequest string

// The states of a CertificateRequest, as the client saw it.
const (
	// RequestSeen: the server asked for a client certificate.
	RequestSeen CertRequest = "requested"
	// RequestNotSent: the handshake finished without the server asking
	// (the request comes before the server's Finished in TLS 1.2 and 1.3).
	RequestNotSent CertRequest = "not-requested"
	// RequestRenegotiation: the handshake finished without the server
	// asking, and it asked later, in a TLS 1.2 renegotiation it started
	// after the request (Apache's SSLVerifyClient inside <Location>).
	RequestRenegotiation CertRequest = "renegotiation"
	// RequestUnknown: the handshake ended before the client could tell
	// (it refused the server's certificate first, say).
	RequestUnknown CertRequest = "unknown"
)

// LayerStatus is how far a layer got.
type LayerStatus string

const (
	// LayerOK: the layer did its job.
	LayerOK LayerStatus = "ok"
	// LayerFailed: the layer is where the encounter stopped.
	LayerFailed LayerStatus = "failed"
	// LayerSkipped: an earlier layer stopped the encounter.
	LayerSkipped LayerStatus = "skipped"
)

// Layer is the evidence common to every layer.
type Layer struct {
	Status LayerStatus `json:"status"`
	// Detail says in plain words what happened.
	Detail string `json:"detail,omitempty"`
	// Error is the raw error text, when there was one.
	Error string `json:"error,omitempty"`
	// Millis is how long the layer took.
	Millis float64 `json:"ms"`
}

// TCPLayer is the evidence of the TCP connection.
type TCPLayer struct {
	Layer
	// Addr is the loopback address dialled.
	Addr string `json:"addr"`
}

// TLSLayer is the evidence of the TLS handshake, both directions.
type TLSLayer struct {
	Layer
	Version     string `json:"version,omitempty"`
	CipherSuite string `json:"cipher_suite,omitempty"`
	// ServerName is the name the client verified the server against.
	ServerName string `json:"server_name"`
	// PeerChain lists the subjects of the certificates the server sent.
	PeerChain []string `json:"server_chain,omitempty"`
	// Negotiated is the version as a number (tls.VersionTLS13), 0 when
	// none was negotiated; Version spells it for people.
	Negotiated uint16 `json:"-"`
	// ClientCertRequested says whether the server asked for a client
	// certificate; ClientCertRequest also says when the handshake did
	// not get far enough to know. ClientCertSent says whether the client
	// sent one.
	ClientCertRequested bool        `json:"client_cert_requested"`
	ClientCertRequest   CertRequest `json:"client_cert_request,omitempty"`
	ClientCertSent      bool        `json:"client_cert_sent"`
	// Renegotiated is true when a TLS 1.2 server started a second
	// handshake after the first (a HelloRequest) and the client took part
	// in it, whether or not it completed.
	Renegotiated bool `json:"renegotiated,omitempty"`
	// RefusedBy is the side that refused the handshake, if any.
	RefusedBy Party `json:"refused_by,omitempty"`
	// Reason is why, classified from a typed error or the alert.
	Reason *Reason `json:"reason,omitempty"`
	// Alert is the TLS alert that carried the refusal: the one the client
	// received from the server, or the one it sent.
	Alert *Alert `json:"alert,omitempty"`
	// LateAlert is true when the server's refusal arrived after the
	// client's handshake had finished (TLS 1.3 client certificates).
	LateAlert bool `json:"late_alert,omitempty"`
	// Ambiguous is true when the encounter ended in a way that, in TLS
	// 1.3, cannot tell a refusal of the client certificate from a
	// breakage (a close without an alert after the client's Finished).
	Ambiguous bool `json:"ambiguous,omitempty"`
	// SessionTicket is true when the server sent a TLS 1.3 session
	// ticket (the reference client records it; the valid-client control's
	// ticket is the baseline for servers that close without an alert).
	SessionTicket bool `json:"session_ticket,omitempty"`
}

// HTTPLayer is the evidence of the upgrade request.
type HTTPLayer struct {
	Layer
	URL string `json:"url,omitempty"`
	// StatusCode is the server's answer, 0 when none came.
	StatusCode int `json:"status_code,omitempty"`
	// ServerHeader is the answer's Server header ("nginx/1.22.1").
	ServerHeader string `json:"server_header,omitempty"`
	// BodyPrefix is the start of a non-101 answer's body (up to 256 bytes).
	BodyPrefix string `json:"body_prefix,omitempty"`
	// CertificateRefusal is true when the answer's own words speak of a
	// certificate (495 or 496, or a 400, 401 or 403 whose body mentions
	// one, as nginx's pages do). It is evidence shown to people, never
	// the test: whether a refusal is the certificate's doing is decided
	// by the side's control, identical but for the certificate.
	CertificateRefusal bool `json:"certificate_refusal,omitempty"`
}

// WSLayer is the evidence of the message round trip.
type WSLayer struct {
	Layer
	Sent        int   `json:"sent"`
	Echoed      int   `json:"echoed"`
	BytesSent   int64 `json:"bytes_sent"`
	BytesEchoed int64 `json:"bytes_echoed"`
	// ByteExact is true when every message came back identical, with
	// the same type (text or binary).
	ByteExact bool `json:"byte_exact"`
}

// CloseLayer is the evidence of the closing handshake.
type CloseLayer struct {
	Layer
	// Code is the close code the server answered with, 0 for none.
	Code int `json:"code,omitempty"`
}

// Layers is the evidence of one encounter, as the client saw it.
type Layers struct {
	TCP   TCPLayer   `json:"tcp"`
	TLS   TLSLayer   `json:"tls"`
	HTTP  HTTPLayer  `json:"http"`
	WS    WSLayer    `json:"ws"`
	Close CloseLayer `json:"close"`
}

// Verdict is what happened in one encounter, with the evidence.
type Verdict struct {
	Outcome Outcome `json:"outcome"`
	// RefusedBy is the side that refused (rejected-* outcomes only).
	RefusedBy Party `json:"refused_by,omitempty"`
	// Layer is where the encounter ended: tcp, tls, http, ws or close.
	Layer LayerName `json:"layer"`
	// Reason says why, as a stable ID and plain words.
	Reason Reason `json:"reason"`
	// Layers is the client's view, layer by layer.
	Layers Layers `json:"layers"`
	// Server is what the server saw, when the server can tell (the
	// reference server and the negative controls can).
	Server *ServerObservation `json:"server,omitempty"`
	// Client is what an external client command did: its exit status
	// and the last lines of its output (--client-cmd only).
	Client *ClientProcess `json:"client,omitempty"`
	// Revocation is what the client asked of the CRL and OCSP service
	// the encounter ran (server-revoked only).
	Revocation *RevocationLayer `json:"revocation,omitempty"`
	// Rotation is what server-cert-rotation saw (rotation.go).
	Rotation *RotationLayer `json:"rotation,omitempty"`
	// Session is what the during-connection scenarios saw
	// (rotation_session.go).
	Session *SessionLayer `json:"session,omitempty"`
	// CARotation is what client-ca-rotation saw (rotation_ca.go).
	CARotation *CARotationLayer `json:"ca_rotation,omitempty"`
	// ClientRotation is what server-cert-rotation-client saw
	// (rotation_client.go).
	ClientRotation *ClientRotationLayer `json:"client_rotation,omitempty"`
}

// ClientProcess is the evidence of one run of an external client command.
type ClientProcess struct {
	// Argv is the command as run, placeholders filled in.
	Argv []string `json:"argv"`
	// ExitCode is the exit status; -1 when it was killed.
	ExitCode int `json:"exit_code"`
	// TimedOut is true when it was killed at the command timeout.
	TimedOut bool `json:"timed_out,omitempty"`
	// Error is set when the command could not be started.
	Error string `json:"error,omitempty"`
	// Output is the last lines of its stdout and stderr, interleaved.
	Output []string `json:"output,omitempty"`
	Millis float64  `json:"ms"`
}

// Result is one scenario's verdict and whether it matched the expectation.
type Result struct {
	Scenario Scenario `json:"-"`
	Verdict
	// Pass is true when the outcome matched the expectation.
	Pass bool `json:"pass"`
	// Inconclusive is true when what was seen cannot tell pass from
	// fail: a refusal at a layer where the side's control (valid-client
	// for the server side, valid-server for the client side) failed too,
	// or below it (a subject that refuses everything says nothing about
	// the certificate); or a TLS 1.3 close that the TLS 1.2 re-run could
	// not decide. It is not a pass.
	Inconclusive bool `json:"inconclusive,omitempty"`
	// Observed is true for a scenario that reports what the subject did
	// instead of judging it (Expect Observe, with no expectation set for
	// the run): it neither passes nor fails the run, and its Reason says
	// what was seen, what it means and how to change it.
	Observed bool `json:"observed,omitempty"`
	// Control is true for a valid-client or valid-server result the run
	// added as the control of the reject scenarios that were selected.
	Control bool `json:"control,omitempty"`
	// Above says what broke above the layer this scenario judged: a
	// refusal in the TLS handshake is conclusive when the side's control
	// got past TLS, even if the control then failed higher up (a server
	// that refuses every bad certificate, then never answers the upgrade
	// of a good one).
	Above string `json:"above,omitempty"`
	// TLS13 is the first observation of an encounter whose TLS 1.3
	// outcome could not tell a refusal from a breakage (a close without
	// an alert after the client's Finished); the run re-ran it pinned to
	// TLS 1.2, and Verdict is that observation.
	TLS13 *Verdict `json:"tls13_observation,omitempty"`
	// Mismatch says why a result did not pass.
	Mismatch string        `json:"mismatch,omitempty"`
	Duration time.Duration `json:"-"`
}

// certRequestOf is what the client knew of the CertificateRequest; a
// layer recorded without the tri-state (an external subject's) falls
// back to the bool.
func certRequestOf(t TLSLayer) CertRequest {
	switch {
	case t.ClientCertRequest != "":
		return t.ClientCertRequest
	case t.ClientCertRequested:
		return RequestSeen
	}
	return RequestNotSent
}

// Asked reports whether the server asked for a client certificate at
// all, in the handshake or in a renegotiation: either way it had the
// chance to refuse one in a TLS handshake.
func (c CertRequest) Asked() bool { return c == RequestSeen || c == RequestRenegotiation }

// judge decides whether a verdict meets a scenario's expectation. An
// accept scenario needs an accepted outcome. A reject scenario needs the
// judged side to refuse: at the TLS layer, or for a server also with an
// HTTP 4xx before the upgrade (which runJobs then attributes to the
// certificate only if the side's control, identical but for the
// certificate, got past it). A hang, a missing echo or a refusal by the
// side that is not judged is not a rejection.
//
// With strictTLS a server's refusal must happen in the TLS handshake: an
// HTTP 4xx after a completed handshake (nginx's 400 "No required SSL
// certificate was sent") fails. For an external client (v.Client set) the
// exit status must agree: 0 for an accepted encounter, non-zero for a
// refusal; and a client that sent application data to a server it should
// have refused fails whatever it did afterwards.
func judge(s Scenario, v Verdict, strictTLS bool) (bool, string) {
	if v.Outcome == Skipped {
		return true, ""
	}
	if v.Client != nil {
		if ok, why := judgeClientProcess(s, v); !ok {
			return false, why
		}
	}
	switch s.Expect {
	case Accept:
		if v.Outcome == Accepted {
			return true, ""
		}
		why := fmt.Sprintf("expected accept, got %s: %s", v.Outcome, v.Reason.Text)
		if s.ChainHint != "" && v.RefusedBy == PartyClient && v.Reason.ID == ReasonUnknownCA && len(v.Layers.TLS.PeerChain) == 1 {
			why += s.ChainHint
		}
		return false, why
	case Reject:
		judged := PartyServer
		if s.Side == ClientSide {
			judged = PartyClient
		}
		// A server that never asked for a client certificate cannot have
		// refused one, whatever it did to the connection afterwards; and
		// a client that stopped before it could see the request cannot
		// say whether one came.
		if req := certRequestOf(v.Layers.TLS); s.Side == ServerSide && v.Client == nil && !req.Asked() {
			switch {
			case v.Outcome == Accepted:
				return false, "expected the server to refuse, but it never requested a client certificate and accepted the connection without one"
			case req == RequestUnknown:
				return false, fmt.Sprintf("expected the server to refuse the client certificate, but the encounter ended before the client could see whether the server asks for one: %s, %s", v.Outcome, v.Reason.Text)
			}
			return false, fmt.Sprintf("expected the server to refuse the client certificate, but it never requested one (its handshake finished without a CertificateRequest), so it did not refuse a certificate: %s, %s", v.Outcome, v.Reason.Text)
		}
		switch v.Outcome {
		case RejectedTLS, RejectedHTTP:
			if st := v.Layers.HTTP.StatusCode; v.Outcome == RejectedHTTP && (st < 400 || st > 499) && st != 495 && st != 496 {
				return false, fmt.Sprintf("expected the %s to refuse, but it answered %d, which is not a refusal of the client (only a 4xx is): %s", judged, st, v.Reason.Text)
			}
			if v.RefusedBy == judged && v.Outcome == RejectedHTTP && strictTLS {
				return false, fmt.Sprintf("expected a TLS-level refusal (--strict-tls), but the server completed the handshake and refused at the HTTP layer: %s", v.Reason.Text)
			}
			if v.RefusedBy == judged {
				return true, ""
			}
			return false, fmt.Sprintf("expected the %s to refuse, but the %s refused: %s", judged, v.RefusedBy, v.Reason.Text)
		case Accepted:
			return false, fmt.Sprintf("expected the %s to refuse, but the connection was accepted and messages echoed", judged) + revocationNote(v, judged) + s.AcceptHint
		}
		return false, fmt.Sprintf("expected the %s to refuse, got %s: %s", judged, v.Outcome, v.Reason.Text)
	}
	return false, fmt.Sprintf("scenario has no expectation %q", s.Expect)
}

// judgeClientProcess checks an external client's exit status and data
// against what the server saw.
func judgeClientProcess(s Scenario, v Verdict) (bool, string) {
	c := v.Client
	sentData := v.Server != nil && (v.Server.HTTP.RequestReceived || v.Server.HTTP.BytesReceived > 0)
	if s.Side == ClientSide && s.Expect == Reject && sentData {
		what := "application data"
		if v.Server.HTTP.RequestReceived {
			what = fmt.Sprintf("an HTTP request (%s %s)", v.Server.HTTP.Method, v.Server.HTTP.Path)
		}
		return false, fmt.Sprintf("the client sent %s to a server it should have refused (exit %d)", what, c.ExitCode) + revocationNote(v, PartyClient) + s.AcceptHint
	}
	switch {
	case c.Error != "":
		return false, "the client command could not be run: " + c.Error
	case c.TimedOut:
		return false, "the client command did not exit before the command timeout and was killed"
	case v.Outcome == Accepted && c.ExitCode != 0:
		return false, fmt.Sprintf("the server echoed the message but the client exited %d", c.ExitCode)
	case v.Outcome != Accepted && c.ExitCode == 0:
		return false, fmt.Sprintf("the client exited 0 (success) although the encounter ended %s: %s", v.Outcome, v.Reason.Text)
	}
	return true, ""
}
