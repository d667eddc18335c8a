package main

import (
	"io"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:                 programName,
		Usage:                "a private CA and a conformance harness for mutual-TLS WebSockets",
		Version:              version,
		Reader:               stdin,
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		HideHelpCommand:      true,
		ExitErrHandler:       func(*cli.Context, error) {}, // run() prints and exits
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usagef("%v (see --help)", err)
		},
		Flags:    []cli.Flag{globalDirFlag()},
		Commands: commands(),
	}
	setUsageErrors(app.Commands)
	return app
}
