package report

import (
	"fmt"
	"strings"

	"github.com/mtlskit/mtlskit/harness"
)

// Mark is a result's word in every format: PASS, FAIL, SKIP,
// INCONCLUSIVE or OBSERVED.
type Mark string

// The marks.
const (
	MarkPass         Mark = "PASS"
	MarkFail         Mark = "FAIL"
	MarkSkip         Mark = "SKIP"
	MarkInconclusive Mark = "INCONCLUSIVE"
	// MarkObserved is a scenario that reports what the subject did
	// without judging it (harness.Result.Observed).
	MarkObserved Mark = "OBSERVED"
)

// MarkOf is the mark of a result: SKIP for a scenario that could not be
// set up, OBSERVED for a scenario that reports without judging, PASS
// when it matched, INCONCLUSIVE when the refusal cannot be
// judged (its control failed below the layer it judges), FAIL otherwise.
// Every writer (table, JSON, JUnit, HTML) marks results with it.
func MarkOf(r harness.Result) Mark {
	switch {
	case r.Outcome == harness.Skipped:
		return MarkSkip
	case r.Observed:
		return MarkObserved
	case r.Pass:
		return MarkPass
	case r.Inconclusive:
		return MarkInconclusive
	}
	return MarkFail
}

// NameOf is the scenario's name as every writer shows it: a control the
// run added is marked "(control)".
func NameOf(r harness.Result) string {
	if r.Control {
		return r.Scenario.Name + " (control)"
	}
	return r.Scenario.Name
}

// Counts is the tally every writer prints: "9 of 11 scenarios passed, 1
// failed, 1 inconclusive, 1 skipped" (the inconclusive and skipped parts
// only when there are any). A skipped scenario is not a pass.
func Counts(rep *harness.Report) string {
	if rep.RunError != "" {
		return "run error: no scenario ran"
	}
	s := fmt.Sprintf("%d of %d scenarios passed, %d failed", rep.Passed(), len(rep.Results), rep.Failed())
	if by := failedByImportance(rep); by != "" {
		s += " (" + by + ")"
	}
	if n := rep.Inconclusive(); n > 0 {
		s += fmt.Sprintf(", %d inconclusive", n)
	}
	if n := rep.Observations(); n > 0 {
		s += fmt.Sprintf(", %d observed", n)
		if by := observedByImportance(rep); by != "" {
			s += " (" + by + ")"
		}
	}
	if n := rep.Skipped(); n > 0 {
		s += fmt.Sprintf(", %d skipped", n)
	}
	return s
}

// observedByImportance is "1 high" for the observations.
func observedByImportance(rep *harness.Report) string {
	return byImportance(rep, func(r harness.Result) bool { return r.Observed })
}

// failedByImportance is "1 critical, 2 medium" for the failed results.
func failedByImportance(rep *harness.Report) string {
	return byImportance(rep, func(r harness.Result) bool { return !r.Pass && !r.Inconclusive && r.Outcome != harness.Skipped })
}

// byImportance tallies the results that match by their importance.
func byImportance(rep *harness.Report, match func(harness.Result) bool) string {
	n := map[harness.Importance]int{}
	for _, r := range rep.Results {
		if match(r) {
			n[r.Scenario.Importance]++
		}
	}
	var parts []string
	for _, i := range []harness.Importance{harness.ImportanceCritical, harness.ImportanceHigh, harness.ImportanceMedium} {
		if n[i] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[i], i))
		}
	}
	return strings.Join(parts, ", ")
}
