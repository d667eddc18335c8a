package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/load"
	"github.com/mtlskit/mtlskit/pki"
	"github.com/urfave/cli/v2"
)

// loadCommand is `mtlskit load`: many client certificates against one
// mutual-TLS WebSocket server (docs/load.md). The work is in package
// load; this file reads flags, sets up the subject and prints.
func loadCommand() *cli.Command {
	outFlags := []cli.Flag{
		&cli.StringFlag{Name: "format", Value: "table", Usage: "report format: table, json or html (one self-contained page with the timeline)"},
		&cli.BoolFlag{Name: "json", Usage: "same as --format json"},
		&cli.StringFlag{Name: "out", Usage: "write the report to `FILE` instead of stdout"},
	}
	return &cli.Command{
		Name:  "load",
		Usage: "load a mutual-TLS WebSocket server with many client identities; exit 0 when every connection completed, 1 when some failed, 3 when the server was never reached",
		Description: "With no --target or --server-cmd, the reference server runs in this process. " +
			"Each virtual client presents its own certificate; every failure is classified by layer and reason as `harness run` classifies it.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "target", Usage: "load the server at this wss:// `URL` (with --server-cmd it may use {port} and {host})"},
			&cli.StringFlag{Name: "server-cmd", Usage: "start this server `TEMPLATE` (placeholders as in harness run: {dir} {ca} {cert} {key} {chain} {port} {host} {url}) and load it"},
			&cli.StringFlag{Name: "pki", Usage: "the store `DIR` whose CA mints the identities (in memory; nothing is written) and, with --target, verifies the server"},
			passphraseFlag,
			&cli.StringFlag{Name: "ca", Usage: "with --target and --identities-dir: the CA `FILE` that verifies the server (instead of --pki)"},
			&cli.IntFlag{Name: "identities", Usage: "mint `N` client identities in memory, one per virtual client in turn (default: --connections)"},
			&cli.IntFlag{Name: "untrusted", Usage: "of the identities, mint `N` from an unrelated CA: a deliberately broken run, whose refusals the report counts"},
			&cli.StringFlag{Name: "cn-prefix", Value: "load-", Usage: "Common Name `PREFIX` of minted identities (PREFIX000042)"},
			&cli.StringFlag{Name: "from-store", Usage: "use the --pki store's client certificates whose names start with `PREFIX` (mtlskit issue client --count N --cn-prefix PREFIX)"},
			&cli.StringFlag{Name: "identities-dir", Usage: "use the certificate and key pairs in `DIR` (NAME.crt + NAME.key, or NAME/cert.pem + NAME/key.pem)"},
			&cli.IntFlag{Name: "connections", Value: 100, Usage: "virtual clients connected at once (the whole run's, over every shard)"},
			&cli.Float64Flag{Name: "rate", Usage: "new connections per `SECOND` (the whole run's; default: as fast as the virtual clients go)"},
			&cli.DurationFlag{Name: "ramp", Usage: "raise the rate linearly from 0 over this long"},
			&cli.DurationFlag{Name: "duration", Usage: "stop starting connections after this long and close the held ones (default: each virtual client connects once)"},
			&cli.IntFlag{Name: "attempts", Usage: "stop after `N` connection attempts (the whole run's; with --reconnect, --connections at a time)"},
			&cli.IntFlag{Name: "messages", Value: 1, Usage: "messages per connection, one at a time, each echo checked and timed"},
			&cli.IntFlag{Name: "message-size", Value: 32, Usage: "size of each message in `BYTES`"},
			&cli.DurationFlag{Name: "hold", Usage: "keep each connection open this long after its messages (a soak)"},
			&cli.BoolFlag{Name: "reconnect", Usage: "connect again after each close or failure, until --duration or --attempts (a deploy storm)"},
			&cli.BoolFlag{Name: "resume", Usage: "resume TLS sessions (each identity its own cache); default: every handshake is a full one"},
			&cli.DurationFlag{Name: "timeout", Value: harness.DefaultTimeout, Usage: "limit for each phase of each connection (dial, TLS, upgrade, each echo, close)"},
			&cli.StringFlag{Name: "tls-version", Usage: "pin TLS `1.2` or 1.3 (default: negotiate)"},
			&cli.StringFlag{Name: "curve", Usage: "offer only this key exchange: `x25519`, x25519mlkem768, p256, p384 (default: Go's list)"},
			&cli.StringFlag{Name: "shard", Usage: "be shard `I/N` of N generators (0 <= I < N; default: $JOB_COMPLETION_INDEX/$JOB_COMPLETIONS when set)"},
			&cli.DurationFlag{Name: "start-timeout", Value: 15 * time.Second, Usage: "--server-cmd, --target: limit for the server to become ready (as in harness run)"},
			&cli.DurationFlag{Name: "stop-grace", Value: 5 * time.Second, Usage: "--server-cmd: time between SIGTERM and SIGKILL"},
		}, outFlags...),
		Action: loadRun,
		Subcommands: []*cli.Command{{
			Name:      "merge",
			Usage:     "merge the JSON reports of a sharded run's generators exactly (histograms merged, not averaged)",
			ArgsUsage: "REPORT.json...",
			Flags:     outFlags,
			Action:    loadMerge,
		}},
	}
}

