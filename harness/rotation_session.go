package harness

// The scenarios of a client certificate that stops being valid while its
// WebSocket is open. TLS checks a certificate once, in the handshake: a
// connection that lives for days outlives the certificate it was opened
// with unless the server closes it. Most servers keep it, and whether
// they should is the deployment's choice, so these scenarios observe
// (Expect Observe) and report what the server did and after how long,
// unless the run states what it expects (--expect-close-within).

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mtlskit/mtlskit/pki"
)

// The names of the during-connection scenarios.
const (
	ExpiryScenario         = "client-cert-expires-during-connection"
	RevokedDuringScenario  = "client-revoked-during-connection"
	defaultShortLifetime   = 3 * time.Second
	defaultObserveFor      = 10 * time.Second
	sessionPingEvery       = 250 * time.Millisecond
	expiredProbeGrace      = 1100 * time.Millisecond // X.509 times are whole seconds
	minShortLifetime       = 2 * time.Second
	shortLivedClientPrefix = "mtlskit harness short-lived client"
)

// SessionLayer is the evidence of the during-connection scenarios: the
// certificate, the event (its expiry, or its revocation and the reload
// that published it), what new connections with it got afterwards, and
// what became of the WebSocket opened with it before.
type SessionLayer struct {
	// Event is "expiry" or "revocation".
	Event        string `json:"event"`
	ClientSerial string `json:"client_serial"`
	// NotBefore and NotAfter are the certificate's (RFC 3339); LifetimeMS
	// is NotAfter - NotBefore.
	NotBefore  string  `json:"not_before"`
	NotAfter   string  `json:"not_after"`
	LifetimeMS float64 `json:"lifetime_ms"`
	// Revocation only: how it was published (the {crl} file rewritten,
	// the {ocsp} responder answering revoked) and the reload trigger.
	PublishedVia  []string       `json:"published_via,omitempty"`
	Trigger       string         `json:"trigger,omitempty"`
	TriggerError  string         `json:"trigger_error,omitempty"`
	ReloadCommand *ClientProcess `json:"reload_command,omitempty"`
	// NewConnection is what new connections with the certificate got
	// after the event: "refused" (the server knows of it), "accepted"
	// (every one, until NewProbes gave up), "unreachable" (no TCP
	// connection) or "not-tried".
	NewConnection       string   `json:"new_connection"`
	NewConnectionDetail string   `json:"new_connection_detail,omitempty"`
	NewProbes           int      `json:"new_probes"`
	NewRefusedAfterMS   *float64 `json:"new_refused_after_ms,omitempty"`
	// OldConnection is "kept" (it echoed to the end of the window),
	// "closed", "unresponsive" (open, but no echo) or "not-opened";
	// ClosedAfterMS counts from the event (negative: before it).
	OldConnection       string   `json:"old_connection"`
	OldConnectionDetail string   `json:"old_connection_detail,omitempty"`
	ClosedAfterMS       *float64 `json:"closed_after_ms,omitempty"`
	Pings               int      `json:"pings"`
	// ControlConnection is what became of a WebSocket of the run's valid
	// client (long-lived, never revoked) opened alongside and watched the
	// same way: when it closed too, the server closed connections for
	// another reason (a reload draining old workers, an age cap), not for
	// this certificate.
	ControlConnection       string   `json:"control_connection"`
	ControlConnectionDetail string   `json:"control_connection_detail,omitempty"`
	ControlClosedAfterMS    *float64 `json:"control_closed_after_ms,omitempty"`
	// ServerAfter is what a new connection of the valid client got after
	// the window: the server still serves ("accepted") or not.
	ServerAfter string `json:"server_after,omitempty"`
	// ObservedForMS is how long after the event the old connection was
	// watched; ExpectCloseWithinMS the run's expectation, if any.
	ObservedForMS       float64  `json:"observed_for_ms"`
	ExpectCloseWithinMS *float64 `json:"expect_close_within_ms,omitempty"`
	// ServerExited says the server command exited during the scenario
	// (a server that dies of the reload signal).
	ServerExited string `json:"server_exited,omitempty"`
}

