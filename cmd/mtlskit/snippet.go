package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/mtlskit/mtlskit/snippet"
	"github.com/urfave/cli/v2"
)

// snippetCommand is `mtlskit snippet STACK NAME`: a minimal, working
// mutual-TLS configuration for a stack, naming the store's files. The
// snippets live in package harness (snippets.go).
func snippetCommand() *cli.Command {
	return &cli.Command{
		Name:      "snippet",
		Usage:     "print a minimal mTLS configuration for a stack (nginx, Go, Node, Python, Ruby, curl, openssl) using the store's files",
		UsageText: "mtlskit snippet STACK NAME [--listen 127.0.0.1:8443] [--backend 127.0.0.1:9000] [--url wss://localhost:8443/] [--crl FILE ...]\nmtlskit snippet --list",
		Description: "Every snippet checks revocation against the store's CRLs (ca/crl.pem, and ca/root-crl.pem with an intermediate; `mtlskit crl` writes them), " +
			"or the files --crl names; a store without a CRL gets a snippet that says so, with no revocation lines.",
		Flags: []cli.Flag{
			dirFlag, jsonFlag,
			&cli.BoolFlag{Name: "list", Usage: "list the stacks"},
			&cli.StringFlag{Name: "listen", Value: snippet.DefaultListen, Usage: "server stacks: the `HOST:PORT` to listen on"},
			&cli.StringFlag{Name: "server-name", Usage: "nginx: server_name (default: the certificate's first DNS SAN)"},
			&cli.StringFlag{Name: "backend", Value: snippet.DefaultBackend, Usage: "nginx: the plain ws:// backend, `HOST:PORT` or unix:/path.sock"},
			&cli.StringFlag{Name: "url", Value: snippet.DefaultURL, Usage: "client stacks: the wss:// `URL` to connect to"},
			&cli.GenericFlag{Name: "crl", Value: &pathList{}, Usage: "check revocation against this PEM CRL `FILE` instead of the store's (repeatable: the issuing CA's first, then the root's), such as the crl.pem `mtlskit harness serve --files DIR` writes"},
		},
		Action: snippetAction,
	}
}

func snippetAction(c *cli.Context) error {
	if c.Bool("list") {
		if c.NArg() > 0 {
			return usagef("snippet --list takes no arguments, got %q", c.Args().First())
		}
		return snippetList(c.App.Writer, c.Bool("json"))
	}
	if c.NArg() != 2 {
		return usagef("snippet needs STACK and NAME (got %d arguments): e.g. mtlskit snippet nginx localhost; stacks: %s",
			c.NArg(), strings.Join(snippet.StackNames(), ", "))
	}
	stackName, name := c.Args().Get(0), c.Args().Get(1)
	stack, err := snippet.LookupStack(stackName)
	if err != nil {
		return usagef("%v", err)
	}
	for _, f := range []struct {
		flag string
		role snippet.Role
	}{{"listen", snippet.RoleServer}, {"server-name", snippet.RoleServer}, {"backend", snippet.RoleServer}, {"url", snippet.RoleClient}} {
		if c.IsSet(f.flag) && stack.Role != f.role {
			return usagef("--%s is for %s stacks; %s is a %s", f.flag, f.role, stack.Name, stack.Role)
		}
	}
	if c.IsSet("backend") && stack.Name != "nginx" || c.IsSet("server-name") && stack.Name != "nginx" {
		return usagef("--backend and --server-name are for nginx only")
	}
	st := storeOf(c)
	if !st.HasCA() {
		return failf("snippet: no CA in %s: run `mtlskit ca init` first (or pass --dir)", st.Dir)
	}
	params, cert, err := snippet.ParamsFromStore(st, name)
	if err != nil {
		return failf("snippet %s %s: %v", stack.Name, name, err)
	}
	if err := snippet.CheckCert(stack, name, cert); err != nil {
		return failf("snippet %s: %v", stack.Name, err)
	}
	params.Listen, params.ServerName, params.Backend, params.URL = c.String("listen"), c.String("server-name"), c.String("backend"), c.String("url")
	if crls := c.Generic("crl").(*pathList); len(*crls) > 0 {
		if params.Files.CRLs, err = absPaths(*crls); err != nil {
			return failf("snippet: --crl: %v", err)
		}
		if params.CRLNextUpdate, err = snippet.ReadCRLs(params.Files.CRLs); err != nil {
			return failf("snippet: --crl: %v", err)
		}
	}
	sn, err := snippet.Render(stack.Name, params, cert)
	if err != nil {
		return usagef("snippet %s: %v", stack.Name, err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, sn)
	}
	_, err = io.WriteString(c.App.Writer, sn.Text)
	return err
}

func snippetList(w io.Writer, asJSON bool) error {
	stacks := snippet.Stacks()
	if asJSON {
		return printJSON(w, struct {
			Stacks []snippet.Stack `json:"stacks"`
		}{stacks})
	}
	t := newTable(w)
	t.row("STACK", "ROLE", "LANGUAGE", "WHAT")
	for _, s := range stacks {
		t.row(s.Name, string(s.Role), s.Language, s.Description)
	}
	if err := t.flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "\nmtlskit snippet STACK NAME: NAME is a server certificate for a server stack, a client certificate for a client stack (see mtlskit list)")
	return err
}

// pathList is a repeatable flag of file paths, taken whole (a
// StringSliceFlag would split a path at its commas).
type pathList []string

func (p *pathList) Set(v string) error {
	if v == "" {
		return fmt.Errorf("give a file")
	}
	*p = append(*p, v)
	return nil
}

func (p *pathList) String() string { return strings.Join(*p, ", ") }

func absPaths(paths []string) ([]string, error) {
	out := make([]string, len(paths))
	for i, p := range paths {
		a, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}