// loadFormat reads --format and --json.
func loadFormat(c *cli.Context) (string, error) {
	format := c.String("format")
	if c.Bool("json") {
		if c.IsSet("format") && format != "json" {
			return "", usagef("--json and --format %s contradict each other: pick one", format)
		}
		format = "json"
	}
	switch format {
	case "table", "json", "html":
		return format, nil
	}
	return "", usagef("--format %q is not supported: use table, json or html", format)
}

// loadSetup is what loadRun starts and must stop.
type loadSetup struct {
	cfg     load.Config
	subject harness.ServerSubject
	running harness.RunningServer
	process *harness.ServerProcess
	scratch string
	issuer  *pki.Issuer
	store   *pki.Store
}

func (s *loadSetup) cleanup() {
	if s.process != nil {
		_ = s.process.Stop()
		s.process = nil
	}
	if s.running != nil {
		_ = s.running.Close()
		s.running = nil
	}
	if s.scratch != "" {
		os.RemoveAll(s.scratch)
	}
}

func loadRun(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("load takes no arguments, got %q (merge reports with mtlskit load merge A.json B.json)", c.Args().First())
	}
	format, err := loadFormat(c)
	if err != nil {
		return err
	}
	cfg, err := loadShape(c)
	if err != nil {
		return err
	}
	if err := load.CheckFDLimit(cfg.Shard.Split(cfg.Connections), c.String("target") == "" && c.String("server-cmd") == ""); err != nil {
		return &cmdError{code: exitRunError, msg: "load: " + err.Error()}
	}
	parent := c.Context
	if parent == nil {
		parent = context.Background()
	}
	ctx, stopSignals := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()

	set := &loadSetup{cfg: cfg}
	defer set.cleanup()
	if err := set.subjectAndIdentities(ctx, c); err != nil {
		return err
	}
	// Ready as harness run waits for its subject; the valid client's
	// session ticket is the baseline for TLS 1.3 closes without an alert.
	good := firstTrusted(set.cfg.Identities, c.Int("untrusted"))
	ready, err := load.WaitReady(ctx, set.subject, set.cfg.Target.RootCAs, good, cfg.Timeout, c.Duration("start-timeout"), cfg.TLSVersion)
	var nr *harness.NotReadyError
	if errors.As(err, &nr) {
		return &cmdError{code: exitRunError, msg: "load: " + nr.Error() + ": no connection was attempted (fix the server, or raise --start-timeout)"}
	}
	if err != nil {
		return failf("load: %v", err)
	}
	set.cfg.TicketBaseline = ready.TicketBaseline

	var prog *loadProgress
	if isTerminal(c.App.ErrWriter) {
		prog = &loadProgress{w: c.App.ErrWriter}
		set.cfg.Progress = prog.show
	}
	rep, err := load.Run(ctx, set.cfg)
	if prog != nil {
		prog.clear()
	}
	var ue *load.UnreachableError
	var fe *load.FDLimitError
	var ce *load.ConfigError
	switch {
	case errors.As(err, &ue), errors.As(err, &fe):
		return &cmdError{code: exitRunError, msg: "load: " + err.Error()}
	case errors.As(err, &ce):
		return usagef("%v", err)
	case err != nil:
		return failf("load: %v", err)
	}
	if set.process != nil && set.process.Exited() {
		fmt.Fprintf(c.App.ErrWriter, "mtlskit: the server command exited during the run: %s\n", set.process.ExitReport())
	}
	set.cleanup()
	if err := writeLoadReport(c, format, rep); err != nil {
		return err
	}
	if rep.Interrupted {
		return failf("load: interrupted; the report covers the run so far")
	}
	if !rep.OK() {
		return silentFailure
	}
	return nil
}

