package main

import "github.com/urfave/cli/v2"

// commands lists the top-level commands; each lives in its own file.
func commands() []*cli.Command {
	return []*cli.Command{
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
		manCommand(),
	}
}
