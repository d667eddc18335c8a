package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/mtlskit/mtlskit/pki"
	"github.com/urfave/cli/v2"
)

// renewCommand is `mtlskit renew NAME... | --expiring-within D`: issue
// successors with the same names and profile, swap them into place
// (docs/rotation.md) and optionally run a reload command.
func renewCommand() *cli.Command {
	return &cli.Command{
		Name:      "renew",
		Usage:     "renew issued certificates: same names and profile, new serial, same key unless --rekey; files swapped atomically",
		ArgsUsage: "NAME...",
		UsageText: "mtlskit renew localhost [--rekey] [--validity 90d]\n   mtlskit renew --expiring-within 30d --exec 'nginx -s reload'",
		Flags: []cli.Flag{dirFlag, jsonFlag, passphraseFlag,
			&cli.BoolFlag{Name: "rekey", Usage: "give each successor a new key of the same type (default: certify the same key again)"},
			&cli.StringFlag{Name: "validity", Usage: "successor lifetime (`DURATION`: 90d, 12h, ...; default: the predecessor's)"},
			&cli.StringFlag{Name: "expiring-within", Usage: "renew every issued certificate, not revoked, that expires within `DURATION` (30d), expired ones included; no NAMEs"},
			&cli.StringFlag{Name: "exec", Usage: "after a successful renewal, run `CMD` with sh -c (a reload such as 'nginx -s reload'); $MTLSKIT_RENEWED holds the names renewed. Its exit status is reported, and a failure makes renew exit 1"},
		},
		Action: renew,
	}
}

// execReport is the outcome of --exec.
type execReport struct {
	Command  string `json:"command"`
	ExitCode int    `json:"exit_code"`
	Error    string `json:"error,omitempty"`
	Elapsed  string `json:"elapsed"`
}

func renew(c *cli.Context) error {
	validity, err := validityOf(c, "validity")
	if err != nil {
		return err
	}
	if c.IsSet("validity") && validity <= 0 {
		return usagef("--validity must be positive, got %q", c.String("validity"))
	}
	store := storeOf(c)
	var names []string
	switch {
	case c.IsSet("expiring-within") && c.NArg() == 0:
		within, err := pki.ParseValidity(c.String("expiring-within"))
		if err != nil || within <= 0 {
			return usagef("--expiring-within: give a duration such as 30d, got %q", c.String("expiring-within"))
		}
		due, err := store.Due(within, time.Now())
		if err != nil {
			return failf("renew: %v", err)
		}
		for _, e := range due {
			names = append(names, e.Name)
		}
	case c.NArg() > 0 && !c.IsSet("expiring-within"):
		names = c.Args().Slice()
		for _, n := range names {
			if err := pki.CheckName(n); err != nil {
				return usagef("renew: %v", err)
			}
		}
	default:
		return usagef("renew needs certificate NAMEs or --expiring-within DURATION (not both): see `mtlskit list`")
	}
	var renewals []pki.Renewal
	if len(names) > 0 {
		if renewals, err = store.RenewMany(names, pki.RenewOptions{Rekey: c.Bool("rekey"), Validity: validity, Passphrase: caPassphrase(c)}); err != nil {
			return asFailure("renew", err)
		}
	}
	var ex *execReport
	if cmd := c.String("exec"); cmd != "" && len(renewals) > 0 {
		// With --json, stdout holds the report alone: the command's
		// output goes to stderr.
		out := c.App.Writer
		if c.Bool("json") {
			out = c.App.ErrWriter
		}
		ex = runReload(c.Context, cmd, store.Dir, names, out, c.App.ErrWriter)
	}
	if c.Bool("json") {
		if renewals == nil {
			renewals = []pki.Renewal{}
		}
		if err := printJSON(c.App.Writer, struct {
			Dir      string        `json:"dir"`
			Renewed  []pki.Renewal `json:"renewed"`
			Exec     *execReport   `json:"exec,omitempty"`
			Swapping string        `json:"swap"`
		}{store.Dir, renewals, ex, swapKind(renewals)}); err != nil {
			return err
		}
	} else {
		w := c.App.Writer
		if len(renewals) == 0 {
			fmt.Fprintf(w, "nothing to renew: no certificate expires within %s\n", c.String("expiring-within"))
		}
		for _, r := range renewals {
			key := "same key"
			if r.Rekeyed {
				key = "new key"
			}
			fmt.Fprintf(w, "renewed %s %q: serial %s -> %s (%s), valid until %s\n", r.Successor.Kind, r.Successor.Name,
				r.Predecessor.Serial, r.Successor.Serial, key, r.Successor.NotAfter.Format("2006-01-02 15:04 MST"))
		}
		if len(renewals) > 0 {
			fmt.Fprintf(w, "  files: %s (swapped %s)\n", store.Path("issued"), swapKind(renewals))
		}
		if ex != nil {
			fmt.Fprintf(w, "  reload: %q exited %d after %s\n", ex.Command, ex.ExitCode, ex.Elapsed)
		}
	}
	if ex != nil && ex.ExitCode != 0 {
		return failf("renew: the certificates were renewed, but the reload command %q failed (exit %d%s): the service may still use the old ones", ex.Command, ex.ExitCode, prefixed("; ", ex.Error))
	}
	return nil
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

// swapKind says how the directories were swapped.
func swapKind(rs []pki.Renewal) string {
	for _, r := range rs {
		if !r.Exchanged {
			return "by two renames (no atomic exchange on this file system)"
		}
	}
	return "atomically"
}

// runReload runs cmd with sh -c after a renewal and reports its status.
func runReload(ctx context.Context, cmd, dir string, names []string, stdout, stderr io.Writer) *execReport {
	start := time.Now()
	sh := exec.CommandContext(ctx, "sh", "-c", cmd)
	sh.Env = append(os.Environ(), "MTLSKIT_RENEWED="+strings.Join(names, " "), "MTLSKIT_DIR="+dir)
	sh.Stdout, sh.Stderr = stdout, stderr
	err := sh.Run()
	r := &execReport{Command: cmd, Elapsed: time.Since(start).Round(time.Millisecond).String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.ExitCode = ee.ExitCode()
		if r.ExitCode < 0 {
			r.ExitCode, r.Error = 1, ee.String()
		}
	case err != nil:
		r.ExitCode, r.Error = 127, err.Error()
	}
	return r
}

// superseded is the store's renewal record (nil when it cannot be read:
// list has reported the index already).
func superseded(store *pki.Store) []pki.Supersession {
	sup, _ := store.Superseded()
	return sup
}

func shortSerial(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

// printLineage is list's section on renewals: each superseded
// certificate, when and by which serial it was renewed.
func printLineage(w io.Writer, sup []pki.Supersession) error {
	if len(sup) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nsuperseded by renewal (mtlskit renew):\n")
	t := newTable(w)
	t.row("NAME", "SERIAL", "EXPIRES", "RENEWED", "RENEWED TO", "KEY")
	for _, s := range sup {
		key := "same key"
		if s.Rekeyed {
			key = "new key"
		}
		t.row(s.Name, shortSerial(s.Serial), s.NotAfter.Format(time.DateOnly), s.At.Format(time.DateOnly), shortSerial(s.By), key)
	}
	return t.flush()
}
