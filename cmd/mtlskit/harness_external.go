package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/pki"
	"github.com/urfave/cli/v2"
)

// external is what `harness run` judges besides the reference pair: a
// running --target, a --server-cmd it starts, a --client-cmd it runs.
type external struct {
	materials *harness.Materials
	server    harness.ServerSubject
	client    harness.ClientSubject
	process   *harness.ServerProcess
	scratch   string
	started   time.Time
}

func (e *external) cleanup() {
	if e.process != nil {
		_ = e.process.Stop()
		e.process = nil
	}
	if e.scratch != "" {
		os.RemoveAll(e.scratch)
	}
}

// templateOf parses a --server-cmd / --client-cmd template; a bad one is
// a usage error.
func templateOf(c *cli.Context, flag string) (*harness.Template, error) {
	t, err := harness.ParseTemplate(c.String(flag))
	if err != nil {
		return nil, usagef("--%s: %v", flag, err)
	}
	return t, nil
}

// storeMaterials mints a run's certificates from the CA of a store, in
// memory: the store's files and index are only read.
func storeMaterials(c *cli.Context, dir string) (*harness.Materials, error) {
	st := pki.OpenStore(dir)
	root, err := st.Root()
	if err != nil {
		return nil, failf("--pki %s: %v", dir, err)
	}
	iss, err := st.Issuer(caPassphrase(c))
	if err != nil {
		var ce *cmdError
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, failf("--pki %s: %v", dir, err)
	}
	m, err := harness.MaterialsFromCA(root, iss)
	if err != nil {
		return nil, failf("--pki %s: %v", dir, err)
	}
	return m, nil
}

// subjectFlags are the external-subject flags of harness run, read and
// checked against each other.
type subjectFlags struct {
	target, pkiDir   string
	serverT, clientT *harness.Template
}

// readSubjectFlags checks --target, --pki, --server-cmd and --client-cmd
// and their templates; none set means the reference pair (ok false).
func readSubjectFlags(c *cli.Context, controls bool) (f subjectFlags, ok bool, err error) {
	f.target, f.pkiDir = c.String("target"), c.String("pki")
	serverCmd, clientCmd := c.String("server-cmd"), c.String("client-cmd")
	if f.target == "" && f.pkiDir == "" && serverCmd == "" && clientCmd == "" {
		for _, name := range []string{"start-timeout", "stop-grace", "command-timeout", "passphrase-file"} {
			if c.IsSet(name) {
				return f, false, usagef("--%s needs --target, --server-cmd or --client-cmd", name)
			}
		}
		return f, false, nil
	}
	if controls {
		return f, false, usagef("--negative-controls judges the harness itself: drop --target, --pki, --server-cmd and --client-cmd")
	}
	if c.String("keep") != "" {
		return f, false, usagef("--keep replays the reference pair: it cannot be combined with external subjects")
	}
	switch {
	case serverCmd != "" && f.pkiDir != "":
		return f, false, usagef("--server-cmd makes its own CA: drop --pki (use --pki with --target for a server you started)")
	case serverCmd == "" && f.target != "" && f.pkiDir == "":
		return f, false, usagef("--target needs --pki DIR, the store whose CA the server trusts (or --server-cmd to let the harness start it)")
	case serverCmd == "" && f.target == "" && f.pkiDir != "":
		return f, false, usagef("--pki needs --target URL, the server to judge")
	case clientCmd != "" && f.pkiDir != "":
		return f, false, usagef("--client-cmd uses a fresh CA: drop --pki")
	}
	if serverCmd != "" {
		if f.serverT, err = templateOf(c, "server-cmd"); err != nil {
			return f, false, err
		}
		if f.target == "" {
			f.target = "wss://localhost:{port}/"
		}
		if err := harness.CheckPlaceholders(f.target, "port", "host"); err != nil {
			return f, false, usagef("--target: %v", err)
		}
		if _, _, err := harness.ParseTarget(harness.ExpandString(f.target, map[string]string{"port": "1", "host": "localhost"})); err != nil {
			return f, false, usagef("--target %v", err)
		}
	} else if f.target != "" {
		if err := harness.CheckPlaceholders(f.target); err != nil {
			return f, false, usagef("--target: %v (placeholders need --server-cmd)", err)
		}
		if _, _, err := harness.ParseTarget(f.target); err != nil {
			return f, false, usagef("--target %v", err)
		}
	}
	if clientCmd != "" {
		if f.clientT, err = templateOf(c, "client-cmd"); err != nil {
			return f, false, err
		}
		if f.clientT.Uses("ocsp") {
			return f, false, usagef("--client-cmd %q: {ocsp} is for a server command (a client finds server-revoked's responder in the certificate's AIA): drop it", clientCmd)
		}
	}
	return f, true, nil
}

