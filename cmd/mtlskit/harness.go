package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/harness/report"
	"github.com/urfave/cli/v2"
)

// harnessCommand is `mtlskit harness`: the conformance scenarios for
// mutual-TLS WebSockets (docs/harness.md). The work is in package harness;
// this file parses flags and picks the output.
func harnessCommand() *cli.Command {
	return &cli.Command{
		Name:  "harness",
		Usage: "conformance scenarios for mutual-TLS WebSockets (see docs/harness.md)",
		Subcommands: []*cli.Command{
			{
				Name:   "list",
				Usage:  "list the scenarios and negative controls with their expectations",
				Flags:  []cli.Flag{jsonFlag},
				Action: harnessList,
			},
			{
				Name:  "run",
				Usage: "run the scenarios against the reference pair; exit 0 when nothing failed or was inconclusive, 1 otherwise, 3 when the subject was never reached",
				Flags: []cli.Flag{
					&cli.StringSliceFlag{Name: "scenario", Usage: "run only this scenario (repeatable; see 'mtlskit harness list')"},
					&cli.StringFlag{Name: "format", Value: "table", Usage: "report format: table, json, junit or html (one self-contained page)"},
					&cli.BoolFlag{Name: "json", Usage: "same as --format json"},
					&cli.StringFlag{Name: "out", Usage: "write the report to `FILE` instead of stdout"},
					&cli.StringFlag{Name: "keep", Usage: "keep each scenario's certificates and a repro.sh in `DIR`"},
					&cli.DurationFlag{Name: "timeout", Value: harness.DefaultTimeout, Usage: "limit for each phase (dial, TLS, upgrade, echo, close)"},
					&cli.StringFlag{Name: "tls-version", Usage: "pin both sides to TLS `1.2` or 1.3 (default: negotiate)"},
					&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "table: add each layer's evidence under every row"},
					&cli.BoolFlag{Name: "negative-controls", Usage: "run the negative controls instead: broken subjects that must all be flagged"},
					&cli.StringFlag{Name: "target", Usage: "judge the server at this wss:// `URL` (server-side scenarios); with --server-cmd it may use {port} and {host}"},
					&cli.StringFlag{Name: "pki", Usage: "with --target: the store `DIR` whose CA the server trusts; client certificates are minted from it in memory, nothing is written"},
					passphraseFlag,
					&cli.StringFlag{Name: "server-cmd", Usage: "start this server `TEMPLATE` (placeholders {dir} {ca} {cert} {key} {chain} {port} {host} {url}) and judge it (server-side scenarios)"},
					&cli.StringFlag{Name: "client-cmd", Usage: "run this client `TEMPLATE` once per client-side scenario and judge it"},
					&cli.StringFlag{Name: "accept-on", Value: "echo", Usage: "a server accepts a client when it echoes (`echo`) or when it answers 101 (upgrade)"},
					&cli.BoolFlag{Name: "strict-tls", Usage: "a server must refuse bad clients in the TLS handshake: an HTTP 4xx after it fails"},
					&cli.BoolFlag{Name: "allow-inconclusive", Usage: "exit 0 even if some verdicts are inconclusive (nothing failed)"},
					&cli.StringFlag{Name: "fail-on", Usage: "fail the run only for scenarios of this importance or above: `LEVEL` critical, high or medium (default: all; every failure is still reported)"},
					&cli.BoolFlag{Name: "no-renegotiation", Usage: "the reference client refuses a TLS 1.2 server's renegotiation (as Go's and HTTP/2 clients do) instead of answering one"},
					&cli.BoolFlag{Name: "no-tls12-rerun", Usage: "do not re-run in TLS 1.2 an encounter whose TLS 1.3 close cannot tell a refusal from a breakage"},
					&cli.DurationFlag{Name: "start-timeout", Value: 15 * time.Second, Usage: "--server-cmd, --target: limit for the server to open its port and become ready (its valid-client encounter gets a non-transient answer)"},
					&cli.DurationFlag{Name: "stop-grace", Value: 5 * time.Second, Usage: "--server-cmd: time between SIGTERM and SIGKILL"},
					&cli.DurationFlag{Name: "command-timeout", Value: 20 * time.Second, Usage: "--client-cmd: limit for each run of the client"},
					&cli.StringFlag{Name: "subjects", Usage: "judge every server and client of this YAML `FILE` (docs/conformance.md), in parallel, in one report"},
					&cli.IntFlag{Name: "parallel", Usage: "--subjects: run at most `N` subjects at once (default: one per CPU)"},
					&cli.StringFlag{Name: "shard", Usage: "--subjects: run shard `I/N` of the subjects, every N-th from the I-th (0 <= I < N; default: $JOB_COMPLETION_INDEX/$JOB_COMPLETIONS); merge with `mtlskit report merge`"},
				},
				Action: harnessRun,
			},
			{
				Name:  "serve",
				Usage: "serve every client-side scenario on its own wss:// URL until interrupted (a local badssl for mTLS WebSockets)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "pki", Usage: "mint the scenario certificates from the CA of the store `DIR` (nothing is written to it)"},
					passphraseFlag,
					&cli.StringFlag{Name: "listen-host", Value: "127.0.0.1", Usage: "loopback `ADDRESS` to listen on: 127.0.0.1 or ::1"},
					&cli.StringFlag{Name: "files", Usage: "write the client's CA, certificate and key into `DIR` (default: a temporary directory, removed on exit)"},
					&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "limit for each phase of each connection"},
					jsonFlag,
				},
				Action: harnessServe,
			},
			{
				Name:  "echo",
				Usage: "a plain ws:// echo backend, for putting behind a TLS-terminating proxy",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "listen", Value: "127.0.0.1:9000", Usage: "loopback `ADDRESS:PORT`, or unix:/path.sock"},
					&cli.BoolFlag{Name: "quiet", Usage: "do not log one line per connection on stderr"},
					&cli.Int64Flag{Name: "max-message", Value: harness.EchoReadLimit, Usage: "largest message in `BYTES`; a larger one closes the connection with 1009"},
					&cli.IntFlag{Name: "max-header-bytes", Value: harness.EchoMaxHeaderBytes, Usage: "limit in `BYTES` for the upgrade request's line and headers; larger: 431"},
					&cli.DurationFlag{Name: "header-timeout", Value: harness.EchoHeaderTimeout, Usage: "limit for reading the upgrade request's headers"},
					&cli.DurationFlag{Name: "idle-timeout", Value: harness.EchoIdleTimeout, Usage: "close a connection that sends nothing for this long"},
					&cli.DurationFlag{Name: "write-timeout", Value: harness.EchoWriteTimeout, Usage: "limit for writing one echo"},
					&cli.IntFlag{Name: "max-conns", Value: harness.EchoMaxConns, Usage: "connections open at once; one more is closed when accepted"},
				},
				Action: harnessEcho,
			},
		},
	}
}

