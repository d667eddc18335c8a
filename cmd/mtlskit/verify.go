package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/internal/wire"
	"github.com/mtlskit/mtlskit/pki"
	"github.com/mtlskit/mtlskit/probe"
	"github.com/urfave/cli/v2"
)

// verifySchemaVersion is the version of verify's --json output
// (docs/verify.md). Adding fields keeps it; renaming or removing one, or
// changing a check ID, bumps it.
const verifySchemaVersion = 1

// defaultWarnWithin is how close an expiry must be to warn.
const defaultWarnWithin = "30d"

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "say in plain words why a certificate fails, check by check; with no --cert, audit the store",
		UsageText: "mtlskit verify --cert server.pem [--key server.key] [--ca ca.pem] [--chain chain.pem]\n" +
			"               [--host localhost | --ip 127.0.0.1] [--purpose server|client] [--at 2027-01-01T00:00:00Z] [--json]\n" +
			"mtlskit verify --connect HOST:PORT|wss://HOST:PORT/PATH [--path /ws] [--cert client.pem --key client.key]\n" +
			"               [--ca ca.pem] [--no-echo] [--timeout 5s] [--json]   (probe a live endpoint layer by layer)\n" +
			"mtlskit verify [--dir pki] [--warn-within 30d] [--relint] [--json]   (audit every certificate of the store)",
		Description: "Exit status: 0 when every check passes (warnings allowed), 1 when any fails, 2 on a usage error. " +
			"Check IDs and the JSON schema are in docs/verify.md.",
		Flags: []cli.Flag{
			dirFlag, jsonFlag,
			&cli.StringFlag{Name: "cert", Usage: "certificate to check (PEM or DER; may hold its chain after it)"},
			&cli.StringFlag{Name: "key", Usage: "private key that should belong to --cert"},
			&cli.StringFlag{Name: "ca", Usage: "trusted root certificate(s) (default: the store's root, when there is a store)"},
			&cli.StringFlag{Name: "chain", Usage: "intermediate certificates to build the chain with"},
			&cli.StringFlag{Name: "host", Usage: "DNS name clients dial, checked against the SANs"},
			&cli.StringFlag{Name: "ip", Usage: "IP address clients dial, checked against the SANs"},
			&cli.StringFlag{Name: "purpose", Value: "server", Usage: "server or client: the EKU and SAN rules to apply"},
			&cli.StringFlag{Name: "at", Usage: "check validity at this time (RFC 3339 or YYYY-MM-DD) instead of now"},
			&cli.StringFlag{Name: "warn-within", Value: defaultWarnWithin, Usage: "warn when a certificate expires within this long, e.g. 30d"},
			&cli.StringSliceFlag{Name: "crl", Usage: "with --cert: look the certificate up in this CRL `FILE` (PEM or DER; repeatable)"},
			&cli.BoolFlag{Name: "check-revocation", Usage: "fetch the CRL at each certificate's distribution point or ask its OCSP responder (with --cert, or live with --connect)"},
			&cli.StringFlag{Name: "connect", Usage: "probe a live endpoint, `HOST:PORT` or wss://HOST:PORT/PATH, layer by layer (--cert/--key: the client certificate)"},
			&cli.StringFlag{Name: "path", Usage: "--connect: the WebSocket path to upgrade (default /)"},
			&cli.BoolFlag{Name: "no-echo", Usage: "--connect: stop at the upgrade, do not send a message"},
			&cli.DurationFlag{Name: "timeout", Value: harness.DefaultTimeout, Usage: "--connect: limit for each layer"},
			&cli.BoolFlag{Name: "relint", Usage: "store audit: run zlint on every certificate instead of taking the findings the index keeps from issue time"},
		},
		Action: verify,
	}
}

// verifyOutput is the --json form of a file check.
type verifyOutput struct {
	SchemaVersion int          `json:"schema_version"`
	Mode          string       `json:"mode"` // "files"
	Input         verifyInput  `json:"input"`
	Result        string       `json:"result"` // "pass" or "fail"
	Checks        []pki.Check  `json:"checks"`
	Path          []string     `json:"path"`
	Trusted       bool         `json:"trusted"`
	GoVerify      string       `json:"go_verify,omitempty"`
	Counts        statusCounts `json:"counts"`
}

