package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/mtlskit/mtlskit/internal/wire"

	"github.com/mtlskit/mtlskit/pki"
)

// The check IDs of the live probe (mtlskit verify --connect), in report
// order. They are stable: docs/verify.md describes each.
const (
	LiveDNS                = "live-dns"
	LiveTCP                = "live-tcp"
	LiveTLS                = "live-tls"
	LiveServerChain        = "live-server-chain"
	LiveClientCertRequest  = "live-client-cert-request"
	LiveClientCertAccepted = "live-client-cert-accepted"
	LiveHTTPUpgrade        = "live-http-upgrade"
	LiveWSEcho             = "live-ws-echo"
	LiveLaxServer          = "live-lax-server"
)

// CheckIDs lists the live probe's check IDs in report order.
func CheckIDs() []string {
	return []string{LiveDNS, LiveTCP, LiveTLS, LiveServerChain, LiveClientCertRequest,
		LiveClientCertAccepted, LiveHTTPUpgrade, LiveWSEcho, LiveLaxServer}
}

// Config says which endpoint to probe and as which client.
type Config struct {
	// Host is the DNS name or IP address dialled; the server certificate
	// is verified against it.
	Host string
	// Port is the TCP port.
	Port string
	// Path is the request path of the upgrade ("/" when empty).
	Path string
	// ClientCert is the certificate (and chain) to present when the
	// server asks for one; nil presents none and runs the lax-server
	// check.
	ClientCert *tls.Certificate
	// Roots are the trust anchors for the server certificate; nil uses
	// the system roots (then the offline chain check is skipped: the
	// system pool cannot be listed).
	Roots []*x509.Certificate
	// Echo sends one text message after the upgrade and waits for it to
	// come back.
	Echo bool
	// Timeout bounds each layer (wire.DefaultTimeout when zero).
	Timeout time.Duration
	// TLSVersion pins the TLS version; 0 negotiates (TLS 1.2 or 1.3).
	TLSVersion uint16
	// NoLint skips zlint in the offline checks of the server chain.
	NoLint bool
	// CheckRevocation makes the offline checks of the server chain look
	// each certificate up at its CRL distribution point or OCSP responder
	// (the revocation check).
	CheckRevocation bool
}

// URL is the wss:// URL the probe requests.
func (c Config) URL() string {
	return "wss://" + net.JoinHostPort(c.Host, c.Port) + c.path()
}

func (c Config) path() string {
	if c.Path == "" {
		return "/"
	}
	return c.Path
}

// Check is one layer of the live probe: a pki.Check (an ID from
// CheckIDs, a status, what happened in plain words, the facts behind it
// and, for a failure, how to fix it), so that offline and live checks
// print and serialise alike.
type Check struct {
	pki.Check
	// Checks are the offline checks (pki.Diagnose) run on the chain the
	// server sent, with the dialled name; live-server-chain only.
	Checks []pki.Check `json:"checks,omitempty"`
	set    bool
}

// TLS is what the handshake negotiated.
type TLS struct {
	Version string `json:"version"`
	// Negotiated is the version as a number, 0 when none was negotiated.
	Negotiated  uint16 `json:"-"`
	CipherSuite string `json:"cipher_suite,omitempty"`
	ALPN        string `json:"alpn,omitempty"`
	// Completed is true when the client's side of the handshake finished.
	Completed bool `json:"completed"`
}

// Chain is the server chain as sent and as diagnosed.
type Chain struct {
	// Sent lists the subjects of the certificates the server sent, leaf
	// first.
	Sent []string `json:"sent"`
	// Path is the path the offline checks built, leaf to last issuer.
	Path []string `json:"path"`
	// Trusted says whether Path ends at a trusted root (false with the
	// system roots, which are not listed).
	Trusted bool `json:"trusted"`
	// GoVerified is true when crypto/tls accepted the chain in the
	// handshake; GoError is its error otherwise.
	GoVerified bool   `json:"go_verified"`
	GoError    string `json:"go_error,omitempty"`
}

