package harness

import (
	"context"
	"crypto/tls"
	"net"
	"net/url"
	"sync"
	"time"
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
	// NoRenegotiation makes the reference client refuse a TLS 1.2
	// server's request to renegotiate (--no-renegotiation), as Go's
	// crypto/tls and every HTTP/2 client do by default. Without it the
	// client takes part in one renegotiation, the way a server that asks
	// for the client certificate only for some paths (Apache's
	// SSLVerifyClient inside <Location>, IIS) gets it.
	NoRenegotiation bool

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

// Connect runs the encounter phase by phase (clientRun): TCP, TLS, the
// upgrade, the echo and the closing handshake, each recording its layer
// and ending the encounter where it fails. The verdict's Server field is
// left for the runner to fill in.
func (c *referenceClient) Connect(ctx context.Context, cfg ClientConfig) Verdict {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	r := newClientRun(ctx, c, cfg)
	defer r.release()
	if r.dialTCP() && r.handshake() && r.upgrade() && r.echo() {
		r.closeHandshake()
	}
	return r.v
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