// sessionScenarios are the during-connection rows of RotationScenarios.
func sessionScenarios() []Scenario {
	return []Scenario{
		{Name: ExpiryScenario, Side: ServerSide, Expect: Observe, Importance: ImportanceMedium, Rotation: true,
			Description: "any server: a client whose certificate expires a few seconds (--short-cert-lifetime) after its WebSocket opened; reports whether the server kept or closed the connection and after how long (--observe-for), and checks a new connection with the expired certificate is refused; --expect-close-within D makes it a judged scenario",
			Setup:       serverSide},
		{Name: RevokedDuringScenario, Side: ServerSide, Expect: Observe, Importance: ImportanceHigh, Rotation: true,
			Description: "--server-cmd with {crl} or {ocsp}: a client is revoked while its WebSocket is open (the CRL file rewritten, the OCSP responder answering revoked, then the reload trigger); once the server refuses it new connections, reports whether it kept or closed the open one and after how long; --expect-close-within D makes it a judged scenario",
			Setup:       serverSide},
	}
}

// sessionRun is one during-connection scenario as it runs: the server,
// the certificate, the watched connection and the evidence.
type sessionRun struct {
	ctx  context.Context
	s    Scenario
	m    *Materials
	opts Options
	ro   RotationOptions
	ev   *SessionLayer
	// addr and url reach the server; enc is the valid-client encounter
	// with leaf as the client certificate.
	addr, url       string
	enc             Encounter
	leaf            *pki.Issued
	old, control    *websocket.Conn
	watch, ctlWatch *connWatch
}

// runSession runs a during-connection scenario: on any server for the
// expiry, on a started server that was handed {crl} or {ocsp} for the
// revocation.
func runSession(ctx context.Context, s Scenario, m *Materials, opts Options) Result {
	start := time.Now()
	r := &sessionRun{ctx: ctx, s: s, m: m, opts: opts, ro: opts.Rotation.withSessionDefaults(), ev: &SessionLayer{}}
	if why := r.skip(); why != "" {
		return Result{Scenario: s, Pass: true, Verdict: Verdict{Outcome: Skipped, Reason: Reason{ID: ReasonNotApplicable, Text: why}}}
	}
	if r.ro.CloseWithin > 0 {
		w := ms(r.ro.CloseWithin)
		r.ev.ExpectCloseWithinMS = &w
	}
	srv, err := opts.Server.Start(ctx, ServerConfig{Encounter: serverSide(m), TLSVersion: opts.TLSVersion, Timeout: opts.Timeout})
	if err != nil {
		return r.broken(fmt.Sprintf("the server %q did not start: %v", opts.Server.Name(), err))
	}
	r.addr = srv.Addr()
	r.url = URLFor(serverSide(m), r.addr)
	if t, ok := srv.(interface{ URL() string }); ok {
		r.url = t.URL()
	}
	var res Result
	if s.Name == ExpiryScenario {
		res = r.expiry()
	} else {
		res = r.revocation()
	}
	for _, w := range []*connWatch{r.watch, r.ctlWatch} {
		if w != nil {
			w.stop() // already stopped on the paths that judge; not on the broken ones
		}
	}
	for _, c := range []*websocket.Conn{r.old, r.control} {
		if c != nil {
			closeWebSocket(c)
		}
	}
	_ = srv.Close()
	res.Duration = time.Since(start)
	return res
}

// withSessionDefaults fills in the lifetime and the window.
func (ro RotationOptions) withSessionDefaults() RotationOptions {
	if ro.ShortLifetime <= 0 {
		ro.ShortLifetime = defaultShortLifetime
	}
	if ro.ObserveFor <= 0 {
		ro.ObserveFor = defaultObserveFor
	}
	if ro.Timeout <= 0 {
		ro.Timeout = 10 * time.Second
	}
	return ro
}

