// Package inprocess makes pki lint in this process, with pki/zlinter,
// instead of starting mtlskit-lint: for tests, and for programs that link
// zlint anyway. Importing it for its side effect is enough:
//
//	import _ "github.com/mtlskit/mtlskit/pki/zlinter/inprocess"
package inprocess

import (
	"github.com/mtlskit/mtlskit/pki"
	"github.com/mtlskit/mtlskit/pki/zlinter"
)

func init() { pki.SetLinter(Linter{}) }

// Linter is pki/zlinter as a pki.Linter.
type Linter struct{}

// LintKey is zlinter.Key.
func (Linter) LintKey() (string, error) { return zlinter.Key(), nil }

// LintCert is zlinter.LintCert.
func (Linter) LintCert(der []byte, withoutSignerLints bool) ([]pki.LintFinding, error) {
	return findings(zlinter.LintCert(der, withoutSignerLints)), nil
}

// LintCRL is zlinter.LintCRL.
func (Linter) LintCRL(der []byte) ([]pki.LintFinding, error) {
	return findings(zlinter.LintCRL(der)), nil
}

func findings(fs []zlinter.Finding) []pki.LintFinding {
	var out []pki.LintFinding
	for _, f := range fs {
		out = append(out, pki.LintFinding{ID: f.ID, Status: f.Status, Source: f.Source, Details: f.Details})
	}
	return out
}
