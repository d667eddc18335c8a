package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Purpose-built fakes of the six classes of real behaviour that made
// verdicts about servers wrong (the verdict-truth issue). The real stacks
// (nginx with a slow backend, Ruby's SSLServer with one certificate,
// Puma + faye-websocket, HAProxy's 403) are judged through the binary in
// cmd/mtlskit; these pin each class in both TLS versions, fast, on
// 127.0.0.1, every wait bounded.

var bothVersions = []struct {
	name    string
	version uint16
}{{"tls1.2", tls.VersionTLS12}, {"tls1.3", tls.VersionTLS13}}

// serveTLS serves h on 127.0.0.1 over TLS with cfg and returns the
// wss:// URL (by name).
func serveTLS(t *testing.T, cfg *tls.Config, h http.Handler) string {
	t.Helper()
	return oddServer(t, cfg, nil, h)
}

// runTargetReport runs the server-side scenarios against url and returns
// the report (or Run's error).
func runTargetReport(t *testing.T, url string, opts Options) (*Report, error) {
	t.Helper()
	return runScenariosAt(t, url, OfSide(Scenarios(), ServerSide), opts)
}

// Class 1: a front that is up before its back. The port accepts at once,
// but for its first 600 ms every request meets 502 Bad Gateway (a proxy
// whose backend is still starting). The run waits for the server to be
// ready, then judges it: every verdict true, and the wait reported.
func TestAFrontUpBeforeItsBackIsWaitedFor(t *testing.T) {
	m := testMaterials()
	for _, v := range bothVersions {
		t.Run(v.name, func(t *testing.T) {
			up := time.Now().Add(600 * time.Millisecond)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if time.Now().Before(up) {
					w.Header().Set("Server", "fake-proxy/1.0")
					status(http.StatusBadGateway, "<html><head><title>502 Bad Gateway</title></head></html>")(w, r)
					return
				}
				if !validClientCert(m, r.TLS.PeerCertificates) {
					status(http.StatusBadRequest, "<title>400 The SSL certificate error</title>")(w, r)
					return
				}
				echoHandler(w, r)
			})
			url := serveTLS(t, serverTLS(m, tls.RequestClientCert), h)
			rep, err := runTargetReport(t, url, Options{TLSVersion: v.version, ReadyTimeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() || rep.Passed() != len(rep.Results)-1 || rep.Skipped() != 1 || rep.ReadyTries < 2 || rep.Ready < 400*time.Millisecond {
				t.Fatalf("ok=%v passed %d of %d, ready after %s and %d tries", rep.OK(), rep.Passed(), len(rep.Results), rep.Ready, rep.ReadyTries)
			}
			for _, r := range rep.Results {
				if judgedReject(r) && (r.Outcome != RejectedHTTP || r.Layers.HTTP.StatusCode != 400) {
					t.Errorf("%s: %s %d", r.Scenario.Name, r.Outcome, r.Layers.HTTP.StatusCode)
				}
			}
		})
	}
}

