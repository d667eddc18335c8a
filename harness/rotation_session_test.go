package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// helperCRLServer is a mutual-TLS echo server, PORT CHAIN KEY CA CRL
// MODE, that refuses a client whose leaf the CRL file lists. MODE
// "reread" reads the file at every handshake (a server that reloads its
// CRL) and leaves open connections alone, as crypto/tls does; "once"
// reads it at start only; "enforce" rereads it and also closes an open
// WebSocket (close code 1008) once its certificate has expired or the
// file lists it, checked every 100 ms: the enforcement docs/rotation.md
// describes. (A test fake: it matches serials and does not check the
// CRL's signature.)
func helperCRLServer(args []string) int {
	if len(args) != 6 {
		fmt.Fprintln(os.Stderr, "helper crl server: PORT CHAIN KEY CA CRL MODE")
		return 2
	}
	cfg, err := helperTLS(args[3], args[1], args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper crl server:", err)
		return 1
	}
	crlFile, mode := args[4], args[5]
	atStart := listedSerials(crlFile)
	listed := func() map[string]bool {
		if mode == "once" {
			return atStart
		}
		return listedSerials(crlFile)
	}
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) > 0 && listed()[cs.PeerCertificates[0].SerialNumber.Text(16)] {
			return fmt.Errorf("client certificate %x is revoked", cs.PeerCertificates[0].SerialNumber)
		}
		return nil
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:"+args[0], cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper crl server:", err)
		return 1
	}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	err = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		if mode == "enforce" {
			go enforce(ws, r.TLS.PeerCertificates[0], listed)
		}
		var mu sync.Mutex
		for {
			mt, data, err := ws.ReadMessage()
			mu.Lock()
			if err != nil || ws.WriteMessage(mt, data) != nil {
				mu.Unlock()
				return
			}
			mu.Unlock()
		}
	}))
	fmt.Fprintln(os.Stderr, "helper crl server:", err)
	return 1
}

// enforce closes ws once leaf has expired or is listed.
func enforce(ws *websocket.Conn, leaf *x509.Certificate, listed func() map[string]bool) {
	for range time.Tick(100 * time.Millisecond) {
		why := ""
		switch {
		case time.Now().After(leaf.NotAfter):
			why = "certificate expired"
		case listed()[leaf.SerialNumber.Text(16)]:
			why = "certificate revoked"
		}
		if why != "" {
			_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, why), time.Now().Add(time.Second))
			ws.Close()
			return
		}
	}
}

// listedSerials reads the serials a PEM file of CRLs lists.
func listedSerials(file string) map[string]bool {
	out := map[string]bool{}
	data, _ := os.ReadFile(file)
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return out
		}
		if crl, err := x509.ParseRevocationList(b.Bytes); err == nil {
			for _, e := range crl.RevokedCertificateEntries {
				out[e.SerialNumber.Text(16)] = true
			}
		}
	}
}

// sessionRun runs one during-connection scenario against server (a
// command template, or "" for the reference server).
func runSessionScenario(t *testing.T, m *Materials, name, cmd string, ro RotationOptions) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Materials: m, Timeout: 2 * time.Second, Rotation: ro}
	if cmd != "" {
		tpl, err := ParseTemplate(cmd)
		if err != nil {
			t.Fatal(err)
		}
		p, err := StartServerCommand(ctx, ServerCommandConfig{Command: tpl, Materials: m, Dir: t.TempDir(), StopGrace: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop()
		opts.Server = p.Subject(cmd)
	}
	var r Result
	if ro.Run {
		rep, err := Run(ctx, s, opts)
		if err != nil {
			t.Fatal(err)
		}
		r = rep.Results[0]
	} else {
		// Run leaves out what was not asked; RunScenario says why.
		r = RunScenario(ctx, s[0], m, opts)
	}
	if r.Session != nil {
		t.Logf("%s on %q: pass %v observed %v, %s %s; session %+v", name, cmd, r.Pass, r.Observed, r.Reason.Text, r.Mismatch, *r.Session)
	}
	return r
}

func crlHelper(t *testing.T, mode string) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return `sh -c '` + helperEnv + `=crl-server exec "$0" "$@"' ` + quote(exe) + ` {port} {chain} {key} {ca} {crl} ` + mode
}