// firstTrusted is an identity the server should accept: the first one
// Mint did not take from the unrelated CA.
func firstTrusted(ids []*pki.Issued, untrusted int) *pki.Issued {
	for _, id := range ids {
		if untrusted == 0 || len(id.Cert.Subject.Organization) == 0 || id.Cert.Subject.Organization[0] != "untrusted" {
			return id
		}
	}
	return ids[0]
}

// loadShape reads the run's shape (everything but the subject and the
// identities).
func loadShape(c *cli.Context) (load.Config, error) {
	cfg := load.Config{
		Connections: c.Int("connections"), Rate: c.Float64("rate"), Ramp: c.Duration("ramp"), Duration: c.Duration("duration"),
		Attempts: c.Int("attempts"), Messages: c.Int("messages"), MessageSize: c.Int("message-size"), Hold: c.Duration("hold"),
		Reconnect: c.Bool("reconnect"), Resume: c.Bool("resume"), Timeout: c.Duration("timeout"),
	}
	switch v := c.String("tls-version"); v {
	case "":
	case "1.2":
		cfg.TLSVersion = tls.VersionTLS12
	case "1.3":
		cfg.TLSVersion = tls.VersionTLS13
	default:
		return cfg, usagef("--tls-version %q is not supported: use 1.2 or 1.3", v)
	}
	switch v := strings.ToLower(c.String("curve")); v {
	case "":
	case "x25519":
		cfg.CurvePreferences = []tls.CurveID{tls.X25519}
	case "x25519mlkem768":
		cfg.CurvePreferences = []tls.CurveID{tls.X25519MLKEM768}
	case "p256":
		cfg.CurvePreferences = []tls.CurveID{tls.CurveP256}
	case "p384":
		cfg.CurvePreferences = []tls.CurveID{tls.CurveP384}
	default:
		return cfg, usagef("--curve %q is not supported: use x25519, x25519mlkem768, p256 or p384", v)
	}
	if c.IsSet("shard") {
		s, err := load.ParseShard(c.String("shard"))
		if err != nil {
			return cfg, usagef("%v", err)
		}
		cfg.Shard = s
	} else if s, ok, err := load.ShardFromEnv(os.Getenv); err != nil {
		return cfg, usagef("%v", err)
	} else if ok {
		cfg.Shard = s
	}
	if err := cfg.CheckShape(); err != nil {
		return cfg, usagef("%v", err)
	}
	return cfg, nil
}

// subjectAndIdentities sets up the server under load (in this process, a
// command, or a running target) and the identities.
func (s *loadSetup) subjectAndIdentities(ctx context.Context, c *cli.Context) error {
	if err := checkLoadSources(c); err != nil {
		return err
	}
	var roots []*x509.Certificate
	var err error
	switch {
	case c.String("server-cmd") != "":
		roots, err = s.commandSubject(ctx, c)
	case c.String("target") != "":
		roots, err = s.targetSubject(c)
	default:
		roots, err = s.inProcessSubject(ctx, c)
	}
	if err != nil {
		return err
	}
	s.cfg.Target.RootCAs = roots
	return s.identities(c)
}