// Class 1, never ready, and class 6: a front whose backend never comes up,
// and a target where nothing listens, are run errors that say what was
// last seen, not a matrix of verdicts about a server never reached.
func TestAServerThatNeverBecomesReadyIsARunError(t *testing.T) {
	m := testMaterials()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "nginx/1.22.1")
		status(http.StatusBadGateway, "<html><head><title>502 Bad Gateway</title></head></html>")(w, r)
	})
	url := serveTLS(t, serverTLS(m, tls.RequestClientCert), h)
	_, err := runTargetReport(t, url, Options{ReadyTimeout: 700 * time.Millisecond})
	var nr *NotReadyError
	if !errors.As(err, &nr) || nr.Tries < 2 || !strings.Contains(err.Error(), "never became ready within 700ms") ||
		!strings.Contains(err.Error(), "last answer 502 Bad Gateway from nginx/1.22.1") {
		t.Errorf("502 forever: %v", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = runTargetReport(t, "wss://"+addr+"/", Options{ReadyTimeout: 300 * time.Millisecond})
	if !errors.As(err, &nr) || !strings.Contains(err.Error(), "nothing listens on "+addr) {
		t.Errorf("nothing listening: %v", err)
	}
}

// Class 2: a server that sends only its leaf (Ruby's SSLContext#cert and
// others load one certificate from a PEM file). The chain is judged by
// server-sends-chain alone, with the fix; the client-certificate
// scenarios are still judged, and no row claims the server never asked
// for a certificate.
func TestALeafOnlyServerIsOneFindingNotNine(t *testing.T) {
	m := testMaterials()
	for _, v := range bothVersions {
		t.Run(v.name, func(t *testing.T) {
			cfg := serverTLS(m, tls.RequireAndVerifyClientCert)
			cfg.Certificates = []tls.Certificate{m.ServerViaIntermediate.TLSCertificate(false)}
			url := serveTLS(t, cfg, http.HandlerFunc(echoHandler))
			rep, err := runTargetReport(t, url, Options{TLSVersion: v.version})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rep.Results {
				if strings.Contains(r.Mismatch, "never requested") {
					t.Errorf("%s claims what was not seen: %s", r.Scenario.Name, r.Mismatch)
				}
				switch {
				case r.Scenario.Name == "server-sends-chain":
					if r.Pass || r.Outcome != RejectedTLS || r.RefusedBy != PartyClient || r.Reason.ID != ReasonUnknownCA ||
						!strings.Contains(r.Mismatch, "the server sent only its leaf: make it send the leaf followed by its intermediates ({chain})") || !strings.Contains(r.Mismatch, "extra_chain_cert") {
						t.Errorf("server-sends-chain: pass=%v %s by %q [%s]: %s", r.Pass, r.Outcome, r.RefusedBy, r.Reason.ID, r.Mismatch)
					}
				case !r.Pass:
					t.Errorf("%s: %s %s: %s", r.Scenario.Name, r.Outcome, r.Reason.Text, r.Mismatch)
				}
			}
			if rep.Failed() != 1 || rep.OK() {
				t.Errorf("%d failed (want 1: the chain), ok=%v", rep.Failed(), rep.OK())
			}
		})
	}
}

// Class 3: a refusal below a failure. A server that refuses every bad
// certificate in the TLS handshake, then never answers the upgrade of a
// good one (the bug log's Puma + faye-websocket): the TLS refusals are
// conclusive, since the valid-client control got past TLS, and each says
// what broke above it; valid-client fails at the upgrade.
func TestARefusalBelowAFailureIsConclusive(t *testing.T) {
	m := testMaterials()
	hang := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	for _, v := range bothVersions {
		t.Run(v.name, func(t *testing.T) {
			url := serveTLS(t, serverTLS(m, tls.RequireAndVerifyClientCert), hang)
			rep, err := runTargetReport(t, url, Options{TLSVersion: v.version, Timeout: 700 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rep.Results {
				switch {
				case r.Scenario.Name == "valid-client":
					if r.Pass || r.Outcome != NoUpgrade || r.Reason.ID != ReasonUpgradeTimeout {
						t.Errorf("valid-client: pass=%v %s [%s]", r.Pass, r.Outcome, r.Reason.ID)
					}
				case judgedReject(r):
					if !r.Pass || r.Inconclusive || r.Outcome != RejectedTLS || r.RefusedBy != PartyServer ||
						!strings.HasPrefix(r.Above, "http: the valid-client control got past tls but failed at http: no-upgrade") {
						t.Errorf("%s: pass=%v inconclusive=%v %s: %s / above %q", r.Scenario.Name, r.Pass, r.Inconclusive, r.Outcome, r.Mismatch, r.Above)
					}
				}
			}
		})
	}
}

// muteConn drops everything written once muted: a server that refuses a
// certificate and closes without sending its alert (Puma does).
type muteConn struct {
	net.Conn
	muted atomic.Bool
}

func (c *muteConn) Write(p []byte) (int, error) {
	if c.muted.Load() {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

type muteListener struct{ net.Listener }

func (l muteListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &muteConn{Conn: c}, nil
}

// silentRefuser serves echo over TLS, verifying client certificates in
// the handshake but closing without an alert on a bad one, with no
// session tickets: in TLS 1.3 the client's handshake has finished by
// then, and it sees only a close. maxVersion caps the versions it speaks
// (0: 1.2 and 1.3).
func silentRefuser(t *testing.T, m *Materials, minVersion uint16) string {
	t.Helper()
	base := serverTLS(m, tls.RequestClientCert)
	base.SessionTicketsDisabled = true
	base.MinVersion = minVersion
	base.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		cfg := base.Clone()
		cfg.GetConfigForClient = nil
		conn := hello.Conn.(*muteConn)
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			var certs []*x509.Certificate
			for _, b := range raw {
				c, err := x509.ParseCertificate(b)
				if err != nil {
					conn.muted.Store(true)
					return err
				}
				certs = append(certs, c)
			}
			if !validClientCert(m, certs) {
				conn.muted.Store(true)
				return errors.New("refused")
			}
			return nil
		}
		return cfg, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(echoHandler), ReadHeaderTimeout: 2 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(tls.NewListener(muteListener{ln}, base)) }()
	t.Cleanup(func() { _ = srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return "wss://localhost:" + port + "/echo"
}

// Class 4: TLS 1.3 closes that cannot be read. The server refuses bad
// certificates in the handshake without an alert and sends no tickets,
// so in TLS 1.3 the client sees its handshake finish, then a close: it
// cannot tell a refusal from a breakage. Each such encounter is re-run
// pinned to TLS 1.2, where the same refusal happens inside the
// handshake; both observations are kept.
func TestATLS13CloseIsDecidedInTLS12(t *testing.T) {
	m := testMaterials()
	rep, err := runTargetReport(t, silentRefuser(t, m, 0), Options{TLSVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("the run is not OK: %s", strings.Join(mismatches(rep), "; "))
	}
	for _, r := range rep.Results {
		if !judgedReject(r) {
			continue
		}
		if !r.Pass || r.TLS13 == nil || !r.TLS13.Layers.TLS.Ambiguous || r.TLS13.Layers.TLS.Version != "TLS 1.3" ||
			r.Layers.TLS.Version != "TLS 1.2" || r.Outcome != RejectedTLS || r.RefusedBy != PartyServer || r.Reason.ID != ReasonHandshakeAborted ||
			!strings.Contains(r.Reason.Text, "[decided in TLS 1.2") {
			t.Errorf("%s: pass=%v %s %s [%s]: %s (%s) first=%+v", r.Scenario.Name, r.Pass, r.Layers.TLS.Version, r.Outcome, r.Reason.ID, r.Reason.Text, r.Mismatch, r.TLS13)
		}
	}
}

// Class 4, a server that speaks only TLS 1.3: the re-run cannot decide,
// so each such verdict stays inconclusive, saying why.
func TestATLS13OnlyCloseStaysInconclusive(t *testing.T) {
	m := testMaterials()
	rep, err := runTargetReport(t, silentRefuser(t, m, tls.VersionTLS13), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if !judgedReject(r) {
			continue
		}
		if r.Pass || !r.Inconclusive || r.TLS13 == nil || !strings.Contains(r.Mismatch, "the TLS 1.2 re-run that would decide it failed") ||
			!strings.Contains(r.Mismatch, "does the server speak TLS 1.2?") {
			t.Errorf("%s: pass=%v inconclusive=%v: %s", r.Scenario.Name, r.Pass, r.Inconclusive, r.Mismatch)
		}
	}
	if rep.Inconclusive() != len(serverRejects()) || rep.OK() {
		t.Errorf("%d inconclusive, ok=%v", rep.Inconclusive(), rep.OK())
	}
	rep.AllowInconclusive = true
	if !rep.OK() {
		t.Error("--allow-inconclusive: the run should be OK")
	}
}

// mismatches lists the report's non-passing results, for a failure message.
func mismatches(rep *Report) []string {
	var out []string
	for _, r := range rep.Results {
		if !r.Pass {
			out = append(out, r.Scenario.Name+": "+r.Mismatch)
		}
	}
	return out
}

// Class 6, counts: a skipped scenario is not a pass. With a store root
// that may not sign an intermediate, the intermediate scenarios are
// skipped, and the counts say so.
func TestSkipsAreCountedApart(t *testing.T) {
	rep := &Report{Kind: KindScenarios, Results: []Result{
		{Pass: true, Verdict: Verdict{Outcome: Accepted}},
		{Pass: true, Verdict: Verdict{Outcome: Skipped}},
		{Pass: false, Verdict: Verdict{Outcome: RejectedTLS}},
		{Pass: false, Inconclusive: true, Verdict: Verdict{Outcome: RejectedTLS}},
	}}
	if rep.Passed() != 1 || rep.Skipped() != 1 || rep.Failed() != 1 || rep.Inconclusive() != 1 || rep.OK() {
		t.Errorf("passed %d skipped %d failed %d inconclusive %d ok %v", rep.Passed(), rep.Skipped(), rep.Failed(), rep.Inconclusive(), rep.OK())
	}
	rep.Results = rep.Results[:2]
	if !rep.OK() {
		t.Error("a pass and a skip: the run is OK")
	}
	rep.RunError = "never ready"
	if rep.OK() {
		t.Error("a run error is never OK")
	}
}

// server-sends-chain judges the TLS layer only: a server whose chain is
// right but whose WebSocket layer is broken passes it, with what broke
// above said apart (valid-client fails for that).
func TestServerSendsChainJudgesTLSOnly(t *testing.T) {
	m := testMaterials()
	cfg := serverTLS(m, tls.RequireAndVerifyClientCert)
	cfg.Certificates = []tls.Certificate{m.ServerViaIntermediate.TLSCertificate(true)}
	url := serveTLS(t, cfg, status(http.StatusNotFound, "Not Found\n"))
	res := runTarget(t, url, OfSide(Scenarios(), ServerSide), Options{})
	if r := res["server-sends-chain"]; !r.Pass || r.Outcome != RejectedHTTP || !strings.HasPrefix(r.Above, "http: the TLS handshake verified, then the encounter ended rejected-http") {
		t.Errorf("server-sends-chain: pass=%v %s above %q (%s)", r.Pass, r.Outcome, r.Above, r.Mismatch)
	}
	if r := res["valid-client"]; r.Pass {
		t.Error("valid-client passed a server that answers 404")
	}
}

// revoked-client needs the server to hold the run's CRL: a server started
// outside the harness cannot be handed it, so the scenario is skipped,
// saying so, not failed.
func TestRevokedClientIsSkippedForATarget(t *testing.T) {
	m := testMaterials()
	url := serveTLS(t, serverTLS(m, tls.RequireAndVerifyClientCert), http.HandlerFunc(echoHandler))
	res := runTargetWant(t, url, OfSide(Scenarios(), ServerSide), Options{}, true)
	if r := res["revoked-client"]; r.Outcome != Skipped || r.Reason.ID != ReasonNotApplicable || !strings.Contains(r.Reason.Text, "cannot be handed the run's CRL ({crl})") {
		t.Errorf("revoked-client: %s %s", r.Outcome, r.Reason.Text)
	}
}

// crlBlindServer is the reference server handed no CRL: it accepts a
// revoked client certificate, as a server that was not configured to
// check revocation does.
type crlBlindServer struct{ ServerSubject }

func (s crlBlindServer) Start(ctx context.Context, cfg ServerConfig) (RunningServer, error) {
	cfg.Encounter.ClientCRLs = nil
	return s.ServerSubject.Start(ctx, cfg)
}

// Importance gates the run: a server that does everything right but
// revocation fails revoked-client (medium); --fail-on high lets the run
// pass while still reporting the failure, --fail-on medium does not.
func TestFailOnGatesByImportance(t *testing.T) {
	for _, c := range []struct {
		failOn Importance
		ok     bool
	}{{0, false}, {ImportanceMedium, false}, {ImportanceHigh, true}, {ImportanceCritical, true}} {
		rep, err := Run(context.Background(), OfSide(Scenarios(), ServerSide), Options{Server: crlBlindServer{ReferenceServer()}, Materials: testMaterials(), FailOn: c.failOn})
		if err != nil {
			t.Fatal(err)
		}
		var revoked Result
		for _, r := range rep.Results {
			if r.Scenario.Name == "revoked-client" {
				revoked = r
			}
		}
		if rep.OK() != c.ok || rep.Failed() != 1 || revoked.Pass || revoked.Outcome != Accepted || revoked.Scenario.Importance != ImportanceMedium ||
			!strings.Contains(revoked.Mismatch, "the server accepted a revoked certificate") {
			t.Errorf("--fail-on %s: ok=%v failed=%d, revoked-client %s %s", c.failOn, rep.OK(), rep.Failed(), revoked.Outcome, revoked.Mismatch)
		}
	}
}

// Every scenario has an importance; CN fallback and a missing client
// certificate are critical, revocation starts at medium.
func TestEveryScenarioHasAnImportance(t *testing.T) {
	for _, s := range Scenarios() {
		if s.Importance < ImportanceMedium || s.Importance > ImportanceCritical {
			t.Errorf("%s has no importance", s.Name)
		}
	}
	for name, want := range map[string]Importance{"server-missing-san": ImportanceCritical, "no-client-cert": ImportanceCritical, "revoked-client": ImportanceMedium, "server-revoked": ImportanceMedium} {
		if s, _ := Lookup(name); s[0].Importance != want {
			t.Errorf("%s: %s, want %s", name, s[0].Importance, want)
		}
	}
	if _, err := ParseImportance("urgent"); err == nil {
		t.Error("ParseImportance accepts urgent")
	}
}
