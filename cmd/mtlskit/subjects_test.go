package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// subjectsDoc is the part of a subjects document the tests read.
type subjectsDoc struct {
	Run *struct {
		SHA256 string `json:"sha256"`
		Shard  string `json:"shard"`
	} `json:"run"`
	Summary struct {
		Subjects int  `json:"subjects"`
		AllOK    bool `json:"all_ok"`
	} `json:"summary"`
	Subjects []struct {
		Subject        string       `json:"subject"`
		SkippedBecause string       `json:"skipped_because"`
		Results        []verdictRow `json:"results"`
	} `json:"subjects"`
}

// verdicts is a document's verdicts, one line per subject and scenario:
// what two runs of the same stacks must agree on.
func (d subjectsDoc) verdicts() []string {
	var out []string
	for _, s := range d.Subjects {
		if s.SkippedBecause != "" {
			out = append(out, s.Subject+" skipped: "+s.SkippedBecause)
		}
		for _, r := range s.Results {
			out = append(out, fmt.Sprintf("%s %s pass=%v %s %s", s.Subject, r.Name, r.Pass, r.Outcome, r.Reason.ID))
		}
	}
	return out
}

func decodeSubjects(t *testing.T, r result) subjectsDoc {
	t.Helper()
	var d subjectsDoc
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("exit %d, not JSON (%v):\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	return d
}

// TestSubjectsShardsMergeToTheWholeRun runs the tests' subjects file
// whole and as three shards in three processes at once, then merges the
// shards: the merged report has every subject once, in the file's order,
// with the same verdict for every scenario as the whole run.
func TestSubjectsShardsMergeToTheWholeRun(t *testing.T) {
	needNginx(t)
	needPythonWebsockets(t)
	root, tmp := repoRoot(t), t.TempDir()
	const file = "fixtures/subjects/subjects.yaml"
	whole := mtlskit(t, root, nil, "harness", "run", "--subjects", file, "--format", "json")
	if whole.code != 0 {
		t.Fatalf("whole run: exit %d\n%s\n%s", whole.code, whole.stdout, whole.stderr)
	}
	want := decodeSubjects(t, whole)
	var wg sync.WaitGroup
	shards := make([]result, 3)
	for i := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			shards[i], _ = mtlskitAsync(root, nil, "harness", "run", "--subjects", file, "--shard", fmt.Sprintf("%d/3", i),
				"--format", "json", "--out", filepath.Join(tmp, fmt.Sprintf("shard%d.json", i)))
		}()
	}
	wg.Wait()
	var files []string
	for i, r := range shards {
		if r.code != 0 {
			t.Fatalf("shard %d/3: exit %d\n%s", i, r.code, r.stderr)
		}
		files = append(files, filepath.Join(tmp, fmt.Sprintf("shard%d.json", i)))
	}
	// Given in reverse: a merge does not depend on its arguments' order.
	merged := mtlskit(t, root, nil, "report", "merge", "--format", "json", files[2], files[0], files[1])
	if merged.code != 0 {
		t.Fatalf("merge: exit %d\n%s", merged.code, merged.stderr)
	}
	got := decodeSubjects(t, merged)
	if g, w := strings.Join(got.verdicts(), "\n"), strings.Join(want.verdicts(), "\n"); g != w {
		t.Errorf("merged verdicts differ from the whole run's:\n--- merged\n%s\n--- whole\n%s", g, w)
	}
	if got.Summary.Subjects != want.Summary.Subjects || !got.Summary.AllOK || got.Run == nil || got.Run.SHA256 != want.Run.SHA256 || got.Run.Shard != "" {
		t.Errorf("merged summary %+v run %+v, want %+v of run %+v", got.Summary, got.Run, want.Summary, want.Run)
	}
	table := mtlskit(t, root, nil, "report", "merge", files[0], files[1], files[2])
	if table.code != 0 || !strings.HasPrefix(table.stdout, "SCENARIO") || !strings.Contains(table.stdout, "python-client") {
		t.Errorf("merge as a table: exit %d\n%s", table.code, table.stdout)
	}
	t.Run("refusals", func(t *testing.T) { checkMergeRefusals(t, root, tmp, files) })
}

