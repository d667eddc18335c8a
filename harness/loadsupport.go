package harness

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/mtlskit/mtlskit/internal/wire"
)

// This file exports, for a client that runs its own phases (package load,
// thousands of connections with their own timings), the two things it
// must not do differently from the harness: name how an encounter ended,
// and wait for a server to be ready. Both call the harness's own code.

// Failure is an encounter that ended early, described by what the client
// saw, so that a client running its own phases can have it named exactly
// as the reference client names it.
type Failure struct {
	// Layer is the phase that failed: LayerTLS (the handshake), LayerHTTP
	// (the upgrade, DialUpgrade's error) or LayerWS (a read of an echo,
	// or of anything after the 101).
	Layer LayerName
	// Err is the phase's error.
	Err error
	// Response and TimedOut are what wire.DialUpgrade returned with Err
	// (LayerHTTP only).
	Response *http.Response
	TimedOut bool
	// Version is the negotiated TLS version (ConnectionState.Version), 0
	// when none was. ClientCertRequested says whether the server asked
	// for a client certificate (GetClientCertificate ran).
	Version             uint16
	ClientCertRequested bool
	// SessionTicket says whether the server sent this connection a TLS
	// 1.3 session ticket; TicketBaseline whether it sent one to a valid
	// client on the same subject (WaitReady's verdict shows it). A TLS
	// 1.3 close without an alert, a ticket or an answer is a refusal only
	// against such a baseline.
	SessionTicket, TicketBaseline bool
	// Echoed of Messages came back before a LayerWS read failed.
	Echoed, Messages int
	// Timeout is the phase's limit, for the words of a timeout (0 means
	// DefaultTimeout).
	Timeout time.Duration
}

// Classify is the verdict the reference client gives such an encounter:
// its Outcome, Layer (where the encounter ended: a TLS 1.3 refusal read
// during the upgrade ends at tls), RefusedBy and Reason, with the evidence
// of the layers involved (Layers.TLS.Alert, Layers.HTTP.StatusCode, ...).
// It runs the reference client's own phase classification, so the two
// cannot drift apart. A failed TCP connection is not a Failure: it is
// named from wire.IsRefused and wire.IsTimeout (connect-refused,
// connect-timeout), as the reference client's dial does.
func (f Failure) Classify() Verdict {
	if f.Err == nil {
		f.Err = errors.New("no error was recorded")
	}
	if f.Timeout <= 0 {
		f.Timeout = DefaultTimeout
	}
	r := &clientRun{cfg: ClientConfig{Timeout: f.Timeout, ticketBaseline: f.TicketBaseline}, tickets: &ticketRecorder{put: f.SessionTicket}}
	L := &r.v.Layers
	for _, st := range []*LayerStatus{&L.TCP.Status, &L.TLS.Status, &L.HTTP.Status, &L.WS.Status, &L.Close.Status} {
		*st = LayerSkipped
	}
	L.TCP.Status = LayerOK
	r.state.Version = f.Version
	if f.Version != 0 {
		L.TLS.Version, L.TLS.Negotiated = tls.VersionName(f.Version), f.Version
	}
	L.TLS.ClientCertRequested, L.TLS.ClientCertRequest = f.ClientCertRequested, RequestUnknown
	if f.ClientCertRequested {
		L.TLS.ClientCertRequest = RequestSeen
	}
	switch f.Layer {
	case LayerTLS:
		L.TLS.Status, L.TLS.Error = LayerFailed, f.Err.Error()
		r.handshakeFailed(f.Err)
	case LayerHTTP:
		L.TLS.Status, L.HTTP.Status, L.HTTP.Error = LayerOK, LayerFailed, f.Err.Error()
		r.noUpgrade(wire.ClassifyUpgrade(f.Response, f.TimedOut, f.Err), f.Response, f.Err)
	case LayerWS:
		L.TLS.Status, L.HTTP.Status, L.HTTP.StatusCode = LayerOK, LayerOK, http.StatusSwitchingProtocols
		L.WS.Status, L.WS.Echoed = LayerFailed, f.Echoed
		r.echoFailed(f.Err, f.Messages)
	default:
		r.end(f.Layer, ConnectFailed, "", Reason{ID: ReasonUnclassified, Text: fmt.Sprintf("layer %q is not a phase a Failure names: %v", f.Layer, f.Err)})
	}
	return r.v
}

// WaitReady waits for server to be ready exactly as Run does before its
// matrix when Options.ReadyTimeout is set (its valid-client encounter
// retried with backoff while the answers are transient, for at most
// opts.ReadyTimeout, 15 s when unset; a server still transient then is a
// *NotReadyError), then runs that encounter once more and returns its
// verdict: when its Layers.TLS.Status is LayerOK, its
// Layers.TLS.SessionTicket is the baseline a Failure's TicketBaseline
// takes. It also returns how long the wait took and how many encounters.
func WaitReady(ctx context.Context, server ServerSubject, m *Materials, opts Options) (Verdict, time.Duration, int, error) {
	opts.Server = server
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 15 * time.Second
	}
	opts = opts.withDefaults()
	waited, tries, err := waitReady(ctx, m, opts)
	if err != nil {
		return Verdict{}, waited, tries, err
	}
	valid, err := Lookup(ControlScenario(ServerSide))
	if err != nil {
		return Verdict{}, waited, tries, err
	}
	return encounter(ctx, valid[0], m, opts), waited, tries, nil
}
