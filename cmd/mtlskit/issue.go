package main

import (
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
				Flags:     leafFlags(),
				Action:    func(c *cli.Context) error { return issueLeaf(c, pki.KindClient) },
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
	switch {
	case kind == pki.KindServer && req.SANs.Empty():
		return usagef("issue server: no --san given: a server certificate needs the names clients dial (verifiers ignore the CN): add --san localhost,127.0.0.1")
	case kind == pki.KindClient && req.SANs.Empty() && req.CommonName == "":
		return usagef("issue client: no --cn or --san given: add --cn alice")
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
