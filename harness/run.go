package harness

import (
	"context"
	"crypto/tls"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// Options tune a run. The zero value runs against the reference pair.
type Options struct {
	// Timeout bounds each phase of each encounter; 0 means DefaultTimeout.
	Timeout time.Duration
	// TLSVersion pins both sides to tls.VersionTLS12 or VersionTLS13;
	// 0 lets them negotiate.
	TLSVersion uint16
	// Parallel bounds how many encounters run at once; 0 means
	// GOMAXPROCS*2.
	Parallel int
	// Server is the server judged by server-side scenarios (nil: the
	// reference server). Client-side scenarios always use the reference
	// server.
	Server ServerSubject
	// Client is the client judged by client-side scenarios (nil: the
	// reference client). Server-side scenarios always use the reference
	// client.
	Client ClientSubject
	// Materials are the run's certificates; nil mints fresh ones.
	Materials *Materials
	// StrictTLS fails a server that refuses a bad client only at the
	// HTTP layer (a 4xx after a completed handshake).
	StrictTLS bool
	// AcceptOnUpgrade counts a 101 as accepted without checking the
	// echo (servers that do not echo).
	AcceptOnUpgrade bool
	// AllowInconclusive makes a run whose only shortfall is inconclusive
	// results OK.
	AllowInconclusive bool
	// FailOn, when set, makes only failures (and inconclusive results) of
	// scenarios of that importance or above fail the run; the others are
	// still reported.
	FailOn Importance
	// ReadyTimeout, when positive, makes Run wait for the server subject
	// before the matrix: its valid-client encounter is retried with
	// backoff while the answers are transient (nothing listening, a
	// reset, a close before any HTTP answer, 502, 503, 504), up to this
	// long. A server that never becomes ready is a *NotReadyError, not a
	// matrix.
	ReadyTimeout time.Duration
	// NoTLS12Rerun turns off the TLS 1.2 re-run of an encounter whose TLS
	// 1.3 outcome cannot tell a refusal from a breakage.
	NoTLS12Rerun bool
	// NoRenegotiation makes the reference client refuse a TLS 1.2
	// server's renegotiation (ClientConfig.NoRenegotiation): to see what
	// clients that do not renegotiate get from a server that asks for the
	// certificate only in one.
	NoRenegotiation bool
	// Rotation configures server-cert-rotation (rotation.go).
	Rotation RotationOptions
	// Progress, when set, is called after each encounter with the
	// number done so far and the total (from one goroutine at a time).
	Progress func(done, total int, r Result)

	// ticketBaseline: the valid-client control on this subject received
	// a TLS 1.3 session ticket (set by the run, per job).
	ticketBaseline bool
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Parallel <= 0 {
		o.Parallel = 2 * runtime.GOMAXPROCS(0)
	}
	if o.Server == nil {
		o.Server = ReferenceServer()
	}
	if o.Client == nil {
		o.Client = ReferenceClient()
	}
	return o
}

// Report is the outcome of a run.
type Report struct {
	// Kind is "scenarios" for a scenario run, "negative-controls" for
	// RunNegativeControls.
	Kind       string
	Started    time.Time
	Duration   time.Duration
	Timeout    time.Duration
	TLSVersion uint16
	// ServerSubject and ClientSubject name the subjects judged.
	ServerSubject string
	ClientSubject string
	// Results are in scenario definition order.
	Results []Result
	// Controls are set by RunNegativeControls, in definition order.
	Controls []ControlResult
	// Materials are the certificates the run used (for --keep).
	Materials *Materials
	// StrictTLS and AcceptOnUpgrade echo the options.
	StrictTLS       bool
	AcceptOnUpgrade bool
	// SubjectErrors are failures of an external subject outside any one
	// scenario (a server command that hung on shutdown, say). Any makes
	// the run fail.
	SubjectErrors []string
	// AllowInconclusive and FailOn echo the options.
	AllowInconclusive bool
	FailOn            Importance
	// RunError, when set, says why the run never reached its subject (a
	// server that never became ready): the report has no results and is
	// not OK.
	RunError string
	// Subject names the subject of a subjects file the report judges
	// (RunSubjects); SkippedBecause says why it was not run at all (a
	// program it needs is not installed): no results, and OK.
	Subject        string
	SkippedBecause string
	// Ready is how long the server subject took to become ready (its
	// valid-client control succeeded, or gave a non-transient answer);
	// ReadyTries how many encounters that took. Zero without a readiness
	// wait (Options.ReadyTimeout).
	Ready      time.Duration
	ReadyTries int
}

// Skipped counts the results that were not run.
func (r *Report) Skipped() int {
	return r.count(func(res Result) bool { return res.Outcome == Skipped })
}

// Inconclusive counts the results whose verdict cannot be told from what
// was seen (their control failed at or below the layer they judge, say).
func (r *Report) Inconclusive() int {
	return r.count(func(res Result) bool { return res.Inconclusive })
}

// Passed counts the results that ran and matched their expectation.
func (r *Report) Passed() int {
	return r.count(func(res Result) bool { return res.Pass && res.Outcome != Skipped && !res.Observed })
}

// Observations counts the results that report what the subject did
// without judging it (Result.Observed).
func (r *Report) Observations() int {
	return r.count(func(res Result) bool { return res.Observed })
}

// Failed counts the results that ran and did not match their
// expectation, the inconclusive ones apart.
func (r *Report) Failed() int {
	return r.count(func(res Result) bool { return !res.Pass && !res.Inconclusive && res.Outcome != Skipped })
}

func (r *Report) count(f func(Result) bool) int {
	n := 0
	for _, res := range r.Results {
		if f(res) {
			n++
		}
	}
	return n
}

// OK reports whether the run is a success: for a scenario run, nothing
// of importance FailOn or above failed or was inconclusive (unless
// AllowInconclusive), and the subject misbehaved nowhere else; for a
// negative-control run, every control was caught.
func (r *Report) OK() bool {
	if r.Kind == KindControls {
		for _, c := range r.Controls {
			if !c.Caught {
				return false
			}
		}
		return true
	}
	failing := r.count(func(res Result) bool {
		return res.Scenario.Importance >= r.FailOn && res.Outcome != Skipped && !res.Pass && (!res.Inconclusive || !r.AllowInconclusive)
	})
	return r.RunError == "" && failing == 0 && len(r.SubjectErrors) == 0 // a skipped subject has no results: OK
}

// Report kinds.
const (
	KindScenarios = "scenarios"
	KindControls  = "negative-controls"
)

// Run runs the scenarios (all of them when none are given) in parallel,
// each on its own loopback port, and returns the results in definition
// order. It fails when the certificates cannot be minted, and with a
// *NotReadyError when Options.ReadyTimeout is set and the server never
// became ready.
func Run(ctx context.Context, scenarios []Scenario, opts Options) (*Report, error) {
	if len(scenarios) == 0 {
		scenarios = Scenarios()
	}
	opts = opts.withDefaults()
	scenarios = askedRotations(scenarios, opts.Rotation)
	started := time.Now()
	m := opts.Materials
	if m == nil {
		var err error
		if m, err = NewMaterials(); err != nil {
			return nil, err
		}
	}
	rep := &Report{
		Kind: KindScenarios, Started: started,
		Timeout: opts.Timeout, TLSVersion: opts.TLSVersion,
		ServerSubject: opts.Server.Name(), ClientSubject: opts.Client.Name(),
		Materials: m, StrictTLS: opts.StrictTLS, AcceptOnUpgrade: opts.AcceptOnUpgrade,
		AllowInconclusive: opts.AllowInconclusive, FailOn: opts.FailOn,
	}
	if opts.ReadyTimeout > 0 && len(OfSide(scenarios, ServerSide)) > 0 {
		ready, tries, err := waitReady(ctx, m, opts)
		if err != nil {
			return nil, err
		}
		rep.Ready, rep.ReadyTries = ready, tries
	}
	jobs := make([]job, len(scenarios))
	for i, s := range scenarios {
		jobs[i] = job{scenario: s, opts: opts, checked: true}
	}
	rep.Results = runJobs(ctx, m, withControls(jobs), opts.Parallel, opts.Progress)
	rep.Duration = time.Since(started)
	return rep, nil
}

// job is one encounter to run.
type job struct {
	scenario Scenario
	opts     Options // with defaults applied
	// group ties the jobs of one subject and options together; checked
	// groups judge their reject scenarios against the side's control.
	group   int
	checked bool
	// control: added to the group as a control, not selected.
	control bool
}

// ControlScenario is the accept scenario that controls a side's reject
// scenarios: a subject's refusals are only meaningful if it accepts this
// one under the same URL and TLS version.
func ControlScenario(side Side) string {
	if side == ClientSide {
		return "valid-server"
	}
	return "valid-client"
}

// withControls adds to each checked group the control of every side whose
// reject scenarios it runs and does not already select, just before the
// group's first job of that side.
func withControls(jobs []job) []job {
	type key struct {
		group int
		side  Side
	}
	rejects, has := map[key]bool{}, map[key]bool{}
	for _, j := range jobs {
		k := key{j.group, j.scenario.Side}
		if j.scenario.Expect == Reject {
			rejects[k] = true
		}
		if j.scenario.Name == ControlScenario(j.scenario.Side) {
			has[k] = true
		}
	}
	var out []job
	for _, j := range jobs {
		k := key{j.group, j.scenario.Side}
		if j.checked && rejects[k] && !has[k] {
			if s, err := Lookup(ControlScenario(k.side)); err == nil {
				out = append(out, job{scenario: s[0], opts: j.opts, group: j.group, checked: true, control: true})
			}
			has[k] = true
		}
		out = append(out, j)
	}
	return out
}

// runJobs runs the jobs with at most parallel at once; results keep the
// jobs' order. In a checked group, the controls run first: their results
// decide whether the group's reject results can pass (a failed control
// makes them inconclusive), and the valid-client control's session
// ticket is the baseline for a TLS 1.3 server that closes without an
// alert.
func runJobs(ctx context.Context, m *Materials, jobs []job, parallel int, progress func(int, int, Result)) []Result {
	results := make([]Result, len(jobs))
	isControl := func(j job) bool { return j.checked && j.scenario.Name == ControlScenario(j.scenario.Side) }
	var mu sync.Mutex
	done := 0
	phase := func(pick func(job) bool) {
		sem := make(chan struct{}, max(parallel, 1))
		var wg sync.WaitGroup
		for i, j := range jobs {
			if !pick(j) {
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				results[i] = RunScenario(ctx, j.scenario, m, j.opts)
				results[i].Control = j.control
				if progress != nil {
					mu.Lock()
					done++
					progress(done, len(jobs), results[i])
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	phase(isControl)
	type key struct {
		group int
		side  Side
	}
	controls := map[key]Result{}
	for i, j := range jobs {
		if isControl(j) {
			controls[key{j.group, j.scenario.Side}] = results[i]
		}
	}
	for i := range jobs {
		// The control's ticket is the baseline even when the control
		// failed above TLS (Puma with faye-websocket sends the valid
		// client its tickets, then never answers its upgrade): the
		// ticket shows the server sends one to a client it accepted in
		// the handshake.
		if c, ok := controls[key{jobs[i].group, ServerSide}]; ok && c.Layers.TLS.SessionTicket && c.Layers.TLS.Status == LayerOK {
			jobs[i].opts.ticketBaseline = true
		}
	}
	phase(func(j job) bool { return !isControl(j) && !j.scenario.Rotation })
	// The rotation scenarios change what the server presents: after
	// everything else, one at a time.
	parallel = 1
	phase(func(j job) bool { return j.scenario.Rotation })
	for i, j := range jobs {
		if c, ok := controls[key{j.group, j.scenario.Side}]; ok && !isControl(j) {
			judgeAgainstControl(&results[i], c, j.opts.StrictTLS)
		}
	}
	return results
}

// RunScenario runs one scenario with the given materials (encounter) and
// judges it on its own; an encounter whose TLS 1.3 outcome is ambiguous
// is run again pinned to TLS 1.2. The layer rule, which needs the side's
// control, is Run's.
func RunScenario(ctx context.Context, s Scenario, m *Materials, opts Options) Result {
	opts = opts.withDefaults()
	if s.Rotation {
		return runRotation(ctx, s, m, opts)
	}
	start := time.Now()
	if s.NeedsIntermediate && m.NoIntermediate != "" {
		return Result{Scenario: s, Pass: true, Verdict: Verdict{Outcome: Skipped, Reason: Reason{ID: ReasonNotApplicable, Text: m.NoIntermediate}}}
	}
	if why := crlSkip(s, m, opts.Server); why != "" {
		return Result{Scenario: s, Pass: true, Verdict: Verdict{Outcome: Skipped, Reason: Reason{ID: ReasonNotApplicable, Text: why}}}
	}
	res := Result{Scenario: s, Verdict: encounter(ctx, s, m, opts)}
	undecided := ""
	if res.Layers.TLS.Ambiguous && !opts.NoTLS12Rerun && opts.TLSVersion != tls.VersionTLS12 {
		res, undecided = rerunInTLS12(ctx, res, m, opts)
	}
	res.Pass, res.Mismatch = judge(s, res.Verdict, opts.StrictTLS)
	if s.Judges == LayerTLS && s.Expect == Accept && res.Outcome != Accepted && res.Layers.TLS.Status == LayerOK {
		// The handshake verified: what this scenario asks is answered,
		// and what broke above TLS is another finding (valid-client's).
		res.Pass, res.Mismatch = true, ""
		res.Above = fmt.Sprintf("%s: the TLS handshake verified, then the encounter ended %s: %s", res.Layer, res.Outcome, res.Reason.Text)
	}
	if undecided != "" {
		res.Pass, res.Inconclusive, res.Mismatch = false, true, undecided
	}
	res.Duration = time.Since(start)
	return res
}

// crlSkip says why a scenario that needs the judged server to hold the
// run's CRL cannot be judged: the materials have none, or the server was
// not handed it; "" when it can.
func crlSkip(s Scenario, m *Materials, server ServerSubject) string {
	if !s.NeedsCRL {
		return ""
	}
	if t, ok := server.(interface{ crlSkip() string }); ok && t.crlSkip() != "" {
		return t.crlSkip()
	}
	return m.NoCRL
}

// rerunInTLS12 runs again, pinned to TLS 1.2, an encounter whose TLS 1.3
// outcome cannot tell a refusal from a breakage: in TLS 1.2 the server
// judges the client's certificate inside the handshake, so a refusal is
// unambiguous there. The first observation is kept in res.TLS13. A
// subject that cannot do TLS 1.2 leaves the question open: undecided
// says why.
func rerunInTLS12(ctx context.Context, res Result, m *Materials, opts Options) (Result, string) {
	first := res.Verdict
	o12 := opts
	o12.TLSVersion = tls.VersionTLS12
	res.Verdict, res.TLS13 = encounter(ctx, res.Scenario, m, o12), &first
	if res.Outcome == ConnectFailed && res.Layer == LayerTLS || res.Layer == LayerTCP {
		return res, fmt.Sprintf("inconclusive: %s; the TLS 1.2 re-run that would decide it failed (%s), so whether the certificate was refused cannot be seen (does the server speak TLS 1.2?)", first.Reason.Text, res.Reason.Text)
	}
	res.Reason.Text += " [decided in TLS 1.2: in TLS 1.3 the server closed without an alert after the client's handshake, which cannot tell a refusal from a breakage]"
	return res, ""
}

// encounter runs one scenario's encounter: it starts the server (the
// judged one for a server-side scenario, the reference server
// otherwise), lets the client connect (the reference client, or the
// judged one for a client-side scenario), stops the server and joins
// what the server observed to the client's verdict.
func encounter(ctx context.Context, s Scenario, m *Materials, opts Options) Verdict {
	enc := s.Setup(m)
	if enc.RevokedServer {
		svc, err := startRevocationService(m.leafIssuer, opts.Timeout)
		if err != nil {
			return Verdict{Outcome: ConnectFailed, Layer: LayerTCP, Reason: Reason{ID: ReasonUnclassified, Text: err.Error()}}
		}
		defer svc.close()
		leaf, crl, err := svc.mintRevoked()
		if err != nil {
			return Verdict{Outcome: ConnectFailed, Layer: LayerTCP, Reason: Reason{ID: ReasonUnclassified, Text: "minting the revoked server certificate: " + err.Error()}}
		}
		enc.Server, enc.ServerSendsChain = leaf, true
		enc.ServerCRLs = append([][]byte{crl}, m.crlsBelowRoot()...)
		v := connect(ctx, s, enc, opts)
		v.Revocation = svc.evidence()
		return v
	}
	v := connect(ctx, s, enc, opts)
	if t, ok := opts.Server.(interface{ ocspEvidence() *RevocationLayer }); ok && s.NeedsCRL {
		v.Revocation = t.ocspEvidence()
	}
	return v
}

// connect starts the server for enc, lets the client connect and joins
// what the server observed to the client's verdict.
func connect(ctx context.Context, s Scenario, enc Encounter, opts Options) Verdict {
	server, client := ReferenceServer(), ReferenceClient()
	if s.Side == ServerSide {
		server = opts.Server
	} else {
		client = opts.Client
	}
	srv, err := server.Start(ctx, ServerConfig{Encounter: enc, TLSVersion: opts.TLSVersion, Timeout: opts.Timeout})
	if err != nil {
		return Verdict{Outcome: ConnectFailed, Layer: LayerTCP, Reason: Reason{ID: ReasonUnclassified, Text: fmt.Sprintf("the server %q did not start: %v", server.Name(), err)}}
	}
	cc := ClientConfig{Encounter: enc, Scenario: s.Name, Addr: srv.Addr(), TLSVersion: opts.TLSVersion, Timeout: opts.Timeout, AcceptOnUpgrade: opts.AcceptOnUpgrade, NoRenegotiation: opts.NoRenegotiation, ticketBaseline: opts.ticketBaseline}
	if t, ok := srv.(interface{ URL() string }); ok {
		cc.Target = t.URL()
	}
	v := client.Connect(ctx, cc)
	if d, ok := srv.(interface{ drainBacklog() }); ok && isObserving(client) {
		d.drainBacklog()
	}
	_ = srv.Close()
	obs := srv.Observations()
	if oc, ok := client.(observingClient); ok {
		// An external client reports only its exit status: the
		// verdict is built from what the server saw.
		oc.combine(&v, obs)
		return v
	}
	if len(obs) > 0 {
		o := obs[0]
		v.Server = &o
	}
	refine(&v)
	return v
}

func isObserving(c ClientSubject) bool { _, ok := c.(observingClient); return ok }

// observingClient is a client whose verdict is made from the reference
// server's observations (an external command that only reports its exit
// status and output).
type observingClient interface {
	ClientSubject
	combine(v *Verdict, obs []ServerObservation)
}

// refine prefers the server's own account of why it refused a client
// (from the typed x509 error) over what the alert alone can say: alert
// 45 certificate_expired covers not-yet-valid too, and TLS 1.2's alert 40
// handshake_failure is how a missing certificate is refused.
func refine(v *Verdict) {
	if v.Outcome != RejectedTLS || v.RefusedBy != PartyServer || v.Server == nil || v.Server.TLS.Reason == nil {
		return
	}
	sr := *v.Server.TLS.Reason
	if sr.ID == ReasonUnclassified {
		return
	}
	if a := v.Layers.TLS.Alert; a != nil {
		sr.Text += fmt.Sprintf(" (%s)", a)
	}
	v.Reason = sr
}
