package report

import (
	"encoding/json"
	"io"
	"time"

	"github.com/mtlskit/mtlskit/harness"
)

// SchemaVersion is the version of the JSON report (docs/harness-json.md).
const SchemaVersion = 1

// resultJSON is one result in the JSON report (schema version 1).
type resultJSON struct {
	Name        string              `json:"name"`
	Side        harness.Side        `json:"side"`
	Expected    harness.Expectation `json:"expected"`
	Importance  harness.Importance  `json:"importance"`
	Description string              `json:"description"`
	Pass        bool                `json:"pass"`
	// Mark is the result's word in every format: PASS, FAIL, SKIP,
	// INCONCLUSIVE or OBSERVED.
	Mark Mark `json:"mark"`
	// Observed: the scenario reports what the subject did without
	// judging it; neither passed nor failed.
	Observed bool `json:"observed,omitempty"`
	// Inconclusive: what was seen cannot tell pass from fail.
	Inconclusive bool `json:"inconclusive,omitempty"`
	// Control: added by the run as the control of the selected rejects.
	Control  bool   `json:"control,omitempty"`
	Mismatch string `json:"mismatch,omitempty"`
	// Above: what broke above the layer the scenario judged.
	Above string `json:"above,omitempty"`
	// TLS13Observation: the ambiguous TLS 1.3 encounter a TLS 1.2
	// re-run decided (the verdict's fields are the TLS 1.2 one's).
	TLS13Observation *harness.Verdict `json:"tls13_observation,omitempty"`
	DurationMS       float64          `json:"duration_ms"`
	// Subject names the subject of a subjects file (harness run
	// --subjects), on every result so a shard's results stand alone.
	Subject string `json:"subject,omitempty"`
	harness.Verdict
}

type controlJSON struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Subject     string          `json:"subject"`
	WantOutcome harness.Outcome `json:"want_outcome,omitempty"`
	WantStatus  int             `json:"want_status,omitempty"`
	Caught      bool            `json:"caught"`
	Why         string          `json:"why,omitempty"`
	Results     []resultJSON    `json:"results"`
}

type reportJSON struct {
	SchemaVersion int           `json:"schema_version"`
	Kind          string        `json:"kind"`
	StartedAt     string        `json:"started_at"`
	DurationMS    float64       `json:"duration_ms"`
	TimeoutMS     float64       `json:"timeout_ms"`
	TLSVersion    string        `json:"tls_version"`
	ServerSubject string        `json:"server_subject"`
	ClientSubject string        `json:"client_subject"`
	Summary       summaryJSON   `json:"summary"`
	Results       []resultJSON  `json:"results"`
	Controls      []controlJSON `json:"controls,omitempty"`
	// SubjectErrors are failures of an external subject outside any
	// scenario (a server command that hung on shutdown).
	SubjectErrors []string `json:"subject_errors,omitempty"`
	// RunError says why the run never reached its subject: then there
	// are no results.
	RunError string `json:"run_error,omitempty"`
	// ReadyMS is how long the server took to become ready, when the run
	// waited for it.
	ReadyMS float64 `json:"ready_ms,omitempty"`
	// Subject and SkippedBecause: a subject of a subjects file, and why
	// it was not run at all.
	Subject        string `json:"subject,omitempty"`
	SkippedBecause string `json:"skipped_because,omitempty"`
}

type summaryJSON struct {
	Total  int `json:"total"`
	Passed int `json:"passed"`
	Failed int `json:"failed"`
	// Inconclusive counts results that would have passed but whose
	// side's control failed; they are not in Passed nor in Failed.
	Inconclusive int `json:"inconclusive,omitempty"`
	// Skipped counts scenarios that could not be set up; they are not
	// in Passed.
	Skipped int `json:"skipped,omitempty"`
	// Observed counts the scenarios that report without judging; they
	// are not in Passed nor in Failed.
	Observed  int  `json:"observed,omitempty"`
	RunErrors int  `json:"run_errors,omitempty"`
	OK        bool `json:"ok"`
	// Controls counts, for a negative-control run.
	Controls int `json:"controls,omitempty"`
	Caught   int `json:"caught,omitempty"`
}

func toJSON(r harness.Result, subject string) resultJSON {
	return resultJSON{
		Name: r.Scenario.Name, Side: r.Scenario.Side, Expected: r.Scenario.Expect, Importance: r.Scenario.Importance,
		Description: r.Scenario.Description, Pass: r.Pass, Mark: MarkOf(r), Observed: r.Observed, Inconclusive: r.Inconclusive, Control: r.Control, Mismatch: r.Mismatch,
		Above: r.Above, TLS13Observation: r.TLS13, DurationMS: millis(r.Duration), Subject: subject, Verdict: r.Verdict,
	}
}

// WriteJSON writes the report as indented JSON, schema version 1
// (documented in docs/harness-json.md).
func WriteJSON(w io.Writer, rep *harness.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(reportOf(rep))
}

// reportOf is a report's JSON form.
func reportOf(rep *harness.Report) reportJSON {
	out := reportJSON{
		SchemaVersion: SchemaVersion, Kind: rep.Kind,
		StartedAt:  rep.Started.UTC().Format(time.RFC3339Nano),
		DurationMS: millis(rep.Duration), TimeoutMS: millis(rep.Timeout),
		TLSVersion: harness.TLSVersionName(rep.TLSVersion), ServerSubject: rep.ServerSubject, ClientSubject: rep.ClientSubject,
		Summary: summaryJSON{Total: len(rep.Results), Passed: rep.Passed(), Failed: rep.Failed(), Inconclusive: rep.Inconclusive(), Skipped: rep.Skipped(), Observed: rep.Observations(), OK: rep.OK()},
		Results: []resultJSON{}, SubjectErrors: rep.SubjectErrors, RunError: rep.RunError, ReadyMS: millis(rep.Ready),
		Subject: rep.Subject, SkippedBecause: rep.SkippedBecause,
	}
	if rep.RunError != "" {
		out.Summary.RunErrors = 1
	}
	for _, r := range rep.Results {
		out.Results = append(out.Results, toJSON(r, rep.Subject))
	}
	for _, c := range rep.Controls {
		cj := controlJSON{Name: c.Control.Name, Description: c.Control.Description, Subject: c.Control.Subject,
			WantOutcome: c.Control.WantOutcome, WantStatus: c.Control.WantStatus, Caught: c.Caught, Why: c.Why}
		for _, r := range c.Results {
			cj.Results = append(cj.Results, toJSON(r, ""))
		}
		out.Controls = append(out.Controls, cj)
		out.Summary.Controls++
		if c.Caught {
			out.Summary.Caught++
		}
	}
	return out
}

// millis is d in milliseconds, to the microsecond, for JSON.
func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
