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
	Description string              `json:"description"`
	Pass        bool                `json:"pass"`
	// Inconclusive: would have passed, but the side's control failed.
	Inconclusive bool `json:"inconclusive,omitempty"`
	// Control: added by the run as the control of the selected rejects.
	Control    bool    `json:"control,omitempty"`
	Mismatch   string  `json:"mismatch,omitempty"`
	DurationMS float64 `json:"duration_ms"`
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
}

type summaryJSON struct {
	Total  int `json:"total"`
	Passed int `json:"passed"`
	Failed int `json:"failed"`
	// Inconclusive counts results that would have passed but whose
	// side's control failed; they are not in Passed nor in Failed.
	Inconclusive int  `json:"inconclusive,omitempty"`
	OK           bool `json:"ok"`
	// Controls counts, for a negative-control run.
	Controls int `json:"controls,omitempty"`
	Caught   int `json:"caught,omitempty"`
}

func toJSON(r harness.Result) resultJSON {
	return resultJSON{
		Name: r.Scenario.Name, Side: r.Scenario.Side, Expected: r.Scenario.Expect,
		Description: r.Scenario.Description, Pass: r.Pass, Inconclusive: r.Inconclusive, Control: r.Control, Mismatch: r.Mismatch,
		DurationMS: millis(r.Duration), Verdict: r.Verdict,
	}
}

// WriteJSON writes the report as indented JSON, schema version 1
// (documented in docs/harness-json.md).
func WriteJSON(w io.Writer, rep *harness.Report) error {
	out := reportJSON{
		SchemaVersion: SchemaVersion, Kind: rep.Kind,
		StartedAt:  rep.Started.UTC().Format(time.RFC3339Nano),
		DurationMS: millis(rep.Duration), TimeoutMS: millis(rep.Timeout),
		TLSVersion: harness.TLSVersionName(rep.TLSVersion), ServerSubject: rep.ServerSubject, ClientSubject: rep.ClientSubject,
		Summary: summaryJSON{Total: len(rep.Results), Passed: rep.Passed(), Failed: len(rep.Results) - rep.Passed() - rep.Inconclusive(), Inconclusive: rep.Inconclusive(), OK: rep.OK()},
		Results: []resultJSON{}, SubjectErrors: rep.SubjectErrors,
	}
	for _, r := range rep.Results {
		out.Results = append(out.Results, toJSON(r))
	}
	for _, c := range rep.Controls {
		cj := controlJSON{Name: c.Control.Name, Description: c.Control.Description, Subject: c.Control.Subject,
			WantOutcome: c.Control.WantOutcome, WantStatus: c.Control.WantStatus, Caught: c.Caught, Why: c.Why}
		for _, r := range c.Results {
			cj.Results = append(cj.Results, toJSON(r))
		}
		out.Controls = append(out.Controls, cj)
		out.Summary.Controls++
		if c.Caught {
			out.Summary.Caught++
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// millis is d in milliseconds, to the microsecond, for JSON.
func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