// checkLoadSources refuses flags that contradict each other: one source
// of identities, and the trust a target needs.
func checkLoadSources(c *cli.Context) error {
	target, serverCmd, pkiDir := c.String("target"), c.String("server-cmd"), c.String("pki")
	fromStore, idDir, caFile := c.String("from-store"), c.String("identities-dir"), c.String("ca")
	sources := 0
	for _, set := range []bool{c.IsSet("identities") || c.IsSet("untrusted"), fromStore != "", idDir != ""} {
		if set {
			sources++
		}
	}
	switch {
	case sources > 1:
		return usagef("--identities, --from-store and --identities-dir are three sources of identities: pick one")
	case fromStore != "" && pkiDir == "":
		return usagef("--from-store PREFIX reads the store given with --pki DIR: add --pki")
	case serverCmd != "" && pkiDir != "":
		return usagef("--server-cmd makes its own CA: drop --pki (use --pki with --target for a server you started)")
	case serverCmd != "" && (fromStore != "" || idDir != ""):
		return usagef("--server-cmd trusts only the CA it makes: identities are minted from it (drop --from-store and --identities-dir)")
	case caFile != "" && (pkiDir != "" || target == "" || serverCmd != ""):
		return usagef("--ca verifies a --target server when there is no --pki: use one or the other")
	case idDir != "" && target == "":
		return usagef("--identities-dir needs --target: the reference server in this process trusts only its own CA")
	case target != "" && serverCmd == "" && pkiDir == "" && caFile == "":
		return usagef("--target needs --pki DIR (the store whose CA the server trusts) or --ca FILE, or --server-cmd to let mtlskit start it")
	case c.Int("untrusted") < 0:
		return usagef("--untrusted %d: must not be negative", c.Int("untrusted"))
	}
	if serverCmd == "" && target != "" {
		if err := harness.CheckPlaceholders(target); err != nil {
			return usagef("--target: %v (placeholders need --server-cmd)", err)
		}
		if _, _, err := harness.ParseTarget(target); err != nil {
			return usagef("--target %v", err)
		}
	}
	return nil
}

// commandSubject starts --server-cmd with a fresh CA and returns the
// roots its certificate chains to.
func (s *loadSetup) commandSubject(ctx context.Context, c *cli.Context) ([]*x509.Certificate, error) {
	target := c.String("target")
	var m *harness.Materials
	t, err := templateOf(c, "server-cmd")
	if err != nil {
		return nil, err
	}
	if target == "" {
		target = "wss://localhost:{port}/"
	}
	if err := harness.CheckPlaceholders(target, "port", "host"); err != nil {
		return nil, usagef("--target: %v", err)
	}
	if m, err = harness.NewMaterials(); err != nil {
		return nil, failf("load: %v", err)
	}
	if s.scratch, err = os.MkdirTemp("", "mtlskit-load-"); err != nil {
		return nil, failf("load: %v", err)
	}
	p, err := harness.StartServerCommand(ctx, harness.ServerCommandConfig{Command: t, Target: target, Materials: m, Dir: s.scratch,
		StartTimeout: c.Duration("start-timeout"), StopGrace: c.Duration("stop-grace")})
	if err != nil {
		return nil, &cmdError{code: exitRunError, msg: "--server-cmd: " + err.Error()}
	}
	s.process, s.subject = p, p.Subject(t.Raw)
	s.cfg.Target.URL = p.URL
	if s.issuer, err = m.Root.Issuer(); err != nil {
		return nil, failf("load: %v", err)
	}
	return []*x509.Certificate{m.Root.Cert, m.Intermediate.Cert}, nil
}

