package main

import (
	"fmt"
	"time"

	"github.com/mtlskit/mtlskit/pki"
	"github.com/urfave/cli/v2"
)

// revokeCommand is `mtlskit revoke NAME|--serial HEX`: it records the
// revocation in the store's index; `mtlskit crl` publishes it and
// `mtlskit serve` answers OCSP with it at once.
func revokeCommand() *cli.Command {
	return &cli.Command{
		Name:      "revoke",
		Usage:     "revoke issued certificates (recorded in the index at once; `mtlskit crl` publishes them)",
		ArgsUsage: "NAME...",
		Flags: []cli.Flag{dirFlag, jsonFlag,
			&cli.StringFlag{Name: "serial", Usage: "revoke by serial (`HEX`, as `mtlskit list --json` shows it) instead of NAME"},
			&cli.StringFlag{Name: "reason", Usage: "RFC 5280 `REASON`: keyCompromise, superseded, cessationOfOperation, affiliationChanged, privilegeWithdrawn (default: unspecified, written as no reason)"},
		},
		Action: revoke,
	}
}

func revoke(c *cli.Context) error {
	reason, err := pki.ParseRevocationReason(c.String("reason"))
	if err != nil {
		return usagef("--reason: %v", err)
	}
	var list []pki.RevokeOptions
	switch {
	case c.NArg() > 0 && !c.IsSet("serial"):
		for _, name := range c.Args().Slice() {
			list = append(list, pki.RevokeOptions{Name: name, Reason: reason})
		}
	case c.NArg() == 0 && c.IsSet("serial"):
		list = []pki.RevokeOptions{{Serial: c.String("serial"), Reason: reason}}
	default:
		return usagef("revoke needs certificate NAMEs or --serial HEX (not both): see `mtlskit list`")
	}
	store := storeOf(c)
	revs, err := store.RevokeMany(list)
	if err != nil {
		return failf("revoke: %v", err)
	}
	if c.Bool("json") {
		if len(revs) == 1 {
			return printJSON(c.App.Writer, revs[0])
		}
		return printJSON(c.App.Writer, struct {
			Revoked []pki.Revocation `json:"revoked"`
		}{revs})
	}
	for _, r := range revs {
		fmt.Fprintf(c.App.Writer, "revoked %q (serial %s) at %s, reason %s\n", r.Name, r.Serial, r.At.Format(time.RFC3339), r.ReasonName)
	}
	fmt.Fprintf(c.App.Writer, "  publish it: mtlskit crl (peers that check a CRL file need the new one; `mtlskit serve` answers OCSP with it already)\n")
	return nil
}

// crlCommand is `mtlskit crl`: sign and write the store's CRLs.
func crlCommand() *cli.Command {
	return &cli.Command{
		Name:  "crl",
		Usage: "sign and write the CRLs: ca/crl.pem and ca/crl.der (and the root's for the intermediate)",
		Flags: []cli.Flag{dirFlag, jsonFlag, passphraseFlag,
			&cli.StringFlag{Name: "next-update", Value: "7d", Usage: "how long the CRL is valid (`DURATION`: 12h, 7d, ...); peers refuse an expired CRL"},
		},
		Action: crl,
	}
}

func crl(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("crl takes no arguments, got %q", c.Args().First())
	}
	next, err := pki.ParseValidity(c.String("next-update"))
	if err != nil || next <= 0 {
		return usagef("--next-update %q: give a positive duration such as 12h or 7d", c.String("next-update"))
	}
	store := storeOf(c)
	files, err := store.WriteCRL(pki.CRLOptions{NextUpdate: next, Passphrase: caPassphrase(c)})
	if err != nil {
		return failf("crl: %v", err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, struct {
			Dir  string        `json:"dir"`
			CRLs []pki.CRLFile `json:"crls"`
		}{store.Dir, files})
	}
	for _, f := range files {
		fmt.Fprintf(c.App.Writer, "CRL #%d of %q: %d revoked, valid until %s\n  pem: %s\n  der: %s\n", f.Number, f.Issuer, f.Entries,
			f.NextUpdate.Format("2006-01-02 15:04 MST"), store.Path(f.PEM), store.Path(f.DER))
	}
	return nil
}
