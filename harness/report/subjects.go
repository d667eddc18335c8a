package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/mtlskit/mtlskit/harness"
)

// The reports of several subjects (harness run --subjects) are one
// document in every format: a subjects x scenarios matrix for people,
// one JSON document with every subject's report, one JUnit suite per
// subject, the HTML page's matrix. ReadJSON reads JSON documents back
// (report merge): shards of one run make, merged, the run's report.

// KindSubjects is the JSON kind of a subjects document.
const KindSubjects = "subjects"

// subjectsJSON is a subjects document (schema SchemaVersion).
type subjectsJSON struct {
	SchemaVersion int             `json:"schema_version"`
	Kind          string          `json:"kind"`
	Run           *Run            `json:"run,omitempty"`
	Summary       subjectsSummary `json:"summary"`
	Subjects      []reportJSON    `json:"subjects"`
}

// Run says which run a subjects document is (a part of): the subjects
// file, by name and SHA-256 of its bytes, how many subjects it lists, and
// this document's shard of them. Merge uses it to refuse a shard of
// another file and to notice a shard that is missing.
type Run struct {
	File     string `json:"file"`
	SHA256   string `json:"sha256"`
	Subjects int    `json:"subjects"`
	// Shard is "I/N" (0-based), empty for a whole run.
	Shard string `json:"shard,omitempty"`
	// Scenarios are the names of every scenario the mtlskit that ran it
	// has (whether or not a subject ran it): shards of one run come from
	// one scenario set.
	Scenarios []string `json:"scenarios,omitempty"`
}

// ScenarioSet is the names of every scenario this mtlskit has, for
// Run.Scenarios.
func ScenarioSet() []string {
	var out []string
	for _, s := range harness.AllScenarios() {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}

// Document is one subjects document read back: its run (nil for a
// single run's report) and its reports.
type Document struct {
	File    string
	Run     *Run
	Reports []*harness.Report
}

type subjectsSummary struct {
	Subjects  int  `json:"subjects"`
	OK        int  `json:"ok"`
	Failed    int  `json:"failed"`
	Skipped   int  `json:"skipped,omitempty"`
	RunErrors int  `json:"run_errors,omitempty"`
	AllOK     bool `json:"all_ok"`
}

// AllOK reports whether every subject's run is OK.
func AllOK(reps []*harness.Report) bool {
	for _, r := range reps {
		if !r.OK() {
			return false
		}
	}
	return true
}

// WriteJSONSubjects writes the reports as one subjects document; run,
// when set, says which run (or shard of one) they are.
func WriteJSONSubjects(w io.Writer, reps []*harness.Report, run *Run) error {
	doc := subjectsJSON{SchemaVersion: SchemaVersion, Kind: KindSubjects, Run: run, Subjects: []reportJSON{}}
	for _, r := range reps {
		doc.Subjects = append(doc.Subjects, reportOf(r))
		doc.Summary.Subjects++
		switch {
		case r.SkippedBecause != "":
			doc.Summary.Skipped++
		case r.RunError != "":
			doc.Summary.RunErrors++
		case r.OK():
			doc.Summary.OK++
		default:
			doc.Summary.Failed++
		}
	}
	doc.Summary.AllOK = AllOK(reps)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// MergeError is a set of reports that cannot be one report: another
// schema version, a shard of another subjects file, a shard missing or
// given twice, a subject twice.
type MergeError struct {
	File    string
	Problem string
}

func (e *MergeError) Error() string { return e.File + ": " + e.Problem }

// ReadJSON reads a JSON report (WriteJSON) or subjects document
// (WriteJSONSubjects) back into reports. Each result's scenario is
// looked up by name: a report naming a scenario this mtlskit does not
// have is a *MergeError, as is another schema version.
func ReadJSON(file string, r io.Reader) (*Document, error) {
	var head struct {
		SchemaVersion int    `json:"schema_version"`
		Kind          string `json:"kind"`
	}
	data, err := io.ReadAll(io.LimitReader(r, 256<<20))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, &MergeError{file, "not a JSON report: " + err.Error()}
	}
	if head.SchemaVersion != SchemaVersion {
		return nil, &MergeError{file, fmt.Sprintf("schema version %d, not %d: merge reports of one mtlskit version", head.SchemaVersion, SchemaVersion)}
	}
	var docs []reportJSON
	out := &Document{File: file}
	switch head.Kind {
	case KindSubjects:
		var doc subjectsJSON
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, &MergeError{file, err.Error()}
		}
		docs, out.Run = doc.Subjects, doc.Run
	case harness.KindScenarios:
		var one reportJSON
		if err := json.Unmarshal(data, &one); err != nil {
			return nil, &MergeError{file, err.Error()}
		}
		docs = []reportJSON{one}
	default:
		return nil, &MergeError{file, fmt.Sprintf("kind %q cannot be merged: only scenario runs and subjects documents", head.Kind)}
	}
	for _, d := range docs {
		rep, err := fromJSON(d)
		if err != nil {
			return nil, &MergeError{file, err.Error()}
		}
		out.Reports = append(out.Reports, rep)
	}
	return out, nil
}