type verifyInput struct {
	Cert    string    `json:"cert"`
	Key     string    `json:"key,omitempty"`
	CA      string    `json:"ca,omitempty"`
	Chain   string    `json:"chain,omitempty"`
	Host    string    `json:"host,omitempty"`
	Purpose string    `json:"purpose"`
	At      time.Time `json:"at"`
}

type statusCounts struct {
	Pass int `json:"pass"`
	Fail int `json:"fail"`
	Warn int `json:"warn"`
	Skip int `json:"skip"`
}

func countStatuses(checks []pki.Check) statusCounts {
	var n statusCounts
	for _, c := range checks {
		switch c.Status {
		case pki.StatusPass:
			n.Pass++
		case pki.StatusFail:
			n.Fail++
		case pki.StatusWarn:
			n.Warn++
		default:
			n.Skip++
		}
	}
	return n
}

func verify(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("verify takes no arguments, got %q: the certificate goes in --cert", c.Args().First())
	}
	if c.IsSet("connect") {
		return verifyConnect(c)
	}
	for _, f := range []string{"path", "no-echo", "timeout"} {
		if c.IsSet(f) {
			return usagef("--%s needs --connect HOST:PORT", f)
		}
	}
	at := time.Now()
	if s := c.String("at"); s != "" {
		t, err := parseAt(s)
		if err != nil {
			return err
		}
		at = t
	}
	warnWithin, err := pki.ParseValidity(c.String("warn-within"))
	if err != nil {
		return usagef("--warn-within: %v", err)
	}
	if c.Bool("relint") && (c.IsSet("cert") || c.IsSet("connect")) {
		return usagef("--relint is for the store audit (verify without --cert): a file is always linted afresh")
	}
	if !c.IsSet("cert") {
		for _, f := range []string{"key", "ca", "chain", "host", "ip", "purpose", "crl", "check-revocation"} {
			if c.IsSet(f) {
				return usagef("--%s needs --cert FILE (without --cert, verify audits the store)", f)
			}
		}
		return audit(c, at, warnWithin)
	}
	return verifyFiles(c, at, warnWithin)
}

func parseAt(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usagef("--at %q is not a time: use RFC 3339 such as 2027-01-01T00:00:00Z, or 2027-01-01", s)
}

func readInput(flag, path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, failf("--%s %s cannot be read (%s): check the path", flag, path, errText(err))
	}
	return data, nil
}

func verifyFiles(c *cli.Context, at time.Time, warnWithin time.Duration) error {
	purpose, err := pki.ParsePurpose(c.String("purpose"))
	if err != nil {
		return usagef("--purpose: %v", err)
	}
	host := strings.TrimSpace(c.String("host"))
	if c.IsSet("host") && c.IsSet("ip") {
		return usagef("--host and --ip both given: pass the one name clients dial")
	}
	if c.IsSet("host") && host == "" {
		return usagef("--host is empty: give the name clients dial, such as --host localhost")
	}
	if c.IsSet("ip") {
		ip := net.ParseIP(strings.Trim(c.String("ip"), "[]"))
		if ip == nil {
			return usagef("--ip %q is not an IP address: use --host for a DNS name", c.String("ip"))
		}
		host = ip.String()
	}
	in := pki.Input{Host: host, Purpose: purpose, At: at, WarnWithin: warnWithin}
	rep := verifyInput{Cert: c.String("cert"), Key: c.String("key"), Chain: c.String("chain"), Host: host, Purpose: string(purpose), At: at.UTC()}

	data, err := readInput("cert", rep.Cert)
	if err != nil {
		return err
	}
	certs, check := pki.ReadCertFile(rep.Cert, "--cert", data)
	in.Chain = certs
	in.Parsed = append(in.Parsed, check)
	if rep.Key != "" {
		data, err := readInput("key", rep.Key)
		if err != nil {
			return err
		}
		k, check := pki.ReadKeyFile(rep.Key, data)
		in.Key = k
		in.Parsed = append(in.Parsed, check)
	}
	if rep.Chain != "" {
		data, err := readInput("chain", rep.Chain)
		if err != nil {
			return err
		}
		extra, check := pki.ReadCertFile(rep.Chain, "--chain", data)
		in.Extra = extra
		in.Parsed = append(in.Parsed, check)
	}
	rep.CA = c.String("ca")
	if rep.CA == "" {
		if s := storeOf(c); s.HasCA() {
			rep.CA = s.RootCertPath()
		}
	}
	if rep.CA != "" {
		data, err := readInput("ca", rep.CA)
		if err != nil {
			return err
		}
		roots, check := pki.ReadCertFile(rep.CA, "--ca", data)
		in.Roots = roots
		if !c.IsSet("ca") {
			check.Summary += " (the store's root, used as --ca)"
		}
		in.Parsed = append(in.Parsed, check)
	}

	if in.Revocation, err = revocationSource(c); err != nil {
		return err
	}
	r := pki.Diagnose(in)
	out := verifyOutput{
		SchemaVersion: verifySchemaVersion, Mode: "files", Input: rep, Result: resultOf(r),
		Checks: r.Checks, Path: r.Path, Trusted: r.Trusted, GoVerify: r.GoVerify, Counts: countStatuses(r.Checks),
	}
	if out.Path == nil {
		out.Path = []string{}
	}
	if c.Bool("json") {
		if err := printJSON(c.App.Writer, out); err != nil {
			return err
		}
	} else {
		printVerify(c.App.Writer, out)
	}
	if r.Failed() {
		return silentFailure
	}
	return nil
}

