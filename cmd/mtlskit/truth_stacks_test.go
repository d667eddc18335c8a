package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The verdict-truth classes, each reproduced with a real third-party
// stack from Debian's packages (fixtures/subjects/*), judged through the
// binary and pinned per scenario in TLS 1.2 and 1.3. harness/truth_test.go
// pins the same classes with purpose-built fakes.

var tlsVersions = []string{"1.2", "1.3"}

func needPackage(t *testing.T, tool, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s is not installed (.ci/run installs %s)", tool, pkg)
	}
}

// needRubyGem skips unless ruby can load the library (Debian's ruby-* packages).
func needRubyGem(t *testing.T, lib, pkg string) {
	t.Helper()
	needPackage(t, "ruby", "ruby")
	if err := exec.Command("ruby", "-e", "require '"+lib+"'").Run(); err != nil {
		t.Skipf("ruby cannot load %s (.ci/run installs %s)", lib, pkg)
	}
}

var (
	tlsRefused = want{outcome: "rejected-tls", pass: true}
	noUpgrade  = want{outcome: "no-upgrade", reason: "upgrade-timeout", pass: false}
)

// Class 1, nginx with a slow backend: nginx opens its port at once and
// answers 502 until its backend starts a second later. The run waits for
// it and then judges it whole; a backend that never comes up within
// --start-timeout is a run error (exit 3, no rows).
func TestNginxWithASlowBackendIsWaitedFor(t *testing.T) {
	t.Parallel()
	needNginx(t)
	const cmd = "sh fixtures/subjects/nginx-slow-backend/run.sh {dir} {port} {chain} {key} {ca} "
	for _, v := range tlsVersions {
		r := mtlskit(t, repoRoot(t), nil, "harness", "run", "--tls-version", v, "--server-cmd", cmd+"1", "--target", "wss://localhost:{port}/echo", "--format", "json")
		var doc struct {
			ReadyMS float64 `json:"ready_ms"`
			Summary struct{ Total, Passed, Failed int }
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 0 || doc.Summary.Passed != 10 || doc.Summary.Total != 11 || doc.ReadyMS < 700 {
			t.Errorf("TLS %s: exit %d, %+v ready after %.0f ms (%v)\n%s", v, r.code, doc.Summary, doc.ReadyMS, err, r.stderr)
		}
	}
	r := mtlskit(t, repoRoot(t), nil, "harness", "run", "--server-cmd", cmd+"5", "--target", "wss://localhost:{port}/echo", "--start-timeout", "800ms")
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code != exitRunError || r.stdout != "" || len(lines) != 1 || !strings.Contains(lines[0], "the server never became ready within 800ms") ||
		!strings.Contains(lines[0], "last answer 502 Bad Gateway from nginx/") {
		t.Errorf("never ready: exit %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
}

// Class 2, Ruby's OpenSSL::SSL::SSLServer given the chain file: it loads
// only the first certificate. One finding (server-sends-chain, with the
// fix), and every client-certificate scenario still judged; the same
// server sending its chain passes everything.
func TestRubyServerThatSendsOnlyItsLeaf(t *testing.T) {
	t.Parallel()
	needRubyGem(t, "openssl", "ruby")
	const cmd = "sh fixtures/subjects/ruby-leaf-only/run.sh {port} {ca} {chain} {key}"
	for _, v := range tlsVersions {
		code, rows, r := runJSON(t, "--tls-version", v, "--server-cmd", cmd)
		if code != 1 {
			t.Errorf("TLS %s: exit %d\n%s", v, code, r.stderr)
		}
		chain := want{outcome: "rejected-tls", reason: "unknown-ca", pass: false}
		checkRows(t, rows, map[string]want{
			"valid-client": accepted, "server-sends-chain": chain, "client-via-intermediate": accepted, "large-message": accepted,
			"no-client-cert": tlsRefused, "wrong-ca-client": tlsRefused, "self-signed-client": tlsRefused,
			"expired-client": tlsRefused, "not-yet-valid-client": tlsRefused, "revoked-client": notHanded, "server-eku-as-client": tlsRefused,
		})
		if m := rows["server-sends-chain"].Mismatch; !strings.Contains(m, "the server sent only its leaf: make it send the leaf followed by its intermediates ({chain})") || !strings.Contains(m, "extra_chain_cert") {
			t.Errorf("TLS %s: server-sends-chain says %q", v, m)
		}
		for name, row := range rows {
			if strings.Contains(row.Mismatch, "never requested") {
				t.Errorf("TLS %s: %s claims the server never asked: %s", v, name, row.Mismatch)
			}
		}
		if code, _, r := runJSON(t, "--tls-version", v, "--server-cmd", cmd+" full"); code != 0 {
			t.Errorf("TLS %s, with extra_chain_cert: exit %d\n%s", v, code, r.stdout)
		}
	}
}

const pumaFaye = "sh fixtures/subjects/puma-faye/run.sh {dir} {port} {chain} {key} {ca} openssl"

// Classes 3 and 4, the bug log's Puma + faye-websocket server (Debian's
// puma 5.6, ruby-faye-websocket, ruby-eventmachine): Puma refuses every
// bad certificate in the TLS handshake by closing without an alert, then
// never answers the upgrade of a good one (faye cannot attach Puma's TLS
// socket to EventMachine). Every TLS refusal passes, conclusively, and
// valid-client fails no-upgrade. In TLS 1.3 the refusal closes come after
// the client's Finished: they are decided by TLS 1.2 re-runs, or by the
// control's session ticket.
func TestPumaFayeRefusesInTLSAndNeverAnswersTheUpgrade(t *testing.T) {
	t.Parallel()
	needPackage(t, "puma", "puma")
	needRubyGem(t, "faye/websocket", "ruby-faye-websocket")
	for _, v := range tlsVersions {
		t.Run("TLS"+v, func(t *testing.T) {
			t.Parallel()
			code, rows, r := runJSON(t, "--tls-version", v, "--timeout", "1500ms", "--stop-grace", "1s", "--server-cmd", pumaFaye)
			if code != 1 {
				t.Errorf("exit %d\n%s", code, r.stderr)
			}
			for _, name := range []string{"no-client-cert", "wrong-ca-client", "self-signed-client", "expired-client", "not-yet-valid-client", "server-eku-as-client"} {
				row := rows[name]
				if !row.Pass || row.Outcome != "rejected-tls" || row.Refused != "server" || !strings.Contains(row.Above, "the valid-client control got past tls but failed at http: no-upgrade") {
					t.Errorf("%s: pass=%v %s by %q [%s] above %q: %s", name, row.Pass, row.Outcome, row.Refused, row.Reason.ID, row.Above, row.Mismatch)
				}
			}
			if row := rows["valid-client"]; row.Pass || row.Outcome != noUpgrade.outcome || row.Reason.ID != noUpgrade.reason {
				t.Errorf("valid-client: pass=%v %s [%s]", row.Pass, row.Outcome, row.Reason.ID)
			}
			// server-sends-chain judges the chain: Puma sends it.
			if row := rows["server-sends-chain"]; !row.Pass {
				t.Errorf("server-sends-chain: %s %s", row.Outcome, row.Mismatch)
			}
		})
	}
}

// verify --connect against the same server says in plain words what
// harness run says: with a certificate, TLS and the certificate are fine
// and the upgrade is never answered; without one, the server refuses it.
func TestVerifyConnectAgainstPumaFaye(t *testing.T) {
	t.Parallel()
	needPackage(t, "puma", "puma")
	needRubyGem(t, "faye/websocket", "ruby-faye-websocket")
	dir := t.TempDir()
	store := filepath.Join(dir, "pki")
	for _, args := range [][]string{{"ca", "init", "--intermediate"}, {"issue", "server", "--san", "localhost,127.0.0.1"}, {"issue", "client", "--cn", "alice"}} {
		if r := mtlskit(t, dir, nil, append(args, "--dir", store)...); r.code != 0 {
			t.Fatalf("%v: %s", args, r.stderr)
		}
	}
	issued := filepath.Join(store, "issued")
	port := freeLoopbackPort(t)
	out := startServer(t, dir, nil, "sh", filepath.Join(repoRoot(t), "fixtures/subjects/puma-faye/run.sh"), dir, strconv.Itoa(port),
		filepath.Join(issued, "localhost", "chain.pem"), filepath.Join(issued, "localhost", "key.pem"), filepath.Join(store, "ca", "root.pem"), "openssl")
	waitPort(t, port, out)
	url := "wss://localhost:" + strconv.Itoa(port) + "/"

	r := mtlskit(t, dir, nil, "verify", "--dir", store, "--connect", url, "--timeout", "1500ms",
		"--cert", filepath.Join(issued, "alice", "chain.pem"), "--key", filepath.Join(issued, "alice", "key.pem"))
	for _, s := range []string{
		`PASS  live-tls`,
		`PASS  live-client-cert-accepted  decided in TLS 1.2: the server accepted the client certificate "CN=alice" in the TLS 1.2 handshake`,
		`TLS and the certificate are fine, the WebSocket layer is not`,
		`FAIL  live-http-upgrade          no answer to the upgrade request within 1.5s`,
	} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("with a certificate: no %q in\n%s", s, r.stdout)
		}
	}
	if r.code != 1 {
		t.Errorf("with a certificate: exit %d", r.code)
	}
	r = mtlskit(t, dir, nil, "verify", "--dir", store, "--connect", url, "--timeout", "1500ms")
	for _, s := range []string{
		`FAIL  live-client-cert-accepted  decided in TLS 1.2: refused: the server requires a client certificate and mtlskit sent none`,
		`PASS  live-lax-server            decided in TLS 1.2: the server refused a client without a certificate during the handshake`,
	} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("without a certificate: no %q in\n%s", s, r.stdout)
		}
	}
}

