package load

import (
	"context"
	"crypto/x509"
	"time"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/pki"
)

// Ready is what the readiness wait found.
type Ready struct {
	// After is how long the wait took, Tries how many encounters.
	After time.Duration
	Tries int
	// TicketBaseline: the valid client's handshake got past TLS and the
	// server sent it a TLS 1.3 session ticket (Config.TicketBaseline).
	TicketBaseline bool
	// Verdict is that valid client's encounter.
	Verdict harness.Verdict
}

// WaitReady waits until server is ready, exactly as `mtlskit harness run`
// does (harness.WaitReady: a valid client's encounter retried with
// backoff while the answers are transient, up to limit), with id as the
// valid client and roots verifying the server. A server that never
// becomes ready is a *harness.NotReadyError.
func WaitReady(ctx context.Context, server harness.ServerSubject, roots []*x509.Certificate, id *pki.Issued, timeout, limit time.Duration, version uint16) (Ready, error) {
	m := &harness.Materials{Root: &pki.Issued{Cert: roots[0]}, Client: id,
		DefaultMessages: []harness.Message{{Binary: true, Data: []byte("mtlskit load: ready?")}}}
	if len(roots) > 1 {
		m.Intermediate = &pki.Issued{Cert: roots[1]}
	}
	v, after, tries, err := harness.WaitReady(ctx, server, m, harness.Options{Timeout: timeout, ReadyTimeout: limit, TLSVersion: version})
	if err != nil {
		return Ready{}, err
	}
	return Ready{After: after, Tries: tries, Verdict: v,
		TicketBaseline: v.Layers.TLS.Status == harness.LayerOK && v.Layers.TLS.SessionTicket}, nil
}
