// Package report writes a harness.Report for its reader: an aligned table
// for people (WriteTable, colour optional), JSON for scripts (WriteJSON,
// schema SchemaVersion, docs/harness-json.md), JUnit XML for CI
// (WriteJUnit), one self-contained HTML page with the scenario matrix
// across runs (WriteHTML), and a directory of per-scenario certificates
// and repro.sh scripts (WriteKeep, `harness run --keep`).
//
// The reports of a subjects file's run are one document in every format:
// a subjects x scenarios matrix (WriteMatrix), one JSON document
// (WriteJSONSubjects, with the Run it belongs to), one JUnit suite per
// subject (WriteJUnitSubjects). ReadJSON reads JSON reports back and
// Merge joins the shards of one run, refusing any set that is not one.
//
// Every writer marks a result with MarkOf (PASS, FAIL, SKIP,
// INCONCLUSIVE) and names it with NameOf (a control the run added is
// "(control)"), so the formats never disagree.
//
// It runs nothing: the scenarios, the runner and the verdicts are package
// harness's.
package report