// targetSubject names a running --target and reads the roots to verify
// it with (--ca, or the store's root).
func (s *loadSetup) targetSubject(c *cli.Context) ([]*x509.Certificate, error) {
	target, pkiDir, caFile := c.String("target"), c.String("pki"), c.String("ca")
	var roots []*x509.Certificate
	var err error
	s.cfg.Target.URL = target
	if s.subject, err = harness.TargetServer(target); err != nil {
		return nil, usagef("--target %v", err)
	}
	if caFile != "" {
		data, err := os.ReadFile(caFile)
		if err != nil {
			return nil, failf("--ca %s cannot be read (%v): check the path", caFile, errText(err))
		}
		if roots, err = pki.ParseCerts(data); err != nil {
			return nil, failf("--ca %s: %v", caFile, err)
		}
	} else {
		s.store = pki.OpenStore(pkiDir)
		root, err := s.store.Root()
		if err != nil {
			return nil, failf("--pki %s: %v", pkiDir, err)
		}
		roots = []*x509.Certificate{root}
	}
	return roots, nil
}

// inProcessSubject starts the reference server in this process, trusting
// the run's CA (fresh, or minted from --pki's).
func (s *loadSetup) inProcessSubject(ctx context.Context, c *cli.Context) ([]*x509.Certificate, error) {
	pkiDir, fromStore := c.String("pki"), c.String("from-store")
	var m *harness.Materials
	var roots []*x509.Certificate
	var err error
	// The reference server, in this process, trusting the run's CA.
	if pkiDir != "" {
		if m, err = storeMaterials(c, pkiDir); err != nil {
			return nil, err
		}
		s.store = pki.OpenStore(pkiDir)
	} else if m, err = harness.NewMaterials(); err != nil {
		return nil, failf("load: %v", err)
	}
	srvTimeout := s.cfg.Timeout + s.cfg.Hold
	s.running, err = harness.ReferenceServer().Start(ctx, harness.ServerConfig{
		Encounter:  harness.Encounter{Server: m.Server, ServerSendsChain: true, ClientCAs: []*x509.Certificate{m.Root.Cert}},
		TLSVersion: s.cfg.TLSVersion, Timeout: srvTimeout})
	if err != nil {
		return nil, failf("load: starting the reference server: %v", err)
	}
	_, port, _ := net.SplitHostPort(s.running.Addr())
	s.cfg.Target.URL = "wss://localhost:" + port + "/"
	s.cfg.InProcessServer = true
	if s.subject, err = harness.TargetServer(s.cfg.Target.URL); err != nil {
		return nil, failf("load: %v", err)
	}
	roots = []*x509.Certificate{m.Root.Cert}
	if m.Intermediate != nil {
		roots = append(roots, m.Intermediate.Cert)
	}
	if s.issuer, err = m.Root.Issuer(); err != nil && fromStore == "" {
		// A store whose leaves come from its intermediate: mint from that.
		if s.issuer, err = storeIssuer(c, pkiDir); err != nil {
			return nil, err
		}
	}
	return roots, nil
}

// storeIssuer is the store's signing CA, with its key.
func storeIssuer(c *cli.Context, dir string) (*pki.Issuer, error) {
	iss, err := pki.OpenStore(dir).Issuer(caPassphrase(c))
	if err != nil {
		var ce *cmdError
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, failf("--pki %s: %v", dir, err)
	}
	return iss, nil
}