// TestClientCertExpiresDuringConnection: crypto/tls (the reference
// server) keeps a connection whose client certificate expired, and
// refuses a new one with it: observed, not failed, unless the run
// expects a close. A server that closes at NotAfter is observed closed,
// about when the certificate expired, and passes that expectation.
func TestClientCertExpiresDuringConnection(t *testing.T) {
	t.Parallel()
	m, err := NewMaterials()
	if err != nil {
		t.Fatal(err)
	}
	quick := RotationOptions{Run: true, ShortLifetime: 2 * time.Second, ObserveFor: 2 * time.Second, Timeout: 2 * time.Second}
	t.Run("reference-server-keeps", func(t *testing.T) {
		t.Parallel()
		r := runSessionScenario(t, m, ExpiryScenario, "", quick)
		ev := r.Session
		if !r.Observed || !r.Pass || r.Reason.ID != ReasonConnectionKept || ev.OldConnection != "kept" {
			t.Fatalf("want an observation that the connection was kept: %+v", r.Verdict)
		}
		if ev.NewConnection != "refused" || !strings.Contains(ev.NewConnectionDetail, "expired") {
			t.Errorf("a new connection with the expired certificate: %s %s", ev.NewConnection, ev.NewConnectionDetail)
		}
		if ev.LifetimeMS > 4000 || ev.Pings < 5 || ev.ObservedForMS < 1900 {
			t.Errorf("lifetime %.0f ms, %d pings over %.0f ms after expiry", ev.LifetimeMS, ev.Pings, ev.ObservedForMS)
		}
	})
	t.Run("expecting-a-close-fails-on-keep", func(t *testing.T) {
		t.Parallel()
		ro := quick
		ro.CloseWithin = time.Second
		r := runSessionScenario(t, m, ExpiryScenario, "", ro)
		if r.Pass || r.Observed || !strings.Contains(r.Mismatch, "expected the server to close the connection within 1s") {
			t.Errorf("--expect-close-within on a server that keeps: pass %v observed %v: %s", r.Pass, r.Observed, r.Mismatch)
		}
	})
	t.Run("enforcing-server-closes", func(t *testing.T) {
		t.Parallel()
		ro := quick
		ro.CloseWithin = 1500 * time.Millisecond
		r := runSessionScenario(t, m, ExpiryScenario, crlHelper(t, "enforce"), ro)
		ev := r.Session
		if !r.Pass || r.Reason.ID != ReasonConnectionClosed || ev.ClosedAfterMS == nil {
			t.Fatalf("a server that closes at NotAfter: pass %v, %+v, %s", r.Pass, r.Verdict.Reason, r.Mismatch)
		}
		if *ev.ClosedAfterMS < -250 || *ev.ClosedAfterMS > 1500 || !strings.Contains(ev.OldConnectionDetail, "1008") {
			t.Errorf("closed %.0f ms after the expiry (%s): want about at it, with the server's close code", *ev.ClosedAfterMS, ev.OldConnectionDetail)
		}
		if ev.ControlConnection != "kept" || ev.ServerAfter != "accepted" || !strings.Contains(r.Reason.Text, "control connection of a valid client stayed open") {
			t.Errorf("the control connection (a valid client's) must have stayed open and the server still serve: %s, %s: %s", ev.ControlConnection, ev.ServerAfter, r.Reason.Text)
		}
	})
	t.Run("a-server-that-dies-is-inconclusive", func(t *testing.T) {
		// Killed after 2.5 s, about when the certificate expires: its
		// connections end, and that must not read as a close at expiry.
		t.Parallel()
		ro := quick
		ro.CloseWithin = 1500 * time.Millisecond
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := `sh -c '` + helperEnv + `=crl-server exec timeout 2.5 "$0" "$@"' ` + quote(exe) + ` {port} {chain} {key} {ca} {crl} reread`
		r := runSessionScenario(t, m, ExpiryScenario, cmd, ro)
		if r.Pass || !r.Inconclusive || !strings.Contains(r.Mismatch, "the server exited") {
			t.Errorf("a server that died: pass %v inconclusive %v: %s", r.Pass, r.Inconclusive, r.Mismatch)
		}
	})
	t.Run("not-asked-or-too-short", func(t *testing.T) {
		t.Parallel()
		r := runSessionScenario(t, m, ExpiryScenario, "", RotationOptions{})
		if r.Outcome != Skipped || !strings.Contains(r.Reason.Text, "runs only when named") {
			t.Errorf("not named: %+v", r.Verdict)
		}
		r = runSessionScenario(t, m, ExpiryScenario, "", RotationOptions{Run: true, ShortLifetime: time.Second})
		if r.Outcome != Skipped || !strings.Contains(r.Reason.Text, "whole seconds") {
			t.Errorf("1 s lifetime: %+v", r.Verdict)
		}
	})
}

