package main

import (
	"bytes"
	"context"
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
// `mtlskit harness run --pki --target` (the server-side scenarios); every
// client snippet is run against each scenario server of harness.Serve
// (minted from the same store's CA) and must accept valid-server and
// server-full-chain and refuse the rest.

// snippetLab is a store with an intermediate CA, a server certificate
// "localhost" and a client certificate "alice", and the client-side
// scenario servers minted from its CA.
type snippetLab struct {
	dir, store string
	urls       map[string]string // client-side scenario -> wss:// URL
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
	l := newSnippetLab(t)
	port, _, out := startNginxSnippet(t, l)
	judgeServerSnippet(t, l, port, out)
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
func clientCases(cnFallback bool) []clientCase {
	var cs []clientCase
	m := snippetMaterials()
	for _, s := range harness.OfSide(harness.Scenarios(), harness.ClientSide) {
		accept := s.Expect == harness.Accept || (cnFallback && s.Name == "server-missing-san")
		// None of the client snippets checks revocation: each accepts
		// server-revoked's certificate, which the harness reports as "does
		// not check revocation" (docs/troubleshooting.md says how to turn
		// it on per stack). Pinned here so a snippet that starts checking
		// flips this on purpose.
		if s.Setup(m).RevokedServer {
			accept = true
		}
		cs = append(cs, clientCase{s.Name, accept})
	}
	return cs
}

// snippetMaterials are materials to read scenario setups from.
var snippetMaterials = sync.OnceValue(func() *harness.Materials {
	m, err := harness.NewMaterials()
	if err != nil {
		panic(err)
	}
	return m
})

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
	l := newSnippetLab(t)
	l.serve(t)
	port := freeLoopbackPort(t)
	programs := map[string]string{"go-server": l.render(t, "go-server", "localhost", "--listen", fmt.Sprintf("127.0.0.1:%d", port))}
	cases := clientCases(false)
	for _, c := range cases {
		programs["clients/"+c.scenario] = l.render(t, "go-client", "alice", "--url", l.urls[c.scenario])
	}
	bins := goModule(t, programs)

	t.Run("server", func(t *testing.T) {
		out := startServer(t, l.dir, nil, bins["go-server"])
		waitPort(t, port, out)
		judgeServerSnippet(t, l, port, out)
		judgeServerSnippet(t, l, port, out, "--tls-version", "1.2")
	})
	t.Run("client", func(t *testing.T) {
		checkClientSnippet(t, l, false, func(t *testing.T, url string) runOut {
			for _, c := range cases {
				if l.urls[c.scenario] == url {
					return execTool(t, l.dir, nil, 30*time.Second, bins["clients/"+c.scenario])
				}
			}
			t.Fatalf("no client built for %s", url)
			return runOut{}
		}, exitsZeroWithEcho)
	})
}

func TestSnippetPython(t *testing.T) {
	py := debianPython(t)
	l := newSnippetLab(t)
	t.Run("server", func(t *testing.T) {
		port := freeLoopbackPort(t)
		src := filepath.Join(l.dir, "server.py")
		if err := os.WriteFile(src, []byte(l.render(t, "python-server", "localhost", "--listen", fmt.Sprintf("127.0.0.1:%d", port))), 0o644); err != nil {
			t.Fatal(err)
		}
		out := startServer(t, l.dir, nil, py, src)
		waitPort(t, port, out)
		judgeServerSnippet(t, l, port, out)
	})
	t.Run("client", func(t *testing.T) {
		l.serve(t)
		checkClientSnippet(t, l, false, pythonClient(l, py), exitsZeroWithEcho)
	})
}

func pythonClient(l *snippetLab, py string) clientRunner {
	return func(t *testing.T, url string) runOut {
		src := filepath.Join(t.TempDir(), "client.py")
		if err := os.WriteFile(src, []byte(l.render(t, "python-client", "alice", "--url", url)), 0o644); err != nil {
			t.Fatal(err)
		}
		return execTool(t, l.dir, nil, 30*time.Second, py, src)
	}
}

func TestSnippetNode(t *testing.T) {
	node, nodePath := nodeWS(t)
	l := newSnippetLab(t)
	if nodePath == "" {
		// Without the ws package the snippets' TLS options are still
		// checked: a WebSocket upgrade by hand over https.request.
		l.serve(t)
		checkClientSnippet(t, l, false, nodeUpgradeClient(l, node), func(o runOut) bool {
			return o.code == 0 && strings.Contains(o.output, "upgrade ok: 101")
		})
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
	})
	t.Run("client", func(t *testing.T) {
		l.serve(t)
		checkClientSnippet(t, l, false, nodeClient(l, node, env), exitsZeroWithEcho)
	})
}