func harnessList(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("harness list takes no arguments, got %q", c.Args().First())
	}
	scenarios := harness.Scenarios()
	controls := harness.NegativeControls()
	if c.Bool("json") {
		type scen struct {
			Name        string              `json:"name"`
			Side        harness.Side        `json:"side"`
			Expected    harness.Expectation `json:"expected"`
			Importance  harness.Importance  `json:"importance"`
			Description string              `json:"description"`
		}
		type ctrl struct {
			Name        string   `json:"name"`
			Description string   `json:"description"`
			Scenarios   []string `json:"scenarios"`
		}
		out := struct {
			SchemaVersion int    `json:"schema_version"`
			Scenarios     []scen `json:"scenarios"`
			Controls      []ctrl `json:"negative_controls"`
			// WhenNamed run only when named, each with the subject its
			// description names (--server-cmd or --client-cmd).
			WhenNamed []scen `json:"run_when_named"`
		}{SchemaVersion: report.SchemaVersion}
		for _, s := range scenarios {
			out.Scenarios = append(out.Scenarios, scen{s.Name, s.Side, s.Expect, s.Importance, s.Description})
		}
		for _, s := range harness.RotationScenarios() {
			out.WhenNamed = append(out.WhenNamed, scen{s.Name, s.Side, s.Expect, s.Importance, s.Description})
		}
		for _, k := range controls {
			var names []string
			for _, s := range k.Scenarios {
				names = append(names, s.Name)
			}
			out.Controls = append(out.Controls, ctrl{k.Name, k.Description, names})
		}
		return printJSON(c.App.Writer, out)
	}
	t := newTable(c.App.Writer)
	t.row("SCENARIO", "JUDGES", "EXPECTED", "IMPORTANCE", "DESCRIPTION")
	for _, s := range scenarios {
		t.row(s.Name, string(s.Side), string(s.Expect), s.Importance.String(), s.Description)
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, "\nnegative controls (mtlskit harness run --negative-controls), each must be flagged:")
	t = newTable(c.App.Writer)
	for _, k := range controls {
		t.row("  "+k.Name, k.Description)
	}
	if err := t.flush(); err != nil {
		return err
	}
	return listRotationScenarios(c.App.Writer)
}

