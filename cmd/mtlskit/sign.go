package main

import (
	"os"

	"github.com/mtlskit/mtlskit/pki"
	"github.com/urfave/cli/v2"
)

func signCommand() *cli.Command {
	return &cli.Command{
		Name:      "sign",
		Usage:     "sign a CSR made elsewhere (its private key never leaves its host)",
		UsageText: "mtlskit sign --csr req.pem --profile server|client [--san ...] [--name NAME]",
		Flags: leafFlags(
			&cli.StringFlag{Name: "csr", Usage: "PEM or DER certificate signing request", Required: true},
			&cli.StringFlag{Name: "profile", Usage: "server or client", Required: true},
			&cli.BoolFlag{Name: "client-auth", Usage: "server profile: also allow use as a client certificate"},
		),
		Action: signCSR,
	}
}

func signCSR(c *cli.Context) error {
	var kind pki.Kind
	switch p := c.String("profile"); p {
	case "server":
		kind = pki.KindServer
	case "client":
		kind = pki.KindClient
	default:
		return usagef("--profile %q is not known: use server or client", p)
	}
	if c.IsSet("key-type") {
		return usagef("--key-type does not apply to sign: the CSR carries its own key")
	}
	req, err := leafRequest(c, kind)
	if err != nil {
		return err
	}
	path := c.String("csr")
	data, err := os.ReadFile(path)
	if err != nil {
		return failf("--csr %s cannot be read (%s): check the path", path, errText(err))
	}
	csr, err := pki.ParseCSR(data)
	if err != nil {
		return failf("--csr %s: %v", path, err)
	}
	store := storeOf(c)
	e, _, err := store.SignCSR(csr, req, pki.IssueOptions{Name: c.String("name"), Force: c.Bool("force"), Passphrase: caPassphrase(c)})
	if err != nil {
		return failf("sign %s: %v", path, err)
	}
	return reportWritten(c, store, []pki.Entry{*e})
}