func resultOf(r pki.Report) string {
	if r.Failed() {
		return "fail"
	}
	return "pass"
}

func printVerify(w io.Writer, out verifyOutput) {
	p := palette{on: useColour(w)}
	what := out.Input.Cert + " as a " + out.Input.Purpose + " certificate"
	if out.Input.Host != "" {
		what += " for " + out.Input.Host
	}
	fmt.Fprintf(w, "%s (at %s)\n", p.bold(what), out.Input.At.Format(time.RFC3339))
	printChecks(w, p, out.Checks, "")
	if out.GoVerify != "" {
		fmt.Fprintf(w, "Go's x509.Verify says: %s\n", out.GoVerify)
	}
	n := out.Counts
	verdict := p.green("PASS")
	if out.Result == "fail" {
		verdict = p.red("FAIL")
	}
	fmt.Fprintf(w, "%s: %d failed, %d warnings, %d passed, %d skipped\n", verdict, n.Fail, n.Warn, n.Pass, n.Skip)
}

// printChecks writes one aligned line per check; failures and warnings
// are followed by their evidence and fix, and the chain check always by
// the path it found. It prints offline checks (pki.Diagnose) and, through
// printConnect, the live probe's offline checks of the server chain.
func printChecks(w io.Writer, p palette, checks []pki.Check, prefix string) {
	printCheckList(w, p, checks, prefix, checkPrinting{evidence: func(c pki.Check) bool {
		return c.Status == pki.StatusFail || c.Status == pki.StatusWarn || c.ID == pki.CheckChain
	}})
}

// checkPrinting says which checks' evidence to show, and what to print
// after a check (the live probe's offline checks of the server chain).
type checkPrinting struct {
	evidence func(pki.Check) bool
	after    func(i int, pad string)
}

// printCheckList is the one check printer of verify, offline and live:
// the ID column aligned, the subject before the summary, evidence as opt
// says, then the fix of a check that did not pass.
func printCheckList(w io.Writer, p palette, checks []pki.Check, prefix string, opt checkPrinting) {
	width := 0
	for _, c := range checks {
		width = max(width, len(c.ID))
	}
	pad := prefix + strings.Repeat(" ", 4+2+width+2)
	for i, c := range checks {
		line := c.Summary
		if c.Subject != "" {
			line = c.Subject + ": " + c.Summary
		}
		fmt.Fprintf(w, "%s%s  %-*s  %s\n", prefix, statusWord(p, c.Status), width, c.ID, line)
		if opt.evidence(c) {
			for _, e := range c.Evidence {
				fmt.Fprintf(w, "%s%s\n", pad, e)
			}
		}
		if opt.after != nil {
			opt.after(i, pad)
		}
		if c.Fix != "" && c.Status != pki.StatusPass {
			fmt.Fprintf(w, "%s%s %s\n", pad, p.bold("fix:"), c.Fix)
		}
	}
}

func statusWord(p palette, s pki.CheckStatus) string {
	switch s {
	case pki.StatusPass:
		return p.green("PASS")
	case pki.StatusFail:
		return p.red("FAIL")
	case pki.StatusWarn:
		return p.yellow("WARN")
	}
	return "SKIP"
}

