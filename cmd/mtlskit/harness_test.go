package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// harnessCLI runs mtlskit in-process and returns exit code, stdout, stderr.
func harnessCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"mtlskit"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestHarnessListShowsEveryScenarioWithSideAndExpectation(t *testing.T) {
	code, out, _ := harnessCLI(t, "harness", "list")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"valid-client", "server-full-chain", "server-ip-not-in-san", "large-message", "insecure-client", "status-500-server"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %s:\n%s", want, out)
		}
	}
	code, out, _ = harnessCLI(t, "harness", "list", "--json")
	var doc struct {
		SchemaVersion int `json:"schema_version"`
		Scenarios     []struct{ Name, Side, Expected, Description string }
		Controls      []struct{ Name string } `json:"negative_controls"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 0 {
		t.Fatalf("exit %d, %v", code, err)
	}
	if len(doc.Scenarios) != 23 || len(doc.Controls) != 7 || doc.Scenarios[12].Name != "server-missing-san" || doc.Scenarios[12].Side != "client" || doc.Scenarios[12].Expected != "reject" {
		t.Fatalf("list --json: %+v", doc)
	}
}

func TestHarnessRunSelectedScenariosPrintsATableAndExitsZero(t *testing.T) {
	code, out, errOut := harnessCLI(t, "harness", "run", "--scenario", "server-missing-san", "--scenario", "no-client-cert")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	// Each side's valid scenario runs as the control of its rejects.
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[1], "PASS    valid-client (control)") || !strings.HasPrefix(lines[2], "PASS    no-client-cert") ||
		!strings.HasPrefix(lines[3], "PASS    valid-server (control)") || !strings.HasPrefix(lines[4], "PASS    server-missing-san") {
		t.Fatalf("want header, two rows in definition order, each after its control, and a summary:\n%s", out)
	}
	if !strings.HasSuffix(lines[4], "[legacy-cn]") || !strings.HasPrefix(lines[5], "4 of 4 scenarios passed") {
		t.Fatalf("table:\n%s", out)
	}
	if strings.Contains(out, "\x1b[") || errOut != "" {
		t.Fatalf("colour or progress when not on a terminal: %q %q", out, errOut)
	}
}

func TestHarnessRunUsageErrorsExitTwo(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"unknown scenario lists the valid names", []string{"--scenario", "no-such"}, []string{`"no-such"`, "valid-client", "server-full-chain"}},
		{"unknown format", []string{"--format", "xml"}, []string{`"xml"`, "table, json, junit or html"}},
		{"bad tls version", []string{"--tls-version", "1.1"}, []string{"1.2 or 1.3"}},
		{"negative timeout", []string{"--timeout", "-1s"}, []string{"--timeout"}},
		{"positional argument", []string{"valid-client"}, []string{"--scenario NAME"}},
		{"controls with scenarios", []string{"--negative-controls", "--scenario", "valid-client"}, []string{"drop --scenario"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := harnessCLI(t, append([]string{"harness", "run"}, tc.args...)...)
			if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q lacks %q", errOut, w)
				}
			}
		})
	}
}

func TestHarnessRunExitsOneWhenAScenarioFails(t *testing.T) {
	// A 1ns timeout lets no connection through, so valid-client fails.
	code, out, _ := harnessCLI(t, "harness", "run", "--scenario", "valid-client", "--timeout", "1ns")
	if code != 1 || !strings.Contains(out, "FAIL") || !strings.Contains(out, "connect-failed") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestHarnessRunWritesJSONJUnitAndKeep(t *testing.T) {
	dir := t.TempDir()
	code, out, _ := harnessCLI(t, "harness", "run", "--scenario", "valid-server", "--scenario", "server-expired", "--format", "json")
	var doc struct {
		SchemaVersion int `json:"schema_version"`
		Results       []struct {
			Name, Outcome string
			Pass          bool
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 0 || doc.SchemaVersion != 1 || len(doc.Results) != 2 || doc.Results[1].Outcome != "rejected-tls" {
		t.Fatalf("exit %d, err %v, %+v", code, err, doc)
	}

	junit := filepath.Join(dir, "junit.xml")
	keep := filepath.Join(dir, "keep")
	code, out, errOut := harnessCLI(t, "harness", "run", "--scenario", "valid-server", "--scenario", "server-expired", "--format", "junit", "--out", junit, "--keep", keep)
	if code != 0 || !strings.Contains(out, "wrote the junit report to") || !strings.Contains(errOut, "kept") {
		t.Fatalf("exit %d: %q %q", code, out, errOut)
	}
	data, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	if err := xml.Unmarshal(data, &suites); err != nil || suites.Tests != 2 || suites.Failures != 0 {
		t.Fatalf("junit: %v %+v", err, suites)
	}
	if _, err := os.Stat(filepath.Join(keep, "server-expired", "repro.sh")); err != nil {
		t.Fatal(err)
	}
}

func TestHarnessNegativeControlsAreFlaggedAndExitZero(t *testing.T) {
	code, out, _ := harnessCLI(t, "harness", "run", "--negative-controls", "--timeout", "300ms")
	if code != 0 || !strings.Contains(out, "7 of 7 negative controls caught") || strings.Contains(out, "MISSED") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"silent-server/valid-client", "no-upgrade", "no-echo", "rejected-http", "insecure-client/server-missing-san", "deny-all-server/valid-client", "refuse-all-client/valid-server"} {
		if !strings.Contains(out, want) {
			t.Errorf("controls output lacks %q", want)
		}
	}
}

func TestHarnessRunJSONFlagIsFormatJSON(t *testing.T) {
	code, out, errOut := harnessCLI(t, "harness", "run", "--scenario", "valid-client", "--json")
	var rep struct {
		SchemaVersion int `json:"schema_version"`
		Kind          string
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.SchemaVersion != 1 || rep.Kind != "scenarios" {
		t.Fatalf("harness run --json: exit %d, not one schema-1 JSON object:\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := harnessCLI(t, "harness", "run", "--json", "--format", "junit"); code != 2 || !strings.Contains(errOut, "contradict") {
		t.Errorf("--json with --format junit: exit %d, stderr %q; want a usage error", code, errOut)
	}
}
