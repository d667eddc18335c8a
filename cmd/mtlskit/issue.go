package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mtlskit/mtlskit/pki"
	"github.com/urfave/cli/v2"
)

func leafFlags(extra ...cli.Flag) []cli.Flag {
	return append([]cli.Flag{
		dirFlag, jsonFlag, forceFlag, keyTypeFlag, passphraseFlag,
		&cli.StringSliceFlag{Name: "san", Usage: "subject alternative names, comma separated: DNS names, IPs, emails, URIs"},
		&cli.StringFlag{Name: "cn", Usage: "common name (default: the first SAN)"},
		&cli.StringFlag{Name: "name", Usage: "name in the store (default: from the CN or first SAN)"},
		&cli.StringFlag{Name: "validity", Usage: "lifetime, e.g. 90d, 12h, 2y (default 1y)"},
	}, extra...)
}

func issueCommand() *cli.Command {
	return &cli.Command{
		Name:  "issue",
		Usage: "issue a server or client certificate from the store's CA",
		Subcommands: []*cli.Command{
			{
				Name:      "server",
				Usage:     "issue a TLS server certificate (needs --san)",
				UsageText: "mtlskit issue server --san localhost,127.0.0.1,::1 [--client-auth]",
				Flags:     leafFlags(&cli.BoolFlag{Name: "client-auth", Usage: "also allow use as a client certificate"}),
				Action:    func(c *cli.Context) error { return issueLeaf(c, pki.KindServer) },
			},
			{
				Name:      "client",
				Usage:     "issue a TLS client certificate (needs --cn or --san)",
				UsageText: "mtlskit issue client --cn alice [--san spiffe://corp/alice,alice@example.com]",
				Flags: leafFlags(
					&cli.IntFlag{Name: "count", Usage: "issue N client identities in one run (names PREFIX0001...)"},
					&cli.StringFlag{Name: "cn-prefix", Usage: "with --count: common name prefix, e.g. load-"},
				),
				Action: func(c *cli.Context) error {
					if c.IsSet("count") || c.IsSet("cn-prefix") {
						return issueClients(c)
					}
					return issueLeaf(c, pki.KindClient)
				},
			},
		},
	}
}

// leafRequest reads the flags shared by issue and sign.
func leafRequest(c *cli.Context, kind pki.Kind) (pki.Request, error) {
	if c.NArg() > 0 {
		return pki.Request{}, usagef("unexpected argument %q: names go in --san, --cn or --name", c.Args().First())
	}
	sans, err := sansOf(c)
	if err != nil {
		return pki.Request{}, err
	}
	validity, err := validityOf(c, "validity")
	if err != nil {
		return pki.Request{}, err
	}
	cn := strings.TrimSpace(c.String("cn"))
	if c.IsSet("cn") && cn == "" {
		return pki.Request{}, usagef("--cn is empty: give a name such as --cn alice")
	}
	return pki.Request{
		Kind: kind, CommonName: cn, SANs: sans, Validity: validity,
		ClientAuth: c.Bool("client-auth"),
	}, nil
}

func issueLeaf(c *cli.Context, kind pki.Kind) error {
	req, err := leafRequest(c, kind)
	if err != nil {
		return err
	}
	if req.KeyType, err = keyTypeOf(c); err != nil {
		return err
	}
	// pki's rule, checked before the store is opened (or a passphrase
	// asked for), worded for the flags of this command.
	if err := req.CheckSubject(); err != nil {
		switch {
		case errors.Is(err, pki.ErrServerNeedsSAN):
			return usagef("issue server: no --san given: a server certificate needs the names clients dial (verifiers ignore the CN): add --san localhost,127.0.0.1")
		case errors.Is(err, pki.ErrNeedsName):
			return usagef("issue client: no --cn or --san given: add --cn alice")
		}
		return usagef("issue %s: %v", kind, err)
	}
	if name := c.String("name"); c.IsSet("name") {
		if err := pki.CheckName(name); err != nil {
			return usagef("--name: %v", err)
		}
	}
	store := storeOf(c)
	e, _, err := store.Issue(req, pki.IssueOptions{Name: c.String("name"), Force: c.Bool("force"), Passphrase: caPassphrase(c)})
	if err != nil {
		return asFailure("issue "+string(kind), err)
	}
	return reportWritten(c, store, []pki.Entry{*e})
}

// asFailure keeps a usage error's status and otherwise prefixes the
// operation to the one-line message.
func asFailure(op string, err error) error {
	if ce, ok := err.(*cmdError); ok {
		return ce
	}
	return failf("%s: %v", op, err)
}

func joinComma(s []string) string { return strings.Join(s, ", ") }

// maxCount bounds `issue client --count`.
const maxCount = 100000

// issueClients issues --count client identities named PREFIX0001... in
// one process, under one lock and one index update.
func issueClients(c *cli.Context) error {
	n, prefix := c.Int("count"), c.String("cn-prefix")
	switch {
	case !c.IsSet("count") || n < 1 || n > maxCount:
		return usagef("--count must be between 1 and %d, got %d", maxCount, n)
	case prefix == "":
		return usagef("--count needs --cn-prefix, e.g. --cn-prefix load-")
	case c.IsSet("cn") || c.IsSet("name"):
		return usagef("--count names each certificate from --cn-prefix: drop --cn and --name")
	}
	req, err := leafRequest(c, pki.KindClient)
	if err != nil {
		return err
	}
	if req.KeyType, err = keyTypeOf(c); err != nil {
		return err
	}
	width := len(fmt.Sprint(n))
	if width < 4 {
		width = 4
	}
	reqs := make([]pki.Request, n)
	names := make([]string, n)
	for i := range reqs {
		r := req
		r.CommonName = fmt.Sprintf("%s%0*d", prefix, width, i+1)
		if err := pki.CheckName(r.CommonName); err != nil {
			return usagef("--cn-prefix: %v", err)
		}
		reqs[i], names[i] = r, r.CommonName
	}
	store := storeOf(c)
	entries, _, err := store.IssueMany(reqs, names, pki.IssueOptions{Force: c.Bool("force"), Passphrase: caPassphrase(c)})
	if err != nil {
		return asFailure("issue client", err)
	}
	if c.Bool("json") {
		return reportWritten(c, store, entries)
	}
	fmt.Fprintf(c.App.Writer, "issued %d client certificates, %s to %s, in %s\n", n, names[0], names[n-1], store.Path("issued"))
	fmt.Fprintf(c.App.Writer, "  trust: %s (give this CA file to the peers)\n", store.RootCertPath())
	return nil
}