// runSettings are harness run's flags, read and checked.
type runSettings struct {
	format    string
	controls  bool
	names     []string
	scenarios []harness.Scenario
	opts      harness.Options
}

// harnessRun is `mtlskit harness run`, in phases: read the flags, set up
// the external subjects, run (waiting for a started or targeted server
// to be ready), write the report. Exit 0 when nothing failed and nothing
// was inconclusive (unless --allow-inconclusive), 1 otherwise, 2 for a
// usage error, 3 when the run never reached its subject (exitRunError).
func harnessRun(c *cli.Context) error {
	set, err := runFlags(c)
	if err != nil {
		return err
	}
	if c.IsSet("subjects") {
		return harnessRunSubjects(c, set)
	}
	for _, f := range []string{"parallel", "shard"} {
		if c.IsSet(f) {
			return usagef("--%s needs --subjects FILE", f)
		}
	}
	// SIGINT or SIGTERM cancels the run: the server command's and the
	// client commands' process groups are killed on the way out.
	parent := c.Context
	if parent == nil {
		parent = context.Background()
	}
	ctx, stopSignals := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	ext, err := externalSubjects(ctx, c, set.controls, set.names, &set.scenarios)
	if err != nil {
		return err
	}
	defer ext.cleanup()
	set.opts.Materials = ext.materials
	if ext.server != nil {
		set.opts.Server = ext.server
		set.opts.ReadyTimeout = c.Duration("start-timeout")
	}
	if ext.client != nil {
		set.opts.Client = ext.client
	}
	rep, err := runMatrix(ctx, c, set)
	if ctx.Err() != nil {
		ext.cleanup()
		return failf("harness run: interrupted; the subject's processes were stopped and no report was written")
	}
	var notReady *harness.NotReadyError
	if errors.As(err, &notReady) {
		return notReadyError(c, set.format, notReady, ext)
	}
	if err != nil {
		return failf("harness run: %v", err)
	}
	if ext.process != nil {
		if ext.process.Exited() {
			rep.SubjectErrors = append(rep.SubjectErrors, ext.process.ExitReport())
		}
		if err := ext.process.Stop(); err != nil {
			rep.SubjectErrors = append(rep.SubjectErrors, err.Error())
		}
		ext.process = nil
	}
	if err := writeRunReport(c, set.format, rep); err != nil {
		return err
	}
	for _, e := range rep.SubjectErrors {
		fmt.Fprintf(c.App.ErrWriter, "mtlskit: subject error: %s\n", e)
	}
	if !rep.OK() {
		return silentFailure
	}
	return nil
}

