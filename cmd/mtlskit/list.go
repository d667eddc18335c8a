package main

import (
	"fmt"
	"time"

	"github.com/mtlskit/mtlskit/pki"
	"github.com/urfave/cli/v2"
)

// expiringWithin marks a certificate as expiring soon in list output.
const expiringWithin = 30 * pki.Day

func listCommand() *cli.Command {
	return &cli.Command{
		Name:   "list",
		Usage:  "inventory of the store: name, kind, serial, SANs, expiry, status",
		Flags:  []cli.Flag{dirFlag, jsonFlag},
		Action: list,
	}
}

// status says whether a certificate is usable at now: revoked first.
func status(e pki.Entry, now time.Time) string {
	switch {
	case e.Revoked != nil:
		return "revoked"
	case now.Before(e.NotBefore):
		return "not-yet-valid"
	case now.After(e.NotAfter):
		return "expired"
	case e.NotAfter.Sub(now) < expiringWithin:
		return "expiring"
	}
	return "valid"
}

func list(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("list takes no arguments, got %q", c.Args().First())
	}
	store := storeOf(c)
	entries, err := store.List()
	if err != nil {
		return failf("list: %v", err)
	}
	now := time.Now()
	if c.Bool("json") {
		type row struct {
			entryFacts
			Status string `json:"status"`
		}
		out := struct {
			Dir          string `json:"dir"`
			Certificates []row  `json:"certificates"`
			// Superseded lists what renewals replaced (renew.go).
			Superseded []pki.Supersession `json:"superseded,omitempty"`
		}{Dir: store.Dir, Certificates: []row{}, Superseded: superseded(store)}
		for _, e := range entries {
			out.Certificates = append(out.Certificates, row{factsOf(store, e), status(e, now)})
		}
		return printJSON(c.App.Writer, out)
	}
	p := palette{on: useColour(c.App.Writer)}
	t := newTable(c.App.Writer)
	t.row("NAME", "KIND", "SERIAL", "SANS", "EXPIRES", "STATUS")
	for _, e := range entries {
		serial := e.Serial
		if len(serial) > 16 {
			serial = serial[:16] + "…"
		}
		sans := joinComma(e.SANs)
		if sans == "" {
			sans = "-"
		}
		st := status(e, now)
		switch st {
		case "valid":
			st = p.green(st)
		case "expiring":
			st = p.yellow(st)
		default:
			st = p.red(st)
		}
		if e.Revoked != nil {
			st += fmt.Sprintf(" %s (%s)", e.Revoked.At.Format(time.DateOnly), e.Revoked.ReasonName)
		}
		if e.RenewedFrom != "" {
			st += " renewed from " + shortSerial(e.RenewedFrom)
		}
		t.row(e.Name, string(e.Kind), serial, sans, e.NotAfter.Format(time.DateOnly), st)
	}
	if err := t.flush(); err != nil {
		return err
	}
	return printLineage(c.App.Writer, superseded(store))
}