// ClientAuth is what the server asked of the client.
type ClientAuth struct {
	// Requested is true when the server sent a CertificateRequest.
	Requested bool `json:"requested"`
	// AcceptableCAs are the CA names it listed, decoded.
	AcceptableCAs []string `json:"acceptable_cas"`
	// Sent is true when the probe presented a certificate.
	Sent bool `json:"sent"`
}

// HTTP is the server's answer to the upgrade request.
type HTTP struct {
	StatusCode int    `json:"status_code"`
	Status     string `json:"status"`
	// Headers are the key response headers (Server, Content-Type,
	// Upgrade, Connection, Sec-WebSocket-Accept, Location, ...).
	Headers map[string]string `json:"headers,omitempty"`
	// BodyPrefix is the first bytes of the body, verbatim (up to 512).
	BodyPrefix string `json:"body_prefix,omitempty"`
}

// Report is the result of Probe.
type Report struct {
	URL string `json:"url"`
	// Addr is the address the TCP connection went to.
	Addr string `json:"addr,omitempty"`
	// StoppedAt is the check where the probe could go no further; empty
	// when it reached the end.
	StoppedAt   string      `json:"stopped_at,omitempty"`
	TLS         *TLS        `json:"tls,omitempty"`
	ServerChain *Chain      `json:"server_chain,omitempty"`
	ClientAuth  *ClientAuth `json:"client_auth,omitempty"`
	HTTP        *HTTP       `json:"http,omitempty"`
	Checks      []Check     `json:"checks"`
	// TLS12 is the probe pinned to TLS 1.2 that decided the
	// client-certificate checks a TLS 1.3 probe could not (a server that
	// closed without an alert or an answer after the client's handshake).
	TLS12 *Report `json:"tls12_rerun,omitempty"`
}

// Failed reports whether any check failed.
func (r Report) Failed() bool {
	for _, c := range r.Checks {
		if c.Status == pki.StatusFail {
			return true
		}
	}
	return false
}

// Check returns the check with the given ID.
func (r Report) Check(id string) (Check, bool) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}

// Statuses maps each check ID to its status (for tests and filters).
func (r Report) Statuses() map[string]pki.CheckStatus {
	out := make(map[string]pki.CheckStatus, len(r.Checks))
	for _, c := range r.Checks {
		out[c.ID] = c.Status
	}
	return out
}

// prober carries one probe's state from layer to layer.
type prober struct {
	cfg Config
	rep Report
	idx map[string]int
}

func (p *prober) set(id string, st pki.CheckStatus, summary string, evidence ...string) *Check {
	c := &p.rep.Checks[p.idx[id]]
	c.Status, c.Summary, c.Evidence, c.set = st, summary, evidence, true
	return c
}

func (p *prober) isSet(id string) bool { return p.rep.Checks[p.idx[id]].set }

// stop records that the probe could go no further than id: every check
// not yet decided is skipped as not reached.
func (p *prober) stop(id string) {
	if p.rep.StoppedAt == "" {
		p.rep.StoppedAt = id
	}
	for i := range p.rep.Checks {
		if !p.rep.Checks[i].set {
			c := &p.rep.Checks[i]
			c.Status, c.set = pki.StatusSkip, true
			c.Summary = "not reached: the probe stopped at " + id
		}
	}
}

