package report

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/harness"
)

// sampleReport runs three scenarios against a lax server, so the report
// has passes and failures; the run adds valid-server as the control of
// server-missing-san, before it.
func sampleReport(t *testing.T) *harness.Report {
	t.Helper()
	s, err := harness.Lookup("valid-client", "no-client-cert", "server-missing-san")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := harness.Run(context.Background(), s, harness.Options{Materials: testMaterials(), Server: harness.NegativeControlLaxServer(), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Passed() != 3 || len(rep.Results) != 4 || !rep.Results[2].Control || rep.Results[2].Scenario.Name != "valid-server" {
		t.Fatalf("%d of %d passed, want 3 of 4 (no-client-cert must fail against the lax server; valid-server added as a control)", rep.Passed(), len(rep.Results))
	}
	return rep
}

func TestJSONReportFollowsSchemaVersion1(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sampleReport(t)); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SchemaVersion int    `json:"schema_version"`
		Kind          string `json:"kind"`
		Summary       struct {
			Total, Passed, Failed int
			OK                    bool
		} `json:"summary"`
		Results []struct {
			Name, Side, Expected, Outcome, Layer string
			Pass, Control                        bool
			Reason                               struct{ ID, Text string }
			Layers                               map[string]map[string]any
			Server                               map[string]any
		} `json:"results"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion != 1 || doc.Kind != "scenarios" || doc.Summary.Total != 4 || doc.Summary.Passed != 3 || doc.Summary.Failed != 1 || doc.Summary.OK {
		t.Fatalf("header %+v", doc)
	}
	r := doc.Results[1]
	if r.Name != "no-client-cert" || r.Pass || r.Outcome != "accepted" || r.Server["subject"] != "lax-server" {
		t.Fatalf("result %+v", r)
	}
	for _, l := range []string{"tcp", "tls", "http", "ws", "close"} {
		if r.Layers[l]["status"] != "ok" {
			t.Errorf("layer %s: %v", l, r.Layers[l])
		}
	}
	if c := doc.Results[2]; c.Name != "valid-server" || !c.Control || !c.Pass || doc.Results[0].Control {
		t.Fatalf("control: %+v", c)
	}
	m := doc.Results[3]
	if m.Reason.ID != "legacy-cn" || m.Layers["tls"]["refused_by"] != "client" || m.Layers["http"]["status"] != "skipped" {
		t.Fatalf("server-missing-san: %+v", m)
	}
}

func TestJUnitReportParsesWithOneCasePerScenario(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, sampleReport(t)); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("invalid XML: %v\n%s", err, b.String())
	}
	if doc.Tests != 4 || doc.Failures != 1 || len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 4 {
		t.Fatalf("counts: tests %d failures %d suites %d", doc.Tests, doc.Failures, len(doc.Suites))
	}
	var failed []string
	for _, c := range doc.Suites[0].Cases {
		if c.Failure != nil {
			failed = append(failed, c.Name)
			if !strings.Contains(c.Failure.Body, "tls") || !strings.Contains(c.Failure.Body, "lax-server") || c.Failure.Message == "" {
				t.Errorf("failure carries no evidence: %+v", c.Failure)
			}
		}
	}
	if strings.Join(failed, ",") != "no-client-cert" {
		t.Fatalf("failed cases %v", failed)
	}
	if xmllint, err := exec.LookPath("xmllint"); err == nil {
		f := filepath.Join(t.TempDir(), "junit.xml")
		if err := os.WriteFile(f, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(xmllint, "--noout", f).CombinedOutput(); err != nil {
			t.Fatalf("xmllint: %v\n%s", err, out)
		}
	}
}

func TestTableHasAlignedRowsSummaryAndColourOnlyWhenAsked(t *testing.T) {
	rep := sampleReport(t)
	var plain, color, verbose bytes.Buffer
	if err := WriteTable(&plain, rep, TableOptions{}); err != nil {
		t.Fatal(err)
	}
	_ = WriteTable(&color, rep, TableOptions{Color: true})
	_ = WriteTable(&verbose, rep, TableOptions{Verbose: true})
	out := plain.String()
	if strings.Contains(out, "\x1b[") {
		t.Error("colour without Color")
	}
	if !strings.Contains(color.String(), "\x1b[32mPASS\x1b[0m") || !strings.Contains(color.String(), "\x1b[31mFAIL\x1b[0m") {
		t.Error("no colour with Color")
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[0], "RESULT  SCENARIO") || !strings.HasPrefix(lines[1], "PASS    valid-client") || !strings.HasPrefix(lines[len(lines)-1], "3 of 4 scenarios passed, 1 failed") || !strings.Contains(out, "PASS    valid-server (control)") {
		t.Fatalf("table:\n%s", out)
	}
	col := strings.Index(lines[0], "EXPECTED")
	for _, l := range lines[1:5] {
		if strings.HasPrefix(l, " ") {
			continue
		}
		if l[col-2:col] != "  " || (l[col:col+6] != "accept" && l[col:col+6] != "reject") {
			t.Errorf("column not aligned at %d: %q", col, l)
		}
	}
	if !strings.Contains(out, "legacy Common Name") || !strings.Contains(out, "why (critical): expected the server to refuse") {
		t.Errorf("reasons missing:\n%s", out)
	}
	if !strings.Contains(verbose.String(), "    tls    ok") || !strings.Contains(verbose.String(), "server lax-server") {
		t.Errorf("verbose evidence missing:\n%s", verbose.String())
	}
}

// testMaterials are minted once for the report tests.
var testMaterials = sync.OnceValue(func() *harness.Materials {
	m, err := harness.NewMaterials()
	if err != nil {
		panic(err)
	}
	return m
})

// TestControlAndInconclusiveInEveryFormat: a run of one reject scenario
// whose added control failed (the subject refuses everyone) shows the
// control, marked, and the refusal as inconclusive in every format.
// harness's TestSubjectThatRefusesEverythingIsInconclusive pins the
// results themselves.
func TestControlAndInconclusiveInEveryFormat(t *testing.T) {
	valid, _ := harness.Lookup("valid-client")
	noCert, _ := harness.Lookup("no-client-cert")
	refused := harness.Verdict{Outcome: harness.RejectedTLS, RefusedBy: harness.PartyServer, Layer: "tls",
		Reason: harness.Reason{ID: harness.ReasonCertificateRequired, Text: "the server requires a certificate"}}
	rep := &harness.Report{Kind: harness.KindScenarios, Started: time.Now(), Results: []harness.Result{
		{Scenario: valid[0], Verdict: refused, Control: true, Mismatch: "expected accept, got rejected-tls"},
		{Scenario: noCert[0], Verdict: refused, Inconclusive: true, Mismatch: "inconclusive: the valid-client control failed"},
	}}
	var table, js, junit bytes.Buffer
	_ = WriteTable(&table, rep, TableOptions{})
	if !strings.Contains(table.String(), "FAIL          valid-client (control)") || !strings.Contains(table.String(), "INCONCLUSIVE  no-client-cert") ||
		!strings.Contains(table.String(), "0 of 2 scenarios passed, 1 failed (1 critical), 1 inconclusive") {
		t.Errorf("table:\n%s", table.String())
	}
	_ = WriteJSON(&js, rep)
	var doc struct {
		Summary struct {
			Failed, Inconclusive int
			OK                   bool
		}
		Results []struct {
			Name               string
			Pass, Inconclusive bool
			Control            bool
		}
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil || doc.Summary.Inconclusive != 1 || doc.Summary.Failed != 1 || doc.Summary.OK ||
		!doc.Results[0].Control || !doc.Results[1].Inconclusive {
		t.Errorf("json (%v): %s", err, js.String())
	}
	_ = WriteJUnit(&junit, rep)
	var ju junitSuites
	if err := xml.Unmarshal(junit.Bytes(), &ju); err != nil || ju.Errors != 1 || ju.Failures != 1 ||
		ju.Suites[0].Cases[1].Error == nil || ju.Suites[0].Cases[1].Error.Type != "inconclusive" || ju.Suites[0].Cases[0].Name != "valid-client (control)" {
		t.Errorf("junit (%v): %s", err, junit.String())
	}
}

// TestSkippedRowIsItsReasonAlone: a skipped scenario reached no layer, so
// its row is the reason with no empty "layer:" before it.
func TestSkippedRowIsItsReasonAlone(t *testing.T) {
	rev, _ := harness.Lookup("revoked-client")
	rep := &harness.Report{Kind: harness.KindScenarios, Started: time.Now(), Results: []harness.Result{{Scenario: rev[0],
		Verdict: harness.Verdict{Outcome: harness.Skipped, Reason: harness.Reason{ID: harness.ReasonNotApplicable, Text: "the server command does not take the run's CRL"}}, Pass: true}}}
	var b bytes.Buffer
	_ = WriteTable(&b, rep, TableOptions{})
	if !regexp.MustCompile(`skipped +the server command does not take the run's CRL \[not-applicable\]`).MatchString(b.String()) {
		t.Errorf("table:\n%s", b.String())
	}
}