// runFlags reads harness run's own flags (the subjects' are
// externalSubjects').
func runFlags(c *cli.Context) (runSettings, error) {
	var set runSettings
	if c.NArg() > 0 {
		return set, usagef("harness run takes no arguments, got %q: name scenarios with --scenario NAME", c.Args().First())
	}
	set.format = c.String("format")
	if c.Bool("json") {
		if c.IsSet("format") && set.format != "json" {
			return set, usagef("--json and --format %s contradict each other: pick one", set.format)
		}
		set.format = "json"
	}
	switch set.format {
	case "table", "json", "junit", "html":
	default:
		return set, usagef("--format %q is not supported: use table, json, junit or html", set.format)
	}
	timeout := c.Duration("timeout")
	if timeout <= 0 {
		return set, usagef("--timeout %s is not positive: use a duration such as 5s", timeout)
	}
	var version uint16
	switch v := c.String("tls-version"); v {
	case "":
	case "1.2":
		version = tls.VersionTLS12
	case "1.3":
		version = tls.VersionTLS13
	default:
		return set, usagef("--tls-version %q is not supported: use 1.2 or 1.3", v)
	}
	set.names = c.StringSlice("scenario")
	set.controls = c.Bool("negative-controls")
	if set.controls && len(set.names) > 0 {
		return set, usagef("--negative-controls runs fixed scenarios: drop --scenario")
	}
	var err error
	if set.scenarios, err = harness.Lookup(set.names...); err != nil {
		return set, usagef("--scenario: %v", err)
	}
	set.opts = harness.Options{Timeout: timeout, TLSVersion: version, StrictTLS: c.Bool("strict-tls"),
		AllowInconclusive: c.Bool("allow-inconclusive"), NoTLS12Rerun: c.Bool("no-tls12-rerun"),
		NoRenegotiation: c.Bool("no-renegotiation")}
	if err := rotationOptions(c, &set.opts); err != nil {
		return set, err
	}
	if lvl := c.String("fail-on"); lvl != "" {
		if set.opts.FailOn, err = harness.ParseImportance(lvl); err != nil {
			return set, usagef("--fail-on: %v", err)
		}
	}
	switch a := c.String("accept-on"); a {
	case "echo":
	case "upgrade":
		set.opts.AcceptOnUpgrade = true
	default:
		return set, usagef("--accept-on %q is not supported: use echo or upgrade", a)
	}
	return set, nil
}

// runMatrix runs the scenarios (or the negative controls), with progress
// (encounters done / total) on stderr, only on a terminal and only once
// the run has taken more than a second.
func runMatrix(ctx context.Context, c *cli.Context, set runSettings) (*harness.Report, error) {
	total := len(set.scenarios)
	if set.controls {
		total = 0
		for _, k := range harness.NegativeControls() {
			total += len(k.Scenarios)
		}
	}
	var prog *progressLine
	if stderr := c.App.ErrWriter; isTerminal(stderr) {
		prog = startProgress(stderr, total, time.Second)
		set.opts.Progress = func(done, total int, _ harness.Result) { prog.set(done, total) }
		defer prog.stop()
	}
	if set.controls {
		return harness.RunNegativeControls(ctx, set.opts)
	}
	return harness.Run(ctx, set.scenarios, set.opts)
}

// renderReport is the report in a format: table (with opt), json, junit
// or html.
func renderReport(format string, rep *harness.Report, opt report.TableOptions) ([]byte, error) {
	var buf bytes.Buffer
	var err error
	switch format {
	case "json":
		err = report.WriteJSON(&buf, rep)
	case "junit":
		err = report.WriteJUnit(&buf, rep)
	case "html":
		err = report.WriteHTML(&buf, rep)
	default:
		err = report.WriteTable(&buf, rep, opt)
	}
	return buf.Bytes(), err
}

