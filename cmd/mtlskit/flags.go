package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/mtlskit/mtlskit/pki"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// defaultStoreDir is used when neither --dir nor $MTLSKIT_DIR is set.
const defaultStoreDir = "pki"

// The store directory can be given after the command (dirFlag, which
// every command that opens a store has) or before it, for every command
// at once, like git -C (globalDirFlag). The one after the command wins,
// then the one before it, then $MTLSKIT_DIR, then "pki" (storeDir).
// Only the global flag reads $MTLSKIT_DIR and has the default, so that a
// command's own --dir is set exactly when it was typed.
var (
	dirFlag = &cli.StringFlag{
		Name:        "dir",
		Usage:       "store directory (see docs/store.md); wins over a --dir given before the command",
		DefaultText: "the --dir before the command, else $MTLSKIT_DIR, else pki",
	}
	jsonFlag       = &cli.BoolFlag{Name: "json", Usage: "print one JSON object on stdout"}
	forceFlag      = &cli.BoolFlag{Name: "force", Usage: "replace an existing certificate or CA of that name"}
	passphraseFlag = &cli.StringFlag{
		Name: "passphrase-file", Usage: "file holding the CA key passphrase (else $MTLSKIT_CA_PASSPHRASE, else a prompt on a TTY)",
	}
	keyTypeFlag = &cli.StringFlag{
		Name: "key-type", Value: string(pki.DefaultKeyType),
		Usage: "ecdsa-p256, ecdsa-p384, ed25519, rsa-2048, rsa-3072 or rsa-4096",
	}
)

// globalDirFlag is `mtlskit --dir DIR COMMAND`. It is made per app, as
// cli.StringFlag keeps what it read from the environment.
func globalDirFlag() cli.Flag {
	return &cli.StringFlag{
		Name: "dir", Value: defaultStoreDir, EnvVars: []string{"MTLSKIT_DIR"},
		Usage: "store directory for the command that follows, like git -C (see docs/store.md); a --dir after the command wins",
	}
}

func storeOf(c *cli.Context) *pki.Store { return pki.OpenStore(storeDir(c)) }

// storeDir is the store directory: the command's own --dir, else the
// global one (or $MTLSKIT_DIR, or the default, which the global flag
// holds).
func storeDir(c *cli.Context) string {
	if d := c.String("dir"); d != "" {
		return d
	}
	// The parent's view (ca for ca init, else the app) reaches the flag
	// given before the command.
	if lineage := c.Lineage(); len(lineage) > 1 {
		if d := lineage[1].String("dir"); d != "" {
			return d
		}
	}
	return defaultStoreDir
}

func keyTypeOf(c *cli.Context) (pki.KeyType, error) {
	kt, err := pki.ParseKeyType(c.String("key-type"))
	if err != nil {
		return "", usagef("--key-type: %v", err)
	}
	return kt, nil
}

// validityOf reads a --validity style flag; zero means the default.
func validityOf(c *cli.Context, name string) (time.Duration, error) {
	s := c.String(name)
	if s == "" {
		return 0, nil
	}
	v, err := pki.ParseValidity(s)
	if err != nil {
		return 0, usagef("--%s: %v", name, err)
	}
	return v, nil
}

func sansOf(c *cli.Context) (pki.SANs, error) {
	s, err := pki.ParseSANs(strings.Join(c.StringSlice("san"), ","))
	if err != nil {
		return pki.SANs{}, usagef("--san: %v", err)
	}
	return s, nil
}

func ipNetsOf(c *cli.Context, name string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, v := range splitList(c.StringSlice(name)) {
		if !strings.Contains(v, "/") {
			if ip := net.ParseIP(v); ip != nil {
				if ip.To4() != nil {
					v += "/32"
				} else {
					v += "/128"
				}
			}
		}
		_, n, err := net.ParseCIDR(v)
		if err != nil {
			return nil, usagef("--%s: %q is not an IP range: use CIDR form such as 10.0.0.0/8 or 127.0.0.1/32", name, v)
		}
		out = append(out, n)
	}
	return out, nil
}

func dnsListOf(c *cli.Context, name string) ([]string, error) {
	out := splitList(c.StringSlice(name))
	for _, d := range out {
		var s pki.SANs
		if err := s.Add(strings.TrimPrefix(d, ".")); err != nil || len(s.DNS) != 1 || strings.Contains(d, "*") {
			return nil, usagef("--%s: %q is not a DNS domain: use a form such as example.com or .internal", name, d)
		}
	}
	return out, nil
}

// splitList accepts both repeated flags and comma lists.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// caPassphrase returns the CA key passphrase source: the file, the
// environment or a prompt on a TTY, in that order.
func caPassphrase(c *cli.Context) pki.PassphraseFunc {
	return func() ([]byte, error) {
		return readSecret(c, "passphrase-file", "MTLSKIT_CA_PASSPHRASE", "CA key passphrase", false)
	}
}

// readSecret reads a secret from --FLAG (a file), then $ENV, then a
// no-echo prompt on the terminal (twice when confirm is set).
func readSecret(c *cli.Context, flag, env, what string, confirm bool) ([]byte, error) {
	if f := c.String(flag); f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, failf("--%s %s cannot be read (%v): check the path", flag, f, errText(err))
		}
		return bytes.TrimRight(data, "\r\n"), nil
	}
	if env != "" {
		if v, ok := os.LookupEnv(env); ok {
			return []byte(v), nil
		}
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		hint := "pass --" + flag
		if env != "" {
			hint += " or set $" + env
		}
		return nil, usagef("%s needed and no terminal to ask on: %s", what, hint)
	}
	fmt.Fprintf(c.App.ErrWriter, "%s: ", what)
	p, err := term.ReadPassword(fd)
	fmt.Fprintln(c.App.ErrWriter)
	if err != nil {
		return nil, failf("reading %s: %v", what, err)
	}
	if confirm {
		fmt.Fprintf(c.App.ErrWriter, "%s again: ", what)
		p2, err := term.ReadPassword(fd)
		fmt.Fprintln(c.App.ErrWriter)
		if err != nil {
			return nil, failf("reading %s: %v", what, err)
		}
		if !bytes.Equal(p, p2) {
			return nil, failf("the two %ss differ: run the command again", what)
		}
	}
	return p, nil
}

// errText strips Go's "open FILE: " prefix, since our message names the
// file already.
func errText(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}
