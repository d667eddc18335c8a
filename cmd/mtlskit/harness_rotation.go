package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/urfave/cli/v2"
)

// rotationFlags are harness run's flags for the rotation scenarios
// (docs/rotation.md). They are added to the run subcommand here, with
// the scenario's other code, by withRotationFlags.
func rotationFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "reload-signal", Usage: "server-cert-rotation: after replacing the server's files, send this `SIGNAL` (HUP, USR1, USR2, WINCH, ALRM) to the --server-cmd process (after `exec` in a script: the server itself); default none, for a server that watches its files"},
		&cli.BoolFlag{Name: "reload-signal-group", Usage: "send --reload-signal to the server command's whole process group instead (every process of a recipe gets it: `harness echo` behind nginx would die of SIGHUP)"},
		&cli.StringFlag{Name: "reload-cmd", Usage: "server-cert-rotation: run this `TEMPLATE` (the server's placeholders; $MTLSKIT_SERVER_PID) to make the server reload, instead of a signal"},
		&cli.DurationFlag{Name: "reload-timeout", Value: 10 * time.Second, Usage: "server-cert-rotation: how long new connections are tried for the new serial after the reload"},
		&cli.StringFlag{Name: "rotation-keeps-old", Value: "true", Usage: "server-cert-rotation: a connection opened before the reload must stay open (`true`), must be closed (false), or is only reported (any)"},
		&cli.DurationFlag{Name: "short-cert-lifetime", Value: 3 * time.Second, Usage: "client-cert-expires-during-connection: the client certificate expires this long after it is issued, just before its WebSocket opens (at least 2s: X.509 times are whole seconds)"},
		&cli.DurationFlag{Name: "observe-for", Value: 10 * time.Second, Usage: "client-cert-expires-during-connection, client-revoked-during-connection: how long the open connection is watched after the expiry or revocation"},
		&cli.DurationFlag{Name: "expect-close-within", Usage: "client-cert-expires-during-connection, client-revoked-during-connection: judge instead of observing: the server must close the open connection within this `DURATION` after the expiry or revocation"},
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
	ro.ShortLifetime, ro.ObserveFor, ro.CloseWithin = c.Duration("short-cert-lifetime"), c.Duration("observe-for"), c.Duration("expect-close-within")
	switch {
	case ro.ShortLifetime < 2*time.Second:
		return usagef("--short-cert-lifetime %s is under 2s: X.509 times are whole seconds, so the certificate could expire during its own handshake", ro.ShortLifetime)
	case ro.ObserveFor <= 0:
		return usagef("--observe-for %s is not positive: use a duration such as 10s", ro.ObserveFor)
	case c.IsSet("expect-close-within") && (ro.CloseWithin <= 0 || ro.CloseWithin > ro.ObserveFor):
		return usagef("--expect-close-within %s must be positive and at most --observe-for (%s): a close later than the window cannot be seen", ro.CloseWithin, ro.ObserveFor)
	}
	named := map[string]bool{}
	for _, n := range c.StringSlice("scenario") {
		named[n] = true
	}
	for _, s := range harness.RotationScenarios() {
		ro.Run = ro.Run || named[s.Name]
	}
	for _, f := range []string{"reload-signal", "reload-signal-group", "reload-cmd", "reload-timeout", "rotation-keeps-old", "short-cert-lifetime", "observe-for", "expect-close-within"} {
		if !c.IsSet(f) {
			continue
		}
		ok := false
		applies := harness.RotationOptionScenarios[strings.ReplaceAll(f, "-", "_")]
		for _, n := range applies {
			ok = ok || named[n]
		}
		if !ok {
			return usagef("--%s configures %s: add --scenario %s", f, strings.Join(applies, " or "), applies[0])
		}
	}
	opts.Rotation = ro
	return nil
}

// listRotationScenarios is harness list's section on the scenarios that
// run only when named: server-cert-rotation against a server the
// harness starts, server-cert-rotation-client with a client command.
func listRotationScenarios(w io.Writer) error {
	fmt.Fprintln(w, "\nrun only when named (--scenario NAME), after the others and one at a time: they change the certificates around a running subject or keep a connection open for seconds (each says which subject it needs: --server-cmd, --client-cmd or any server):")
	t := newTable(w)
	for _, s := range harness.RotationScenarios() {
		t.row("  "+s.Name, string(s.Side), string(s.Expect), s.Importance.String(), s.Description)
	}
	return t.flush()
}
