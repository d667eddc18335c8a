package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/pki"
	"github.com/mtlskit/mtlskit/snippet"
)

// The snippets are executed: every server snippet whose tool is installed
// is started with the store's server certificate and judged by
// `mtlskit harness run --pki --target` (the server-side scenarios), and
// probed with `mtlskit verify --connect` with a valid client certificate
// (accepted) and a revoked one (refused, for the reason the stack gives);
// every client snippet is run against each scenario server of
// harness.Serve (minted from the same store's CA), with the CRL that
// serve writes, and must accept valid-server and server-full-chain and
// refuse the rest, server-revoked included.

// snippetLab is a store with an intermediate CA, a server certificate
// "localhost" and a client certificate "alice", and the client-side
// scenario servers minted from its CA. Without a CRL its snippets check
// no revocation (what TestTroubleshootingMessages runs); see
// newRevocationLab.
type snippetLab struct {
	dir, store string
	urls       map[string]string // client-side scenario -> wss:// URL
	servedCRL  string            // the CRL file `harness serve` wrote: it lists server-revoked's certificate
	// clientCRLs are what client snippets check revocation against
	// (--crl), when set (serveWithCRL).
	clientCRLs []string
}

func newSnippetLab(t *testing.T) *snippetLab {
	t.Helper()
	dir := t.TempDir()
	store := filepath.Join(dir, "pki")
	mustRun(t, dir, "ca", "init", "--dir", store, "--intermediate")
	mustRun(t, dir, "issue", "server", "--dir", store, "--san", "localhost,127.0.0.1,::1")
	mustRun(t, dir, "issue", "client", "--dir", store, "--cn", "alice")
	l := &snippetLab{dir: dir, store: store, urls: map[string]string{}}
	return l
}

// newRevocationLab is a snippetLab whose store also has a revoked client
// certificate "mallory" and the CRLs that list it (`mtlskit crl`:
// ca/crl.pem by the intermediate, ca/root-crl.pem by the root), so that
// every snippet rendered from it checks revocation.
func newRevocationLab(t *testing.T) *snippetLab {
	t.Helper()
	l := newSnippetLab(t)
	mustRun(t, l.dir, "issue", "client", "--dir", l.store, "--cn", "mallory")
	mustRun(t, l.dir, "revoke", "--dir", l.store, "mallory", "--reason", "keyCompromise")
	mustRun(t, l.dir, "crl", "--dir", l.store)
	return l
}

// serveWithCRL is serve, with the client snippets then rendered to check
// revocation against the CRL serve wrote and the store's root CRL (a
// client that checks the whole chain needs the root's too).
func (l *snippetLab) serveWithCRL(t *testing.T) {
	t.Helper()
	l.serve(t)
	l.clientCRLs = []string{l.servedCRL, filepath.Join(l.store, "ca", "root-crl.pem")}
}

// renderClient renders a client snippet for "alice" connecting to url,
// checking revocation against l.clientCRLs when they are set.
func (l *snippetLab) renderClient(t *testing.T, stack, url string) string {
	t.Helper()
	args := []string{"--url", url}
	for _, crl := range l.clientCRLs {
		args = append(args, "--crl", crl)
	}
	return l.render(t, stack, "alice", args...)
}

// serve starts one reference server per client-side scenario, with
// certificates minted from the lab's CA.
func (l *snippetLab) serve(t *testing.T) {
	t.Helper()
	st := pki.OpenStore(l.store)
	root, err := st.Root()
	if err != nil {
		t.Fatal(err)
	}
	iss, err := st.Issuer(nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := harness.MaterialsFromCA(root, iss)
	if err != nil {
		t.Fatal(err)
	}
	files := filepath.Join(l.dir, "serve")
	if err := os.Mkdir(files, 0o700); err != nil {
		t.Fatal(err)
	}
	served, err := harness.Serve(context.Background(), harness.ServeOptions{Materials: m, Dir: files, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(served.Close)
	for _, s := range served.Scenarios {
		l.urls[s.Scenario.Name] = s.URL
	}
	l.servedCRL = served.Files.CRL
}

// render runs `mtlskit snippet --json STACK NAME ARGS...` and returns the text.
func (l *snippetLab) render(t *testing.T, stack, name string, args ...string) string {
	t.Helper()
	r := mustRun(t, l.dir, append([]string{"snippet", "--dir", l.store, "--json", stack, name}, args...)...)
	var sn snippet.Snippet
	decodeJSON(t, r.stdout, &sn)
	if sn.Stack != stack || sn.Name != name || sn.Text == "" {
		t.Fatalf("snippet %s %s: unexpected JSON %+v", stack, name, sn)
	}
	return sn.Text
}

// runOut is one run of a tool.
type runOut struct {
	code   int
	output string // stdout and stderr, interleaved
}

// execTool runs argv with a timeout, in dir, with extra environment.
func execTool(t *testing.T, dir string, env []string, timeout time.Duration, argv ...string) runOut {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %v: %v", argv, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%v did not finish within %s:\n%s", argv, timeout, out.String())
	}
	return runOut{code, out.String()}
}

// startServer starts a long-running server process in its own process
// group; the test's cleanup kills the group. The returned buffer collects
// its output.
func startServer(t *testing.T, dir string, env []string, argv ...string) *lockedBuffer {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %v: %v", argv, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	return out
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freeLoopbackPort picks a port that was free a moment ago.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitFor polls until ok or the limit; the server's output explains a
// failure.
func waitFor(t *testing.T, what string, limit time.Duration, out *lockedBuffer, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s within %s; output:\n%s", what, limit, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitPort(t *testing.T, port int, out *lockedBuffer) {
	t.Helper()
	waitFor(t, fmt.Sprintf("port %d did not open", port), 20*time.Second, out, func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return true
		}
		return false
	})
}

