package main

import (
	"fmt"
	"io"
	"time"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/urfave/cli/v2"
)

// rotationFlags are harness run's flags for server-cert-rotation
// (docs/rotation.md). They are added to the run subcommand here, with
// the scenario's other code, by withRotationFlags.
func rotationFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "reload-signal", Usage: "server-cert-rotation: after replacing the server's files, send this `SIGNAL` (HUP, USR1, USR2, WINCH, ALRM) to the --server-cmd process (after `exec` in a script: the server itself); default none, for a server that watches its files"},
		&cli.BoolFlag{Name: "reload-signal-group", Usage: "send --reload-signal to the server command's whole process group instead (every process of a recipe gets it: `harness echo` behind nginx would die of SIGHUP)"},
		&cli.StringFlag{Name: "reload-cmd", Usage: "server-cert-rotation: run this `TEMPLATE` (the server's placeholders; $MTLSKIT_SERVER_PID) to make the server reload, instead of a signal"},
		&cli.DurationFlag{Name: "reload-timeout", Value: 10 * time.Second, Usage: "server-cert-rotation: how long new connections are tried for the new serial after the reload"},
		&cli.StringFlag{Name: "rotation-keeps-old", Value: "true", Usage: "server-cert-rotation: a connection opened before the reload must stay open (`true`), must be closed (false), or is only reported (any)"},
	}
}

// withRotationFlags adds rotationFlags to `harness run`.
func withRotationFlags(cmd *cli.Command) *cli.Command {
	for _, sub := range cmd.Subcommands {
		if sub.Name == "run" {
			sub.Flags = append(sub.Flags, rotationFlags()...)
		}
	}
	return cmd
}

// rotationOptions reads the rotation flags into opts.
func rotationOptions(c *cli.Context, opts *harness.Options) error {
	sig, err := harness.ParseReloadSignal(c.String("reload-signal"))
	if err != nil {
		return usagef("--reload-signal: %v", err)
	}
	ro := harness.RotationOptions{Signal: sig, SignalGroup: c.Bool("reload-signal-group"), Timeout: c.Duration("reload-timeout"), KeepsOld: c.String("rotation-keeps-old")}
	switch {
	case ro.Timeout <= 0:
		return usagef("--reload-timeout %s is not positive: use a duration such as 10s", ro.Timeout)
	case ro.KeepsOld != "true" && ro.KeepsOld != "false" && ro.KeepsOld != "any":
		return usagef("--rotation-keeps-old %q: use true, false or any", ro.KeepsOld)
	case c.IsSet("reload-signal-group") && sig == 0:
		return usagef("--reload-signal-group needs --reload-signal")
	case c.String("reload-cmd") != "" && sig != 0:
		return usagef("--reload-cmd and --reload-signal are two ways to trigger the reload: pick one")
	}
	if c.String("reload-cmd") != "" {
		if ro.Command, err = templateOf(c, "reload-cmd"); err != nil {
			return err
		}
	}
	// Naming any rotation scenario runs it; the --reload-* flags
	// configure server-cert-rotation only.
	serverRotation := false
	for _, n := range c.StringSlice("scenario") {
		for _, s := range harness.RotationScenarios() {
			ro.Run = ro.Run || n == s.Name
		}
		serverRotation = serverRotation || n == harness.RotationScenario
	}
	if !serverRotation {
		for _, f := range []string{"reload-signal", "reload-signal-group", "reload-cmd", "reload-timeout", "rotation-keeps-old"} {
			if c.IsSet(f) {
				return usagef("--%s configures the scenario %s: add --scenario %s", f, harness.RotationScenario, harness.RotationScenario)
			}
		}
	}
	opts.Rotation = ro
	return nil
}

// listRotationScenarios is harness list's section on the scenarios that
// run only when named: server-cert-rotation against a server the
// harness starts, server-cert-rotation-client with a client command.
func listRotationScenarios(w io.Writer) error {
	fmt.Fprintln(w, "\nrun only when named (--scenario NAME), after the others and one at a time: they change the certificate a server presents (each says which subject it needs: --server-cmd or --client-cmd):")
	t := newTable(w)
	for _, s := range harness.RotationScenarios() {
		t.row("  "+s.Name, string(s.Side), string(s.Expect), s.Importance.String(), s.Description)
	}
	return t.flush()
}