// skip says why the scenario cannot run here; "" when it can.
func (r *sessionRun) skip() string {
	if !r.opts.Rotation.Run {
		return "runs only when named (--scenario " + r.s.Name + "): it keeps a connection open for seconds to watch it"
	}
	if r.m.leafIssuer == nil {
		return "the run's materials have no key to sign the short-lived or revoked client certificate"
	}
	if r.s.Name == ExpiryScenario {
		if r.ro.ShortLifetime < minShortLifetime {
			return fmt.Sprintf("--short-cert-lifetime %s is under %s: X.509 times are whole seconds, so the certificate could expire during its own handshake", r.ro.ShortLifetime, minShortLifetime)
		}
		return ""
	}
	t, ok := r.opts.Server.(*targetServer)
	if !ok || t.proc == nil {
		return "runs only when the harness started the server (--server-cmd with {crl} or {ocsp}): it revokes a client by rewriting the server's CRL file or answering revoked from the run's OCSP responder, then triggers the reload"
	}
	if !t.proc.takesCRL && t.proc.ocsp == nil {
		return "the server command does not take the run's CRL or OCSP responder: add {crl} or {ocsp} to --server-cmd, so that a revocation can reach it"
	}
	if t.proc.ocsp == nil && r.m.NoCRL != "" {
		// Without the run's CRLs the rewritten {crl} would lack a CRL of
		// the root, and a server that wants one per CA (nginx) would
		// refuse every client: no sign of the revocation.
		return "the run's materials have no CRLs of their own (" + r.m.NoCRL + "): run it on the harness's own CA, or with {ocsp}"
	}
	return ""
}

// broken is a scenario that could not observe anything: inconclusive.
func (r *sessionRun) broken(why string) Result {
	return Result{Scenario: r.s, Inconclusive: true, Mismatch: "inconclusive: " + why,
		Verdict: Verdict{Outcome: ConnectFailed, Layer: LayerTCP, Reason: Reason{ID: ReasonUnclassified, Text: why}, Session: r.ev}}
}

// mint issues the scenario's own client certificate from the run's
// leaf issuer: valid from a second ago for lifetime.
func (r *sessionRun) mint(cn string, lifetime time.Duration) error {
	now := time.Now()
	leaf, err := r.m.leafIssuer.Issue(pki.Request{Kind: pki.KindClient, CommonName: cn, KeyType: pki.ECDSAP256,
		NotBefore: now.Add(-time.Second), Validity: lifetime + time.Second})
	if err != nil {
		return err
	}
	r.leaf = leaf
	r.enc = serverSide(r.m)
	r.enc.Client = leaf
	c := leaf.Cert
	r.ev.ClientSerial = hex.EncodeToString(c.SerialNumber.Bytes())
	r.ev.NotBefore, r.ev.NotAfter = c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339)
	r.ev.LifetimeMS = ms(c.NotAfter.Sub(c.NotBefore))
	return nil
}

// open opens the WebSocket to watch, with the scenario's certificate,
// and the control WebSocket, with the run's valid client certificate,
// and starts pinging both.
func (r *sessionRun) open() error {
	cfg, err := probeConfig(r.m, r.leaf, r.opts)
	if err != nil {
		return err
	}
	if r.old, err = openOld(r.ctx, r.addr, r.url, cfg, r.opts.Timeout); err != nil {
		r.ev.OldConnection, r.ev.OldConnectionDetail = "not-opened", err.Error()
		return err
	}
	if cfg, err = probeConfig(r.m, r.m.Client, r.opts); err != nil {
		return err
	}
	if r.control, err = openOld(r.ctx, r.addr, r.url, cfg, r.opts.Timeout); err != nil {
		r.ev.ControlConnection, r.ev.ControlConnectionDetail = "not-opened", err.Error()
		return fmt.Errorf("the control connection, with the run's valid client certificate: %w", err)
	}
	r.watch = watchConn(r.old, sessionPingEvery, r.opts.Timeout)
	r.ctlWatch = watchConn(r.control, sessionPingEvery, r.opts.Timeout)
	return nil
}

// probeVerdict runs one full encounter as enc's client. An encounter
// whose TLS 1.3 close cannot tell a refusal from a breakage is run again
// pinned to TLS 1.2, as RunScenario does, when the run does not pin 1.3.
func probeVerdict(ctx context.Context, enc Encounter, name, addr, url string, opts Options) Verdict {
	cc := ClientConfig{Encounter: enc, Scenario: name, Addr: addr, Target: url, TLSVersion: opts.TLSVersion, Timeout: opts.Timeout, NoRenegotiation: opts.NoRenegotiation}
	v := ReferenceClient().Connect(ctx, cc)
	if v.Layers.TLS.Ambiguous && opts.TLSVersion != tls.VersionTLS13 && !opts.NoTLS12Rerun {
		cc.TLSVersion = tls.VersionTLS12
		v12 := ReferenceClient().Connect(ctx, cc)
		v12.Reason.Text += " [decided in TLS 1.2: the TLS 1.3 close could not tell a refusal from a breakage]"
		return v12
	}
	return v
}

