package main

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mtlskit/mtlskit/pki"
	"github.com/urfave/cli/v2"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "export an issued certificate in another format",
		Subcommands: []*cli.Command{{
			Name:      "p12",
			Usage:     "write NAME as PKCS#12 (key, certificate and chain)",
			UsageText: "mtlskit export p12 NAME [--password-file F] [--legacy] [--out FILE]",
			Flags: []cli.Flag{dirFlag, jsonFlag, forceFlag,
				&cli.StringFlag{Name: "password-file", Usage: "file holding the PKCS#12 password (else a prompt on a TTY)"},
				&cli.BoolFlag{Name: "legacy", Usage: "3DES/SHA-1 encoding for old macOS Keychain, Windows and Java (default AES-256/SHA-256)"},
				&cli.StringFlag{Name: "out", Usage: "output file (default issued/NAME/NAME.p12 in the store)"},
			},
			Action: exportP12,
		}},
	}
}

func exportP12(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("export p12 needs exactly one NAME argument (see `mtlskit list`), got %d", c.NArg())
	}
	name := c.Args().First()
	store := storeOf(c)
	e, err := store.Get(name)
	if err != nil {
		return failf("export p12: %v", err)
	}
	if e.Key == "" {
		return failf("export p12: %q was signed from a CSR and its key is not in the store: build the PKCS#12 where the key lives", name)
	}
	issued, err := store.Load(name)
	if err != nil {
		return failf("export p12: %v", err)
	}
	root, err := store.Root()
	if err != nil {
		return failf("export p12: %v", err)
	}
	out := c.String("out")
	if out == "" {
		out = filepath.Join(filepath.Dir(store.Path(e.Cert)), name+".p12")
	}
	if _, err := os.Stat(out); err == nil && !c.Bool("force") {
		return failf("export p12: %s exists: pass --force to replace it or --out another file", out)
	}
	password, err := readSecret(c, "password-file", "", "PKCS#12 password", true)
	if err != nil {
		return err
	}
	if len(password) == 0 {
		fmt.Fprintf(c.App.ErrWriter, "%s: warning: the PKCS#12 password is empty: anyone with the file has the key\n", programName)
	}
	data, err := pki.EncodePKCS12(issued, root, string(password), c.Bool("legacy"))
	if err != nil {
		return failf("export p12: %v", err)
	}
	if err := pki.WriteSecretFile(out, data); err != nil {
		return failf("export p12: writing %s: %v", out, err)
	}
	encoding := "AES-256-CBC, PBKDF2-SHA256, SHA-256 MAC"
	if c.Bool("legacy") {
		encoding = "3DES, SHA-1 MAC (legacy)"
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, map[string]any{
			"name": name, "path": out, "encoding": encoding, "legacy": c.Bool("legacy"),
			"serial": e.Serial, "certificates": 1 + len(issued.Chain) + 1, "empty_password": len(password) == 0,
		})
	}
	fmt.Fprintf(c.App.Writer, "PKCS#12 for %q written to %s (%s, key + %d certificates)\n", name, out, encoding, 2+len(issued.Chain))
	return nil
}

// p12Certs decodes the certificates of a PKCS#12 file for inspect. A
// wrong password gives pki.ErrWrongPKCS12Password.
func p12Certs(c *cli.Context, data []byte) ([]*x509.Certificate, error) {
	password := ""
	if c.String("password-file") != "" {
		p, err := readSecret(c, "password-file", "", "PKCS#12 password", false)
		if err != nil {
			return nil, err
		}
		password = string(p)
	}
	iss, root, err := pki.DecodePKCS12(data, password)
	if err != nil {
		return nil, err
	}
	certs := iss.FullChain()
	if root != nil {
		certs = append(certs, root)
	}
	return certs, nil
}
