package harness

import (
	"context"
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
}

// Skipped counts the results that were not run.
func (r *Report) Skipped() int {
	n := 0
	for _, res := range r.Results {
		if res.Outcome == Skipped {
			n++
		}
	}
	return n
}

// Inconclusive counts the results that would have passed but whose
// side's control failed.
func (r *Report) Inconclusive() int {
	n := 0
	for _, res := range r.Results {
		if res.Inconclusive {
			n++
		}
	}
	return n
}

// Passed counts the results that matched their expectation.
func (r *Report) Passed() int {
	n := 0
	for _, res := range r.Results {
		if res.Pass {
			n++
		}
	}
	return n
}

// OK reports whether every scenario matched (for a scenario run) or every
// control was caught (for a negative-control run).
func (r *Report) OK() bool {
	if r.Kind == KindControls {
		for _, c := range r.Controls {
			if !c.Caught {
				return false
			}
		}
		return true
	}
	return r.Passed() == len(r.Results) && len(r.SubjectErrors) == 0
}

// Report kinds.
const (
	KindScenarios = "scenarios"
	KindControls  = "negative-controls"
)

// Run runs the scenarios (all of them when none are given) in parallel,
// each on its own loopback port, and returns the results in definition
// order. It fails only when the certificates cannot be minted.
func Run(ctx context.Context, scenarios []Scenario, opts Options) (*Report, error) {
	if len(scenarios) == 0 {
		scenarios = Scenarios()
	}
	opts = opts.withDefaults()
	started := time.Now()
	m := opts.Materials
	if m == nil {
		var err error
		if m, err = NewMaterials(); err != nil {
			return nil, err
		}
	}
	jobs := make([]job, len(scenarios))
	for i, s := range scenarios {
		jobs[i] = job{scenario: s, opts: opts, checked: true}
	}
	results := runJobs(ctx, m, withControls(jobs), opts.Parallel, opts.Progress)
	return &Report{
		Kind: KindScenarios, Started: started, Duration: time.Since(started),
		Timeout: opts.Timeout, TLSVersion: opts.TLSVersion,
		ServerSubject: opts.Server.Name(), ClientSubject: opts.Client.Name(),
		Results: results, Materials: m,
		StrictTLS: opts.StrictTLS, AcceptOnUpgrade: opts.AcceptOnUpgrade,
	}, nil
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
		if c, ok := controls[key{jobs[i].group, ServerSide}]; ok && c.Pass && c.Layers.TLS.SessionTicket {
			jobs[i].opts.ticketBaseline = true
		}
	}
	phase(func(j job) bool { return !isControl(j) })
	for i, j := range jobs {
		c, ok := controls[key{j.group, j.scenario.Side}]
		if !ok || c.Pass || j.scenario.Expect != Reject || !results[i].Pass || results[i].Outcome == Skipped {
			continue
		}
		results[i].Pass, results[i].Inconclusive = false, true
		results[i].Mismatch = fmt.Sprintf("inconclusive: the %s control failed on this subject (%s: %s), so this refusal says nothing about the certificate: the subject may refuse everything", c.Scenario.Name, c.Outcome, c.Reason.Text)
	}
	return results
}

// RunScenario runs one scenario with the given materials: it starts the
// server (the judged one for a server-side scenario, the reference server
// otherwise), lets the client connect (the reference client, or the
// judged one for a client-side scenario), stops the server and joins
// what the server observed to the client's verdict.
func RunScenario(ctx context.Context, s Scenario, m *Materials, opts Options) Result {
	opts = opts.withDefaults()
	start := time.Now()
	if s.NeedsIntermediate && m.NoIntermediate != "" {
		return Result{Scenario: s, Pass: true, Verdict: Verdict{Outcome: Skipped, Reason: Reason{ID: ReasonNotApplicable, Text: m.NoIntermediate}}}
	}
	enc := s.Setup(m)
	server, client := ReferenceServer(), ReferenceClient()
	if s.Side == ServerSide {
		server = opts.Server
	} else {
		client = opts.Client
	}
	res := Result{Scenario: s}
	srv, err := server.Start(ctx, ServerConfig{Encounter: enc, TLSVersion: opts.TLSVersion, Timeout: opts.Timeout})
	if err != nil {
		res.Verdict = Verdict{Outcome: ConnectFailed, Layer: LayerTCP, Reason: Reason{ID: ReasonUnclassified, Text: fmt.Sprintf("the server %q did not start: %v", server.Name(), err)}}
	} else {
		cc := ClientConfig{Encounter: enc, Scenario: s.Name, Addr: srv.Addr(), TLSVersion: opts.TLSVersion, Timeout: opts.Timeout, AcceptOnUpgrade: opts.AcceptOnUpgrade, ticketBaseline: opts.ticketBaseline}
		if t, ok := srv.(interface{ URL() string }); ok {
			cc.Target = t.URL()
		}
		res.Verdict = client.Connect(ctx, cc)
		_ = srv.Close()
		obs := srv.Observations()
		if oc, ok := client.(observingClient); ok {
			// An external client reports only its exit status: the
			// verdict is built from what the server saw.
			oc.combine(&res.Verdict, obs)
		} else {
			if len(obs) > 0 {
				o := obs[0]
				res.Verdict.Server = &o
			}
			refine(&res.Verdict)
		}
	}
	res.Pass, res.Mismatch = judge(s, res.Verdict, opts.StrictTLS)
	res.Duration = time.Since(start)
	return res
}

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
