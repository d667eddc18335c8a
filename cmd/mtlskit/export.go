package main

import (
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mtlskit/mtlskit/pki"
	"github.com/urfave/cli/v2"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "export an issued certificate in another format",
		Subcommands: []*cli.Command{{
			Name:  "p12",
			Usage: "write NAME (or --cert and --key files) as PKCS#12 (key, certificate and chain)",
			UsageText: "mtlskit export p12 NAME [--for TARGET | --legacy] [--password-file F] [--friendly-name S] [--out FILE]\n" +
				"mtlskit export p12 --cert FILE --key FILE [--ca FILE] --out FILE [--for TARGET | --legacy] [--password-file F]",
			Flags: []cli.Flag{dirFlag, jsonFlag, forceFlag,
				&cli.StringFlag{Name: "password-file", Usage: "file holding the PKCS#12 password (else a prompt on a TTY)"},
				&cli.StringFlag{Name: "for", Usage: "the reader to encode for: " + strings.Join(p12TargetNames(), ", ") + " (encryption, MAC, iterations and friendly name; docs/pkcs12.md)"},
				&cli.BoolFlag{Name: "legacy", Usage: "3DES/SHA-1 encoding for old macOS Keychain, Windows and Java (default AES-256/SHA-256)"},
				&cli.StringFlag{Name: "friendly-name", Usage: "name of the key and certificate in the file (the Java alias, the NSS nickname; default NAME, or the certificate's CN)"},
				&cli.StringFlag{Name: "cert", Usage: "export this certificate `FILE` (PEM, the leaf then its intermediates) instead of NAME"},
				&cli.StringFlag{Name: "key", Usage: "with --cert: its private key `FILE` (PEM, unencrypted)"},
				&cli.StringFlag{Name: "ca", Usage: "with --cert: the root CA certificate `FILE` to add"},
				&cli.StringFlag{Name: "out", Usage: "output file (default issued/NAME/NAME.p12 in the store)"},
			},
			Action: exportP12,
		}},
	}
}

func p12TargetNames() []string {
	var names []string
	for _, t := range pki.PKCS12Targets() {
		names = append(names, t.Name)
	}
	return names
}

// p12Source is what export p12 packs: a store entry, or files.
type p12Source struct {
	name, serial string
	issued       *pki.Issued
	root         *x509.Certificate
	out          string
}

func exportP12(c *cli.Context) error {
	target := c.String("for")
	if target != "" && c.Bool("legacy") {
		return usagef("export p12: --for and --legacy cannot be used together: --legacy is the old 3DES/SHA-1 encoding, --for %s picks the one its reader takes", target)
	}
	if _, ok := pki.PKCS12ForTarget(target); target != "" && !ok {
		return usagef("export p12: --for %q is not a known reader: use one of %s (docs/pkcs12.md)", target, strings.Join(p12TargetNames(), ", "))
	}
	var src p12Source
	var err error
	if c.IsSet("cert") || c.IsSet("key") || c.IsSet("ca") {
		src, err = p12FromFiles(c)
	} else {
		src, err = p12FromStore(c)
	}
	if err != nil {
		return err
	}
	if _, err := os.Stat(src.out); err == nil && !c.Bool("force") {
		return failf("export p12: %s exists: pass --force to replace it or --out another file", src.out)
	}
	password, err := readSecret(c, "password-file", "", "PKCS#12 password", true)
	if err != nil {
		return err
	}
	friendly := src.name
	if c.IsSet("friendly-name") {
		friendly = c.String("friendly-name")
	}
	var data []byte
	var encoding string
	switch {
	case target != "":
		var enc pki.PKCS12Encoding
		data, enc, err = pki.EncodePKCS12For(src.issued, src.root, string(password), target, friendly)
		switch {
		case errors.Is(err, pki.ErrPKCS12NeedsPassword):
			return failf("export p12 --for %s: the password is empty, and that reader does not import a PKCS#12 file without one: put a password in --password-file", target)
		case errors.Is(err, pki.ErrPKCS12ASCIIPassword):
			return failf("export p12 --for %s: the password has a character outside printable ASCII, which Java's PKCS#12 key store cannot open: use ASCII letters, digits, spaces and punctuation only", target)
		}
		encoding = enc.String()
	default:
		enc := pki.PKCS12Modern
		encoding = "AES-256-CBC, PBKDF2-SHA256, SHA-256 MAC"
		if c.Bool("legacy") {
			enc = pki.PKCS12Legacy
			encoding = "3DES, SHA-1 MAC (legacy)"
		}
		if c.IsSet("friendly-name") {
			enc.FriendlyName = friendly
		}
		data, err = pki.EncodePKCS12With(src.issued, src.root, string(password), enc)
	}
	if err != nil {
		return failf("export p12: %v", err)
	}
	if len(password) == 0 {
		fmt.Fprintf(c.App.ErrWriter, "%s: warning: the PKCS#12 password is empty: anyone with the file has the key\n", programName)
	}
	if err := pki.WriteSecretFile(src.out, data); err != nil {
		return failf("export p12: writing %s: %v", src.out, err)
	}
	certs := 1 + len(src.issued.Chain)
	if src.root != nil && !src.root.Equal(src.issued.Cert) {
		certs++
	}
	if c.Bool("json") {
		rep := map[string]any{
			"name": src.name, "path": src.out, "encoding": encoding, "legacy": c.Bool("legacy"),
			"serial": src.serial, "certificates": certs, "empty_password": len(password) == 0,
		}
		if target != "" {
			rep["for"] = target
		}
		if target != "" || c.IsSet("friendly-name") {
			rep["friendly_name"] = friendly
		}
		return printJSON(c.App.Writer, rep)
	}
	what := encoding
	if target != "" {
		what = fmt.Sprintf("for %s: %s; friendly name %q", target, encoding, friendly)
	}
	fmt.Fprintf(c.App.Writer, "PKCS#12 for %q written to %s (%s, key + %d certificates)\n", src.name, src.out, what, certs)
	return nil
}