// auditOutput is the --json form of the store audit.
type auditOutput struct {
	SchemaVersion int          `json:"schema_version"`
	Mode          string       `json:"mode"` // "store"
	Dir           string       `json:"dir"`
	At            time.Time    `json:"at"`
	WarnWithin    string       `json:"warn_within"`
	Result        string       `json:"result"`
	Certificates  []auditedOne `json:"certificates"`
}

type auditedOne struct {
	Name     string       `json:"name"`
	Kind     pki.Kind     `json:"kind"`
	Result   string       `json:"result"` // "pass", "warn" or "fail"
	Checks   []pki.Check  `json:"checks"`
	Path     []string     `json:"path"`
	Trusted  bool         `json:"trusted"`
	GoVerify string       `json:"go_verify,omitempty"`
	Counts   statusCounts `json:"counts"`
}

func audit(c *cli.Context, at time.Time, warnWithin time.Duration) error {
	store := storeOf(c)
	prog := newProgress(c.App.ErrWriter, "verify", "certificates audited")
	opts := pki.AuditOptions{At: at, WarnWithin: warnWithin, Relint: c.Bool("relint"), Progress: prog.update}
	out := auditOutput{SchemaVersion: verifySchemaVersion, Mode: "store", Dir: store.Dir, At: at.UTC(),
		WarnWithin: pki.FormatValidity(warnWithin), Result: "pass", Certificates: []auditedOne{}}
	failed := false
	if c.Bool("json") {
		entries, err := store.Audit(opts)
		if err != nil {
			return failf("verify: %v (or check a file: mtlskit verify --cert FILE)", err)
		}
		for _, e := range entries {
			one := audited(e)
			failed = failed || one.Result == "fail"
			out.Certificates = append(out.Certificates, one)
		}
		if failed {
			out.Result = "fail"
		}
		if err := printJSON(c.App.Writer, out); err != nil {
			return err
		}
	} else {
		// The table is printed as the audit goes: 100,000 reports are
		// never held at once.
		w := bufio.NewWriterSize(c.App.Writer, 64<<10)
		t := auditTable{w: w, p: palette{on: useColour(c.App.Writer)}}
		opts.Begin = func(plan pki.AuditPlan) {
			for _, e := range plan.Entries {
				t.nameW, t.kindW = max(t.nameW, len(e.Name)), max(t.kindW, len(e.Kind))
			}
			if plan.CRL {
				t.nameW, t.kindW = max(t.nameW, len("crl")), max(t.kindW, len(pki.KindCRL))
			}
			fmt.Fprintf(w, "%s (at %s, warning within %s)\n", t.p.bold("Store "+out.Dir), out.At.Format(time.RFC3339), out.WarnWithin)
		}
		err := store.AuditEach(opts, func(e pki.AuditEntry) error {
			t.row(audited(e))
			if w.Buffered() > 32<<10 {
				return w.Flush()
			}
			return nil
		})
		if err != nil {
			w.Flush()
			return failf("verify: %v (or check a file: mtlskit verify --cert FILE)", err)
		}
		failed = t.nFail > 0
		t.end()
		if err := w.Flush(); err != nil {
			return err
		}
	}
	if failed {
		return silentFailure
	}
	return nil
}

// audited is one entry of the audit as the output shows it.
func audited(e pki.AuditEntry) auditedOne {
	one := auditedOne{Name: e.Name, Kind: e.Kind, Result: "pass", Checks: e.Report.Checks, Path: e.Report.Path,
		Trusted: e.Report.Trusted, GoVerify: e.Report.GoVerify, Counts: countStatuses(e.Report.Checks)}
	if one.Path == nil {
		one.Path = []string{}
	}
	switch {
	case e.Report.Failed():
		one.Result = "fail"
	case len(e.Report.Warnings()) > 0:
		one.Result = "warn"
	}
	return one
}

// auditTable prints the store audit: a line per certificate with its
// failed and warned checks below it, then the verdict.
type auditTable struct {
	w            io.Writer
	p            palette
	nameW, kindW int
	n            int
	nFail, nWarn int
}

