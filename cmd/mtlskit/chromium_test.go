package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The Chromium recipe (fixtures/subjects/chromium): headless Chromium as
// a client subject, its client certificate in a fresh NSS database,
// selected by a per-profile AutoSelectCertificateForUrls.
const chromiumCmd = "sh fixtures/subjects/chromium/run.sh {url} {ca} {cert} {key} {dir}"

// browsers serializes this package's Chromium runs: each holds it for one
// harness run (at most two browsers at once, see chromiumHarness) or one
// recipe run. More browsers at once starve the timing-sensitive tests of
// the packages that run alongside on two cores.
var browsers sync.Mutex

func needChromium(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"chromium", "certutil", "pk12util"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (.ci/run installs chromium and libnss3-tools)", tool)
		}
	}
	// The recipe's driver needs Python 3.11 (subprocess's process_group).
	if err := exec.Command("/usr/bin/python3", "-c", "import sys; sys.exit(sys.version_info < (3, 11))").Run(); err != nil {
		t.Skip("/usr/bin/python3 3.11 or newer is not installed")
	}
}

// chromiumHarness is runJSON with room for browsers: each scenario
// starts one, so the run takes seconds per scenario. GOMAXPROCS=1 makes
// the harness run two encounters at a time (2 x GOMAXPROCS), not four.
func chromiumHarness(t *testing.T, args ...string) (int, map[string]verdictRow, string) {
	t.Helper()
	browsers.Lock()
	defer browsers.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, append(append([]string{"harness", "run"}, args...), "--format", "json")...)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(cleanEnv(), "GOMAXPROCS=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("harness run: %v\n%s", err, errb.String())
	}
	var doc struct {
		Results []verdictRow `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("exit %d, not JSON (%v):\n%s\n%s", code, err, out.String(), errb.String())
	}
	rows := map[string]verdictRow{}
	for _, v := range doc.Results {
		rows[v.Name] = v
	}
	return code, rows, errb.String()
}

func clientSaid(r verdictRow) string {
	if r.Client == nil {
		return ""
	}
	return strings.Join(r.Client.Output, "\n")
}

// TestChromiumClientMatrix pins Chromium's verdict on every client-side
// scenario in TLS 1.3 (fixtures/subjects/chromium/README.md has the
// table), and on three of them in TLS 1.2, where the verdicts are the same
// (a browser per scenario is heavy on two cores): it accepts the good
// servers, sending its certificate once it has been selected, and refuses
// every bad one with alert 46 certificate_unknown, naming the net error;
// no CN fallback, no second try after a refusal. It accepts the revoked
// server too: no CRL fetch, no OCSP request.
func TestChromiumClientMatrix(t *testing.T) {
	t.Parallel()
	needChromium(t)
	refused := want{outcome: "rejected-tls", reason: "tls-alert", pass: true}
	netError := map[string]string{
		"server-missing-san": "ERR_CERT_COMMON_NAME_INVALID", "server-wrong-ca": "ERR_CERT_AUTHORITY_INVALID",
		"server-self-signed": "ERR_CERT_AUTHORITY_INVALID", "server-expired": "ERR_CERT_DATE_INVALID",
		"server-not-yet-valid": "ERR_CERT_DATE_INVALID", "server-hostname-mismatch": "ERR_CERT_COMMON_NAME_INVALID",
		"server-ip-not-in-san": "ERR_CERT_COMMON_NAME_INVALID", "server-client-eku": "ERR_CERT_INVALID",
		"server-missing-intermediate": "ERR_CERT_AUTHORITY_INVALID",
	}
	// One version after the other: four browsers at once is enough for
	// two cores.
	for version, scenarios := range map[string][]string{"1.3": nil, "1.2": {"valid-server", "server-missing-san", "server-expired"}} {
		t.Run("TLS"+version, func(t *testing.T) {
			args := []string{"--client-cmd", chromiumCmd, "--tls-version", version, "--command-timeout", "45s"}
			for _, s := range scenarios {
				args = append(args, "--scenario", s)
			}
			code, rows, stderr := chromiumHarness(t, args...)
			// Chromium does no online revocation check for a local CA by
			// default: server-revoked fails, and only it.
			if wantCode := map[bool]int{true: 1, false: 0}[scenarios == nil]; code != wantCode {
				t.Errorf("exit %d, want %d\n%s", code, wantCode, stderr)
			}
			wants := map[string]want{"valid-server": accepted, "server-full-chain": accepted, "server-revoked": wronglyOK}
			for name, e := range netError {
				// The net error names the reason where it says which
				// check failed (harness/classify.go).
				w := refused
				switch e {
				case "ERR_CERT_COMMON_NAME_INVALID":
					w.reason = "host-mismatch"
				case "ERR_CERT_AUTHORITY_INVALID":
					w.reason = "unknown-ca"
				}
				wants[name] = w
			}
			if scenarios != nil {
				all := wants
				wants = map[string]want{}
				for _, s := range scenarios {
					wants[s] = all[s]
				}
			}
			checkRows(t, rows, wants)
			if m := rows["server-revoked"].Mismatch; scenarios == nil && !strings.Contains(m, "never fetched the CRL") {
				t.Errorf("server-revoked: %q", m)
			}
			for name, row := range rows {
				said := clientSaid(row)
				if e, ok := netError[name]; ok {
					if row.Refused != "client" || !strings.Contains(row.Reason.Text, "alert 46 certificate_unknown") || !strings.Contains(said, "net::"+e) {
						t.Errorf("%s: refused by %q, %q; the client said:\n%s\nwant alert 46 and net::%s", name, row.Refused, row.Reason.Text, said, e)
					}
					// The fetch and the WebSocket each refuse once, before
					// any certificate was asked for: no retry.
					if !strings.Contains(said, "began 2 TLS handshake(s)") || !strings.Contains(said, "sent its client certificate in 0") {
						t.Errorf("%s: the client said:\n%s", name, said)
					}
					continue
				}
				// Three handshakes: the first ends at the CertificateRequest
				// (Chromium selects, then reconnects), the fetch and the
				// WebSocket send the certificate.
				if w := "began 3 TLS handshake(s) with localhost:"; !strings.Contains(said, w) || !strings.Contains(said, "sent its client certificate in 2, completed TLS "+version+", TLS "+version) {
					t.Errorf("%s: the client said:\n%s", name, said)
				}
			}
		})
	}
}

// TestChromiumNeedsTheSelectionAndThePreflight: without the per-profile
// selection headless Chromium waits for a user (the fetch never ends);
// without the fetch before it, the WebSocket has no selected certificate
// and fails with ERR_SSL_CLIENT_AUTH_CERT_NEEDED. Either way the server
// sees a handshake closed at its CertificateRequest.
func TestChromiumNeedsTheSelectionAndThePreflight(t *testing.T) {
	t.Parallel()
	needChromium(t)
	// Without the selection the fetch never gets an answer (the net log
	// usually shows the request for a certificate still pending, when it
	// was written out before Chromium was stopped: not pinned). Without
	// the fetch, the WebSocket is asked for a certificate and has none.
	for flag, said := range map[string][]string{
		"--no-auto-select": nil,
		"--no-preflight":   {"net::ERR_SSL_CLIENT_AUTH_CERT_NEEDED"},
	} {
		t.Run(flag, func(t *testing.T) {
			t.Parallel()
			cmd := strings.Replace(chromiumCmd, "run.sh ", "run.sh "+flag+" --timeout 8 ", 1)
			code, rows, stderr := chromiumHarness(t, "--client-cmd", cmd, "--scenario", "valid-server", "--command-timeout", "30s")
			checkRows(t, rows, map[string]want{"valid-server": {outcome: "rejected-tls", reason: "handshake-aborted", pass: false}})
			row := rows["valid-server"]
			out := clientSaid(row)
			found := said == nil
			for _, s := range said {
				found = found || strings.Contains(out, s)
			}
			if code != 1 || row.Refused != "client" || !found || !strings.Contains(out, "sent its client certificate in 0") || strings.Contains(out, "preflight fetch: answered") {
				t.Errorf("exit %d, refused by %q, the client said:\n%s\nwant one of %q\n%s", code, row.Refused, out, said, stderr)
			}
			t.Logf("the client said:\n%s", out)
		})
	}
}

// TestChromiumAfterAClientCertificateRefusal: a server that refuses every
// client certificate, after Chromium's side of the handshake is done (in
// TLS 1.3 by design, in TLS 1.2 because Chromium false-starts). The
// fetch fails with ERR_BAD_SSL_CLIENT_AUTH_CERT and Chromium forgets the
// selection, so the WebSocket after it is asked for a certificate it no
// longer has and goes without; or, when the fetch's request write loses
// the race with the server's alert (ERR_SOCKET_NOT_CONNECTED), Chromium
// keeps the selection and presents the certificate again on the
// WebSocket, which fails too (ERR_BAD_SSL_CLIENT_AUTH_CERT, or only
// ERR_SOCKET_NOT_CONNECTED in the net log). Neither falls back to another
// TLS version or retries.
func TestChromiumAfterAClientCertificateRefusal(t *testing.T) {
	t.Parallel()
	needChromium(t)
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init")
	mustRun(t, dir, "issue", "server", "--san", "localhost,127.0.0.1")
	mustRun(t, dir, "issue", "client", "--cn", "alice")
	issued := filepath.Join(dir, "pki", "issued")
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			t.Parallel()
			refusals := make(chan string, 8)
			addr := refusingServer(t, filepath.Join(issued, "localhost"), version, refusals)
			_, port, _ := net.SplitHostPort(addr)
			out, code := runRecipe(t, "wss://localhost:"+port+"/", filepath.Join(dir, "pki", "ca", "root.pem"),
				filepath.Join(issued, "alice", "cert.pem"), filepath.Join(issued, "alice", "key.pem"), t.TempDir())
			close(refusals)
			n := 0
			for s := range refusals {
				if s != "CN=alice" {
					t.Errorf("refused %q", s)
				}
				n++
			}
			v := strings.TrimPrefix(tls.VersionName(version), "TLS ")
			other := map[string]string{"1.3": "1.2", "1.2": "1.3"}[v]
			refusal := strings.Contains(out, "net::ERR_BAD_SSL_CLIENT_AUTH_CERT") || strings.Contains(out, "net::ERR_SOCKET_NOT_CONNECTED")
			if code != 1 || !strings.Contains(out, "began 3 TLS handshake(s)") || !refusal || strings.Contains(out, "TLS "+other) {
				t.Errorf("exit %d, the client said:\n%s", code, out)
			}
			switch {
			case n == 1 && strings.Contains(out, "sent its client certificate in 1") && strings.Contains(out, "net::ERR_SSL_CLIENT_AUTH_CERT_NEEDED: the WebSocket was asked"):
				t.Logf("Chromium forgot the selection after the refusal:\n%s", out)
			case n == 2 && strings.Contains(out, "sent its client certificate in 2"):
				t.Logf("Chromium kept the selection after the refusal:\n%s", out)
			default:
				t.Errorf("%d certificates refused; the client said:\n%s", n, out)
			}
		})
	}
}

// refusingServer serves HTTPS on 127.0.0.1 in one TLS version, asks for
// any client certificate (no CA names, so Chromium offers its own) and
// refuses each one it gets, reporting its subject.
func refusingServer(t *testing.T, files string, version uint16, refusals chan<- string) string {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(files, "chain.pem"), filepath.Join(files, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{cert}, MinVersion: version, MaxVersion: version, ClientAuth: tls.RequireAnyClientCert,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if c, err := x509.ParseCertificate(raw[0]); err == nil {
				select {
				case refusals <- c.Subject.String():
				default:
				}
			}
			return errors.New("refused")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "not reached") })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// runRecipe runs the Chromium recipe once, as the harness does: in its
// own process group, which is killed if it outlives its limit.
func runRecipe(t *testing.T, args ...string) (string, int) {
	t.Helper()
	browsers.Lock()
	defer browsers.Unlock()
	cmd := exec.Command("sh", append([]string{"fixtures/subjects/chromium/run.sh", "--timeout", "20"}, args...)...)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(cleanEnv(), "MTLSKIT="+binPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("the recipe ran over 60s:\n%s", out.String())
	}
	// Nothing of the browser may outlive the recipe.
	if err := syscall.Kill(-cmd.Process.Pid, 0); err == nil {
		t.Errorf("processes of the recipe's group are still running")
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), code
}