// p12FromStore loads the store entry NAME, its chain and the store's root.
func p12FromStore(c *cli.Context) (p12Source, error) {
	if c.NArg() != 1 {
		return p12Source{}, usagef("export p12 needs exactly one NAME argument (see `mtlskit list`), or --cert and --key files, got %d arguments", c.NArg())
	}
	name := c.Args().First()
	store := storeOf(c)
	e, err := store.Get(name)
	if err != nil {
		return p12Source{}, failf("export p12: %v", err)
	}
	if e.Key == "" {
		return p12Source{}, failf("export p12: %q was signed from a CSR and its key is not in the store: build the PKCS#12 where the key lives", name)
	}
	issued, err := store.Load(name)
	if err != nil {
		return p12Source{}, failf("export p12: %v", err)
	}
	root, err := store.Root()
	if err != nil {
		return p12Source{}, failf("export p12: %v", err)
	}
	out := c.String("out")
	if out == "" {
		out = filepath.Join(filepath.Dir(store.Path(e.Cert)), name+".p12")
	}
	return p12Source{name: name, serial: e.Serial, issued: issued, root: root, out: out}, nil
}

// p12FromFiles reads --cert (the leaf, then its intermediates), --key and
// --ca: a certificate that is not in the store, such as the one the
// harness gives a client command.
func p12FromFiles(c *cli.Context) (p12Source, error) {
	if c.NArg() != 0 {
		return p12Source{}, usagef("export p12: give NAME or --cert and --key files, not both (got %q)", c.Args().First())
	}
	if c.String("cert") == "" || c.String("key") == "" || c.String("out") == "" {
		return p12Source{}, usagef("export p12 --cert FILE needs --key FILE and --out FILE too")
	}
	read := func(flag string) ([]byte, error) {
		data, err := os.ReadFile(c.String(flag))
		if err != nil {
			return nil, failf("export p12: --%s %s cannot be read (%v): check the path", flag, c.String(flag), errText(err))
		}
		return data, nil
	}
	certPEM, err := read("cert")
	if err != nil {
		return p12Source{}, err
	}
	certs, err := pki.ParseCerts(certPEM)
	if err != nil || len(certs) == 0 {
		return p12Source{}, failf("export p12: --cert %s: no certificate (%v): give the PEM certificate, leaf first", c.String("cert"), err)
	}
	keyPEM, err := read("key")
	if err != nil {
		return p12Source{}, err
	}
	key, err := pki.ParseKey(keyPEM, nil)
	if err != nil {
		return p12Source{}, failf("export p12: --key %s: %v", c.String("key"), err)
	}
	src := p12Source{name: certs[0].Subject.CommonName, serial: hex.EncodeToString(certs[0].SerialNumber.Bytes()), out: c.String("out"),
		issued: &pki.Issued{Cert: certs[0], Key: key, Chain: certs[1:]}}
	if c.String("ca") != "" {
		caPEM, err := read("ca")
		if err != nil {
			return p12Source{}, err
		}
		roots, err := pki.ParseCerts(caPEM)
		if err != nil || len(roots) != 1 {
			return p12Source{}, failf("export p12: --ca %s: want one PEM certificate, got %d (%v)", c.String("ca"), len(roots), err)
		}
		src.root = roots[0]
	}
	return src, nil
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