func nodeClient(l *snippetLab, node string, env []string) clientRunner {
	return func(t *testing.T, url string) runOut {
		src := filepath.Join(t.TempDir(), "client.js")
		if err := os.WriteFile(src, []byte(l.render(t, "node-client", "alice", "--url", url)), 0o644); err != nil {
			t.Fatal(err)
		}
		return execTool(t, l.dir, env, 30*time.Second, node, src)
	}
}

// nodeUpgradeClient keeps the node-client snippet's requires and
// tlsOptions and replaces the ws part with an upgrade over https.request.
func nodeUpgradeClient(l *snippetLab, node string) clientRunner {
	return func(t *testing.T, url string) runOut {
		text := l.render(t, "node-client", "alice", "--url", url)
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
}

func TestSnippetRubyClient(t *testing.T) {
	ruby := needTool(t, "ruby")
	l := newSnippetLab(t)
	l.serve(t)
	outs := checkClientSnippet(t, l, false, func(t *testing.T, url string) runOut {
		src := filepath.Join(t.TempDir(), "client.rb")
		if err := os.WriteFile(src, []byte(l.render(t, "ruby-client", "alice", "--url", url)), 0o644); err != nil {
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
	l := newSnippetLab(t)
	port := freeLoopbackPort(t)
	conf := filepath.Join(l.dir, "puma.rb")
	if err := os.WriteFile(conf, []byte(l.render(t, "puma", "localhost", "--listen", fmt.Sprintf("127.0.0.1:%d", port))), 0o644); err != nil {
		t.Fatal(err)
	}
	out := startServer(t, l.dir, nil, puma, "-C", conf)
	waitPort(t, port, out)
	judgeServerSnippet(t, l, port, out)
	judgeServerSnippet(t, l, port, out, "--tls-version", "1.2")

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
		return execTool(t, l.dir, nil, 30*time.Second, "sh", "-c", l.render(t, stack, "alice", "--url", url))
	}
}

func TestSnippetCurl(t *testing.T) {
	needTool(t, "curl")
	l := newSnippetLab(t)
	l.serve(t)
	// The reference server answers a GET that is not an upgrade with 400.
	checkClientSnippet(t, l, true, shellClient(l, "curl"), func(o runOut) bool {
		return o.code == 0 && regexp.MustCompile(`(?m)^400$`).MatchString(o.output)
	})
}

func TestSnippetOpenSSL(t *testing.T) {
	needTool(t, "openssl")
	l := newSnippetLab(t)
	l.serve(t)
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
}

// TestSnippetCLI checks the command's contract: --list, --json, and the
// one-line errors with their exit statuses.
func TestSnippetCLI(t *testing.T) {
	l := newSnippetLab(t)
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
			Files                       map[string]string
		}
		decodeJSON(t, r.stdout, &sn)
		if sn.Language != s.Language || sn.Files["ca"] != filepath.Join(abs, "ca", "root.pem") || sn.Files["key"] != filepath.Join(abs, "issued", name, "key.pem") {
			t.Errorf("%s: JSON %+v", s.Name, sn)
		}
		if !strings.Contains(sn.Text, filepath.Join(abs, "issued", name)) || !strings.Contains(sn.Text, filepath.Join(abs, "ca", "root.pem")) {
			t.Errorf("%s: the text does not name the store's files:\n%s", s.Name, sn.Text)
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
	} {
		r := mtlskit(t, l.dir, nil, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || r.stdout != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit %d and one line with %q", c.args, r.code, r.stderr, r.stdout, c.code, c.want)
		}
	}
}

// TestSnippetQuoting renders every stack with paths holding spaces and
// quotes: the shell snippets must still name the files as one word each.
func TestSnippetQuoting(t *testing.T) {
	dir := t.TempDir()
	p := snippet.Params{Name: "x", Files: snippet.Files{
		CA: filepath.Join(dir, "it's a dir", "ca.pem"), Cert: filepath.Join(dir, "c $HOME.pem"),
		Chain: filepath.Join(dir, `ch"ain #{x}.pem`), Key: filepath.Join(dir, "k;ey.pem"),
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
		script := "curl() { for a; do printf '<%s>\\n' \"$a\"; done; }\nopenssl() { for a; do printf '<%s>\\n' \"$a\"; done; }\n" + sn.Text
		out, err := exec.Command("sh", "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", s.Name, err, out)
		}
		for _, f := range []string{p.Files.CA, p.Files.Key} {
			if !strings.Contains(string(out), "<"+f+">") {
				t.Errorf("%s: %q is not passed as one argument:\n%s", s.Name, f, out)
			}
		}
	}
}