// TestClientRevokedDuringConnection: the revocation reaches a server
// that rereads its CRL file (it refuses new connections with the
// certificate) and the open connection is observed kept or closed; a
// server that read the CRL once never refuses, and the verdict says so
// rather than calling the open connection kept.
func TestClientRevokedDuringConnection(t *testing.T) {
	t.Parallel()
	m, err := NewMaterials()
	if err != nil {
		t.Fatal(err)
	}
	quick := RotationOptions{Run: true, ObserveFor: 1500 * time.Millisecond, Timeout: 1500 * time.Millisecond}
	t.Run("rereads-keeps", func(t *testing.T) {
		t.Parallel()
		r := runSessionScenario(t, m, RevokedDuringScenario, crlHelper(t, "reread"), quick)
		ev := r.Session
		if !r.Observed || r.Reason.ID != ReasonConnectionKept || ev.NewConnection != "refused" || ev.NewRefusedAfterMS == nil {
			t.Fatalf("want kept, with new connections refused: %+v", r.Verdict)
		}
		if len(ev.PublishedVia) != 1 || !strings.Contains(ev.PublishedVia[0], "{crl}") || !strings.Contains(ev.Trigger, "nothing was sent") {
			t.Errorf("published %v, trigger %q", ev.PublishedVia, ev.Trigger)
		}
	})
	t.Run("enforcing-closes", func(t *testing.T) {
		t.Parallel()
		r := runSessionScenario(t, m, RevokedDuringScenario, crlHelper(t, "enforce"), quick)
		if !r.Observed || r.Reason.ID != ReasonConnectionClosed || r.Session.ClosedAfterMS == nil || *r.Session.ClosedAfterMS > 1000 {
			t.Fatalf("want closed soon after the revocation: %+v", r.Verdict)
		}
	})
	t.Run("reads-once-is-inconclusive", func(t *testing.T) {
		t.Parallel()
		r := runSessionScenario(t, m, RevokedDuringScenario, crlHelper(t, "once"), quick)
		if r.Pass || !r.Inconclusive || r.Session.NewConnection != "accepted" || !strings.Contains(r.Mismatch, "did not pick up the revocation") {
			t.Fatalf("a server that never learns of the revocation: %+v %s", r.Verdict, r.Mismatch)
		}
	})
	t.Run("needs-a-started-server-with-crl", func(t *testing.T) {
		t.Parallel()
		r := runSessionScenario(t, m, RevokedDuringScenario, "", quick)
		if r.Outcome != Skipped || !strings.Contains(r.Reason.Text, "--server-cmd") {
			t.Errorf("reference server: %+v", r.Verdict)
		}
		exe, _ := os.Executable()
		r = runSessionScenario(t, m, RevokedDuringScenario, `sh -c '`+helperEnv+`=server exec "$0" "$@"' `+quote(exe)+` {port} {chain} {key} {ca}`, quick)
		if r.Outcome != Skipped || !strings.Contains(r.Reason.Text, "add {crl} or {ocsp}") {
			t.Errorf("no {crl}: %+v", r.Verdict)
		}
	})
}

