package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mtlskit/mtlskit/internal/jsonw"
	"github.com/mtlskit/mtlskit/pki"
	"github.com/urfave/cli/v2"
)

// expiringWithin marks a certificate as expiring soon in list output.
const expiringWithin = 30 * pki.Day

func listCommand() *cli.Command {
	return &cli.Command{
		Name:      "list",
		Usage:     "inventory of the store: name, kind, serial, SANs, expiry, status",
		UsageText: "mtlskit list [--dir pki] [--kind client] [--expiring 30d] [--json]",
		Description: "--kind keeps one kind (root, intermediate, server or client); --expiring D keeps the certificates " +
			"that expire within D from now, expired ones included. --json writes one object as it goes, a certificate at a time.",
		Flags: []cli.Flag{dirFlag, jsonFlag,
			&cli.StringFlag{Name: "kind", Usage: "only certificates of this kind: root, intermediate, server or client"},
			&cli.StringFlag{Name: "expiring", Usage: "only certificates that expire within this long from now, e.g. 30d (expired ones included)"},
		},
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
	now := time.Now()
	keep := func(pki.Entry) bool { return true }
	if k := c.String("kind"); c.IsSet("kind") {
		kind := pki.Kind(strings.ToLower(strings.TrimSpace(k)))
		switch kind {
		case pki.KindRoot, pki.KindIntermediate, pki.KindServer, pki.KindClient:
		default:
			return usagef("--kind %q: use root, intermediate, server or client", k)
		}
		keep = func(e pki.Entry) bool { return e.Kind == kind }
	}
	if c.IsSet("expiring") {
		within, err := pki.ParseValidity(c.String("expiring"))
		if err != nil {
			return usagef("--expiring: %v", err)
		}
		byKind, until := keep, now.Add(within)
		keep = func(e pki.Entry) bool { return byKind(e) && e.NotAfter.Before(until) }
	}
	store := storeOf(c)
	entries, err := store.List()
	if err != nil {
		return failf("list: %v", err)
	}
	w := bufio.NewWriterSize(c.App.Writer, 64<<10)
	if c.Bool("json") {
		err = listJSON(w, store, entries, keep, now)
	} else if err = listTable(w, entries, keep, now, palette{on: useColour(c.App.Writer)}); err == nil {
		err = printLineage(w, superseded(store))
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return err
}

// listTable writes the inventory as aligned columns (as text/tabwriter
// with padding 2 would, in one pass over the rows instead of its cell by
// cell buffering: 100,000 rows take milliseconds).
func listTable(w io.Writer, entries []pki.Entry, keep func(pki.Entry) bool, now time.Time, p palette) error {
	rows := [][6]string{{"NAME", "KIND", "SERIAL", "SANS", "EXPIRES", "STATUS"}}
	for _, e := range entries {
		if !keep(e) {
			continue
		}
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
		rows = append(rows, [6]string{e.Name, string(e.Kind), serial, sans, e.NotAfter.Format(time.DateOnly), st})
	}
	var width [5]int
	for _, r := range rows {
		for i := range width {
			width[i] = max(width[i], utf8.RuneCountInString(r[i]))
		}
	}
	const pad = 2
	line := make([]byte, 0, 256)
	for _, r := range rows {
		line = line[:0]
		for i := range width {
			line = append(line, r[i]...)
			for n := utf8.RuneCountInString(r[i]); n < width[i]+pad; n++ {
				line = append(line, ' ')
			}
		}
		line = append(line, r[5]...)
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	return nil
}

// listJSON streams {"dir": ..., "certificates": [...]} a certificate at a
// time, byte for byte what printJSON would write for the whole document
// (a test compares them).
func listJSON(w io.Writer, store *pki.Store, entries []pki.Entry, keep func(pki.Entry) bool, now time.Time) error {
	b := make([]byte, 0, 4096)
	b = append(b, "{\n  \"dir\": "...)
	b = jsonw.AppendString(b, store.Dir)
	b = append(b, ",\n  \"certificates\": ["...)
	n := 0
	for _, e := range entries {
		if !keep(e) {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, "\n    "...)
		b = appendListRow(b, store, e, status(e, now))
		if len(b) > 32<<10 {
			if _, err := w.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	if n > 0 {
		b = append(b, "\n  "...)
	}
	b = append(b, ']')
	if sup := superseded(store); len(sup) > 0 {
		// What renewals replaced (renew.go): few, so encoding/json
		// writes them, indented as printJSON would at depth 1.
		js, err := json.MarshalIndent(sup, "  ", "  ")
		if err != nil {
			return err
		}
		b = append(b, ",\n  \"superseded\": "...)
		b = append(b, js...)
	}
	b = append(b, "\n}\n"...)
	_, err := w.Write(b)
	return err
}

// appendListRow writes one row of list --json (entryFacts and status),
// indented as printJSON indents it at depth 2.
func appendListRow(b []byte, store *pki.Store, e pki.Entry, st string) []byte {
	const in = "\n      " // fields of the row
	str := func(k, v string) {
		b = append(b, in...)
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, "\": "...)
		b = jsonw.AppendString(b, v)
		b = append(b, ',')
	}
	tm := func(k string, t time.Time) {
		b = append(b, in...)
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, "\": "...)
		b = jsonw.AppendTime(b, t)
		b = append(b, ',')
	}
	b = append(b, '{')
	str("name", e.Name)
	str("kind", string(e.Kind))
	str("serial", e.Serial)
	str("common_name", e.CommonName)
	b = append(b, in+`"sans": `...)
	switch {
	case e.SANs == nil:
		b = append(b, "null"...)
	case len(e.SANs) == 0:
		b = append(b, "[]"...)
	default:
		b = append(b, '[')
		for i, s := range e.SANs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, in+"  "...)
			b = jsonw.AppendString(b, s)
		}
		b = append(b, in+"]"...)
	}
	b = append(b, ',')
	str("key_type", string(e.KeyType))
	tm("not_before", e.NotBefore)
	tm("not_after", e.NotAfter)
	str("sha256", e.SHA256)
	str("issuer", e.Issuer)
	tm("created", e.Created)
	str("cert", e.Cert)
	if e.Key != "" {
		str("key", e.Key)
	}
	if e.Chain != "" {
		str("chain", e.Chain)
	}
	if r := e.Revoked; r != nil {
		const rin = in + "  "
		b = append(b, in+`"revoked": {`...)
		field := func(k string) {
			b = append(b, rin...)
			b = append(b, '"')
			b = append(b, k...)
			b = append(b, "\": "...)
		}
		field("serial")
		b = append(jsonw.AppendString(b, r.Serial), ',')
		field("name")
		b = append(jsonw.AppendString(b, r.Name), ',')
		field("revoked_at")
		b = append(jsonw.AppendTime(b, r.At), ',')
		field("reason_code")
		b = append(strconv.AppendInt(b, int64(r.Reason), 10), ',')
		field("reason")
		b = append(jsonw.AppendString(b, r.ReasonName), ',')
		field("issuer_key_id")
		b = append(jsonw.AppendString(b, r.IssuerKeyID), ',')
		field("not_after")
		b = jsonw.AppendTime(b, r.NotAfter)
		b = append(b, in+"},"...)
	}
	if e.RenewedFrom != "" {
		str("renewed_from", e.RenewedFrom)
	}
	// paths: a map, so its keys sorted (cert, chain, key).
	b = append(b, in+`"paths": {`...)
	b = append(b, in+`  "cert": `...)
	b = jsonw.AppendString(b, store.Path(e.Cert))
	if e.Chain != "" {
		b = append(b, ","+in+`  "chain": `...)
		b = jsonw.AppendString(b, store.Path(e.Chain))
	}
	if e.Key != "" {
		b = append(b, ","+in+`  "key": `...)
		b = jsonw.AppendString(b, store.Path(e.Key))
	}
	b = append(b, in+"},"...)
	b = append(b, in+`"status": `...)
	b = jsonw.AppendString(b, st)
	return append(b, "\n    }"...)
}
