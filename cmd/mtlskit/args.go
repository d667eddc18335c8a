package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed moves flags that follow positional arguments in front of
// them, so `mtlskit export p12 NAME --legacy` works: urfave/cli v2 stops
// parsing flags at the first argument. Global flags before the command
// (`mtlskit --dir DIR export ...`) stay where they are. Everything after
// "--" is left alone.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	cmds := app.Commands
	i := 1
	for i < len(args) && isFlagArg(args[i]) {
		out = append(out, args[i])
		if !strings.Contains(args[i], "=") && takesValue(app.Flags, strings.TrimLeft(args[i], "-")) && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
		i++
	}
	var cmd *cli.Command
	// Walk the command words.
	for i < len(args) {
		next := findCommand(cmds, args[i])
		if next == nil {
			break
		}
		cmd = next
		out = append(out, args[i])
		cmds = cmd.Subcommands
		i++
	}
	if cmd == nil || len(cmd.Subcommands) > 0 {
		return args
	}
	var flags, positional []string
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i:]...)
			break
		}
		if isFlagArg(a) {
			flags = append(flags, a)
			if !strings.Contains(a, "=") && takesValue(cmd.Flags, strings.TrimLeft(a, "-")) && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
			continue
		}
		positional = append(positional, a)
	}
	return append(append(out, flags...), positional...)
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

func isFlagArg(a string) bool { return strings.HasPrefix(a, "-") && len(a) > 1 && a != "--" }

// takesValue reports whether the flag called name, among flags, takes a
// value (the next argument, unless written --name=value).
func takesValue(flags []cli.Flag, name string) bool {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				return !isBool
			}
		}
	}
	return false
}

// setUsageErrors makes every command report flag errors as one line with
// exit status 2 instead of printing its help.
func setUsageErrors(cmds []*cli.Command) {
	for _, c := range cmds {
		c.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
			return usagef("%v (see --help)", err)
		}
		setUsageErrors(c.Subcommands)
	}
}
