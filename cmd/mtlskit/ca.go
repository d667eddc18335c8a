package main

import (
	"fmt"

	"github.com/mtlskit/mtlskit/pki"
	"github.com/urfave/cli/v2"
)

func caCommand() *cli.Command {
	return &cli.Command{
		Name:  "ca",
		Usage: "create and manage the private CA",
		Subcommands: []*cli.Command{{
			Name:  "init",
			Usage: "create a root CA (and optionally an intermediate) in the store",
			Flags: []cli.Flag{
				dirFlag, jsonFlag, forceFlag, keyTypeFlag, passphraseFlag,
				&cli.StringFlag{Name: "cn", Value: "mtlskit Root CA", Usage: "root CA common name"},
				&cli.StringFlag{Name: "validity", Usage: "root lifetime, e.g. 10y (default 10y)"},
				&cli.BoolFlag{Name: "intermediate", Usage: "also create an intermediate CA that signs the leaves"},
				&cli.StringFlag{Name: "intermediate-validity", Usage: "intermediate lifetime (default 5y)"},
				&cli.StringSliceFlag{Name: "permitted-dns", Usage: "name constraint: DNS domains leaves may use"},
				&cli.StringSliceFlag{Name: "excluded-dns", Usage: "name constraint: DNS domains leaves may not use"},
				&cli.StringSliceFlag{Name: "permitted-ip", Usage: "name constraint: IP ranges (CIDR) leaves may use"},
				&cli.BoolFlag{Name: "encrypt-key", Usage: "encrypt the CA keys with a passphrase"},
				&cli.StringFlag{Name: "crl-url", Usage: "put this http:// `URL` into every leaf issued after as its CRL distribution point (serve it with `mtlskit serve`)"},
				&cli.StringFlag{Name: "ocsp-url", Usage: "put this http:// `URL` into every leaf issued after as its OCSP responder (Authority Information Access)"},
			},
			Action: caInit,
		}},
	}
}

func caInit(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("ca init takes no arguments, got %q", c.Args().First())
	}
	kt, err := keyTypeOf(c)
	if err != nil {
		return err
	}
	validity, err := validityOf(c, "validity")
	if err != nil {
		return err
	}
	interValidity, err := validityOf(c, "intermediate-validity")
	if err != nil {
		return err
	}
	if interValidity != 0 && !c.Bool("intermediate") {
		return usagef("--intermediate-validity needs --intermediate")
	}
	permitted, err := dnsListOf(c, "permitted-dns")
	if err != nil {
		return err
	}
	excluded, err := dnsListOf(c, "excluded-dns")
	if err != nil {
		return err
	}
	ips, err := ipNetsOf(c, "permitted-ip")
	if err != nil {
		return err
	}
	opts := pki.InitOptions{
		CommonName: c.String("cn"), KeyType: kt, Validity: validity,
		Intermediate: c.Bool("intermediate"), IntermediateValidity: interValidity,
		PermittedDNS: permitted, ExcludedDNS: excluded, PermittedIPs: ips,
		Force: c.Bool("force"), CRLURL: c.String("crl-url"), OCSPURL: c.String("ocsp-url"),
	}
	for _, f := range []string{"crl-url", "ocsp-url"} {
		if u := c.String(f); u != "" {
			if err := pki.CheckRevocationURL("--"+f, u); err != nil {
				return usagef("%v", err)
			}
		}
	}
	store := storeOf(c)
	if store.HasCA() && !opts.Force {
		return failf("%s already holds a CA: use it, pick another --dir, or pass --force to replace it", store.Dir)
	}
	if c.Bool("encrypt-key") {
		p, err := readSecret(c, "passphrase-file", "MTLSKIT_CA_PASSPHRASE", "new CA key passphrase", true)
		if err != nil {
			return err
		}
		if len(p) == 0 {
			return usagef("--encrypt-key: the passphrase is empty: give a non-empty one")
		}
		opts.Passphrase = p
	}
	entries, err := store.Init(opts)
	if err != nil {
		return failf("ca init: %v", err)
	}
	return reportWritten(c, store, entries)
}

// writtenReport is the --json object of commands that write certificates.
type writtenReport struct {
	Dir          string       `json:"dir"`
	CA           string       `json:"ca"`
	Certificates []entryFacts `json:"certificates"`
}

type entryFacts struct {
	pki.Entry
	Paths map[string]string `json:"paths"`
}

func factsOf(store *pki.Store, e pki.Entry) entryFacts {
	paths := map[string]string{"cert": store.Path(e.Cert)}
	if e.Key != "" {
		paths["key"] = store.Path(e.Key)
	}
	if e.Chain != "" {
		paths["chain"] = store.Path(e.Chain)
	}
	return entryFacts{Entry: e, Paths: paths}
}

func reportWritten(c *cli.Context, store *pki.Store, entries []pki.Entry) error {
	out := c.App.Writer
	if c.Bool("json") {
		r := writtenReport{Dir: store.Dir, CA: store.RootCertPath()}
		for _, e := range entries {
			r.Certificates = append(r.Certificates, factsOf(store, e))
		}
		return printJSON(out, r)
	}
	for _, e := range entries {
		f := factsOf(store, e)
		fmt.Fprintf(out, "%s %q: serial %s, valid until %s\n", e.Kind, e.Name, e.Serial, e.NotAfter.Format("2006-01-02 15:04 MST"))
		if len(e.SANs) > 0 {
			fmt.Fprintf(out, "  SANs:  %s\n", joinComma(e.SANs))
		}
		fmt.Fprintf(out, "  cert:  %s\n", f.Paths["cert"])
		if k := f.Paths["key"]; k != "" {
			fmt.Fprintf(out, "  key:   %s\n", k)
		}
		if ch := f.Paths["chain"]; ch != "" && ch != f.Paths["cert"] {
			fmt.Fprintf(out, "  chain: %s\n", ch)
		}
	}
	fmt.Fprintf(out, "  trust: %s (give this CA file to the peers)\n", store.RootCertPath())
	return nil
}