// judgeServerSnippet runs the server-side scenarios against the server on
// port (which must present the lab's "localhost" certificate and trust its
// CA) and fails unless every one matched; it returns the JSON report.
func judgeServerSnippet(t *testing.T, l *snippetLab, port int, out *lockedBuffer, extra ...string) string {
	t.Helper()
	args := append([]string{"harness", "run", "--pki", l.store, "--target", fmt.Sprintf("wss://localhost:%d/", port), "--format", "json"}, extra...)
	r := mtlskit(t, l.dir, nil, args...)
	var rep struct {
		Summary struct {
			Total, Passed int
			OK            bool
		}
		Results []struct {
			Name, Outcome, Mismatch string
			Pass                    bool
		}
	}
	decodeJSON(t, r.stdout, &rep)
	if r.code != 0 || !rep.Summary.OK || rep.Summary.Total != len(harness.OfSide(harness.Scenarios(), harness.ServerSide)) {
		var why []string
		for _, res := range rep.Results {
			if !res.Pass {
				why = append(why, fmt.Sprintf("%s: %s (%s)", res.Name, res.Outcome, res.Mismatch))
			}
		}
		t.Fatalf("harness run against the snippet server: exit %d, %d of %d passed:\n%s\nstderr: %s\nserver output:\n%s",
			r.code, rep.Summary.Passed, rep.Summary.Total, strings.Join(why, "\n"), r.stderr, out.String())
	}
	return r.stdout
}

// judgeSnippetClosesAtExpiry runs client-cert-expires-during-connection
// against a server snippet, expecting the close its comments promise: the
// WebSocket is closed when the client certificate expires.
func judgeSnippetClosesAtExpiry(t *testing.T, l *snippetLab, port int, out *lockedBuffer) {
	t.Helper()
	r := mtlskit(t, l.dir, nil, "harness", "run", "--pki", l.store, "--target", fmt.Sprintf("wss://localhost:%d/", port), "--format", "json",
		"--scenario", harness.ExpiryScenario, "--short-cert-lifetime", "2s", "--observe-for", "3s", "--expect-close-within", "1500ms")
	var rep struct {
		Results []struct {
			Pass     bool
			Mark     string
			Mismatch string
			Reason   struct{ ID, Text string }
		}
	}
	decodeJSON(t, r.stdout, &rep)
	if r.code != 0 || len(rep.Results) != 1 || !rep.Results[0].Pass || rep.Results[0].Reason.ID != "connection-closed" {
		t.Fatalf("the snippet must close a WebSocket when its client certificate expires: exit %d %+v\nstderr: %s\nserver output:\n%s", r.code, rep.Results, r.stderr, out.String())
	}
}

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed: the %s snippet is not executed", name, name)
	}
	return p
}

// debianPython is Debian's python3, which has python3-websockets (a
// pyenv python3 on PATH may not).
func debianPython(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(p); err == nil && exec.Command(path, "-c", "import websockets").Run() == nil {
			return path
		}
	}
	t.Skip("no python3 with the websockets package (Debian: python3-websockets): the Python snippets are not executed")
	return ""
}

// nodeWS returns the NODE_PATH holding the ws package, "" when it is not
// installed (npm install -g ws, or Debian's node-ws).
func nodeWS(t *testing.T) (node, nodePath string) {
	t.Helper()
	node = needTool(t, "node")
	var dirs []string
	if p := os.Getenv("NODE_PATH"); p != "" {
		dirs = append(dirs, filepath.SplitList(p)...)
	}
	if out, err := exec.Command("npm", "root", "-g").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	dirs = append(dirs, "/usr/share/nodejs") // Debian's node-ws
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "ws", "package.json")); err == nil {
			return node, d
		}
	}
	return node, ""
}

func TestSnippetNginxServer(t *testing.T) {
	l := newRevocationLab(t)
	port, run, out := startNginxSnippet(t, l)
	judgeServerSnippet(t, l, port, out)
	probeRevocation(t, l, port, out, `the server refused the client certificate "CN=mallory" at the HTTP layer: "400 The SSL certificate error"`,
		fileText(filepath.Join(run, "error.log")), "client SSL certificate verify error: (23:certificate revoked) while reading client request headers")
}

// fileText reads a file each time it is called ("" until it exists).
func fileText(path string) func() string {
	return func() string {
		b, _ := os.ReadFile(path)
		return string(b)
	}
}

// runBundleCommands runs the `cat ... > FILE` lines a snippet tells the
// reader to run after each `mtlskit crl` (nginx's ssl_crl and Puma's ca
// take one file, and a revocation lab's CRLs are two: the
// intermediate's and the root's); it reports how many it ran.
func runBundleCommands(t *testing.T, l *snippetLab, text string) int {
	t.Helper()
	cmds := regexp.MustCompile(`(?m)^\s*#\s+(cat .+ > \S+)`).FindAllStringSubmatch(text, -1)
	for _, m := range cmds {
		if r := execTool(t, l.dir, nil, 10*time.Second, "sh", "-c", m[1]); r.code != 0 {
			t.Fatalf("%s: exit %d: %s", m[1], r.code, r.output)
		}
	}
	return len(cmds)
}

// verifyCheck is one check of `mtlskit verify --connect --json`.
type verifyCheck struct {
	ID, Status, Summary string
	Evidence            []string
}

