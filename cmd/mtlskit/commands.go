package main

import "github.com/urfave/cli/v2"

// commands lists the top-level commands; each lives in its own file.
func commands() []*cli.Command {
	cmds := []*cli.Command{
		caCommand(),
		issueCommand(),
		signCommand(),
		listCommand(),
		revokeCommand(),
		renewCommand(),
		crlCommand(),
		serveCommand(),
		inspectCommand(),
		exportCommand(),
		verifyCommand(),
		lintCommand(),
		withRotationFlags(harnessCommand()),
		reportCommand(),
		loadCommand(),
		snippetCommand(),
		completionCommand(),
	}
	for _, c := range buildOnlyCommands {
		cmds = append(cmds, c())
	}
	return cmds
}

// buildOnlyCommands are commands that only some builds have: `man`
// (man.go) exists in a build without -tags urfave_cli_no_docs, the build
// `make man` runs, and not in the product, which is built with the tag
// so that it links neither urfave/cli's man page generator nor the
// Markdown renderers under it (go-md2man, blackfriday).
var buildOnlyCommands []func() *cli.Command