// TestObservedInEveryFormat: an observation is neither a pass nor a
// failure in any format: its own mark and count (by importance), the run
// still OK, a JUnit case that passes and says OBSERVED first, and the
// HTML page's own class.
func TestObservedInEveryFormat(t *testing.T) {
	valid, _ := harness.Lookup("valid-client")
	revoked, _ := harness.Lookup(harness.RevokedDuringScenario)
	kept := harness.Verdict{Outcome: harness.Accepted, Layer: harness.LayerWS, Reason: harness.Reason{ID: harness.ReasonConnectionKept, Text: "kept: the WebSocket opened with it still echoed 10.0 s after it was revoked"}}
	rep := &harness.Report{Kind: harness.KindScenarios, Started: time.Now(), Results: []harness.Result{
		{Scenario: valid[0], Verdict: harness.Verdict{Outcome: harness.Accepted, Layer: harness.LayerClose, Reason: harness.Reason{ID: harness.ReasonEchoVerified, Text: "echoed"}}, Pass: true},
		{Scenario: revoked[0], Verdict: kept, Pass: true, Observed: true},
	}}
	var table, js, junit, page bytes.Buffer
	_ = WriteTable(&table, rep, TableOptions{})
	if !strings.Contains(table.String(), "OBSERVED  client-revoked-during-connection") || !strings.Contains(table.String(), "1 of 2 scenarios passed, 0 failed, 1 observed (1 high)") {
		t.Errorf("table:\n%s", table.String())
	}
	_ = WriteJSON(&js, rep)
	var doc struct {
		Summary struct {
			Passed, Failed, Observed int
			OK                       bool
		}
		Results []struct {
			Mark     string
			Expected string
			Observed bool
		}
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil || doc.Summary.Passed != 1 || doc.Summary.Observed != 1 || doc.Summary.Failed != 0 || !doc.Summary.OK ||
		doc.Results[1].Mark != "OBSERVED" || !doc.Results[1].Observed || doc.Results[1].Expected != "observe" {
		t.Errorf("json (%v): %s", err, js.String())
	}
	_ = WriteJUnit(&junit, rep)
	var ju junitSuites
	if err := xml.Unmarshal(junit.Bytes(), &ju); err != nil || ju.Failures != 0 || ju.Errors != 0 || ju.Skipped != 0 ||
		!strings.HasPrefix(ju.Suites[0].Cases[1].SystemOut, "OBSERVED [high]") {
		t.Errorf("junit (%v): %s", err, junit.String())
	}
	_ = WriteHTML(&page, rep)
	if !strings.Contains(page.String(), `<span class="badge observed">OBSERVED</span>`) {
		t.Errorf("html has no observed badge")
	}
}