// probeRevocation probes the server snippet on port with `mtlskit verify
// --connect`: as "alice" every check passes, the echo included; as the
// revoked "mallory" the probe fails at live-client-cert-accepted and says
// refusal, and then serverLog (the server's output or its log file) says
// serverSays, the stack's own reason. out explains a failure.
func probeRevocation(t *testing.T, l *snippetLab, port int, out *lockedBuffer, refusal string, serverLog func() string, serverSays string) {
	t.Helper()
	probe := func(name string) (result, map[string]verifyCheck) {
		r := mtlskit(t, l.dir, nil, "verify", "--dir", l.store, "--json", "--timeout", "5s", "--connect", fmt.Sprintf("wss://localhost:%d/", port),
			"--cert", filepath.Join(l.store, "issued", name, "chain.pem"), "--key", filepath.Join(l.store, "issued", name, "key.pem"))
		var rep struct{ Checks []verifyCheck }
		decodeJSON(t, r.stdout, &rep)
		checks := map[string]verifyCheck{}
		for _, c := range rep.Checks {
			checks[c.ID] = c
		}
		return r, checks
	}
	if r, checks := probe("alice"); r.code != 0 || checks["live-ws-echo"].Status != "pass" {
		t.Errorf("verify --connect as alice (valid): exit %d, want 0 with the echo:\n%s\nserver output:\n%s", r.code, r.stdout, out.String())
	}
	r, checks := probe("mallory")
	c := checks["live-client-cert-accepted"]
	said := c.Summary + "\n" + strings.Join(c.Evidence, "\n")
	if r.code != 1 || c.Status != "fail" || !strings.Contains(said, refusal) {
		t.Errorf("verify --connect as mallory (revoked): exit %d, live-client-cert-accepted %s %q; want exit 1, fail, with %q:\n%s\nserver output:\n%s",
			r.code, c.Status, said, refusal, r.stdout, out.String())
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(serverLog(), serverSays) {
		if time.Now().After(deadline) {
			t.Errorf("the server did not say %q for the revoked client within 5s; it said:\n%s", serverSays, clip(serverLog()))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startNginxSnippet runs the nginx snippet for the lab's "localhost"
// certificate in front of `mtlskit harness echo` on a unix socket, and
// returns its port and run directory (error.log is there).
func startNginxSnippet(t *testing.T, l *snippetLab) (int, string, *lockedBuffer) {
	t.Helper()
	nginx := needTool(t, "nginx")
	port := freeLoopbackPort(t)
	run := filepath.Join(l.dir, "nginx")
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(run, "echo.sock")
	text := l.render(t, "nginx", "localhost", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--backend", "unix:"+sock)
	if err := os.WriteFile(filepath.Join(run, "snippet.conf"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	runBundleCommands(t, l, text) // ssl_crl's file, when the store has CRLs: the intermediate's and the root's
	// The snippet goes in the http {} block: this is the rest of a
	// minimal nginx.conf that runs unprivileged in the foreground.
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[1]s/tmp-body;
    proxy_temp_path %[1]s/tmp-proxy;
    fastcgi_temp_path %[1]s/tmp-fastcgi;
    uwsgi_temp_path %[1]s/tmp-uwsgi;
    scgi_temp_path %[1]s/tmp-scgi;
    include %[1]s/snippet.conf;
}
`, run)
	if err := os.WriteFile(filepath.Join(run, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	echoOut := startServer(t, run, nil, binPath, "harness", "echo", "--quiet", "--listen", "unix:"+sock)
	waitFor(t, "the echo backend did not create its socket", 10*time.Second, echoOut, func() bool {
		fi, err := os.Stat(sock)
		return err == nil && fi.Mode()&os.ModeSocket != 0
	})
	out := startServer(t, run, nil, nginx, "-e", filepath.Join(run, "error.log"), "-p", run, "-c", filepath.Join(run, "nginx.conf"))
	waitPort(t, port, out)
	return port, run, out
}

// goModule writes a throwaway module holding the given main packages
// (dir -> source), builds them with the repository's gorilla/websocket
// from the module cache (no network), and returns dir -> binary.
func goModule(t *testing.T, programs map[string]string) map[string]string {
	t.Helper()
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`github\.com/gorilla/websocket (v\S+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod does not require github.com/gorilla/websocket")
	}
	gosum, err := os.ReadFile("../../go.sum")
	if err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	files := map[string][]byte{
		"go.mod": fmt.Appendf(nil, "module snippettest\n\ngo 1.26\n\nrequire github.com/gorilla/websocket %s\n", m[1]),
		"go.sum": gosum,
	}
	for dir, src := range programs {
		files[filepath.Join(dir, "main.go")] = []byte(src)
	}
	for name, data := range files {
		p := filepath.Join(mod, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(mod, "bin")
	r := execTool(t, mod, []string{"GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local"}, 5*time.Minute,
		"go", "build", "-p", "2", "-o", bin+string(filepath.Separator), "./...")
	if r.code != 0 {
		t.Fatalf("go build of the snippets failed:\n%s", r.output)
	}
	out := map[string]string{}
	for dir := range programs {
		out[dir] = filepath.Join(bin, filepath.Base(dir))
	}
	return out
}

// clientCase is what one client snippet must do against one scenario.
type clientCase struct {
	scenario string
	accept   bool
}

// clientCases are the client-side scenarios and what a strict client
// does; cnFallback stacks accept server-missing-san by falling back to
// the Common Name (documented in the snippet and the troubleshooting
// guide), and the test holds them to it so the documentation cannot
// drift.
//
// Every client snippet checks revocation against the CRL it is given
// (l.clientCRLs: the one `harness serve` writes lists server-revoked's
// certificate), so each refuses server-revoked; each test pins the
// stack's own words for it. A client snippet that could not check
// revocation would accept it and say why in its text.
func clientCases(cnFallback bool) []clientCase {
	var cs []clientCase
	for _, s := range harness.OfSide(harness.Scenarios(), harness.ClientSide) {
		accept := s.Expect == harness.Accept || (cnFallback && s.Name == "server-missing-san")
		cs = append(cs, clientCase{s.Name, accept})
	}
	return cs
}

// wantRefusal fails unless the client snippet's run for scenario exited
// with code (any non-zero code when code is -1) and printed want.
func wantRefusal(t *testing.T, outs map[string]runOut, scenario string, code int, want string) {
	t.Helper()
	o, ok := outs[scenario]
	if !ok {
		t.Errorf("%s: not run", scenario)
		return
	}
	if (code == -1 && o.code == 0) || (code != -1 && o.code != code) || !strings.Contains(o.output, want) {
		t.Errorf("%s: want exit %d with %q, got exit %d:\n%s", scenario, code, want, o.code, o.output)
	}
}

// clientRunner runs the client snippet rendered for one URL.
type clientRunner func(t *testing.T, url string) runOut

// checkClientSnippet runs a client snippet against every client-side
// scenario server; accepted(out) tells a success from the output.
func checkClientSnippet(t *testing.T, l *snippetLab, cnFallback bool, run clientRunner, accepted func(runOut) bool) map[string]runOut {
	t.Helper()
	outs := map[string]runOut{}
	for _, c := range clientCases(cnFallback) {
		url, ok := l.urls[c.scenario]
		if !ok {
			t.Fatalf("no scenario server for %s", c.scenario)
		}
		out := run(t, url)
		outs[c.scenario] = out
		if got := accepted(out); got != c.accept {
			t.Errorf("%s: accepted=%v, want %v (exit %d):\n%s", c.scenario, got, c.accept, out.code, out.output)
		}
	}
	return outs
}

// exitsZeroWithEcho is the success of the Go, Node and Python clients.
func exitsZeroWithEcho(o runOut) bool {
	return o.code == 0 && strings.Contains(o.output, "echo ok: hello over mutual TLS")
}

func TestSnippetGo(t *testing.T) {
	needTool(t, "go")
	l := newRevocationLab(t)
	l.serveWithCRL(t)
	port := freeLoopbackPort(t)
	programs := map[string]string{"go-server": l.render(t, "go-server", "localhost", "--listen", fmt.Sprintf("127.0.0.1:%d", port))}
	cases := clientCases(false)
	for _, c := range cases {
		programs["clients/"+c.scenario] = l.renderClient(t, "go-client", l.urls[c.scenario])
	}
	// The check fails closed: valid-server is refused with an expired CRL
	// of its CA, and with no CRL of its CA at all (only the root's).
	rootCRL := filepath.Join(l.store, "ca", "root-crl.pem")
	failClosed := map[string][]string{"expired-crl": {expiredCRL(t, l), rootCRL}, "no-issuer-crl": {rootCRL}}
	for name, crls := range failClosed {
		args := []string{"--url", l.urls["valid-server"]}
		for _, crl := range crls {
			args = append(args, "--crl", crl)
		}
		programs["failclosed/"+name] = l.render(t, "go-client", "alice", args...)
	}
	// The snippets of a store without a CRL (no revocation code, other
	// imports) must build too.
	for _, stack := range []string{"go-server", "go-client"} {
		var p snippet.Params
		p.Files = snippet.Files{CA: "/pki/ca/root.pem", Cert: "/pki/cert.pem", Chain: "/pki/chain.pem", Key: "/pki/key.pem"}
		sn, err := snippet.Render(stack, p, nil)
		if err != nil || strings.Contains(sn.Text, "loadCRLs") {
			t.Fatalf("%s without a CRL: %v\n%v", stack, err, sn)
		}
		programs["nocrl/nocrl-"+stack] = sn.Text
	}
	bins := goModule(t, programs)

	t.Run("server", func(t *testing.T) {
		out := startServer(t, l.dir, nil, bins["go-server"])
		waitPort(t, port, out)
		judgeServerSnippet(t, l, port, out)
		judgeServerSnippet(t, l, port, out, "--tls-version", "1.2")
		judgeSnippetClosesAtExpiry(t, l, port, out)
		// crypto/tls sends bad_certificate for an error of VerifyConnection;
		// http.Server logs the snippet's own reason.
		probeRevocation(t, l, port, out, `the server refused the client certificate "CN=mallory": the server refused the certificate (alert 42 bad_certificate)`, out.String,
			`: certificate "mallory" (serial `+serialOf(t, l, "mallory")+`) is revoked: the CRL of "mtlskit Intermediate CA" lists it since `)
	})
	t.Run("client", func(t *testing.T) {
		outs := checkClientSnippet(t, l, false, func(t *testing.T, url string) runOut {
			for _, c := range cases {
				if l.urls[c.scenario] == url {
					return execTool(t, l.dir, nil, 30*time.Second, bins["clients/"+c.scenario])
				}
			}
			t.Fatalf("no client built for %s", url)
			return runOut{}
		}, exitsZeroWithEcho)
		wantRefusal(t, outs, "server-revoked", 1, `) is revoked: the CRL of "mtlskit Intermediate CA" lists it since `)
		for name, want := range map[string]string{
			"expired-crl":   `the CRL of "mtlskit Intermediate CA" expired at `,
			"no-issuer-crl": `no CRL of "mtlskit Intermediate CA" among the CRL files: cannot check "localhost" for revocation`,
		} {
			r := execTool(t, l.dir, nil, 30*time.Second, bins["failclosed/"+name])
			wantRefusal(t, map[string]runOut{name: r}, name, 1, want)
		}
	})
}

// expiredCRL writes a CRL of the lab's intermediate that expired an hour
// ago, listing nothing.
func expiredCRL(t *testing.T, l *snippetLab) string {
	t.Helper()
	iss, err := pki.OpenStore(l.store).Issuer(nil)
	if err != nil {
		t.Fatal(err)
	}
	der, _, err := pki.MakeCRL(iss, nil, 99, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(l.dir, "expired-crl.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// serialOf is the serial of a store certificate, hex, as the Go snippets
// print it (%x: no leading zeros).
func serialOf(t *testing.T, l *snippetLab, name string) string {
	t.Helper()
	iss, err := pki.OpenStore(l.store).Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", iss.Cert.SerialNumber)
}

func TestSnippetPython(t *testing.T) {
	py := debianPython(t)
	l := newRevocationLab(t)
	t.Run("server", func(t *testing.T) {
		port := freeLoopbackPort(t)
		src := filepath.Join(l.dir, "server.py")
		if err := os.WriteFile(src, []byte(l.render(t, "python-server", "localhost", "--listen", fmt.Sprintf("127.0.0.1:%d", port))), 0o644); err != nil {
			t.Fatal(err)
		}
		out := startServer(t, l.dir, nil, py, src)
		waitPort(t, port, out)
		judgeServerSnippet(t, l, port, out)
		judgeSnippetClosesAtExpiry(t, l, port, out)
		// asyncio closes a refused handshake without an alert, and logs why
		// only in debug mode: the same snippet, with its logger on.
		port = freeLoopbackPort(t)
		src = filepath.Join(l.dir, "server-debug.py")
		if err := os.WriteFile(src, []byte(l.render(t, "python-server", "localhost", "--listen", fmt.Sprintf("127.0.0.1:%d", port))), 0o644); err != nil {
			t.Fatal(err)
		}
		out = startServer(t, l.dir, []string{"PYTHONASYNCIODEBUG=1"}, py, "-c", asyncioDebug, src)
		waitPort(t, port, out)
		probeRevocation(t, l, port, out, `the server refused the client certificate "CN=mallory": the server closed the connection without an alert`, out.String,
			"ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate revoked")
	})
	t.Run("client", func(t *testing.T) {
		l.serveWithCRL(t)
		outs := checkClientSnippet(t, l, false, pythonClient(l, py), exitsZeroWithEcho)
		wantRefusal(t, outs, "server-revoked", 1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate revoked")
	})
}

// asyncioDebug runs the Python script sys.argv[1] with asyncio's logger
// at DEBUG on stderr (with PYTHONASYNCIODEBUG=1: where asyncio says why a
// TLS handshake failed).
const asyncioDebug = `import logging, runpy, sys
log = logging.getLogger("asyncio")
log.addHandler(logging.StreamHandler())
log.setLevel(logging.DEBUG)
runpy.run_path(sys.argv[1], run_name="__main__")`

func pythonClient(l *snippetLab, py string) clientRunner {
	return func(t *testing.T, url string) runOut {
		src := filepath.Join(t.TempDir(), "client.py")
		if err := os.WriteFile(src, []byte(l.renderClient(t, "python-client", url)), 0o644); err != nil {
			t.Fatal(err)
		}
		return execTool(t, l.dir, nil, 30*time.Second, py, src)
	}
}

func TestSnippetNode(t *testing.T) {
	node, nodePath := nodeWS(t)
	l := newRevocationLab(t)
	if nodePath == "" {
		// Without the ws package the snippets' TLS options are still
		// checked: a WebSocket upgrade by hand over https.request.
		l.serveWithCRL(t)
		outs := checkClientSnippet(t, l, false, nodeUpgradeClient(l, node), func(o runOut) bool {
			return o.code == 0 && strings.Contains(o.output, "upgrade ok: 101")
		})
		wantRefusal(t, outs, "server-revoked", 1, "CERT_REVOKED: certificate revoked")
		t.Log("the ws package is not installed (npm install -g ws): only the node-client TLS options were executed, with a hand-made upgrade")
		return
	}
	env := []string{"NODE_PATH=" + nodePath}
	t.Run("server", func(t *testing.T) {
		port := freeLoopbackPort(t)
		src := filepath.Join(l.dir, "server.js")
		if err := os.WriteFile(src, []byte(l.render(t, "node-server", "localhost", "--listen", fmt.Sprintf("127.0.0.1:%d", port))), 0o644); err != nil {
			t.Fatal(err)
		}
		out := startServer(t, l.dir, env, node, src)
		waitPort(t, port, out)
		judgeServerSnippet(t, l, port, out)
		judgeSnippetClosesAtExpiry(t, l, port, out)
		// Node closes a refused handshake without an alert; the snippet logs
		// the socket's authorizationError.
		probeRevocation(t, l, port, out, `the server refused the client certificate "CN=mallory": the server closed the connection without an alert`, out.String,
			"client refused in the TLS handshake: CERT_REVOKED")
		// Node reports OpenSSL's last verify error: with crl, the harness's
		// self-signed client, which no CRL covers, is logged as this (the
		// snippet says so).
		if !strings.Contains(out.String(), "client refused in the TLS handshake: UNABLE_TO_GET_CRL") {
			t.Errorf("self-signed-client was not logged as UNABLE_TO_GET_CRL:\n%s", out.String())
		}
	})
	t.Run("client", func(t *testing.T) {
		l.serveWithCRL(t)
		outs := checkClientSnippet(t, l, false, nodeClient(l, node, env), exitsZeroWithEcho)
		wantRefusal(t, outs, "server-revoked", 1, "CERT_REVOKED: certificate revoked")
		// Without crl Node says DEPTH_ZERO_SELF_SIGNED_CERT (docs/troubleshooting.md).
		wantRefusal(t, outs, "server-self-signed", 1, "UNABLE_TO_GET_CRL: unable to get certificate CRL")
	})
}

func nodeClient(l *snippetLab, node string, env []string) clientRunner {
	return func(t *testing.T, url string) runOut {
		src := filepath.Join(t.TempDir(), "client.js")
		if err := os.WriteFile(src, []byte(l.renderClient(t, "node-client", url)), 0o644); err != nil {
			t.Fatal(err)
		}
		return execTool(t, l.dir, env, 30*time.Second, node, src)
	}
}

// nodeUpgradeClient keeps the node-client snippet's requires and
// tlsOptions and replaces the ws part with an upgrade over https.request.
func nodeUpgradeClient(l *snippetLab, node string) clientRunner {
	return func(t *testing.T, url string) runOut {
		text := l.renderClient(t, "node-client", url)
		start := strings.Index(text, "const tlsOptions = {")
		end := strings.Index(text[start:], "\n};\n")
		if start < 0 || end < 0 {
			t.Fatalf("node-client snippet has no tlsOptions block:\n%s", text)
		}
		https := strings.Replace(url, "wss://", "https://", 1)
		src := "const fs = require('fs');\nconst tls = require('tls');\nconst https = require('https');\n" + text[start:start+end+4] + fmt.Sprintf(`
const req = https.request(%q, { ...tlsOptions, headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
req.on('upgrade', (res, socket) => { console.log('upgrade ok: ' + res.statusCode); socket.destroy(); });
req.on('response', (res) => { console.error('no upgrade: ' + res.statusCode); process.exit(1); });
req.on('error', (err) => { console.error(err.code + ': ' + err.message); process.exit(1); });
req.end();
`, https)
		p := filepath.Join(t.TempDir(), "upgrade.js")
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return execTool(t, l.dir, nil, 30*time.Second, node, p)
	}
}

// rubyClientRefusals is what the ruby-client snippet prints for each
// client-side reject scenario: OpenSSL's verify error, or the snippet's
// own refusal of a certificate without SANs (Ruby's verify_hostname falls
// back to the Common Name and would accept server-missing-san).
var rubyClientRefusals = map[string]string{
	"server-missing-san":          "OpenSSL::SSL::SSLError: the certificate of localhost has no subjectAltName (Common Name fallback refused)",
	"server-wrong-ca":             "certificate verify failed (unable to get local issuer certificate)",
	"server-self-signed":          "certificate verify failed (self-signed certificate)",
	"server-expired":              "certificate verify failed (certificate has expired)",
	"server-not-yet-valid":        "certificate verify failed (certificate is not yet valid)",
	"server-hostname-mismatch":    "certificate verify failed (hostname mismatch)",
	"server-ip-not-in-san":        "certificate verify failed (hostname mismatch)",
	"server-client-eku":           "certificate verify failed (unsuitable certificate purpose)",
	"server-missing-intermediate": "certificate verify failed (unable to get local issuer certificate)",
	"server-revoked":              "certificate verify failed (certificate revoked)",
}

func TestSnippetRubyClient(t *testing.T) {
	ruby := needTool(t, "ruby")
	l := newRevocationLab(t)
	l.serveWithCRL(t)
	outs := checkClientSnippet(t, l, false, func(t *testing.T, url string) runOut {
		src := filepath.Join(t.TempDir(), "client.rb")
		if err := os.WriteFile(src, []byte(l.renderClient(t, "ruby-client", url)), 0o644); err != nil {
			t.Fatal(err)
		}
		return execTool(t, l.dir, nil, 30*time.Second, ruby, src)
	}, exitsZeroWithEcho)
	for _, c := range clientCases(false) {
		if c.accept {
			continue
		}
		want, ok := rubyClientRefusals[c.scenario]
		if !ok {
			t.Errorf("%s: no expected ruby-client refusal: add it to rubyClientRefusals", c.scenario)
			continue
		}
		if o := outs[c.scenario]; o.code != 1 || !strings.Contains(o.output, want) {
			t.Errorf("%s: want exit 1 with %q, got exit %d:\n%s", c.scenario, want, o.code, o.output)
		}
	}
}

// TestSnippetPuma runs the puma snippet (ssl_bind with force_peer and a
// websocket-driver echo app over rack.hijack) and judges it with the
// server-side scenarios, over TLS 1.3 and 1.2; the ruby-client snippet
// must then get its echo from it.
func TestSnippetPuma(t *testing.T) {
	puma := needTool(t, "puma")
	ruby := needTool(t, "ruby")
	if exec.Command(ruby, "-e", "require 'websocket/driver'").Run() != nil {
		t.Skip("the websocket-driver gem is not installed (Debian: ruby-websocket-driver): the puma snippet is not executed")
	}
	l := newRevocationLab(t)
	port := freeLoopbackPort(t)
	conf := filepath.Join(l.dir, "puma.rb")
	text := l.render(t, "puma", "localhost", "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if runBundleCommands(t, l, text) != 1 { // Puma's ca file: the CA, then the CRLs
		t.Fatalf("the puma snippet has no `cat ... > FILE` line for its ca file:\n%s", text)
	}
	out := startServer(t, l.dir, nil, puma, "-C", conf)
	waitPort(t, port, out)
	judgeServerSnippet(t, l, port, out)
	judgeServerSnippet(t, l, port, out, "--tls-version", "1.2")
	// Puma closes a refused handshake without an alert, and logs why.
	probeRevocation(t, l, port, out, `the server refused the client certificate "CN=mallory": the server closed the connection without an alert`, out.String,
		"peer cert: /CN=mallory: #<Puma::MiniSSL::SSLError: OpenSSL certificate verification error: certificate revoked - 23>")

	src := filepath.Join(l.dir, "client.rb")
	if err := os.WriteFile(src, []byte(l.render(t, "ruby-client", "alice", "--url", fmt.Sprintf("wss://localhost:%d/", port))), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := execTool(t, l.dir, nil, 30*time.Second, ruby, src); !exitsZeroWithEcho(r) {
		t.Errorf("ruby-client against the puma snippet: exit %d:\n%s\npuma output:\n%s", r.code, r.output, out.String())
	}
}

func shellClient(l *snippetLab, stack string) clientRunner {
	return func(t *testing.T, url string) runOut {
		return execTool(t, l.dir, nil, 30*time.Second, "sh", "-c", l.renderClient(t, stack, url))
	}
}

func TestSnippetCurl(t *testing.T) {
	needTool(t, "curl")
	l := newRevocationLab(t)
	l.serveWithCRL(t)
	// The reference server answers a GET that is not an upgrade with 400.
	outs := checkClientSnippet(t, l, true, shellClient(l, "curl"), func(o runOut) bool {
		return o.code == 0 && regexp.MustCompile(`(?m)^400$`).MatchString(o.output)
	})
	wantRefusal(t, outs, "server-revoked", 60, "curl: (60) SSL certificate problem: certificate revoked")
}

func TestSnippetOpenSSL(t *testing.T) {
	needTool(t, "openssl")
	l := newRevocationLab(t)
	l.serveWithCRL(t)
	// s_client's exit status says little (1 on a server's plain close):
	// the verdict is in its output.
	outs := checkClientSnippet(t, l, true, shellClient(l, "openssl-s_client"), func(o runOut) bool {
		return strings.Contains(o.output, "Verification: OK") && strings.Contains(o.output, "HTTP/1.1 400 Bad Request")
	})
	for _, c := range clientCases(true) {
		if o := outs[c.scenario]; !c.accept && !strings.Contains(o.output, "verify error:num=") {
			t.Errorf("%s: s_client did not report a verify error:\n%s", c.scenario, o.output)
		}
	}
	wantRefusal(t, outs, "server-revoked", -1, "verify error:num=23:certificate revoked")

	// -crl_download instead of -CRL FILE: s_client fetches the CRL at the
	// certificate's distribution point, which server-revoked's names (the
	// run serves it on loopback); valid-server's names none, so s_client
	// has no CRL to check it with.
	download := func(scenario string) runOut {
		text := l.renderClient(t, "openssl-s_client", l.urls[scenario])
		crl := regexp.MustCompile(`-CRL '?/\S+`)
		if len(crl.FindAllString(text, -1)) != 1 {
			t.Fatalf("the openssl-s_client snippet has no single -CRL FILE:\n%s", text)
		}
		return execTool(t, l.dir, nil, 30*time.Second, "sh", "-c", crl.ReplaceAllString(text, "-crl_download"))
	}
	wantRefusal(t, map[string]runOut{"server-revoked": download("server-revoked")}, "server-revoked", -1, "verify error:num=23:certificate revoked")
	wantRefusal(t, map[string]runOut{"valid-server": download("valid-server")}, "valid-server", -1, "verify error:num=3:unable to get certificate CRL")
}

// TestSnippetCLI checks the command's contract: --list, --json, and the
// one-line errors with their exit statuses.
func TestSnippetCLI(t *testing.T) {
	l := newRevocationLab(t)
	r := mustRun(t, l.dir, "snippet", "--list")
	for _, s := range snippet.StackNames() {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("snippet --list does not list %s:\n%s", s, r.stdout)
		}
	}
	r = mustRun(t, l.dir, "snippet", "--list", "--json")
	var list struct{ Stacks []snippet.Stack }
	decodeJSON(t, r.stdout, &list)
	if len(list.Stacks) != len(snippet.StackNames()) {
		t.Errorf("snippet --list --json: %d stacks", len(list.Stacks))
	}

	// Every stack renders with the store's absolute paths, for the
	// certificate of its role.
	abs, _ := filepath.Abs(l.store)
	for _, s := range list.Stacks {
		name := "alice"
		if s.Role == snippet.RoleServer {
			name = "localhost"
		}
		r := mustRun(t, l.dir, "snippet", "--dir", l.store, "--json", s.Name, name)
		var sn struct {
			Stack, Name, Language, Text string
			Files                       map[string]any
		}
		decodeJSON(t, r.stdout, &sn)
		crls := []any{filepath.Join(abs, "ca", "crl.pem"), filepath.Join(abs, "ca", "root-crl.pem")}
		if sn.Language != s.Language || sn.Files["ca"] != filepath.Join(abs, "ca", "root.pem") || sn.Files["key"] != filepath.Join(abs, "issued", name, "key.pem") ||
			fmt.Sprint(sn.Files["crls"]) != fmt.Sprint(crls) {
			t.Errorf("%s: JSON %+v", s.Name, sn)
		}
		if !strings.Contains(sn.Text, filepath.Join(abs, "issued", name)) || !strings.Contains(sn.Text, filepath.Join(abs, "ca", "root.pem")) {
			t.Errorf("%s: the text does not name the store's files:\n%s", s.Name, sn.Text)
		}
		// Every snippet checks revocation: s_client with the issuing CA's
		// CRL (it checks the leaf), the others with both, or with the file
		// a cat line makes of them. It says until when the CRLs are valid.
		for _, crl := range crls {
			if s.Name == "openssl-s_client" && crl != crls[0] {
				continue
			}
			if !strings.Contains(sn.Text, crl.(string)) {
				t.Errorf("%s: the text does not name the CRL %s:\n%s", s.Name, crl, sn.Text)
			}
		}
		if !strings.Contains(sn.Text, "valid until ") || strings.Contains(sn.Text, "no CRL yet") || !revocationCode.MatchString(codeLines(sn.Text)) {
			t.Errorf("%s: the text does not say until when its CRLs are valid:\n%s", s.Name, sn.Text)
		}
		plain := mustRun(t, l.dir, "snippet", "--dir", l.store, s.Name, name)
		if plain.stdout != sn.Text {
			t.Errorf("%s: the text output differs from the JSON text", s.Name)
		}
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"snippet", "--dir", l.store, "nginxx", "localhost"}, 2, `unknown stack "nginxx": use one of nginx,`},
		{[]string{"snippet", "--dir", l.store, "nginx"}, 2, "snippet needs STACK and NAME"},
		{[]string{"snippet", "--dir", l.store, "nginx", "bob"}, 1, `no certificate named "bob"`},
		{[]string{"snippet", "--dir", l.store, "nginx", "alice"}, 1, `"alice" cannot be used by nginx, a server: its extended key usage is clientAuth, not serverAuth`},
		{[]string{"snippet", "--dir", l.store, "go-client", "localhost"}, 1, `"localhost" cannot be used by go-client, a client`},
		{[]string{"snippet", "--dir", l.store, "go-client", "root"}, 1, `no certificate named "root"`},
		{[]string{"snippet", "--dir", l.store, "go-client", "alice", "--listen", "127.0.0.1:1"}, 2, "--listen is for server stacks"},
		{[]string{"snippet", "--dir", l.store, "go-client", "alice", "--url", "https://x/"}, 2, "--url \"https://x/\": use a wss:// URL"},
		{[]string{"snippet", "--dir", l.store, "nginx", "localhost", "--backend", "unix:rel.sock"}, 2, "absolute path"},
		{[]string{"snippet", "--dir", filepath.Join(l.dir, "none"), "nginx", "localhost"}, 1, "no CA in"},
		{[]string{"snippet", "--dir", l.store, "curl", "alice", "--crl", filepath.Join(l.store, "ca", "crl.der")}, 1, "crl.der holds no PEM CRL (-----BEGIN X509 CRL-----): give the .pem, not the .der"},
		{[]string{"snippet", "--dir", l.store, "curl", "alice", "--crl", filepath.Join(l.dir, "nope.pem")}, 1, "snippet: --crl: open "},
	} {
		r := mtlskit(t, l.dir, nil, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || r.stdout != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit %d and one line with %q", c.args, r.code, r.stderr, r.stdout, c.code, c.want)
		}
	}
}

// TestSnippetRevocationText: a store without a CRL gets snippets without
// revocation lines that say how to get them; --crl replaces the store's
// CRLs, its files taken whole (a comma stays in the path).
func TestSnippetRevocationText(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "pki")
	mustRun(t, dir, "ca", "init", "--dir", store)
	mustRun(t, dir, "issue", "server", "--dir", store, "--san", "localhost")
	mustRun(t, dir, "issue", "client", "--dir", store, "--cn", "alice")
	for _, s := range snippet.Stacks() {
		name := map[snippet.Role]string{snippet.RoleServer: "localhost", snippet.RoleClient: "alice"}[s.Role]
		r := mustRun(t, dir, "snippet", "--dir", store, "--json", s.Name, name)
		var sn snippet.Snippet
		decodeJSON(t, r.stdout, &sn)
		if len(sn.Files.CRLs) != 0 || !strings.Contains(r.stdout, `"crls": []`) {
			t.Errorf("%s: files.crls without a CRL: %s", s.Name, r.stdout)
		}
		if !strings.Contains(sn.Text, "the store has no CRL yet") || !strings.Contains(sn.Text, "`mtlskit crl`") ||
			strings.Contains(sn.Text, filepath.Join(store, "ca", "crl.pem")) || revocationCode.MatchString(codeLines(sn.Text)) {
			t.Errorf("%s without a CRL: want no revocation lines and a note to run `mtlskit crl`:\n%s", s.Name, sn.Text)
		}
	}

	// With one CA (no intermediate) there is one CRL: nginx names it
	// directly, curl reads it as is; Puma's ca is still the CA and the CRL.
	mustRun(t, dir, "crl", "--dir", store)
	crl := filepath.Join(store, "ca", "crl.pem")
	for stack, want := range map[string]string{"nginx": "ssl_crl                " + crl + ";", "curl": "--crlfile " + crl + " \\", "puma": "cat " + filepath.Join(store, "ca", "root.pem") + " " + crl + " > "} {
		name := map[bool]string{true: "alice", false: "localhost"}[stack == "curl"]
		if text := mustRun(t, dir, "snippet", "--dir", store, stack, name).stdout; !strings.Contains(text, want) || strings.Contains(text, "no CRL yet") {
			t.Errorf("%s with one CRL: want %q:\n%s", stack, want, text)
		}
	}

	// --crl: the given files, whole, in order.
	other := filepath.Join(dir, "a,b")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(crl)
	for _, f := range []string{"one.pem", "two.pem"} {
		if err := os.WriteFile(filepath.Join(other, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := mustRun(t, dir, "snippet", "--dir", store, "--json", "python-client", "alice", "--crl", filepath.Join(other, "one.pem"), "--crl", filepath.Join("a,b", "two.pem"))
	var sn snippet.Snippet
	decodeJSON(t, r.stdout, &sn)
	if want := []string{filepath.Join(other, "one.pem"), filepath.Join(other, "two.pem")}; fmt.Sprint(sn.Files.CRLs) != fmt.Sprint(want) ||
		strings.Contains(sn.Text, crl) || !strings.Contains(sn.Text, want[1]) {
		t.Errorf("--crl: files %v, want %v:\n%s", sn.Files.CRLs, want, sn.Text)
	}
}

// revocationCode matches what checks revocation in each stack's code.
var revocationCode = regexp.MustCompile(`crl_check|ssl_crl|--crlfile|crl: \[|VERIFY_CRL_CHECK|verification_flags|loadCRLs|add_crl|CRL_CHECK`)

// codeLines are a snippet's lines that are not comments.
func codeLines(text string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if l := strings.TrimSpace(line); !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "//") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestSnippetQuoting renders every stack with paths holding spaces and
// quotes: the shell snippets must still name the files as one word each.
func TestSnippetQuoting(t *testing.T) {
	dir := t.TempDir()
	p := snippet.Params{Name: "x", Files: snippet.Files{
		CA: filepath.Join(dir, "it's a dir", "ca.pem"), Cert: filepath.Join(dir, "c $HOME.pem"),
		Chain: filepath.Join(dir, `ch"ain #{x}.pem`), Key: filepath.Join(dir, "k;ey.pem"),
		CRLs: []string{filepath.Join(dir, "c r'l.pem"), filepath.Join(dir, "ro`ot` $(crl).pem")},
	}}
	for _, s := range snippet.Stacks() {
		sn, err := snippet.Render(s.Name, p, nil)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if s.Language != "shell" {
			continue
		}
		// Replace the command by one that prints its arguments.
		script := "curl() { for a; do printf '<%s>\\n' \"$a\"; done; }\nopenssl() { for a; do printf '<%s>\\n' \"$a\"; done; }\ncat() { for a; do printf '<%s>\\n' \"$a\" >&2; done; }\n" + sn.Text
		out, err := exec.Command("sh", "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", s.Name, err, out)
		}
		files := []string{p.Files.CA, p.Files.Key, p.Files.CRLs[0]}
		if s.Name == "curl" {
			files = append(files, p.Files.CRLs[1]) // cat's
		}
		for _, f := range files {
			if !strings.Contains(string(out), "<"+f+">") {
				t.Errorf("%s: %q is not passed as one argument:\n%s", s.Name, f, out)
			}
		}
	}
}