func (t *auditTable) row(one auditedOne) {
	t.n++
	status := pki.StatusPass
	note := fmt.Sprintf("%d checks passed", one.Counts.Pass)
	switch one.Result {
	case "fail":
		status, t.nFail = pki.StatusFail, t.nFail+1
		note = fmt.Sprintf("%d failed, %d warning(s)", one.Counts.Fail, one.Counts.Warn)
	case "warn":
		status, t.nWarn = pki.StatusWarn, t.nWarn+1
		note = fmt.Sprintf("%d warning(s)", one.Counts.Warn)
	}
	fmt.Fprintf(t.w, "%s  %-*s  %-*s  %s\n", statusWord(t.p, status), t.nameW, one.Name, t.kindW, one.Kind, note)
	var bad []pki.Check
	for _, ch := range one.Checks {
		if ch.Status == pki.StatusFail || ch.Status == pki.StatusWarn {
			bad = append(bad, ch)
		}
	}
	printChecks(t.w, t.p, bad, "      ")
}

func (t *auditTable) end() {
	verdict := t.p.green("PASS")
	if t.nFail > 0 {
		verdict = t.p.red("FAIL")
	}
	fmt.Fprintf(t.w, "%s: %d certificates, %d failed, %d with warnings\n", verdict, t.n, t.nFail, t.nWarn)
}

// connectOutput is the --json form of a live probe (mode "connect").
type connectOutput struct {
	SchemaVersion int          `json:"schema_version"`
	Mode          string       `json:"mode"` // "connect"
	Input         connectInput `json:"input"`
	Result        string       `json:"result"` // "pass" or "fail"
	probe.Report
	Counts statusCounts `json:"counts"`
}

type connectInput struct {
	Connect string `json:"connect"`
	Host    string `json:"host"`
	Port    string `json:"port"`
	Path    string `json:"path"`
	Cert    string `json:"cert,omitempty"`
	Key     string `json:"key,omitempty"`
	CA      string `json:"ca,omitempty"`
	// Trust is where the server's trust anchors came from: "ca" (--ca),
	// "store" (the store's root) or "system".
	Trust   string `json:"trust"`
	Echo    bool   `json:"echo"`
	Timeout string `json:"timeout"`
}

// parseEndpoint reads HOST:PORT or wss://HOST[:PORT]/PATH (wire.ParseEndpoint,
// the parser --target uses too); --path, when set, gives the path (and
// must agree with the URL's).
func parseEndpoint(s, path string, pathSet bool) (wire.Endpoint, error) {
	e, err := wire.ParseEndpoint(s)
	var ee *wire.EndpointError
	if errors.As(err, &ee) {
		return e, usagef("--connect %v", ee)
	}
	if pathSet {
		if path == "" {
			path = "/"
		}
		if e.PathGiven && e.Path != path {
			return e, usagef("--connect %q has the path %s and --path says %s: give the path once", strings.TrimSpace(s), e.Path, path)
		}
		if !strings.HasPrefix(path, "/") {
			return e, usagef("--path %q must start with /", path)
		}
		e.Path = path
	}
	return e, nil
}

// revocationSource reads --crl FILE... and --check-revocation for a
// file check; nil when neither is given.
func revocationSource(c *cli.Context) (*pki.RevocationSource, error) {
	files := c.StringSlice("crl")
	if len(files) == 0 && !c.Bool("check-revocation") {
		return nil, nil
	}
	src := &pki.RevocationSource{}
	for _, f := range files {
		data, err := readInput("crl", f)
		if err != nil {
			return nil, err
		}
		ders, err := pki.ParseCRLs(data)
		if err != nil {
			return nil, failf("--crl %s: %v: give a CRL in PEM or DER (mtlskit crl writes ca/crl.pem)", f, err)
		}
		src.CRLs = append(src.CRLs, ders...)
	}
	if c.Bool("check-revocation") {
		src.Fetch = wire.RevocationFetcher(context.Background(), c.Duration("timeout"))
	}
	return src, nil
}