// probeNew opens new connections with the certificate until one is
// refused or until the deadline: the server's own word that it knows of
// the event. since is the event's time.
func (r *sessionRun) probeNew(since, deadline time.Time) {
	exited := func() bool {
		t, ok := r.opts.Server.(*targetServer)
		return ok && t.proc != nil && t.proc.Exited()
	}
	v, n, refused := probeUntil(r.ctx, r.enc, r.s.Name, r.addr, r.url, r.opts, deadline,
		func(v Verdict) bool { return gotOf(v) == "refused" }, exited)
	r.ev.NewProbes = n
	r.ev.NewConnection, r.ev.NewConnectionDetail = gotOf(v), fmt.Sprintf("%s: %s", v.Outcome, v.Reason.Text)
	switch {
	case exited():
		r.ev.ServerExited = r.opts.Server.(*targetServer).proc.ExitReport()
		r.ev.NewConnection = "unreachable"
	case refused:
		at := ms(time.Since(since))
		r.ev.NewRefusedAfterMS = &at
	default:
		r.ev.NewConnectionDetail = fmt.Sprintf("%d new connections over %.0f ms, the last %s", n, ms(time.Since(since)), r.ev.NewConnectionDetail)
	}
}

// probeUntil opens new connections as enc's client (probeVerdict), with
// backoff from 100 ms doubling to 500 ms, until want takes the verdict,
// exited says the server command is gone, or the deadline passes; at
// least once. It returns the last verdict, the number of probes and
// whether want took it.
func probeUntil(ctx context.Context, enc Encounter, name, addr, url string, opts Options, deadline time.Time, want func(Verdict) bool, exited func() bool) (Verdict, int, bool) {
	wait := 100 * time.Millisecond
	for n := 1; ; n++ {
		v := probeVerdict(ctx, enc, name, addr, url, opts)
		switch {
		case exited():
			return v, n, false
		case want(v):
			return v, n, true
		case time.Now().Add(wait).After(deadline) || ctx.Err() != nil:
			return v, n, false
		}
		sleepCtx(ctx, wait)
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// gotOf is what a probe got: "accepted"; "refused" when the server
// refused it (in the handshake, or with a 4xx before the upgrade);
// "unreachable" when there was no TCP connection; "failed" for anything
// else (a handshake that broke without an alert, a 5xx, no echo), which
// says nothing of the certificate.
func gotOf(v Verdict) string {
	switch {
	case v.Outcome == Accepted:
		return "accepted"
	case v.RefusedBy == PartyServer && (v.Outcome == RejectedTLS || v.Outcome == RejectedHTTP):
		return "refused"
	case v.Layer == LayerTCP:
		return "unreachable"
	}
	return "failed"
}

// expiry: open with a certificate that expires in ShortLifetime, wait
// past its NotAfter, check new connections are refused, and watch the
// open one until ObserveFor after the expiry.
func (r *sessionRun) expiry() Result {
	r.ev.Event = "expiry"
	if err := r.mint(shortLivedClientPrefix, r.ro.ShortLifetime); err != nil {
		return r.broken("minting the short-lived client certificate: " + err.Error())
	}
	if err := r.open(); err != nil {
		return r.notOpened(err)
	}
	event := r.leaf.Cert.NotAfter
	sleepUntil(r.ctx, event.Add(expiredProbeGrace))
	r.probeNew(event, time.Now().Add(r.ro.Timeout))
	if r.ev.NewConnection == "refused" {
		sleepUntil(r.ctx, event.Add(r.ro.ObserveFor))
	}
	return r.finish(event)
}

// revocation: open, revoke (CRL file, OCSP answer), trigger the reload,
// probe new connections until one is refused, then watch the open one
// for ObserveFor from that moment.
func (r *sessionRun) revocation() Result {
	r.ev.Event = "revocation"
	p := r.opts.Server.(*targetServer).proc
	if err := r.mint("mtlskit harness client revoked during its connection", 24*time.Hour); err != nil {
		return r.broken("minting the client certificate: " + err.Error())
	}
	if err := r.open(); err != nil {
		return r.notOpened(err)
	}
	if err := r.publishRevocation(p); err != nil {
		return r.broken("publishing the revocation: " + err.Error())
	}
	event := time.Now()
	r.ev.Trigger, r.ev.ReloadCommand, r.ev.TriggerError = trigger(r.ctx, r.ro, p)
	r.probeNew(event, event.Add(r.ro.Timeout))
	if r.ev.NewConnection == "refused" {
		refused := event.Add(time.Duration(*r.ev.NewRefusedAfterMS * float64(time.Millisecond)))
		sleepUntil(r.ctx, refused.Add(r.ro.ObserveFor))
	}
	return r.finish(event)
}

func (r *sessionRun) triggerWords() string {
	if r.ev.TriggerError != "" {
		return r.ev.Trigger + " (" + r.ev.TriggerError + ")"
	}
	return r.ev.Trigger
}

// publishRevocation lists the certificate in the root's CRL ({crl},
// rewritten through a rename) and in the run's OCSP responder.
func (r *sessionRun) publishRevocation(p *ServerProcess) error {
	if p.ocsp != nil {
		p.ocsp.revoke(r.leaf.Cert.SerialNumber)
		r.ev.PublishedVia = append(r.ev.PublishedVia, "the run's OCSP responder answers revoked")
	}
	if !p.takesCRL {
		return nil
	}
	now := time.Now()
	entries := []pki.Revocation{revocationOf(r.m.ClientRevoked, now),
		{Serial: r.leaf.Cert.SerialNumber.Text(16), Name: r.leaf.Cert.Subject.CommonName, At: now, Reason: pki.ReasonKeyCompromise,
			IssuerKeyID: fmt.Sprintf("%x", r.leaf.Cert.AuthorityKeyId)}}
	crl, _, err := pki.MakeCRL(r.m.leafIssuer, entries, 2, now.Add(-pki.Backdate), now.Add(pki.Day))
	if err != nil {
		return err
	}
	var out []byte
	for _, der := range append([][]byte{crl}, r.m.crlsBelowRoot()...) {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})...)
	}
	if err := replaceFile(p.Files.CRL, out, 0o644); err != nil {
		return err
	}
	r.ev.PublishedVia = append(r.ev.PublishedVia, "{crl} rewritten with the certificate listed (CRL number 2)")
	return nil
}

