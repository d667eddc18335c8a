package harness

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// SchemaVersion is the version of the JSON report (docs/harness-json.md).
const SchemaVersion = 1

// TableOptions tune WriteTable.
type TableOptions struct {
	// Color adds ANSI colours to PASS/FAIL; callers set it only on a
	// terminal and never when NO_COLOR is set.
	Color bool
	// Verbose adds each layer's evidence under every row.
	Verbose bool
}

// plainReason is the "layer: reason" column.
func plainReason(r Result) string {
	if r.Outcome == Accepted {
		return "ws: " + r.Reason.Text
	}
	by := ""
	if r.RefusedBy != "" {
		by = "refused by " + string(r.RefusedBy) + ": "
	}
	return fmt.Sprintf("%s: %s%s [%s]", r.Layer, by, r.Reason.Text, r.Reason.ID)
}

func paint(s string, code string, on bool) string {
	if !on {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// WriteTable writes one aligned row per result (PASS/FAIL, scenario,
// side, expected, observed, then the layer and reason, which is the long
// column and so comes last) and a summary line. For a
// negative-control run the verdict column says CAUGHT or MISSED.
func WriteTable(w io.Writer, rep *Report, opt TableOptions) error {
	type row struct {
		cells []string
		mark  string
		good  bool
		res   Result
	}
	var rows []row
	header := []string{"SCENARIO", "SIDE", "EXPECTED", "OBSERVED", "LAYER: REASON", "RESULT"}
	markWidth := len("RESULT")
	if rep.Kind == KindControls {
		header = []string{"CONTROL / SCENARIO", "SIDE", "EXPECTED", "OBSERVED", "LAYER: REASON", "CONTROL"}
		markWidth = len("CAUGHT")
		for _, c := range rep.Controls {
			for _, r := range c.Results {
				mark, good := "MISSED", false
				if c.Caught {
					mark, good = "CAUGHT", true
				}
				rows = append(rows, row{[]string{c.Control.Name + "/" + r.Scenario.Name, string(r.Scenario.Side), string(r.Scenario.Expect), string(r.Outcome), plainReason(r)}, mark, good, r})
			}
		}
	} else {
		for _, r := range rep.Results {
			mark := "FAIL"
			switch {
			case r.Outcome == Skipped:
				mark = "SKIP"
			case r.Pass:
				mark = "PASS"
			case r.Inconclusive:
				mark = "INCONCLUSIVE"
			}
			name := r.Scenario.Name
			if r.Control {
				name += " (control)"
			}
			rows = append(rows, row{[]string{name, string(r.Scenario.Side), string(r.Scenario.Expect), string(r.Outcome), plainReason(r)}, mark, r.Pass, r})
		}
	}
	for _, r := range rows {
		markWidth = max(markWidth, len(r.mark))
	}
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = len(h)
	}
	for _, r := range rows {
		for i, c := range r.cells {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	line := func(mark string, markLen int, cells []string) {
		b.WriteString(mark)
		b.WriteString(strings.Repeat(" ", markWidth-markLen+2))
		for i, c := range cells {
			b.WriteString(c)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(c))+2))
			}
		}
		b.WriteString("\n")
	}
	line(header[5], len(header[5]), header[:5])
	for _, r := range rows {
		code := "31"
		if r.good {
			code = "32"
		}
		line(paint(r.mark, code, opt.Color), len(r.mark), r.cells)
		if !r.good && r.res.Mismatch != "" && rep.Kind != KindControls {
			fmt.Fprintf(&b, "    why: %s\n", r.res.Mismatch)
		}
		if opt.Verbose {
			writeEvidence(&b, r.res)
		}
	}
	if rep.Kind == KindControls {
		n := 0
		for _, c := range rep.Controls {
			if c.Caught {
				n++
			} else {
				fmt.Fprintf(&b, "missed: %s: %s\n", c.Control.Name, c.Why)
			}
		}
		fmt.Fprintf(&b, "%d of %d negative controls caught (%d encounters) in %s, timeout %s, TLS %s\n",
			n, len(rep.Controls), len(rep.Results), rep.Duration.Round(time.Millisecond), rep.Timeout, TLSVersionName(rep.TLSVersion))
	} else {
		inconclusive := ""
		if n := rep.Inconclusive(); n > 0 {
			inconclusive = fmt.Sprintf(", %d inconclusive", n)
		}
		fmt.Fprintf(&b, "%d of %d scenarios passed, %d failed%s, in %s (server: %s, client: %s, timeout %s, TLS %s)\n",
			rep.Passed(), len(rep.Results), len(rep.Results)-rep.Passed()-rep.Inconclusive(), inconclusive, rep.Duration.Round(time.Millisecond),
			rep.ServerSubject, rep.ClientSubject, rep.Timeout, TLSVersionName(rep.TLSVersion))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeEvidence writes every layer of a result, indented.
func writeEvidence(b *strings.Builder, r Result) {
	L := r.Layers
	layer := func(name string, l Layer, extra string) {
		fmt.Fprintf(b, "    %-6s %-7s %s", name, l.Status, l.Detail)
		if extra != "" {
			fmt.Fprintf(b, " %s", extra)
		}
		if l.Error != "" && !strings.Contains(l.Detail, l.Error) {
			fmt.Fprintf(b, " (error: %s)", l.Error)
		}
		b.WriteString("\n")
	}
	layer("tcp", L.TCP.Layer, "")
	var tlsExtra []string
	if L.TLS.Alert != nil {
		tlsExtra = append(tlsExtra, "["+L.TLS.Alert.String()+"]")
	}
	tlsExtra = append(tlsExtra, fmt.Sprintf("[client cert requested=%v sent=%v]", L.TLS.ClientCertRequested, L.TLS.ClientCertSent))
	layer("tls", L.TLS.Layer, strings.Join(tlsExtra, " "))
	layer("http", L.HTTP.Layer, "")
	layer("ws", L.WS.Layer, "")
	layer("close", L.Close.Layer, "")
	if s := r.Server; s != nil {
		fmt.Fprintf(b, "    server %s: tls %s (client cert: %s)", s.Subject, s.TLS.Status, s.TLS.ClientCert)
		if s.TLS.Detail != "" {
			fmt.Fprintf(b, " %s", s.TLS.Detail)
		}
		fmt.Fprintf(b, "; http request=%v", s.HTTP.RequestReceived)
		if s.HTTP.StatusSent != 0 {
			fmt.Fprintf(b, " status=%d", s.HTTP.StatusSent)
		}
		fmt.Fprintf(b, "; ws handler=%v echoed=%d\n", s.WS.HandlerRan, s.WS.Echoed)
	}
}

// resultJSON is one result in the JSON report (schema version 1).
type resultJSON struct {
	Name        string      `json:"name"`
	Side        Side        `json:"side"`
	Expected    Expectation `json:"expected"`
	Description string      `json:"description"`
	Pass        bool        `json:"pass"`
	// Inconclusive: would have passed, but the side's control failed.
	Inconclusive bool `json:"inconclusive,omitempty"`
	// Control: added by the run as the control of the selected rejects.
	Control    bool    `json:"control,omitempty"`
	Mismatch   string  `json:"mismatch,omitempty"`
	DurationMS float64 `json:"duration_ms"`
	Verdict
}

type controlJSON struct {
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Subject     string       `json:"subject"`
	WantOutcome Outcome      `json:"want_outcome,omitempty"`
	WantStatus  int          `json:"want_status,omitempty"`
	Caught      bool         `json:"caught"`
	Why         string       `json:"why,omitempty"`
	Results     []resultJSON `json:"results"`
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

func toJSON(r Result) resultJSON {
	return resultJSON{
		Name: r.Scenario.Name, Side: r.Scenario.Side, Expected: r.Scenario.Expect,
		Description: r.Scenario.Description, Pass: r.Pass, Inconclusive: r.Inconclusive, Control: r.Control, Mismatch: r.Mismatch,
		DurationMS: ms(r.Duration), Verdict: r.Verdict,
	}
}

// WriteJSON writes the report as indented JSON, schema version 1
// (documented in docs/harness-json.md).
func WriteJSON(w io.Writer, rep *Report) error {
	out := reportJSON{
		SchemaVersion: SchemaVersion, Kind: rep.Kind,
		StartedAt:  rep.Started.UTC().Format(time.RFC3339Nano),
		DurationMS: ms(rep.Duration), TimeoutMS: ms(rep.Timeout),
		TLSVersion: TLSVersionName(rep.TLSVersion), ServerSubject: rep.ServerSubject, ClientSubject: rep.ClientSubject,
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

// JUnit XML, as read by Jenkins, GitLab and GitHub test reporters.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Error     *junitFailure `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes one testcase per scenario (per control encounter for a
// negative-control run); a failing case carries the evidence of every
// layer.
func WriteJUnit(w io.Writer, rep *Report) error {
	suite := junitSuite{Name: "mtlskit harness", Time: seconds(rep.Duration), Timestamp: rep.Started.UTC().Format("2006-01-02T15:04:05")}
	add := func(name, class string, r Result, failed bool, msg string) {
		var ev strings.Builder
		fmt.Fprintf(&ev, "expected %s, observed %s\n%s\n", r.Scenario.Expect, r.Outcome, plainReason(r))
		writeEvidence(&ev, r)
		c := junitCase{Name: name, Classname: class, Time: seconds(r.Duration), SystemOut: ev.String()}
		if r.Control {
			c.Name += " (control)"
		}
		if failed && r.Inconclusive && rep.Kind != KindControls {
			// Neither a pass nor a failure of the subject: an error.
			c.Error = &junitFailure{Message: msg, Type: "inconclusive", Body: ev.String()}
			suite.Errors++
		} else if failed {
			c.Failure = &junitFailure{Message: msg, Type: string(r.Outcome), Body: ev.String()}
			suite.Failures++
		}
		suite.Tests++
		suite.Cases = append(suite.Cases, c)
	}
	if rep.Kind == KindControls {
		suite.Name = "mtlskit harness negative controls"
		for _, c := range rep.Controls {
			for _, r := range c.Results {
				add(c.Control.Name+"/"+r.Scenario.Name, "mtlskit.harness.controls."+c.Control.Name, r, !c.Caught, "control missed: "+c.Why)
			}
		}
	} else {
		for _, r := range rep.Results {
			add(r.Scenario.Name, "mtlskit.harness."+string(r.Scenario.Side)+"-side", r, !r.Pass, r.Mismatch)
		}
	}
	out := junitSuites{Name: "mtlskit", Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors, Time: suite.Time, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