// verifyConnect probes a live endpoint (harness.Probe) and prints one
// line per layer.
func verifyConnect(c *cli.Context) error {
	for _, f := range []string{"chain", "host", "ip", "purpose", "at", "warn-within", "crl"} {
		if c.IsSet(f) {
			return usagef("--%s does not apply to --connect: the name dialled is the one in --connect, checked as a server", f)
		}
	}
	e, err := parseEndpoint(c.String("connect"), c.String("path"), c.IsSet("path"))
	if err != nil {
		return err
	}
	in := connectInput{Connect: c.String("connect"), Host: e.Host, Port: e.Port, Path: e.Path,
		Cert: c.String("cert"), Key: c.String("key"), Echo: !c.Bool("no-echo")}
	if (in.Cert == "") != (in.Key == "") {
		return usagef("--cert and --key go together: the client certificate needs its private key")
	}
	timeout := c.Duration("timeout")
	if timeout <= 0 {
		return usagef("--timeout %s: give a positive duration such as 5s", timeout)
	}
	in.Timeout = timeout.String()
	cfg := probe.Config{Host: e.Host, Port: e.Port, Path: e.Path, Echo: in.Echo, Timeout: timeout, CheckRevocation: c.Bool("check-revocation")}

	if in.Cert != "" {
		certPEM, err := readInput("cert", in.Cert)
		if err != nil {
			return err
		}
		keyPEM, err := readInput("key", in.Key)
		if err != nil {
			return err
		}
		if pki.IsEncryptedKeyPEM(keyPEM) {
			return failf("--key %s is encrypted: the probe needs it decrypted (openssl pkey -in %s -out plain.key)", in.Key, in.Key)
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return failf("--cert %s with --key %s cannot be used as a client certificate: %s (check them: mtlskit verify --cert %s --key %s --purpose client)",
				in.Cert, in.Key, errText(err), in.Cert, in.Key)
		}
		cfg.ClientCert = &pair
	}

	in.Trust, in.CA = "system", c.String("ca")
	if in.CA == "" {
		if s := storeOf(c); s.HasCA() {
			in.CA, in.Trust = s.RootCertPath(), "store"
		}
	} else {
		in.Trust = "ca"
	}
	if in.CA != "" {
		data, err := readInput("ca", in.CA)
		if err != nil {
			return err
		}
		roots, check := pki.ReadCertFile(in.CA, "--ca", data)
		if len(roots) == 0 {
			return failf("--ca %s holds no certificate: %s", in.CA, check.Summary)
		}
		cfg.Roots = roots
	}

	rep := probe.Probe(context.Background(), cfg)
	out := connectOutput{SchemaVersion: verifySchemaVersion, Mode: "connect", Input: in, Result: "pass",
		Report: rep, Counts: countProbe(rep.Checks)}
	if rep.Failed() {
		out.Result = "fail"
	}
	if c.Bool("json") {
		if err := printJSON(c.App.Writer, out); err != nil {
			return err
		}
	} else {
		printConnect(c.App.Writer, out)
	}
	if rep.Failed() {
		return silentFailure
	}
	return nil
}

func countProbe(checks []probe.Check) statusCounts {
	list := make([]pki.Check, len(checks))
	for i, c := range checks {
		list[i] = pki.Check{Status: c.Status}
	}
	return countStatuses(list)
}

func printConnect(w io.Writer, out connectOutput) {
	p := palette{on: useColour(w)}
	in := out.Input
	trust := "the system roots"
	switch in.Trust {
	case "ca":
		trust = in.CA
	case "store":
		trust = in.CA + " (the store's root)"
	}
	client := "no client certificate"
	if in.Cert != "" {
		client = "client certificate " + in.Cert
	}
	fmt.Fprintf(w, "%s (server checked against %s; %s)\n", p.bold("Probing "+out.URL), trust, client)
	checks := make([]pki.Check, len(out.Checks))
	for i, c := range out.Checks {
		checks[i] = c.Check
	}
	printCheckList(w, p, checks, "", checkPrinting{
		evidence: func(c pki.Check) bool { return c.Status != pki.StatusSkip },
		after: func(i int, pad string) {
			c := out.Checks[i]
			if len(c.Checks) == 0 {
				return
			}
			if c.Status == pki.StatusPass {
				n := countStatuses(c.Checks)
				fmt.Fprintf(w, "%soffline checks: %d passed, %d skipped (--json lists them)\n", pad, n.Pass, n.Skip)
				return
			}
			fmt.Fprintf(w, "%soffline checks of the chain the server sent:\n", pad)
			printChecks(w, p, c.Checks, pad+"  ")
		},
	})
	n := out.Counts
	verdict, where := p.green("PASS"), "every layer passed"
	if out.Result == "fail" {
		verdict, where = p.red("FAIL"), "a check failed"
	}
	if out.StoppedAt != "" {
		where = "stopped at " + out.StoppedAt
	}
	fmt.Fprintf(w, "%s: %s; %d failed, %d warnings, %d passed, %d skipped\n", verdict, where, n.Fail, n.Warn, n.Pass, n.Skip)
}