// writeRunReport writes the report in its format, to stdout or --out,
// and the --keep directory.
func writeRunReport(c *cli.Context, format string, rep *harness.Report) error {
	toStdout := c.String("out") == ""
	buf, err := renderReport(format, rep, report.TableOptions{Color: toStdout && useColour(c.App.Writer), Verbose: c.Bool("verbose")})
	if err != nil {
		return failf("harness run: writing the %s report: %v", format, err)
	}
	if toStdout {
		if _, err := c.App.Writer.Write(buf); err != nil {
			return failf("harness run: writing the report: %v", err)
		}
	} else {
		out := c.String("out")
		if err := os.WriteFile(out, buf, 0o644); err != nil {
			return failf("--out %s: cannot write the report (%v): check that the directory exists and is writable", out, err)
		}
		fmt.Fprintf(c.App.Writer, "wrote the %s report to %s: %s\n", format, out, summary(rep))
	}
	if dir := c.String("keep"); dir != "" {
		if err := report.WriteKeep(dir, rep); err != nil {
			return failf("--keep %s: %v: choose a writable directory", dir, err)
		}
		fmt.Fprintf(c.App.ErrWriter, "kept each scenario's certificates and repro.sh in %s\n", dir)
	}
	return nil
}

func summary(rep *harness.Report) string {
	if rep.Kind == harness.KindControls {
		n := 0
		for _, c := range rep.Controls {
			if c.Caught {
				n++
			}
		}
		return fmt.Sprintf("%d of %d negative controls caught", n, len(rep.Controls))
	}
	return report.Counts(rep) + " in " + rep.Duration.Round(time.Millisecond).String()
}

// progressLine shows "done/total" on a terminal, redrawn in place, once
// the run has lasted longer than its delay; stop erases it.
type progressLine struct {
	mu      sync.Mutex
	done    int
	total   int
	quit    chan struct{}
	stopped chan struct{}
}

func startProgress(w io.Writer, total int, delay time.Duration) *progressLine {
	p := &progressLine{total: total, quit: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(p.stopped)
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-p.quit:
			return
		case <-timer.C:
		}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		last := -1
		defer func() {
			if last >= 0 {
				fmt.Fprint(w, "\r\x1b[K")
			}
		}()
		for {
			p.mu.Lock()
			done, total := p.done, p.total
			p.mu.Unlock()
			if done != last {
				fmt.Fprintf(w, "\r\x1b[Kmtlskit harness: %d/%d encounters done", done, total)
				last = done
			}
			select {
			case <-p.quit:
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// set records the encounters done and the total (which counts the
// controls a run adds to the selected scenarios).
func (p *progressLine) set(done, total int) {
	p.mu.Lock()
	p.done, p.total = done, total
	p.mu.Unlock()
}

// stop erases the line (if it was shown) and waits for it.
func (p *progressLine) stop() {
	close(p.quit)
	<-p.stopped
}

// echoOptions reads the echo backend's limits from the flags of
// `harness echo` (docs/harness.md, "Hostile peers"); each must be
// positive.
func echoOptions(c *cli.Context) (harness.EchoOptions, error) {
	o := harness.EchoOptions{
		ReadLimit:      c.Int64("max-message"),
		MaxHeaderBytes: c.Int("max-header-bytes"),
		HeaderTimeout:  c.Duration("header-timeout"),
		IdleTimeout:    c.Duration("idle-timeout"),
		WriteTimeout:   c.Duration("write-timeout"),
		MaxConns:       c.Int("max-conns"),
	}
	for _, f := range []struct {
		name string
		ok   bool
	}{
		{"max-message", o.ReadLimit > 0}, {"max-header-bytes", o.MaxHeaderBytes > 0},
		{"header-timeout", o.HeaderTimeout > 0}, {"idle-timeout", o.IdleTimeout > 0},
		{"write-timeout", o.WriteTimeout > 0}, {"max-conns", o.MaxConns > 0},
	} {
		if !f.ok {
			return o, usagef("--%s %v: must be positive", f.name, c.Value(f.name))
		}
	}
	return o, nil
}