// fromJSON rebuilds a report from its JSON form.
func fromJSON(d reportJSON) (*harness.Report, error) {
	started, _ := time.Parse(time.RFC3339Nano, d.StartedAt)
	rep := &harness.Report{Kind: d.Kind, Started: started, Duration: fromMillis(d.DurationMS), Timeout: fromMillis(d.TimeoutMS),
		ServerSubject: d.ServerSubject, ClientSubject: d.ClientSubject, SubjectErrors: d.SubjectErrors, RunError: d.RunError,
		Ready: fromMillis(d.ReadyMS), Subject: d.Subject, SkippedBecause: d.SkippedBecause}
	switch d.TLSVersion {
	case "1.2":
		rep.TLSVersion = 0x0303
	case "1.3":
		rep.TLSVersion = 0x0304
	}
	for _, r := range d.Results {
		s, err := harness.Lookup(r.Name)
		if err != nil {
			return nil, err
		}
		rep.Results = append(rep.Results, harness.Result{Scenario: s[0], Verdict: r.Verdict, Pass: r.Pass, Inconclusive: r.Inconclusive, Observed: r.Observed,
			Control: r.Control, Mismatch: r.Mismatch, Above: r.Above, TLS13: r.TLS13Observation, Duration: fromMillis(r.DurationMS)})
	}
	return rep, nil
}