// identities reads or mints this shard's identities.
func (s *loadSetup) identities(c *cli.Context) error {
	shard := s.cfg.Shard
	var ids []*pki.Issued
	var err error
	switch {
	case c.String("from-store") != "":
		prefix := c.String("from-store")
		if ids, err = load.FromStore(s.store, prefix); err != nil {
			return failf("--from-store %s: %v", prefix, err)
		}
		s.cfg.IdentitySource = fmt.Sprintf("store %s, names %s*", s.store.Dir, prefix)
		ids = shard.Pick(ids)
	case c.String("identities-dir") != "":
		dir := c.String("identities-dir")
		if ids, err = load.FromDir(dir); err != nil {
			return failf("--identities-dir %s: %v", dir, err)
		}
		s.cfg.IdentitySource = "directory " + dir
		ids = shard.Pick(ids)
	default:
		n := c.Int("identities")
		if !c.IsSet("identities") {
			n = s.cfg.Connections
		}
		if n < 1 || n > load.MaxConnections {
			return usagef("--identities %d: use 1 to %d", n, load.MaxConnections)
		}
		if s.issuer == nil {
			if s.issuer, err = storeIssuer(c, c.String("pki")); err != nil {
				return err
			}
			if !s.issuer.Cert.Equal(s.cfg.Target.RootCAs[0]) {
				s.cfg.Target.RootCAs = append(s.cfg.Target.RootCAs, s.issuer.Cert)
			}
		}
		if ids, err = load.Mint(s.issuer, n, load.MintOptions{CNPrefix: c.String("cn-prefix"), Untrusted: c.Int("untrusted"), Shard: shard}); err != nil {
			var ce *load.ConfigError
			if errors.As(err, &ce) {
				return usagef("%v", err)
			}
			return failf("load: %v", err)
		}
		s.cfg.IdentitySource = fmt.Sprintf("%d minted in memory from %q", n, s.issuer.Cert.Subject.CommonName)
		if u := c.Int("untrusted"); u > 0 {
			s.cfg.IdentitySource += fmt.Sprintf(", %d of them from an unrelated CA", u)
		}
	}
	if len(ids) == 0 {
		return usagef("--shard %s: this shard has no identity of the %s: use fewer shards", shard, s.cfg.IdentitySource)
	}
	s.cfg.Identities = ids
	return nil
}

// writeLoadReport writes the report to stdout or --out.
func writeLoadReport(c *cli.Context, format string, rep *load.Report) error {
	var buf bytes.Buffer
	var err error
	switch format {
	case "json":
		err = load.WriteJSON(&buf, rep)
	case "html":
		err = load.WriteHTML(&buf, rep)
	default:
		err = load.WriteTable(&buf, rep)
	}
	if err != nil {
		return failf("load: writing the %s report: %v", format, err)
	}
	if out := c.String("out"); out != "" {
		if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
			return failf("--out %s: cannot write the report (%v): check that the directory exists and is writable", out, err)
		}
		fmt.Fprintf(c.App.Writer, "wrote the %s report to %s: %d of %d connections completed, %d failed\n", format, out, rep.Counts.Completed, rep.Counts.Attempted, rep.Counts.Failed)
		return nil
	}
	if _, err := c.App.Writer.Write(buf.Bytes()); err != nil {
		return failf("load: writing the report: %v", err)
	}
	return nil
}

// loadMerge is `mtlskit load merge A.json B.json ...`.
func loadMerge(c *cli.Context) error {
	format, err := loadFormat(c)
	if err != nil {
		return err
	}
	if c.NArg() == 0 {
		return usagef("load merge needs the JSON reports of the shards (mtlskit load --shard I/N --json > shard-I.json)")
	}
	var reps []*load.Report
	for _, f := range c.Args().Slice() {
		fh, err := os.Open(f)
		if err != nil {
			return failf("%s cannot be read (%v): check the path", f, errText(err))
		}
		r, err := load.ReadJSON(fh)
		fh.Close()
		if err != nil {
			return failf("%s: %v", f, err)
		}
		reps = append(reps, r)
	}
	rep, err := load.Merge(reps...)
	if err != nil {
		return failf("load merge: %v", err)
	}
	if err := writeLoadReport(c, format, rep); err != nil {
		return err
	}
	if !rep.OK() {
		return silentFailure
	}
	return nil
}

// loadProgress is the once-a-second progress line on a terminal.
type loadProgress struct {
	mu    sync.Mutex
	w     io.Writer
	shown bool
}

func (p *loadProgress) show(q load.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r\x1b[Kmtlskit load: %s  attempted %d  established %d  failed %d  open %d  handshakes/s %.0f  messages/s %.0f",
		q.Elapsed.Round(time.Second), q.Attempted, q.Established, q.Failed, q.Open, q.HandshakesPerSec, q.MessagesPerSec)
	p.shown = true
}

func (p *loadProgress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