// Class 5, HAProxy with "verify optional" and a deny rule: every bad
// certificate meets the stock 403 page ("Request forbidden by
// administrative rules"), which never mentions a certificate. The same
// request with the valid certificate is upgraded, so each 403 is the
// certificate's doing: it passes, and fails with --strict-tls.
func TestHAProxyDenyRefusalsAreAttributedByDifference(t *testing.T) {
	t.Parallel()
	needPackage(t, "haproxy", "haproxy")
	const cmd = "sh fixtures/subjects/haproxy-deny/run.sh {dir} {port} {chain} {key} {ca}"
	http403 := want{outcome: "rejected-http", reason: "http-status", status: 403, pass: true}
	for _, v := range tlsVersions {
		code, rows, r := runJSON(t, "--tls-version", v, "--server-cmd", cmd)
		if code != 0 {
			t.Errorf("TLS %s: exit %d\n%s", v, code, r.stderr)
		}
		checkRows(t, rows, map[string]want{
			"valid-client": accepted, "server-sends-chain": accepted, "client-via-intermediate": accepted, "large-message": accepted,
			"no-client-cert": http403, "wrong-ca-client": http403, "self-signed-client": http403,
			"expired-client": http403, "not-yet-valid-client": http403, "revoked-client": notHanded, "server-eku-as-client": http403,
		})
		for name, row := range rows {
			if row.Outcome == "rejected-http" && (!strings.Contains(row.Reason.Text, "Request forbidden by administrative rules") ||
				!strings.Contains(row.Reason.Text, "valid-client, the same request with a valid certificate, was upgraded: the certificate caused this refusal")) {
				t.Errorf("TLS %s %s: %s", v, name, row.Reason.Text)
			}
		}
	}
	if code, rows, _ := runJSON(t, "--strict-tls", "--server-cmd", cmd, "--scenario", "no-client-cert"); code != 1 || rows["no-client-cert"].Pass {
		t.Errorf("--strict-tls: exit %d, %+v", code, rows["no-client-cert"])
	}
}