// replaceFile writes data over path through a temporary file renamed
// over it: a reader sees the old file or the new one. A failed write
// leaves no temporary file behind.
func replaceFile(path string, data []byte, mode os.FileMode) error {
	tmp := filepath.Join(filepath.Dir(path), ".rotate-"+filepath.Base(path))
	err := os.WriteFile(tmp, data, mode)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// notOpened: the certificate was refused before anything could be
// watched.
func (r *sessionRun) notOpened(err error) Result {
	return r.broken(fmt.Sprintf("the WebSocket with a valid client certificate (serial %s) could not be opened (%v), so what the server does when it stops being valid was not seen (valid-client says why)", r.ev.ClientSerial, err))
}

// stopWatches ends both watches and records what became of the two
// connections, times from the event.
func (r *sessionRun) stopWatches(event time.Time) {
	record := func(w *connWatch, state, detail *string, closedAfter **float64) {
		res := w.stop()
		if res.state == "" {
			*state = "kept"
			return
		}
		at := ms(res.at.Sub(event))
		*state, *detail, *closedAfter = res.state, res.detail, &at
	}
	r.ev.ObservedForMS = ms(time.Since(event))
	record(r.watch, &r.ev.OldConnection, &r.ev.OldConnectionDetail, &r.ev.ClosedAfterMS)
	r.ev.Pings = r.watch.res.pings
	record(r.ctlWatch, &r.ev.ControlConnection, &r.ev.ControlConnectionDetail, &r.ev.ControlClosedAfterMS)
	if r.ev.ClosedAfterMS != nil {
		r.ev.ObservedForMS = *r.ev.ClosedAfterMS
	}
}

// finish stops the watches, checks the server still serves the valid
// client, and judges what was seen.
func (r *sessionRun) finish(event time.Time) Result {
	if r.ev.NewConnection == "" {
		r.ev.NewConnection = "not-tried"
	}
	r.stopWatches(event)
	v := probeVerdict(r.ctx, serverSide(r.m), r.s.Name, r.addr, r.url, r.opts)
	r.ev.ServerAfter = gotOf(v)
	if r.ev.ServerAfter != "accepted" {
		r.ev.ServerAfter += fmt.Sprintf(" (%s: %s)", v.Outcome, v.Reason.Text)
	}
	if t, ok := r.opts.Server.(*targetServer); ok && t.proc != nil && t.proc.Exited() {
		r.ev.ServerExited = t.proc.ExitReport()
	}
	res := judgeSession(r.s, r.ev, r.ro)
	if res.Inconclusive && r.ev.Event == "revocation" && r.ev.NewConnection == "accepted" {
		res.Mismatch += fmt.Sprintf(" (published: %s; %s)", strings.Join(r.ev.PublishedVia, " and "), r.triggerWords())
	}
	return res
}

// judgeSession turns what was seen into a result, in order: what keeps
// the observation from meaning anything (inconclusive), a server that
// accepts an expired certificate on a new connection (a failure), then
// the observation, or with --expect-close-within a pass or a failure.
func judgeSession(s Scenario, ev *SessionLayer, ro RotationOptions) Result {
	res := Result{Scenario: s, Verdict: Verdict{Outcome: Accepted, Layer: LayerWS, Session: ev}}
	what := map[string]string{"expiry": "it expired", "revocation": "it was revoked"}[ev.Event]
	if why := sessionUnseen(ev, what); why != "" {
		res.Inconclusive, res.Mismatch = true, "inconclusive: "+why
		res.Reason = Reason{ID: ReasonUnclassified, Text: why}
		return res
	}
	if ev.Event == "expiry" && ev.NewConnection == "accepted" {
		res.Reason = Reason{ID: ReasonExpired, Text: "a new connection with the expired certificate was accepted"}
		res.Mismatch = fmt.Sprintf("after the client certificate expired (%s), new connections with it were still accepted (%s): the server does not check the validity period of client certificates (expired-client fails too), so keeping the open connection says nothing more", ev.NotAfter, ev.NewConnectionDetail)
		return res
	}
	known := fmt.Sprintf("; new connections with it were refused %.1f s after %s (%s)", *ev.NewRefusedAfterMS/1000, what, ev.NewConnectionDetail)
	closed := ev.OldConnection == "closed"
	switch {
	case closed && ev.ControlConnection == "closed":
		res.Reason = Reason{ID: ReasonConnectionClosed, Text: fmt.Sprintf("closed %.1f s after %s (%s), but so was the control connection of a valid client opened alongside (%.1f s after; %s): the server closed connections for another reason (a reload that retires its workers, an age cap), not for this certificate%s",
			*ev.ClosedAfterMS/1000, what, ev.OldConnectionDetail, *ev.ControlClosedAfterMS/1000, ev.ControlConnectionDetail, known)}
	case closed:
		res.Reason = Reason{ID: ReasonConnectionClosed, Text: fmt.Sprintf("closed %.1f s after %s (%s), while the control connection of a valid client stayed open%s", *ev.ClosedAfterMS/1000, what, ev.OldConnectionDetail, known)}
	default:
		res.Reason = Reason{ID: ReasonConnectionKept, Text: fmt.Sprintf("kept: the WebSocket opened with it still echoed %.1f s after %s (%d pings)%s. TLS checks a certificate only in the handshake; to bound how long a connection outlives its certificate, close it at the certificate's NotAfter or cap its age (`mtlskit snippet` shows how for each stack; docs/rotation.md)", ev.ObservedForMS/1000, what, ev.Pings, known)}
	}
	if ro.CloseWithin <= 0 {
		res.Pass, res.Observed = true, true
		return res
	}
	closedInTime := closed && *ev.ClosedAfterMS <= ms(ro.CloseWithin)
	res.Pass = closedInTime
	switch {
	case closedInTime:
	case closed:
		res.Mismatch = fmt.Sprintf("expected the server to close the connection within %s after %s (--expect-close-within), but it closed it only after %.1f s", ro.CloseWithin, what, *ev.ClosedAfterMS/1000)
	default:
		res.Mismatch = fmt.Sprintf("expected the server to close the connection within %s after %s (--expect-close-within), but it still echoed %.1f s after", ro.CloseWithin, what, ev.ObservedForMS/1000)
	}
	return res
}

// closedEarlyMS is how far before the event a close may be seen and
// still be the event's: none, but a ping's round trip.
const closedEarlyMS = -250

// sessionUnseen says why what was seen cannot tell what the server does
// when the certificate stops being valid; "" when it can.
func sessionUnseen(ev *SessionLayer, what string) string {
	switch {
	case ev.ServerExited != "":
		return fmt.Sprintf("the server exited during the scenario (%s), so what it does when a certificate stops being valid was not seen (does it die of the reload trigger? %s)", ev.ServerExited, ev.Trigger)
	case ev.NewConnection == "accepted" && ev.Event == "revocation":
		return fmt.Sprintf("the server still accepted new connections with the revoked certificate (%s): it did not pick up the revocation, so what it does with an open connection was not seen (nginx reads ssl_crl on a reload, Node's crl and Python's load_verify_locations only when the context is made)", ev.NewConnectionDetail)
	case ev.NewConnection != "refused" && ev.NewConnection != "accepted":
		return fmt.Sprintf("after %s, new connections with the certificate %s without a refusal (%s), so whether the server knows of it was not seen", what, ev.NewConnection, ev.NewConnectionDetail)
	case ev.ServerAfter != "accepted" && !(ev.Event == "expiry" && ev.NewConnection == "accepted"):
		return fmt.Sprintf("after the window, a new connection of the run's valid client was %s: the server no longer serves, so the watched connection's end says nothing of the certificate", ev.ServerAfter)
	case ev.OldConnection == "unresponsive":
		return fmt.Sprintf("the watched connection stopped echoing %.1f s after %s without closing (%s): a stall cannot be told from a close", *ev.ClosedAfterMS/1000, what, ev.OldConnectionDetail)
	case ev.OldConnection == "closed" && *ev.ClosedAfterMS < closedEarlyMS:
		return fmt.Sprintf("the watched connection was closed %.1f s before %s (%s): the server closed it for another reason", -*ev.ClosedAfterMS/1000, what, ev.OldConnectionDetail)
	}
	return ""
}

// connWatch pings a WebSocket until it is stopped or the connection
// closes or stalls, and remembers when.
type connWatch struct {
	done    chan struct{}
	stopped chan struct{}
	once    sync.Once
	res     watchResult
}

// watchResult: state is "" while the connection echoed, else "closed"
// or "unresponsive" (oldStillEchoes) at the time the failed ping began.
type watchResult struct {
	state  string
	at     time.Time
	detail string
	pings  int
}

func watchConn(c *websocket.Conn, every, timeout time.Duration) *connWatch {
	w := &connWatch{done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stopped:
				return
			case <-time.After(every):
			}
			began := time.Now()
			state, detail := oldStillEchoes(c, timeout)
			w.res.pings++
			if state != "kept" {
				// A close is seen at once; a stall only after the
				// timeout: both are dated from the ping that found them.
				w.res.state, w.res.at, w.res.detail = state, began, detail
				if state == "closed" {
					// Closing our end too, as a client does on a close:
					// a server lingering on the half-closed connection
					// would otherwise wait for us.
					_ = c.Close()
				}
				return
			}
		}
	}()
	return w
}

// stop ends the watch and returns what it saw.
func (w *connWatch) stop() watchResult {
	w.once.Do(func() { close(w.stopped) })
	<-w.done
	return w.res
}

func sleepUntil(ctx context.Context, t time.Time) { sleepCtx(ctx, time.Until(t)) }

func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}