// checkMergeRefusals: every set of reports that is not one run is
// refused with exit 1, one line naming the file and the problem, and no
// report.
func checkMergeRefusals(t *testing.T, root, tmp string, files []string) {
	edit := func(name, from, to string) string {
		data, err := os.ReadFile(files[1])
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), from) {
			t.Fatalf("%s has no %q", files[1], from)
		}
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(strings.Replace(string(data), from, to, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var doc subjectsDoc
	data, _ := os.ReadFile(files[1])
	if err := json.Unmarshal(data, &doc); err != nil || doc.Run == nil {
		t.Fatalf("shard 1 has no run block: %v", err)
	}
	tests := []struct {
		name    string
		args    []string
		problem string
	}{
		{"a shard missing", []string{files[0], files[2]}, "shard 1/3 of fixtures/subjects/subjects.yaml is missing"},
		{"a shard twice", []string{files[0], files[1], files[1], files[2]}, "shard 1/3 is also"},
		{"another subjects file", []string{files[0], edit("other.json", doc.Run.SHA256, strings.Repeat("0", 64)), files[2]}, "merge the shards of one subjects file"},
		{"another shard count", []string{files[0], edit("count.json", `"shard": "1/3"`, `"shard": "1/4"`), files[2]}, "merge the shards of one --shard count"},
		{"another scenario set", []string{files[0], edit("set.json", `"scenarios": [`, `"scenarios": ["retired-scenario", `), files[2]}, "another scenario set"},
		{"another schema version", []string{files[0], edit("schema.json", `"schema_version": `, `"schema_version": 9`), files[2]}, "merge reports of one mtlskit version"},
		{"a scenario this mtlskit lacks", []string{files[0], edit("scenario.json", `"name": "valid-`, `"name": "retired-`), files[2]}, "retired-"},
		{"not JSON", []string{files[0], filepath.Join(root, "README.md")}, "not a JSON report"},
		{"no reports", nil, "needs the JSON reports"},
	}
	for _, tt := range tests {
		r := mtlskit(t, root, nil, append([]string{"report", "merge"}, tt.args...)...)
		if r.code == 0 || r.stdout != "" || !strings.Contains(r.stderr, tt.problem) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want a failure naming %q on one line", tt.name, r.code, r.stdout, r.stderr, tt.problem)
		}
	}
}

// TestBugLogSubjectsNameTheirFaults runs the bug log's stacks as one
// subjects file: the run fails (exit 1), and each stack's known fault is
// the verdict that fails in its column.
func TestBugLogSubjectsNameTheirFaults(t *testing.T) {
	needNginx(t)
	needPythonWebsockets(t)
	root := repoRoot(t)
	r := mtlskit(t, root, nil, "harness", "run", "--subjects", "fixtures/subjects/bug-log.yaml", "--format", "json")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	d := decodeSubjects(t, r)
	failed := map[string]map[string]bool{}
	for _, s := range d.Subjects {
		failed[s.Subject] = map[string]bool{}
		for _, v := range s.Results {
			if !v.Pass {
				failed[s.Subject][v.Name] = true
			}
		}
	}
	for subject, scenario := range map[string]string{
		"nginx-optional":            "no-client-cert",
		"python-client-cn-fallback": "server-missing-san",
	} {
		if !failed[subject][scenario] {
			t.Errorf("%s: %s did not fail (failed: %v)", subject, scenario, failed[subject])
		}
	}
	if _, err := exec.LookPath("ruby"); err == nil && !failed["ruby-leaf-only"]["server-sends-chain"] {
		t.Errorf("ruby-leaf-only: server-sends-chain did not fail (failed: %v)", failed["ruby-leaf-only"])
	}
}