// Probe connects to a live endpoint as a strict mutual-TLS WebSocket
// client and reports layer by layer where the connection stops: DNS, TCP,
// TLS (version and cipher), the server chain (the offline checks of
// pki.Diagnose on the certificates the server sent, with the dialled
// name), whether the server requests a client certificate and which CAs
// it names, whether it accepted ours (in TLS 1.3 the refusal arrives on
// the first read), the HTTP upgrade, one echo round trip and, without a
// client certificate, whether the server lets a client in without one.
//
// The server certificate is always verified: a chain Go refuses ends the
// handshake, and the probe stops there after diagnosing the certificates
// carried by the tls.CertificateVerificationError. No certificate, no
// request and no message is ever sent to a server that failed
// verification.
func Probe(ctx context.Context, cfg Config) Report {
	if cfg.Timeout <= 0 {
		cfg.Timeout = wire.DefaultTimeout
	}
	p := &prober{cfg: cfg, idx: map[string]int{}}
	p.rep.URL = cfg.URL()
	for i, id := range CheckIDs() {
		p.idx[id] = i
		p.rep.Checks = append(p.rep.Checks, Check{Check: pki.Check{ID: id}})
	}
	if cfg.ClientCert != nil {
		p.set(LiveLaxServer, pki.StatusSkip, "a client certificate was given (--cert): run without it to check whether the server lets a client in with none")
	}
	addrs, ok := p.resolve(ctx)
	if !ok {
		p.stop(LiveDNS)
		return p.rep
	}
	raw, ok := p.dial(ctx, addrs)
	if !ok {
		p.stop(LiveTCP)
		return p.rep
	}
	defer raw.Close()
	tc, ok := p.handshake(ctx, raw)
	if !ok {
		return p.rep
	}
	p.upgrade(ctx, tc)
	if p.undecided() && cfg.TLSVersion != tls.VersionTLS12 {
		p.decideInTLS12(ctx)
	}
	return p.rep
}

// undecided reports a TLS 1.3 probe that could not tell whether the
// server refused the client (with a certificate, or without one): it
// closed without an alert or an answer after the client's handshake.
func (p *prober) undecided() bool {
	if p.rep.TLS == nil || p.rep.TLS.Negotiated != tls.VersionTLS13 {
		return false
	}
	for _, id := range []string{LiveClientCertAccepted, LiveLaxServer} {
		if c := p.rep.Checks[p.idx[id]]; c.Status == pki.StatusSkip && strings.HasPrefix(c.Summary, "cannot tell") {
			return true
		}
	}
	return false
}

// decideInTLS12 probes again pinned to TLS 1.2, where the server judges
// the client's certificate inside the handshake, and takes the checks
// from the client certificate's acceptance on from there (a refusal in
// TLS 1.2 also explains the TLS 1.3 upgrade that was never answered),
// keeping both observations (Report.TLS12). A server that cannot do TLS
// 1.2 leaves them open, with the reason.
func (p *prober) decideInTLS12(ctx context.Context) {
	cfg := p.cfg
	cfg.TLSVersion = tls.VersionTLS12
	rep12 := Probe(ctx, cfg)
	p.rep.TLS12 = &rep12
	if rep12.TLS == nil || rep12.TLS.Negotiated != tls.VersionTLS12 {
		for _, id := range []string{LiveClientCertAccepted, LiveLaxServer} {
			if c := &p.rep.Checks[p.idx[id]]; c.Status == pki.StatusSkip && strings.HasPrefix(c.Summary, "cannot tell") {
				c.Evidence = append(c.Evidence, "the TLS 1.2 probe that would decide it did not get through the handshake: "+rep12.stoppedSummary())
			}
		}
		return
	}
	note := "in TLS 1.3 no alert and no answer came after the client's side of the handshake (the connection closed, reset or timed out), which cannot tell a refusal from a breakage; a TLS 1.2 probe decided it"
	for _, id := range []string{LiveClientCertAccepted, LiveHTTPUpgrade, LiveWSEcho, LiveLaxServer} {
		c := &p.rep.Checks[p.idx[id]]
		d, _ := rep12.Check(id)
		if d.Status == c.Status && d.Summary == c.Summary {
			continue
		}
		c.Status, c.Summary, c.Fix = d.Status, d.Summary, d.Fix
		if d.Status != pki.StatusSkip {
			c.Summary = "decided in TLS 1.2: " + d.Summary
		}
		c.Evidence = append(append([]string{}, d.Evidence...), note)
	}
	p.rep.StoppedAt = rep12.StoppedAt
}

// stoppedSummary is the summary of the check a probe stopped at.
func (r Report) stoppedSummary() string {
	if c, ok := r.Check(r.StoppedAt); ok {
		return c.Summary
	}
	return "it stopped at " + r.StoppedAt
}