// Class 6: a --target where nothing listens is a run error: one line,
// exit 3, no PASS or FAIL rows; the JSON report holds the error and no
// results.
func TestATargetWhereNothingListensIsARunError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := filepath.Join(dir, "pki")
	if r := mtlskit(t, dir, nil, "ca", "init", "--dir", store); r.code != 0 {
		t.Fatal(r.stderr)
	}
	port := strconv.Itoa(freeLoopbackPort(t))
	r := mtlskit(t, dir, nil, "harness", "run", "--pki", store, "--target", "wss://localhost:"+port+"/", "--start-timeout", "500ms")
	if r.code != exitRunError || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 ||
		!strings.Contains(r.stderr, "never became ready within 500ms") || !strings.Contains(r.stderr, "nothing listens on localhost:"+port) {
		t.Errorf("exit %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
	r = mtlskit(t, dir, nil, "harness", "run", "--pki", store, "--target", "wss://localhost:"+port+"/", "--start-timeout", "500ms", "--format", "json")
	var doc struct {
		RunError string            `json:"run_error"`
		Results  []json.RawMessage `json:"results"`
		Summary  struct {
			Total, Passed, Failed int
			RunErrors             int `json:"run_errors"`
			OK                    bool
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != exitRunError || doc.RunError == "" || len(doc.Results) != 0 ||
		doc.Summary.RunErrors != 1 || doc.Summary.Passed != 0 || doc.Summary.OK {
		t.Errorf("json: exit %d %v %+v\n%s", r.code, err, doc, r.stdout)
	}
}