// helperHUPServer is a mutual-TLS echo server, PORT CHAIN KEY CA, that
// re-reads its CA file on SIGHUP (tls.Config.GetConfigForClient hands
// out the config of the last reload), the way a server that reloads its
// client CA bundle behaves.
func helperHUPServer(args []string) int {
	// adjust runs once serveHelper has checked args.
	return serveHelper("helper hup server", args, func(cfg *tls.Config) (*tls.Config, error) {
		var mu sync.Mutex
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		go func() {
			for range hup {
				c, err := helperTLS(args[3], args[1], args[2])
				if err != nil {
					fmt.Fprintln(os.Stderr, "helper hup server: reload:", err)
					continue
				}
				mu.Lock()
				cfg = c
				mu.Unlock()
			}
		}()
		return &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			mu.Lock()
			defer mu.Unlock()
			return cfg, nil
		}}, nil
	})
}

// TestClientCARotation: a server that re-reads its CA file on SIGHUP
// passes (the new CA's client accepted once it is added, the old CA's
// refused once it is removed); without the signal, or a server that read
// the file once, fails at the first step, saying it did not pick up the
// new bundle; and the server's {ca} file is put back after.
func TestClientCARotation(t *testing.T) {
	t.Parallel()
	m, err := NewMaterials()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	helper := func(mode string) string {
		return `sh -c '` + helperEnv + `=` + mode + ` exec "$0" "$@"' ` + quote(exe) + ` {port} {chain} {key} {ca}`
	}
	t.Run("rereads-on-hup", func(t *testing.T) {
		t.Parallel()
		r := runSessionScenario(t, m, CARotationScenario, helper("hup-server"), RotationOptions{Run: true, Signal: syscall.SIGHUP, Timeout: 3 * time.Second})
		ev := r.CARotation
		if !r.Pass || ev == nil || len(ev.Steps) != 3 {
			t.Fatalf("pass %v: %s; %+v", r.Pass, r.Mismatch, ev)
		}
		wants := [][]string{{"refused", "accepted"}, {"accepted", "accepted"}, {"refused", "accepted"}}
		for i, st := range ev.Steps {
			for j, c := range st.Checks {
				if c.Got != wants[i][j] || c.AfterMS == nil {
					t.Errorf("step %s check %s: got %s (%s)", st.Name, c.Client, c.Got, c.Reason)
				}
			}
		}
		if got := ev.Steps[1].CAFile; len(got) != 2 || got[1] != ev.NewCA {
			t.Errorf("the add step's CA file held %v", got)
		}
		if !strings.Contains(ev.Restored, "{ca} put back") {
			t.Errorf("restored: %q", ev.Restored)
		}
	})
	t.Run("no-reload-fails-at-add", func(t *testing.T) {
		t.Parallel()
		r := runSessionScenario(t, m, CARotationScenario, helper("hup-server"), RotationOptions{Run: true, Timeout: 700 * time.Millisecond})
		if r.Pass || r.Inconclusive || !strings.Contains(r.Mismatch, "did not pick up the new CA bundle") || r.CARotation.Steps[1].Checks[0].Probes < 2 {
			t.Errorf("without a trigger: pass %v, %s", r.Pass, r.Mismatch)
		}
	})
	t.Run("loads-once-fails-at-add", func(t *testing.T) {
		t.Parallel()
		r := runSessionScenario(t, m, CARotationScenario, helper("server"), RotationOptions{Run: true, Signal: syscall.SIGWINCH, Timeout: 700 * time.Millisecond})
		if r.Pass || !strings.Contains(r.Mismatch, "did not pick up the new CA bundle") {
			t.Errorf("a server that loads its CA once: pass %v, %s", r.Pass, r.Mismatch)
		}
	})
	t.Run("reference-server-skipped", func(t *testing.T) {
		t.Parallel()
		r := runSessionScenario(t, m, CARotationScenario, "", RotationOptions{Run: true})
		if r.Outcome != Skipped || !strings.Contains(r.Reason.Text, "--server-cmd") {
			t.Errorf("reference server: %+v", r.Verdict)
		}
	})
}
