package main

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
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
		UsageText: "mtlskit lint NAME|FILE [--dir pki] [--relint] [--json]",
		Description: "Exit status: 0 when no lint reports an error (notices and warnings allowed), 1 otherwise, 2 on a usage error. " +
			"For a store NAME whose certificate file is the one indexed (same SHA-256), the findings the index keeps for it under today's lint key " +
			"are shown and marked as cached; --relint runs zlint again. Waived lints and their reasons: docs/lints.md.",
		Flags: []cli.Flag{dirFlag, jsonFlag,
			&cli.BoolFlag{Name: "relint", Usage: "run zlint on a store certificate even when the index keeps its findings"}},
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
	Subject string `json:"subject"`
	File    string `json:"file"`
	// SHA256 is the fingerprint of the certificate linted, as read now.
	SHA256 string `json:"sha256"`
	Result string `json:"result"`
	// Cached says the findings are the ones the index keeps for this
	// fingerprint, computed under LintKey, and zlint did not run now.
	Cached bool `json:"cached"`
	// LintKey is the lint key of the installed mtlskit-lint (zlint's
	// version and what else findings depend on), "" without one.
	LintKey  string        `json:"lint_key,omitempty"`
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
	// mtlskit-lint starts while the target is read: its lint key says
	// whether the index's findings hold, and it lints when they do not.
	keyCh := make(chan string, 1)
	go func() { keyCh <- pki.LintKey() }()
	t, err := lintTarget(c, c.Args().First())
	if err != nil {
		return err
	}
	key := <-keyCh
	out := lintOutput{SchemaVersion: verifySchemaVersion, Target: c.Args().First(), Sources: pki.LintSources, Result: "pass"}
	rank := map[string]int{"pass": 0, "warn": 1, "fail": 2}
	for _, crt := range t.certs {
		sum := sha256.Sum256(crt.Raw)
		one := lintedCert{Subject: crt.Subject.String(), File: t.file, SHA256: hex.EncodeToString(sum[:]), Result: "pass", LintKey: key, Findings: []lintFinding{}}
		var fs []pki.LintFinding
		if t.entry != nil && !c.Bool("relint") {
			fs, one.Cached = t.entry.CachedLint(crt)
		}
		if !one.Cached {
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
		} else {
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
		if one.Cached {
			fmt.Fprintf(w, "  cached: the findings the index recorded for SHA-256 %s under lint key %q (the installed mtlskit-lint's); zlint did not run again (--relint runs it)\n",
				one.SHA256, one.LintKey)
		}
	}
}

// lintSubject is what lint lints: the certificates of a file, or a
// store certificate with its index entry (whose cached findings may
// stand in for a zlint run: Entry.CachedLint).
type lintSubject struct {
	file  string
	certs []*x509.Certificate
	entry *pki.Entry
}

// lintTarget reads the certificates to lint: a file (all of its
// certificates), or else a name in the store (its certificate, read from
// its file now, with its entry).
func lintTarget(c *cli.Context, arg string) (lintSubject, error) {
	if fi, statErr := os.Stat(arg); statErr == nil && !fi.IsDir() {
		data, err := os.ReadFile(arg)
		if err != nil {
			return lintSubject{}, failf("%s cannot be read (%s): check the path", arg, errText(err))
		}
		certs, check := pki.ReadCertFile(arg, "the file", data)
		if check.Status == pki.StatusFail {
			return lintSubject{}, failf("%s: %s: %s", arg, check.Summary, check.Fix)
		}
		return lintSubject{file: arg, certs: certs}, nil
	}
	store := storeOf(c)
	if !store.HasCA() {
		return lintSubject{}, failf("%s is neither a file nor a certificate in a store (no store at %s): pass a certificate file or --dir", arg, store.Dir)
	}
	if err := pki.CheckName(arg); err != nil {
		return lintSubject{}, failf("%s is neither a file nor a certificate name in %s: see `mtlskit list`", arg, store.Dir)
	}
	e, err := store.Get(arg)
	if err != nil {
		return lintSubject{}, failf("%s is not a file, and %v", arg, err)
	}
	path := store.Path(e.Cert)
	data, err := os.ReadFile(path)
	if err != nil {
		return lintSubject{}, failf("%s cannot be read (%s): restore it or reissue %s", path, errText(err), arg)
	}
	certs, check := pki.ReadCertFile(path, "the file", data)
	if check.Status == pki.StatusFail {
		return lintSubject{}, failf("%s: %s", path, check.Summary)
	}
	return lintSubject{file: path, certs: certs[:1], entry: e}, nil
}
