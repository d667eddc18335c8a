package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestHarnessRunHTML: --format html writes one self-contained page with
// a row per scenario (the rendering is tested in harness/report_html_test.go).
func TestHarnessRunHTML(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "report.html")
	r := mustRun(t, dir, "harness", "run", "--scenario", "valid-client", "--scenario", "server-missing-san", "--format", "html", "--out", out)
	if !strings.Contains(r.stdout, "wrote the html report to "+out+": 3 of 3 scenarios passed") {
		t.Errorf("stdout: %s", r.stdout)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	if !strings.HasPrefix(s, "<!DOCTYPE html>") || strings.Count(s, `<details class="result pass"`) != 3 || !strings.Contains(s, "valid-server (control)") || strings.Contains(s, "http://") || strings.Contains(s, "https://") {
		t.Errorf("unexpected page:\n%.2000s", s)
	}
	r = mtlskit(t, dir, nil, "harness", "run", "--format", "pdf")
	if r.code != 2 || !strings.Contains(r.stderr, "use table, json, junit or html") {
		t.Errorf("--format pdf: exit %d, %s", r.code, r.stderr)
	}
}

// TestHarnessProgressOnTerminal runs a run longer than a second (the
// silent-server control costs one --timeout) under script(1), which gives
// it a terminal: the n/total line appears on stderr and is erased at the
// end. TestHarnessRun* check that nothing appears without a terminal.
func TestHarnessProgressOnTerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) is not installed: no pseudo-terminal to test the progress line")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "controls.json")
	cmd := fmt.Sprintf("%s harness run --negative-controls --timeout 1500ms --format json --out %s", binPath, out)
	r := execTool(t, dir, []string{"NO_COLOR=1"}, 60*time.Second, script, "-qec", cmd, "/dev/null")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.output)
	}
	m := regexp.MustCompile(`\r\x1b\[Kmtlskit harness: (\d+)/\d+ encounters done`).FindAllStringSubmatch(r.output, -1)
	if len(m) == 0 {
		t.Fatalf("no progress line on the terminal:\n%q", r.output)
	}
	if !strings.Contains(r.output, "encounters done\r\x1b[Kwrote the json report") {
		t.Errorf("the progress line is not erased before the summary:\n%q", r.output)
	}

	// A quick run on a terminal stays silent.
	r = execTool(t, dir, []string{"NO_COLOR=1"}, 60*time.Second, script, "-qec", binPath+" harness run --scenario valid-client --format json --out "+out, "/dev/null")
	if strings.Contains(r.output, "encounters done") {
		t.Errorf("progress shown for a run shorter than a second:\n%q", r.output)
	}
}
