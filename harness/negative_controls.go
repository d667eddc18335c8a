package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"
)

// This file holds the negative controls: deliberately broken subjects that
// prove the harness sees failures. It is the only place in mtlskit where
// certificate verification is switched off.

// NegativeControlInsecureClient skips verification of the server
// certificate, as the log's `verify_peer: false` workaround did. Run
// against the client-side reject scenarios, it must fail every one.
func NegativeControlInsecureClient() ClientSubject {
	return &referenceClient{name: "insecure-client", tweak: func(c *tls.Config) {
		c.InsecureSkipVerify = true // negative control: deliberately insecure
	}}
}

// NegativeControlLaxServer requests client certificates but neither
// requires nor verifies them. Run against the server-side reject
// scenarios, it must fail every one.
func NegativeControlLaxServer() ServerSubject {
	return &referenceServer{name: "lax-server", mode: modeLax}
}

// negativeControlDenyAllServer requires a client certificate from a CA it
// does not have (its pool of client CAs is empty), so it refuses every
// client, the valid ones too. Its refusals of bad clients must not pass:
// the valid-client control fails and makes them inconclusive.
func negativeControlDenyAllServer() ServerSubject {
	return &referenceServer{name: "deny-all-server", mode: modeDenyAll}
}

// negativeControlRefuseAllClient trusts no CA at all, so it refuses every
// server, the valid ones too: the valid-server control fails and makes
// its refusals inconclusive.
func negativeControlRefuseAllClient() ClientSubject {
	return &referenceClient{name: "refuse-all-client", tweak: func(c *tls.Config) {
		c.RootCAs = x509.NewCertPool() // negative control: trusts nothing
	}}
}

// The three broken servers of the bug log.
func negativeControlNoHandlerServer() ServerSubject {
	return &referenceServer{name: "no-handler-server", mode: modeNoHandler}
}

func negativeControlSilentServer() ServerSubject {
	return &referenceServer{name: "silent-server", mode: modeSilent}
}

func negativeControlStatus500Server() ServerSubject {
	return &referenceServer{name: "status-500-server", mode: modeStatus500}
}

// Control is a negative control: a broken subject and the scenarios it
// must fail.
type Control struct {
	Name        string
	Description string
	// Subject names the broken server or client.
	Subject string
	// Scenarios are the scenarios the subject is run against.
	Scenarios []Scenario
	// WantOutcome, when set, is the outcome every result must show.
	WantOutcome Outcome
	// WantStatus, when set, is the HTTP status the client must see.
	WantStatus int
	// WantInconclusive: the scenarios are a whole side, run with its
	// control; the control must fail and every reject scenario must be
	// inconclusive (a subject that refuses everyone gets no clean bill).
	WantInconclusive bool

	options func(Options) Options
}

// ControlResult is a control's results and whether it was caught: every
// result failed its scenario, with the wanted outcome if one is set.
type ControlResult struct {
	Control Control
	Results []Result
	Caught  bool
	// Why says what was missed when the control was not caught.
	Why string
}

func rejectScenarios(side Side) []Scenario {
	var out []Scenario
	for _, s := range OfSide(Scenarios(), side) {
		if s.Expect == Reject {
			out = append(out, s)
		}
	}
	return out
}

