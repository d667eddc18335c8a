package main

import (
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/mtlskit/mtlskit/pki"
	"github.com/urfave/cli/v2"
)

func lintCommand() *cli.Command {
	return &cli.Command{
		Name:      "lint",
		Usage:     "zlint report (RFC 5280 and community lints) for a store certificate or a file",
		UsageText: "mtlskit lint NAME|FILE [--dir pki] [--json]",
		Description: "Exit status: 0 when no lint reports an error (notices and warnings allowed), 1 otherwise, 2 on a usage error. " +
			"Waived lints and their reasons: docs/lints.md.",
		Flags:  []cli.Flag{dirFlag, jsonFlag},
		Action: lintAction,
	}
}

type lintOutput struct {
	SchemaVersion int          `json:"schema_version"`
	Target        string       `json:"target"`
	Sources       []string     `json:"sources"`
	Result        string       `json:"result"` // "pass", "warn" or "fail"
	Certificates  []lintedCert `json:"certificates"`
}

type lintedCert struct {
	Subject  string        `json:"subject"`
	File     string        `json:"file"`
	Result   string        `json:"result"`
	Findings []lintFinding `json:"findings"`
}

type lintFinding struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Source  string `json:"source"`
	Details string `json:"details,omitempty"`
}

func lintAction(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("lint needs exactly one NAME or FILE argument, got %d", c.NArg())
	}
	file, certs, cached, err := lintTarget(c, c.Args().First())
	if err != nil {
		return err
	}
	out := lintOutput{SchemaVersion: verifySchemaVersion, Target: c.Args().First(), Sources: pki.LintSources, Result: "pass"}
	rank := map[string]int{"pass": 0, "warn": 1, "fail": 2}
	for _, crt := range certs {
		one := lintedCert{Subject: crt.Subject.String(), File: file, Result: "pass", Findings: []lintFinding{}}
		fs := cached
		if fs == nil {
			fs = pki.Lint(crt)
		}
		for _, f := range fs {
			one.Findings = append(one.Findings, lintFinding{f.ID, f.Status, f.Source, f.Details})
			switch {
			case f.Status == "error" || f.Status == "fatal":
				one.Result = "fail"
			case f.Status == "warn" && one.Result == "pass":
				one.Result = "warn"
			}
		}
		if rank[one.Result] > rank[out.Result] {
			out.Result = one.Result
		}
		out.Certificates = append(out.Certificates, one)
	}
	if c.Bool("json") {
		if err := printJSON(c.App.Writer, out); err != nil {
			return err
		}
	} else {
		printLint(c, out)
	}
	if out.Result == "fail" {
		return silentFailure
	}
	return nil
}

func printLint(c *cli.Context, out lintOutput) {
	w := c.App.Writer
	p := palette{on: useColour(w)}
	for _, one := range out.Certificates {
		fmt.Fprintf(w, "%s (%s), zlint %s:\n", p.bold(one.Subject), one.File, strings.Join(out.Sources, ", "))
		if len(one.Findings) == 0 {
			fmt.Fprintf(w, "  %s  no findings\n", p.green("PASS"))
			continue
		}
		t := newTable(w)
		for _, f := range one.Findings {
			st := strings.ToUpper(f.Status)
			switch f.Status {
			case "error", "fatal":
				st = p.red(st)
			case "warn":
				st = p.yellow(st)
			}
			t.row("  "+st, f.ID, f.Source, orDash(f.Details))
		}
		t.flush()
	}
}

// lintTarget reads the certificates to lint: a file (all of its
// certificates), or else a name in the store (its certificate, with the
// findings the index keeps for it when the file is the one indexed and
// they were computed by today's zlint: cached is then non-nil).
func lintTarget(c *cli.Context, arg string) (label string, certs []*x509.Certificate, cached []pki.LintFinding, err error) {
	if fi, statErr := os.Stat(arg); statErr == nil && !fi.IsDir() {
		data, err := os.ReadFile(arg)
		if err != nil {
			return "", nil, nil, failf("%s cannot be read (%s): check the path", arg, errText(err))
		}
		certs, check := pki.ReadCertFile(arg, "the file", data)
		if check.Status == pki.StatusFail {
			return "", nil, nil, failf("%s: %s: %s", arg, check.Summary, check.Fix)
		}
		return arg, certs, nil, nil
	}
	store := storeOf(c)
	if !store.HasCA() {
		return "", nil, nil, failf("%s is neither a file nor a certificate in a store (no store at %s): pass a certificate file or --dir", arg, store.Dir)
	}
	if err := pki.CheckName(arg); err != nil {
		return "", nil, nil, failf("%s is neither a file nor a certificate name in %s: see `mtlskit list`", arg, store.Dir)
	}
	e, err := store.Get(arg)
	if err != nil {
		return "", nil, nil, failf("%s is not a file, and %v", arg, err)
	}
	path := store.Path(e.Cert)
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, nil, failf("%s cannot be read (%s): restore it or reissue %s", path, errText(err), arg)
	}
	certs, check := pki.ReadCertFile(path, "the file", data)
	if check.Status == pki.StatusFail {
		return "", nil, nil, failf("%s: %s", path, check.Summary)
	}
	if fs, ok := e.CachedLint(certs[0]); ok {
		cached = append([]pki.LintFinding{}, fs...)
	}
	return path, certs[:1], cached, nil
}