func fromMillis(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// Merge joins documents (the shards of one run) into one: each subject
// once and, when the documents say which run they are, every shard of
// one subjects file exactly once. The result keeps the subjects in the
// subjects file's order when every document says its shard (shard I/N
// holds subjects I, I+N, ...), in name order otherwise, so a merge does
// not depend on the order of its arguments.
func Merge(docs []*Document) ([]*harness.Report, error) {
	if err := checkShards(docs); err != nil {
		return nil, err
	}
	type placed struct {
		rep *harness.Report
		at  int
	}
	var all []placed
	seen := map[string]string{}
	for _, d := range docs {
		idx, n := shardPlace(d.Run)
		for k, r := range d.Reports {
			name := r.Subject
			if name == "" {
				name = r.ServerSubject + " / " + r.ClientSubject
			}
			if prev, ok := seen[name]; ok {
				return nil, &MergeError{d.File, fmt.Sprintf("subject %q is also in %s: merge the shards of one run, each once", name, prev)}
			}
			seen[name] = d.File
			all = append(all, placed{r, idx + k*n})
		}
	}
	ordered := len(docs) > 0
	for _, d := range docs {
		ordered = ordered && d.Run != nil
	}
	sort.SliceStable(all, func(a, b int) bool {
		if ordered {
			return all[a].at < all[b].at
		}
		return all[a].rep.Subject < all[b].rep.Subject
	})
	out := make([]*harness.Report, len(all))
	for i, p := range all {
		out[i] = p.rep
	}
	return out, nil
}

// checkShards refuses documents that are not the shards of one run: two
// subjects files, two shard counts, a shard twice or missing. Documents
// without a run block (older reports, single runs) are merged as given.
func checkShards(docs []*Document) error {
	var first *Document
	have := map[int]string{}
	for _, d := range docs {
		if d.Run == nil {
			continue
		}
		idx, n := shardPlace(d.Run)
		if first == nil {
			first = d
		}
		switch f := first.Run; {
		case d.Run.SHA256 != f.SHA256:
			return &MergeError{d.File, fmt.Sprintf("is a run of %s (sha256 %.12s), %s of %s (sha256 %.12s): merge the shards of one subjects file", d.Run.File, d.Run.SHA256, first.File, f.File, f.SHA256)}
		case n != mustCount(f):
			return &MergeError{d.File, fmt.Sprintf("is shard %s, %s is shard %s: merge the shards of one --shard count", d.Run.Shard, first.File, f.Shard)}
		case strings.Join(d.Run.Scenarios, ",") != strings.Join(f.Scenarios, ","):
			return &MergeError{d.File, fmt.Sprintf("was run with another scenario set than %s (%s): merge the shards of one mtlskit version", first.File, setDiff(d.Run.Scenarios, f.Scenarios))}
		}
		if prev, ok := have[idx]; ok {
			return &MergeError{d.File, fmt.Sprintf("shard %s is also %s: give each shard once", d.Run.Shard, prev)}
		}
		have[idx] = d.File
	}
	if first == nil {
		return nil
	}
	n := mustCount(first.Run)
	for i := 0; i < n; i++ {
		if _, ok := have[i]; !ok {
			return &MergeError{first.File, fmt.Sprintf("shard %d/%d of %s is missing: merge all %d shards (its subjects would be missing from the report)", i, n, first.Run.File, n)}
		}
	}
	return nil
}

// setDiff names what one scenario set has that the other lacks.
func setDiff(a, b []string) string {
	in := func(list []string) map[string]bool {
		m := map[string]bool{}
		for _, x := range list {
			m[x] = true
		}
		return m
	}
	ina, inb := in(a), in(b)
	var only []string
	for _, x := range a {
		if !inb[x] {
			only = append(only, "+"+x)
		}
	}
	for _, x := range b {
		if !ina[x] {
			only = append(only, "-"+x)
		}
	}
	return strings.Join(only, " ")
}

// shardPlace is a run's shard index and count (0 of 1 for a whole run).
func shardPlace(r *Run) (idx, n int) {
	if r == nil || r.Shard == "" {
		return 0, 1
	}
	if _, err := fmt.Sscanf(r.Shard, "%d/%d", &idx, &n); err != nil || n < 1 || idx < 0 || idx >= n {
		return 0, 1
	}
	return idx, n
}

func mustCount(r *Run) int { _, n := shardPlace(r); return n }

// WriteMatrix writes one row per scenario and one column per subject,
// each cell the result's mark ("-" where the subject does not run it),
// then one summary line per subject.
func WriteMatrix(w io.Writer, reps []*harness.Report, opt TableOptions) error {
	var names []string
	cells := map[string]map[string]harness.Result{}
	for _, s := range harness.AllScenarios() {
		for _, r := range reps {
			for _, res := range r.Results {
				if res.Scenario.Name == s.Name {
					if cells[s.Name] == nil {
						cells[s.Name] = map[string]harness.Result{}
						names = append(names, s.Name)
					}
					cells[s.Name][r.Subject] = res
				}
			}
		}
	}
	header := []string{"SCENARIO"}
	for _, r := range reps {
		header = append(header, r.Subject)
	}
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = max(len(h), len("INCONCLUSIVE"))
	}
	widths[0] = len("SCENARIO")
	for _, n := range names {
		widths[0] = max(widths[0], len(n))
	}
	var b strings.Builder
	var line strings.Builder
	for i, h := range header {
		fmt.Fprintf(&line, "%-*s  ", widths[i], h)
	}
	b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	for _, n := range names {
		line.Reset()
		fmt.Fprintf(&line, "%-*s  ", widths[0], n)
		for i, r := range reps {
			res, ok := cells[n][r.Subject]
			mark, code := "-", ""
			if ok {
				mark = string(MarkOf(res))
				code = map[Mark]string{MarkPass: "32", MarkFail: "31", MarkInconclusive: "31", MarkObserved: "36"}[MarkOf(res)]
			}
			pad := strings.Repeat(" ", widths[i+1]-len(mark)+2)
			if code != "" {
				mark = paint(mark, code, opt.Color)
			}
			line.WriteString(mark + pad)
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	for _, r := range reps {
		fmt.Fprintf(&b, "%s: %s\n", r.Subject, subjectLine(r))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// subjectLine sums up one subject's run.
func subjectLine(r *harness.Report) string {
	switch {
	case r.SkippedBecause != "":
		return "skipped: " + r.SkippedBecause
	case r.RunError != "":
		return "run error: " + r.RunError
	}
	s := Counts(r) + ", in " + r.Duration.Round(time.Millisecond).String() + readyNote(r)
	for _, e := range r.SubjectErrors {
		s += "; subject error: " + e
	}
	return s
}

// WriteJUnitSubjects writes one testsuite per subject.
func WriteJUnitSubjects(w io.Writer, reps []*harness.Report) error {
	out := junitSuites{Name: "mtlskit"}
	for _, r := range reps {
		suite := junitSuiteOf(r)
		suite.Name = "mtlskit harness: " + r.Subject
		for i := range suite.Cases {
			suite.Cases[i].Classname = strings.Replace(suite.Cases[i].Classname, "mtlskit.harness.", "mtlskit.harness."+r.Subject+".", 1)
		}
		if r.SkippedBecause != "" {
			suite.Cases = append(suite.Cases, junitCase{Name: "run", Classname: "mtlskit.harness." + r.Subject, Skipped: &junitSkipped{Message: r.SkippedBecause}})
			suite.Tests++
			suite.Skipped++
		}
		out.Tests += suite.Tests
		out.Failures += suite.Failures
		out.Errors += suite.Errors
		out.Skipped += suite.Skipped
		out.Suites = append(out.Suites, suite)
	}
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