// NegativeControls lists the controls in definition order.
func NegativeControls() []Control {
	valid, _ := Lookup("valid-client")
	return []Control{
		{
			Name:        "insecure-client",
			Description: "a client that skips server verification (verify_peer: false, the usual workaround when verification fails) must fail every client-side reject scenario",
			Subject:     "insecure-client",
			Scenarios:   rejectScenarios(ClientSide),
			WantOutcome: Accepted,
			options:     func(o Options) Options { o.Client = NegativeControlInsecureClient(); return o },
		},
		{
			Name:        "lax-server",
			Description: "a server that requests but neither requires nor verifies client certificates must fail every server-side reject scenario",
			Subject:     "lax-server",
			Scenarios:   rejectScenarios(ServerSide),
			WantOutcome: Accepted,
			options:     func(o Options) Options { o.Server = NegativeControlLaxServer(); return o },
		},
		{
			Name:             "deny-all-server",
			Description:      "a server that refuses every client, the valid ones too (it trusts no client CA): valid-client fails and every server-side reject is inconclusive",
			Subject:          "deny-all-server",
			Scenarios:        OfSide(Scenarios(), ServerSide),
			WantInconclusive: true,
			options:          func(o Options) Options { o.Server = negativeControlDenyAllServer(); return o },
		},
		{
			Name:             "refuse-all-client",
			Description:      "a client that refuses every server, the valid ones too (it trusts no CA): valid-server fails and every client-side reject is inconclusive",
			Subject:          "refuse-all-client",
			Scenarios:        OfSide(Scenarios(), ClientSide),
			WantInconclusive: true,
			options:          func(o Options) Options { o.Client = negativeControlRefuseAllClient(); return o },
		},
		{
			Name:        "no-handler-server",
			Description: "TLS and 101 are fine but the handler never runs (seen with Ruby's async-websocket server): no-echo",
			Subject:     "no-handler-server",
			Scenarios:   valid,
			WantOutcome: NoEcho,
			options:     func(o Options) Options { o.Server = negativeControlNoHandlerServer(); return o },
		},
		{
			Name:        "silent-server",
			Description: "TLS is fine but the upgrade request is never answered (seen with Puma + websocket-driver): no-upgrade",
			Subject:     "silent-server",
			Scenarios:   valid,
			WantOutcome: NoUpgrade,
			options:     func(o Options) Options { o.Server = negativeControlSilentServer(); return o },
		},
		{
			Name:        "status-500-server",
			Description: "TLS is fine but the upgrade is answered 500 (seen with Puma + faye-websocket's TypeError): rejected-http 500",
			Subject:     "status-500-server",
			Scenarios:   valid,
			WantOutcome: RejectedHTTP,
			WantStatus:  500,
			options:     func(o Options) Options { o.Server = negativeControlStatus500Server(); return o },
		},
	}
}

// RunNegativeControls runs every control in parallel and reports whether
// each was caught. The silent server costs one timeout (opts.Timeout).
func RunNegativeControls(ctx context.Context, opts Options) (*Report, error) {
	opts = opts.withDefaults()
	started := time.Now()
	m := opts.Materials
	if m == nil {
		var err error
		if m, err = NewMaterials(); err != nil {
			return nil, err
		}
	}
	controls := NegativeControls()
	var jobs []job
	for i, c := range controls {
		o := c.options(opts)
		for _, s := range c.Scenarios {
			jobs = append(jobs, job{scenario: s, opts: o, group: i, checked: c.WantInconclusive})
		}
	}
	results := runJobs(ctx, m, jobs, opts.Parallel, opts.Progress)
	rep := &Report{
		Kind: KindControls, Started: started, Timeout: opts.Timeout, TLSVersion: opts.TLSVersion,
		ServerSubject: "negative controls", ClientSubject: "negative controls",
		Results: results, Materials: m,
	}
	i := 0
	for _, c := range controls {
		cr := ControlResult{Control: c, Results: results[i : i+len(c.Scenarios)]}
		i += len(c.Scenarios)
		cr.Caught, cr.Why = caught(c, cr.Results)
		rep.Controls = append(rep.Controls, cr)
	}
	rep.Duration = time.Since(started)
	return rep, nil
}

// caught decides whether a control was flagged as it must be.
func caught(c Control, results []Result) (bool, string) {
	if len(results) == 0 {
		return false, "the control ran no scenario"
	}
	if c.WantInconclusive {
		for _, r := range results {
			switch {
			case r.Pass:
				return false, fmt.Sprintf("%s passed %s: the harness gave a subject that refuses everyone a clean bill", c.Subject, r.Scenario.Name)
			case r.Scenario.Expect == Reject && !r.Inconclusive:
				return false, fmt.Sprintf("%s on %s: want inconclusive (its control failed), got %s (%s)", c.Subject, r.Scenario.Name, r.Outcome, r.Mismatch)
			}
		}
		return true, ""
	}
	for _, r := range results {
		switch {
		case r.Pass:
			return false, fmt.Sprintf("%s passed %s: the harness did not see the broken subject", c.Subject, r.Scenario.Name)
		case c.WantOutcome != "" && r.Outcome != c.WantOutcome:
			return false, fmt.Sprintf("%s on %s: want outcome %s, got %s (%s)", c.Subject, r.Scenario.Name, c.WantOutcome, r.Outcome, r.Reason.Text)
		case c.WantStatus != 0 && r.Layers.HTTP.StatusCode != c.WantStatus:
			return false, fmt.Sprintf("%s on %s: want HTTP status %d, got %d", c.Subject, r.Scenario.Name, c.WantStatus, r.Layers.HTTP.StatusCode)
		}
	}
	return true, ""
}