// keepJudgedSides keeps the scenarios of the sides under test; a named
// scenario of another side is an error.
func keepJudgedSides(f subjectFlags, names []string, scenarios *[]harness.Scenario) error {
	judged := map[harness.Side]bool{harness.ServerSide: f.target != "", harness.ClientSide: f.clientT != nil}
	all := *scenarios
	if len(names) == 0 {
		all = harness.Scenarios()
	}
	var keep []harness.Scenario
	for _, s := range all {
		if judged[s.Side] {
			keep = append(keep, s)
		} else if len(names) > 0 {
			return usagef("--scenario %s judges the %s, which is not under test here", s.Name, s.Side)
		}
	}
	*scenarios = keep
	return nil
}

// externalSubjects reads --target, --pki, --server-cmd and --client-cmd,
// keeps the scenarios of the sides they judge, mints the run's
// certificates (from --pki's CA, or fresh) and starts a server command.
func externalSubjects(ctx context.Context, c *cli.Context, controls bool, names []string, scenarios *[]harness.Scenario) (*external, error) {
	e := &external{started: time.Now()}
	f, ok, err := readSubjectFlags(c, controls)
	if err != nil || !ok {
		return e, err
	}
	if err := keepJudgedSides(f, names, scenarios); err != nil {
		return nil, err
	}
	if f.pkiDir != "" {
		if e.materials, err = storeMaterials(c, f.pkiDir); err != nil {
			return nil, err
		}
	} else if e.materials, err = harness.NewMaterials(); err != nil {
		return nil, failf("harness run: %v", err)
	}
	if e.scratch, err = os.MkdirTemp("", "mtlskit-harness-"); err != nil {
		return nil, failf("harness run: %v", err)
	}
	if err := e.startSubjects(ctx, c, f); err != nil {
		e.cleanup()
		return nil, err
	}
	return e, nil
}

// startSubjects starts the server command (or names the target) and
// prepares the client command, each with a scratch directory.
func (e *external) startSubjects(ctx context.Context, c *cli.Context, f subjectFlags) error {
	var err error
	switch {
	case f.serverT != nil:
		dir := e.scratch + "/server"
		if err := os.Mkdir(dir, 0o700); err != nil {
			return failf("harness run: %v", err)
		}
		p, err := harness.StartServerCommand(ctx, harness.ServerCommandConfig{
			Command: f.serverT, Target: f.target, Materials: e.materials, Dir: dir,
			StartTimeout: c.Duration("start-timeout"), StopGrace: c.Duration("stop-grace"),
		})
		if err != nil {
			return failf("--server-cmd: %v", err)
		}
		e.process = p
		e.server = p.Subject(f.serverT.Raw)
	case f.target != "":
		if e.server, err = harness.TargetServer(f.target); err != nil {
			return usagef("--target %v", err)
		}
	}
	if f.clientT != nil {
		dir := e.scratch + "/client"
		if err := os.Mkdir(dir, 0o700); err != nil {
			return failf("harness run: %v", err)
		}
		e.client = &harness.ClientCommand{Command: f.clientT, Dir: dir, Timeout: c.Duration("command-timeout")}
	}
	return nil
}

