//go:build !urfave_cli_no_docs

package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// The man page generator. urfave/cli renders man pages through
// go-md2man and blackfriday, whose package initialisation every process
// would pay at start (0.4-0.8 ms here); the product is built with -tags
// urfave_cli_no_docs, which leaves urfave/cli's generator out, and so this
// file. `make man` runs a build without the tag: go run ./cmd/mtlskit man.

func init() { buildOnlyCommands = append(buildOnlyCommands, manCommand) }

// manCommand prints the man page generated from the command definitions
// (`make man` writes it to docs/mtlskit.1).
func manCommand() *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print the mtlskit(1) man page",
		Hidden: true,
		Action: func(c *cli.Context) error {
			s, err := manPage(c.App)
			if err != nil {
				return failf("man: %v", err)
			}
			fmt.Fprint(c.App.Writer, s)
			return nil
		},
	}
}

// manPage renders app's man page; Setup adds the flags Run adds (--help,
// --version), as when the command runs.
func manPage(app *cli.App) (string, error) {
	app.Setup()
	s, err := app.ToManWithSection(1)
	return strings.TrimLeft(s, "\n"), err
}
