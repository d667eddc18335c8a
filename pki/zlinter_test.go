package pki

import "github.com/mtlskit/mtlskit/pki/zlinter"

// pki's tests lint in process (pki/zlinter), not through mtlskit-lint;
// cmd/mtlskit's tests drive the helper.
func init() { SetLinter(InProcessLinter{}) }

// InProcessLinter is pki/zlinter as a Linter, for pki's tests.
type InProcessLinter struct{}

func (InProcessLinter) LintKey() (string, error) { return zlinter.Key(), nil }

func (InProcessLinter) LintCert(der []byte, withoutSignerLints bool) ([]LintFinding, error) {
	return fromZlinter(zlinter.LintCert(der, withoutSignerLints)), nil
}

func (InProcessLinter) LintCRL(der []byte) ([]LintFinding, error) {
	return fromZlinter(zlinter.LintCRL(der)), nil
}

func fromZlinter(fs []zlinter.Finding) []LintFinding {
	var out []LintFinding
	for _, f := range fs {
		out = append(out, LintFinding{ID: f.ID, Status: f.Status, Source: f.Source, Details: f.Details})
	}
	return out
}