// harnessServe is `mtlskit harness serve`.
func harnessServe(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("harness serve takes no arguments, got %q", c.Args().First())
	}
	var m *harness.Materials
	var err error
	if dir := c.String("pki"); dir != "" {
		if m, err = storeMaterials(c, dir); err != nil {
			return err
		}
	} else if m, err = harness.NewMaterials(); err != nil {
		return failf("harness serve: %v", err)
	}
	files := c.String("files")
	if files == "" {
		if files, err = os.MkdirTemp("", "mtlskit-serve-"); err != nil {
			return failf("harness serve: %v", err)
		}
		defer os.RemoveAll(files)
	} else if err := os.MkdirAll(files, 0o700); err != nil {
		return failf("--files %s: %v", files, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stderr := c.App.ErrWriter
	served, err := harness.Serve(ctx, harness.ServeOptions{
		Materials: m, ListenHost: c.String("listen-host"), Dir: files, Timeout: c.Duration("timeout"),
		Observe: func(name string, o harness.ServerObservation) {
			fmt.Fprintf(stderr, "%s: %s\n", name, observationLine(o))
		},
	})
	if err != nil {
		if strings.Contains(err.Error(), "--listen-host") {
			return usagef("%v", err)
		}
		return failf("harness serve: %v", err)
	}
	defer served.Close()
	if c.Bool("json") {
		type scen struct {
			Name     string              `json:"name"`
			Expected harness.Expectation `json:"expected"`
			URL      string              `json:"url"`
			What     string              `json:"description"`
		}
		out := struct {
			CA        string `json:"ca"`
			Cert      string `json:"cert"`
			Key       string `json:"key"`
			Chain     string `json:"chain"`
			Scenarios []scen `json:"scenarios"`
		}{CA: served.Files.CA, Cert: served.Files.Cert, Key: served.Files.Key, Chain: served.Files.Chain}
		for _, s := range served.Scenarios {
			out.Scenarios = append(out.Scenarios, scen{s.Scenario.Name, s.Scenario.Expect, s.URL, s.Scenario.Description})
		}
		if err := printJSON(c.App.Writer, out); err != nil {
			return err
		}
	} else {
		w := c.App.Writer
		fmt.Fprintf(w, "client files: --ca %s --cert %s --key %s (chain: %s)\n", served.Files.CA, served.Files.Cert, served.Files.Key, served.Files.Chain)
		t := newTable(w)
		t.row("SCENARIO", "A CLIENT MUST", "URL")
		for _, s := range served.Scenarios {
			t.row(s.Scenario.Name, string(s.Scenario.Expect), s.URL)
		}
		if err := t.flush(); err != nil {
			return err
		}
		fmt.Fprintln(w, "serving until interrupted (Ctrl-C); one line per connection on stderr")
	}
	<-ctx.Done()
	return nil
}

// observationLine sums up one connection to a scenario server.
func observationLine(o harness.ServerObservation) string {
	switch {
	case o.TLS.Status != harness.LayerOK:
		return "TLS failed: " + o.TLS.Detail
	case o.WS.HandlerRan:
		return fmt.Sprintf("%s, client cert %s, upgraded, echoed %d message(s)", o.TLS.Version, o.TLS.ClientCert, o.WS.Echoed)
	case o.HTTP.RequestReceived:
		return fmt.Sprintf("%s, %s %s answered %d", o.TLS.Version, o.HTTP.Method, o.HTTP.Path, o.HTTP.StatusSent)
	}
	return fmt.Sprintf("%s handshake completed; %s", o.TLS.Version, o.HTTP.Detail)
}

// harnessEcho is `mtlskit harness echo`.
func harnessEcho(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("harness echo takes no arguments, got %q", c.Args().First())
	}
	opts, err := echoOptions(c)
	if err != nil {
		return err
	}
	ln, err := harness.ListenEcho(c.String("listen"))
	if err != nil {
		if strings.HasPrefix(err.Error(), "--listen") {
			return usagef("%v", err)
		}
		return failf("--listen %s: %v", c.String("listen"), err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stderr := c.App.ErrWriter
	fmt.Fprintf(stderr, "mtlskit harness echo: serving ws:// on %s until interrupted\n", ln.Addr())
	opts.Log = stderr
	if c.Bool("quiet") {
		opts.Log = nil
	}
	if err := harness.ServeEchoWith(ctx, ln, opts); err != nil {
		return failf("harness echo: %v", err)
	}
	return nil
}