func (p *prober) resolve(ctx context.Context) ([]string, bool) {
	host := p.cfg.Host
	if ip := net.ParseIP(host); ip != nil {
		p.set(LiveDNS, pki.StatusSkip, host+" is an IP address: nothing to resolve")
		return []string{ip.String()}, true
	}
	rctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	start := time.Now()
	ips, err := net.DefaultResolver.LookupIPAddr(rctx, host)
	took := time.Since(start)
	if err != nil || len(ips) == 0 {
		why := "no addresses"
		if err != nil {
			why = err.Error()
		}
		c := p.set(LiveDNS, pki.StatusFail, fmt.Sprintf("%s does not resolve: %s", host, why))
		c.Fix = "check the host name, or dial the IP address (mtlskit verify --connect IP:PORT; the certificate then needs that IP in its SANs)"
		return nil, false
	}
	var out []string
	for _, ip := range ips {
		out = append(out, ip.IP.String())
	}
	p.set(LiveDNS, pki.StatusPass, fmt.Sprintf("%s resolves to %s", host, strings.Join(out, ", ")),
		fmt.Sprintf("lookup took %s", took.Round(time.Microsecond)))
	return out, true
}

func (p *prober) dial(ctx context.Context, addrs []string) (net.Conn, bool) {
	var tried []string
	d := net.Dialer{Timeout: p.cfg.Timeout}
	for _, a := range addrs {
		addr := net.JoinHostPort(a, p.cfg.Port)
		start := time.Now()
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			p.rep.Addr = addr
			p.set(LiveTCP, pki.StatusPass, fmt.Sprintf("connected to %s in %s", addr, time.Since(start).Round(time.Microsecond)),
				append(tried, "local address "+c.LocalAddr().String())...)
			return c, true
		}
		why := err.Error()
		switch {
		case wire.IsTimeout(err):
			why = fmt.Sprintf("no answer within %s (a firewall dropping packets, or the wrong address)", p.cfg.Timeout)
		case isRefused(err):
			why = "connection refused: nothing listens on that port"
		}
		tried = append(tried, addr+": "+why)
	}
	summary := "no TCP connection to port " + p.cfg.Port
	if len(tried) == 1 {
		summary, tried = "no TCP connection to "+tried[0], nil
	}
	c := p.set(LiveTCP, pki.StatusFail, summary, tried...)
	c.Fix = "start the server, or check the host and port"
	return nil, false
}

// decodeNames turns the DER distinguished names of a CertificateRequest
// into readable subjects.
func decodeNames(raw [][]byte) []string {
	out := []string{}
	for _, der := range raw {
		var rdn pkix.RDNSequence
		rest, err := asn1.Unmarshal(der, &rdn)
		if err != nil || len(rest) > 0 {
			out = append(out, fmt.Sprintf("(a name that does not decode, %d bytes)", len(der)))
			continue
		}
		var n pkix.Name
		n.FillFromRDNSequence(&rdn)
		out = append(out, n.String())
	}
	return out
}

func subjects(certs []*x509.Certificate) []string {
	out := []string{}
	for _, c := range certs {
		out = append(out, c.Subject.String())
	}
	return out
}

// isRefused reports a connection refused by the peer's host.
func isRefused(err error) bool {
	return wire.IsRefused(err)
}

// clientSubject names the probe's client certificate.
func (p *prober) clientSubject() string {
	if c := p.clientLeaf(); c != nil {
		return c.Subject.String()
	}
	return "(unparsable)"
}

func (p *prober) clientLeaf() *x509.Certificate {
	cc := p.cfg.ClientCert
	if cc == nil || len(cc.Certificate) == 0 {
		return nil
	}
	if cc.Leaf != nil {
		return cc.Leaf
	}
	c, err := x509.ParseCertificate(cc.Certificate[0])
	if err != nil {
		return nil
	}
	return c
}

// issuerListed says whether the client certificate (or a certificate of
// its chain) is issued by or is one of the CAs the server listed. With no
// list, any issuer may be tried.
func (p *prober) issuerListed(acceptable [][]byte) bool {
	if len(acceptable) == 0 || p.cfg.ClientCert == nil {
		return true
	}
	for _, der := range p.cfg.ClientCert.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			continue
		}
		for _, name := range acceptable {
			if string(name) == string(c.RawIssuer) || string(name) == string(c.RawSubject) {
				return true
			}
		}
	}
	return false
}
