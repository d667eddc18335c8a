package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mtlskit/mtlskit/harness"
)

// JUnit XML, as read by Jenkins, GitLab and GitHub test reporters.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
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
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes one testcase per scenario (per control encounter for a
// negative-control run); a failing case carries the evidence of every
// layer.
func WriteJUnit(w io.Writer, rep *harness.Report) error {
	suite := junitSuiteOf(rep)
	out := junitSuites{Name: "mtlskit", Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors, Skipped: suite.Skipped, Time: suite.Time, Suites: []junitSuite{suite}}
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

// junitSuiteOf is a report's testsuite.
func junitSuiteOf(rep *harness.Report) junitSuite {
	suite := junitSuite{Name: "mtlskit harness", Time: seconds(rep.Duration), Timestamp: rep.Started.UTC().Format("2006-01-02T15:04:05")}
	add := func(name, class string, r harness.Result, failed bool, msg string) {
		var ev strings.Builder
		if r.Observed {
			// JUnit has pass, failure, error and skipped: an observation
			// is a case that passes, and says so first.
			fmt.Fprintf(&ev, "OBSERVED [%s]: reported, not judged (neither passed nor failed)\n", r.Scenario.Importance)
		}
		fmt.Fprintf(&ev, "expected %s, observed %s\n%s\n", r.Scenario.Expect, r.Outcome, plainReason(r))
		if r.Above != "" {
			fmt.Fprintf(&ev, "above: %s\n", r.Above)
		}
		writeEvidence(&ev, r)
		c := junitCase{Name: name, Classname: class, Time: seconds(r.Duration), SystemOut: ev.String()}
		if r.Outcome == harness.Skipped {
			c.Skipped = &junitSkipped{Message: r.Reason.Text}
			suite.Skipped++
			suite.Tests++
			suite.Cases = append(suite.Cases, c)
			return
		}
		if failed && r.Inconclusive && rep.Kind != harness.KindControls {
			// Neither a pass nor a failure of the subject: an error.
			c.Error = &junitFailure{Message: msg, Type: "inconclusive", Body: ev.String()}
			suite.Errors++
		} else if failed {
			c.Failure = &junitFailure{Message: fmt.Sprintf("[%s] %s", r.Scenario.Importance, msg), Type: string(r.Outcome), Body: ev.String()}
			suite.Failures++
		}
		suite.Tests++
		suite.Cases = append(suite.Cases, c)
	}
	if rep.RunError != "" {
		// No scenario ran: one error case says why, so a CI reader sees
		// a red run with its cause rather than an empty suite.
		suite.Cases = append(suite.Cases, junitCase{Name: "run", Classname: "mtlskit.harness.run",
			Error: &junitFailure{Message: rep.RunError, Type: "run-error", Body: rep.RunError}})
		suite.Tests++
		suite.Errors++
	}
	if rep.Kind == harness.KindControls {
		suite.Name = "mtlskit harness negative controls"
		for _, c := range rep.Controls {
			for _, r := range c.Results {
				add(c.Control.Name+"/"+NameOf(r), "mtlskit.harness.controls."+c.Control.Name, r, !c.Caught, "control missed: "+c.Why)
			}
		}
	} else {
		for _, r := range rep.Results {
			add(NameOf(r), "mtlskit.harness."+string(r.Scenario.Side)+"-side", r, !r.Pass, r.Mismatch)
		}
	}
	return suite
}
