package main

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mtlskit/mtlskit/harness"
)

// repoRoot is where the fixtures are; the harness runs commands in the
// caller's working directory, so templates use paths from here.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

type verdictRow struct {
	Name     string `json:"name"`
	Pass     bool   `json:"pass"`
	Mark     string `json:"mark"`
	Outcome  string `json:"outcome"`
	Refused  string `json:"refused_by"`
	Mismatch string `json:"mismatch"`
	Above    string `json:"above"`
	Reason   struct{ ID, Text string }
	Layers   struct {
		TLS struct {
			ClientCertRequest string `json:"client_cert_request"`
			Renegotiated      bool   `json:"renegotiated"`
		} `json:"tls"`
		HTTP struct {
			StatusCode int `json:"status_code"`
		} `json:"http"`
	} `json:"layers"`
	Client *struct {
		ExitCode int      `json:"exit_code"`
		Output   []string `json:"output"`
	} `json:"client"`
}

// runJSON runs `mtlskit harness run ARGS --format json` from the repo root
// and returns the exit code and the results by scenario.
func runJSON(t *testing.T, args ...string) (int, map[string]verdictRow, result) {
	t.Helper()
	r := mtlskit(t, repoRoot(t), nil, append(append([]string{"harness", "run"}, args...), "--format", "json")...)
	var doc struct {
		Results []verdictRow `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("exit %d, not JSON (%v):\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	rows := map[string]verdictRow{}
	for _, v := range doc.Results {
		rows[v.Name] = v
	}
	return r.code, rows, r
}

// want is the expected verdict of one scenario: outcome, reason ID (or
// HTTP status for rejected-http) and pass.
type want struct {
	outcome string
	reason  string
	status  int
	pass    bool
}

func checkRows(t *testing.T, rows map[string]verdictRow, wants map[string]want) {
	t.Helper()
	if len(rows) != len(wants) {
		t.Errorf("%d results, want %d", len(rows), len(wants))
	}
	for name, w := range wants {
		got, ok := rows[name]
		if !ok {
			t.Errorf("%s: no result", name)
			continue
		}
		if got.Outcome != w.outcome || got.Pass != w.pass || (w.reason != "" && got.Reason.ID != w.reason) || (w.status != 0 && got.Layers.HTTP.StatusCode != w.status) {
			t.Errorf("%s: got %s [%s] status %d pass=%v (%s; %s), want %+v", name, got.Outcome, got.Reason.ID, got.Layers.HTTP.StatusCode, got.Pass, got.Reason.Text, got.Mismatch, w)
		}
	}
}

func needNginx(t *testing.T) {
	if _, err := exec.LookPath("nginx"); err != nil {
		t.Skip("nginx is not installed (.ci/run installs nginx-light)")
	}
}

func needPythonWebsockets(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import websockets").Run(); err != nil {
		t.Skip("/usr/bin/python3 with websockets is not installed (.ci/run installs python3-websockets)")
	}
}

const nginxCmd = "sh fixtures/subjects/nginx/run.sh {dir} {port} {chain} {key} {ca} "

var (
	accepted  = want{outcome: "accepted", reason: "echo-verified", pass: true}
	http400   = want{outcome: "rejected-http", reason: "http-status", status: 400, pass: true}
	wronglyOK = want{outcome: "accepted", reason: "echo-verified", pass: false}
	// notHanded: revoked-client is skipped for a server that was not
	// handed the run's CRL ({crl}).
	notHanded = want{outcome: "skipped", reason: "not-applicable", pass: true}
)

func TestNginxVerifyClientOnRefusesEveryBadClientWith400(t *testing.T) {
	t.Parallel()
	needNginx(t)
	// {crl}: nginx's ssl_crl refuses the revoked client too.
	code, rows, r := runJSON(t, "--server-cmd", nginxCmd+"on {crl}", "--target", "wss://localhost:{port}/echo")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, r.stderr)
	}
	checkRows(t, rows, map[string]want{
		"valid-client": accepted, "server-sends-chain": accepted, "client-via-intermediate": accepted, "large-message": accepted,
		"no-client-cert": http400, "wrong-ca-client": http400, "self-signed-client": http400,
		"expired-client": http400, "not-yet-valid-client": http400, "server-eku-as-client": http400, "revoked-client": http400,
	})
	for name, text := range map[string]string{"no-client-cert": "No required SSL certificate was sent", "expired-client": "The SSL certificate error"} {
		if !strings.Contains(rows[name].Reason.Text, text) {
			t.Errorf("%s: reason %q lacks nginx's %q", name, rows[name].Reason.Text, text)
		}
	}

	// --strict-tls: the same 400s now fail, and say why.
	code, rows, _ = runJSON(t, "--server-cmd", nginxCmd+"on", "--strict-tls", "--scenario", "no-client-cert", "--scenario", "valid-client")
	strict := http400
	strict.pass = false
	checkRows(t, rows, map[string]want{"valid-client": accepted, "no-client-cert": strict})
	if code != 1 || !strings.Contains(rows["no-client-cert"].Mismatch, "--strict-tls") {
		t.Errorf("exit %d, mismatch %q", code, rows["no-client-cert"].Mismatch)
	}
}

func TestNginxVerifyClientOptionalIsCaught(t *testing.T) {
	t.Parallel()
	needNginx(t)
	code, rows, _ := runJSON(t, "--server-cmd", nginxCmd+"optional", "--target", "wss://localhost:{port}/echo")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	checkRows(t, rows, map[string]want{
		"valid-client": accepted, "server-sends-chain": accepted, "client-via-intermediate": accepted, "large-message": accepted,
		"no-client-cert":  wronglyOK, // optional lets a client without a certificate through
		"wrong-ca-client": http400, "self-signed-client": http400,
		"expired-client": http400, "not-yet-valid-client": http400, "revoked-client": notHanded, "server-eku-as-client": http400,
	})
}

func TestNginxVerifyClientOptionalNoCAIsCaught(t *testing.T) {
	t.Parallel()
	needNginx(t)
	code, rows, _ := runJSON(t, "--server-cmd", nginxCmd+"optional_no_ca", "--target", "wss://localhost:{port}/echo")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	checkRows(t, rows, map[string]want{
		"valid-client": accepted, "server-sends-chain": accepted, "client-via-intermediate": accepted, "large-message": accepted,
		// optional_no_ca passes any issuer: no cert, an unrelated CA, self-signed
		"no-client-cert": wronglyOK, "wrong-ca-client": wronglyOK, "self-signed-client": wronglyOK,
		// but still checks dates and purpose of what it can chain
		"expired-client": http400, "not-yet-valid-client": http400, "revoked-client": notHanded, "server-eku-as-client": http400,
	})
}

const pyServer = "/usr/bin/python3 fixtures/subjects/python-websockets/server.py {port} {ca} {chain} {key}"
const pyClient = "/usr/bin/python3 fixtures/subjects/python-websockets/client.py"

func TestPythonServerRefusesBadClientsInTLS(t *testing.T) {
	t.Parallel()
	needPythonWebsockets(t)
	for _, version := range []string{"1.2", "1.3"} {
		t.Run("TLS"+version, func(t *testing.T) {
			t.Parallel()
			code, rows, r := runJSON(t, "--server-cmd", pyServer, "--tls-version", version)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, r.stderr)
			}
			// asyncio drops a refused client without sending the alert: in
			// TLS 1.2 mid-handshake, in 1.3 after the client's Finished
			// with no session ticket. Both are the server refusing in TLS.
			refused := want{outcome: "rejected-tls", reason: "handshake-aborted", pass: true}
			checkRows(t, rows, map[string]want{
				"valid-client": accepted, "server-sends-chain": accepted, "client-via-intermediate": accepted, "large-message": accepted,
				"no-client-cert": refused, "wrong-ca-client": refused, "self-signed-client": refused,
				"expired-client": refused, "not-yet-valid-client": refused, "revoked-client": notHanded, "server-eku-as-client": refused,
			})
			for n, row := range rows {
				if row.Outcome == "rejected-tls" && row.Refused != "server" {
					t.Errorf("%s refused by %q", n, row.Refused)
				}
			}
		})
	}
}

func TestPythonClientMatrix(t *testing.T) {
	t.Parallel()
	needPythonWebsockets(t)
	for _, version := range []string{"1.2", "1.3"} {
		t.Run("hardened TLS"+version, func(t *testing.T) {
			t.Parallel()
			testHardenedPythonClient(t, version)
		})
	}
	t.Run("python default CN fallback", func(t *testing.T) {
		t.Parallel()
		code, rows, _ := runJSON(t, "--client-cmd", pyClient+" --cn-fallback {url} {ca} {cert} {key}", "--scenario", "server-missing-san", "--scenario", "valid-server")
		checkRows(t, rows, map[string]want{"valid-server": accepted, "server-missing-san": wronglyOK})
		if m := rows["server-missing-san"].Mismatch; code != 1 || !strings.Contains(m, "sent an HTTP request (GET /)") || !strings.Contains(m, "Common Name") {
			t.Errorf("exit %d, mismatch %q", code, m)
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		t.Parallel()
		// Python says "did not receive a valid HTTP response"; the server
		// saw the truth: it refused the client for want of a certificate.
		code, rows, _ := runJSON(t, "--client-cmd", pyClient+" {url} {ca} - -", "--scenario", "valid-server", "--tls-version", "1.3")
		checkRows(t, rows, map[string]want{"valid-server": {outcome: "rejected-tls", reason: "certificate-required", pass: false}})
		row := rows["valid-server"]
		if code != 1 || row.Refused != "server" || !strings.Contains(row.Reason.Text, "did not receive a valid HTTP response") {
			t.Errorf("exit %d, %+v", code, row)
		}
	})
}

// testHardenedPythonClient runs the client-side matrix against the
// fixture client in one TLS version. asyncio closes without sending its
// alert in both versions; the reason comes from OpenSSL's message.
func testHardenedPythonClient(t *testing.T, version string) {
	code, rows, r := runJSON(t, "--client-cmd", pyClient+" {url} {ca} {cert} {key} {crl}", "--tls-version", version)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, r.stderr)
	}
	ref := func(id string) want { return want{outcome: "rejected-tls", reason: id, pass: true} }
	checkRows(t, rows, map[string]want{
		"valid-server": accepted, "server-full-chain": accepted,
		"server-missing-san": ref("host-mismatch"), "server-wrong-ca": ref("unknown-ca"),
		"server-self-signed": ref("unknown-ca"), "server-expired": ref("expired"),
		"server-not-yet-valid": ref("not-yet-valid"), "server-hostname-mismatch": ref("host-mismatch"),
		"server-ip-not-in-san": ref("no-ip-san"), "server-client-eku": ref("incompatible-key-usage"),
		"server-missing-intermediate": ref("unknown-ca"),
		// With {crl} and VERIFY_CRL_CHECK_LEAF: OpenSSL's "certificate revoked".
		"server-revoked": ref("certificate-revoked"),
	})
	if c := rows["server-expired"].Client; c == nil || c.ExitCode != 1 || !strings.Contains(strings.Join(c.Output, "\n"), "certificate has expired") {
		t.Errorf("client evidence: %+v", c)
	}
}

func TestClientCommandContract(t *testing.T) {
	t.Parallel()
	// A client that claims success without connecting fails every scenario.
	code, rows, _ := runJSON(t, "--client-cmd", "true {url}", "--scenario", "valid-server", "--scenario", "server-expired")
	checkRows(t, rows, map[string]want{
		"valid-server":   {outcome: "connect-failed", reason: "no-connection", pass: false},
		"server-expired": {outcome: "connect-failed", reason: "no-connection", pass: false},
	})
	if code != 1 {
		t.Errorf("exit %d", code)
	}
}

func TestServerCommandFailuresAreClear(t *testing.T) {
	t.Parallel()
	t.Run("exits early", func(t *testing.T) {
		t.Parallel()
		r := mtlskit(t, repoRoot(t), nil, "harness", "run", "--server-cmd", `sh -c 'echo "nginx: [emerg] no such file" >&2; exit 3'`)
		if r.code != 1 || !strings.Contains(r.stderr, "exited (exit status 3) before opening port") || !strings.Contains(r.stderr, "[emerg] no such file") {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
	})
	t.Run("never opens its port", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		r := mtlskit(t, repoRoot(t), nil, "harness", "run", "--server-cmd", `sh -c 'echo waiting; sleep 60' {port}`, "--start-timeout", "500ms", "--stop-grace", "200ms")
		if r.code != 1 || !strings.Contains(r.stderr, "did not open port") || !strings.Contains(r.stderr, "waiting") || time.Since(start) > 20*time.Second {
			t.Fatalf("exit %d after %s\n%s", r.code, time.Since(start), r.stderr)
		}
	})
	t.Run("hangs on shutdown", func(t *testing.T) {
		t.Parallel()
		// The shell and its sleep ignore SIGTERM (the Go echo does not):
		// killed after the grace period, and the run fails saying so.
		r := mtlskit(t, repoRoot(t), nil, "harness", "run", "--scenario", "valid-client", "--stop-grace", "300ms", "--timeout", "1s",
			"--server-cmd", `sh -c 'trap "" TERM; "$MTLSKIT" harness echo --quiet --listen 127.0.0.1:$0 & sleep 60' {port}`)
		if r.code != 1 || !strings.Contains(r.stderr, "did not exit within 300ms of SIGTERM") {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
	})
}

func TestHarnessExternalUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--client-cmd", "client {url} {nope}"}, "unknown placeholder {nope}"},
		{[]string{"--client-cmd", "client 'unterminated"}, "unterminated single quote"},
		{[]string{"--target", "wss://localhost:8443/"}, "--target needs --pki"},
		{[]string{"--server-cmd", "srv {port}", "--target", "wss://localhost:{port}/{ca}"}, "{ca} is not allowed"},
		{[]string{"--client-cmd", "c {url}", "--scenario", "valid-client"}, "not under test"},
		{[]string{"--accept-on", "close"}, "echo or upgrade"},
	} {
		r := mtlskit(t, repoRoot(t), nil, append([]string{"harness", "run"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// treeHashes maps every file under dir to its SHA-256.
func treeHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		out[p] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHarnessTargetWithStoreLeavesTheStoreUntouched(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := filepath.Join(dir, "pki")
	env := []string{"MTLSKIT_CA_PASSPHRASE=s3cret pass"}
	for _, args := range [][]string{
		{"ca", "init", "--dir", store, "--cn", "Target Test Root CA", "--intermediate", "--encrypt-key"},
		{"issue", "server", "--dir", store, "--san", "localhost,127.0.0.1"},
	} {
		if r := mtlskit(t, dir, env, args...); r.code != 0 {
			t.Fatalf("%v: exit %d %s", args, r.code, r.stderr)
		}
	}
	// A strict wss echo server, as an operator would run it, from the store.
	var idx struct {
		Entries []struct{ Name, Kind, Cert, Key, Chain string }
	}
	data, err := os.ReadFile(filepath.Join(store, "index.json"))
	if err != nil || json.Unmarshal(data, &idx) != nil {
		t.Fatalf("index: %v", err)
	}
	var certFile, keyFile string
	for _, e := range idx.Entries {
		if e.Kind == "server" {
			certFile, keyFile = filepath.Join(store, e.Chain), filepath.Join(store, e.Key)
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	rootPEM, _ := os.ReadFile(filepath.Join(store, "ca", "root.pem"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(rootPEM)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			mt, msg, err := ws.ReadMessage()
			if err != nil || ws.WriteMessage(mt, msg) != nil {
				return
			}
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()

	before := treeHashes(t, store)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	r := mtlskit(t, dir, env, "harness", "run", "--pki", store, "--target", "wss://localhost:"+port+"/echo")
	if r.code != 0 || !strings.Contains(r.stdout, "10 of 11 scenarios passed, 0 failed, 1 skipped") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	after := treeHashes(t, store)
	if len(before) != len(after) {
		t.Fatalf("the store's files changed: %d before, %d after", len(before), len(after))
	}
	for p, h := range before {
		if after[p] != h {
			t.Errorf("%s changed", p)
		}
	}
	// Without the passphrase there is no terminal to ask on: a clear error.
	r = mtlskit(t, dir, nil, "harness", "run", "--pki", store, "--target", "wss://localhost:"+port+"/echo")
	if r.code == 0 || !strings.Contains(r.stderr, "MTLSKIT_CA_PASSPHRASE") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
}

func TestHarnessServeAndEcho(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(binPath, "harness", "serve", "--json")
	cmd.Env = cleanEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-done
	}()
	var doc struct {
		CA, Cert, Key string
		Scenarios     []struct{ Name, URL string }
	}
	lines := make(chan error, 1)
	go func() { lines <- json.NewDecoder(bufio.NewReader(stdout)).Decode(&doc) }()
	select {
	case err := <-lines:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no URLs printed")
	}
	if len(doc.Scenarios) != len(harness.OfSide(harness.Scenarios(), harness.ClientSide)) {
		t.Fatalf("%d scenarios", len(doc.Scenarios))
	}
	urls := map[string]string{}
	for _, s := range doc.Scenarios {
		urls[s.Name] = s.URL
	}
	cert, err := tls.LoadX509KeyPair(doc.Cert, doc.Key)
	if err != nil {
		t.Fatal(err)
	}
	rootPEM, _ := os.ReadFile(doc.CA)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(rootPEM)
	dial := func(u string) error {
		d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}, HandshakeTimeout: 5 * time.Second}
		ws, _, err := d.Dial(u, nil)
		if err != nil {
			return err
		}
		defer ws.Close()
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if err := ws.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
			return err
		}
		_, msg, err := ws.ReadMessage()
		if err == nil && string(msg) != "hi" {
			t.Errorf("echo %q", msg)
		}
		return err
	}
	if err := dial(urls["valid-server"]); err != nil {
		t.Errorf("valid-server: %v", err)
	}
	var ce *tls.CertificateVerificationError
	if err := dial(urls["server-expired"]); err == nil || !strings.Contains(err.Error(), "expired") || !errors.As(err, &ce) {
		t.Errorf("server-expired: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Errorf("serve after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
}

func TestHarnessEchoOnUnixSocket(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "echo.sock")
	cmd := exec.Command(binPath, "harness", "echo", "--listen", "unix:"+sock)
	cmd.Env = cleanEnv()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() { _ = cmd.Process.Kill(); <-done }()
	d := websocket.Dialer{NetDial: func(string, string) (net.Conn, error) { return net.Dial("unix", sock) }, HandshakeTimeout: 5 * time.Second}
	var ws *websocket.Conn
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ws, _, err = d.Dial("ws://backend/echo", nil); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := ws.WriteMessage(websocket.BinaryMessage, []byte{0, 1, 2, 255}); err != nil {
		t.Fatal(err)
	}
	if mt, msg, err := ws.ReadMessage(); err != nil || mt != websocket.BinaryMessage || string(msg) != "\x00\x01\x02\xff" {
		t.Fatalf("%d %q %v", mt, msg, err)
	}
	ws.Close()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Errorf("echo after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("echo did not stop on SIGTERM")
	}
	if r := mtlskit(t, "", nil, "harness", "echo", "--listen", "0.0.0.0:9000"); r.code != 2 || !strings.Contains(r.stderr, "loopback") {
		t.Errorf("non-loopback listen: exit %d %s", r.code, r.stderr)
	}
}
