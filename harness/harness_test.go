package harness

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// testMaterials are minted once for the whole test binary.
var testMaterials = sync.OnceValue(func() *Materials {
	m, err := NewMaterials()
	if err != nil {
		panic(err)
	}
	return m
})

// want is the exact verdict the reference pair must reach.
type want struct {
	outcome Outcome
	by      Party
	reason  ReasonID
	// alert is the alert code in the client's tls layer (received from the
	// server, or sent by the client); 0 for none.
	alert Alert
}

// wantVerdicts pins every scenario for a TLS version ("1.2" or "1.3").
func wantVerdicts(version string) map[string]want {
	noCert := want{RejectedTLS, PartyServer, ReasonCertificateRequired, 116}
	if version == "1.2" {
		// TLS 1.2 has no certificate_required alert: Go sends
		// handshake_failure, and the server's own error says why.
		noCert.alert = 40
	}
	return map[string]want{
		"valid-client":            {Accepted, "", ReasonEchoVerified, 0},
		"server-sends-chain":      {Accepted, "", ReasonEchoVerified, 0},
		"revoked-client":          {RejectedTLS, PartyServer, ReasonRevoked, 42},
		"server-revoked":          {RejectedTLS, PartyClient, ReasonRevoked, 42},
		"no-client-cert":          noCert,
		"wrong-ca-client":         {RejectedTLS, PartyServer, ReasonUnknownCA, 48},
		"self-signed-client":      {RejectedTLS, PartyServer, ReasonUnknownCA, 48},
		"expired-client":          {RejectedTLS, PartyServer, ReasonExpired, 45},
		"not-yet-valid-client":    {RejectedTLS, PartyServer, ReasonNotYetValid, 45},
		"server-eku-as-client":    {RejectedTLS, PartyServer, ReasonIncompatibleKeyUsage, 42},
		"client-via-intermediate": {Accepted, "", ReasonEchoVerified, 0},
		"large-message":           {Accepted, "", ReasonEchoVerified, 0},

		"valid-server":                {Accepted, "", ReasonEchoVerified, 0},
		"server-missing-san":          {RejectedTLS, PartyClient, ReasonLegacyCN, 42},
		"server-wrong-ca":             {RejectedTLS, PartyClient, ReasonUnknownCA, 42},
		"server-self-signed":          {RejectedTLS, PartyClient, ReasonUnknownCA, 42},
		"server-expired":              {RejectedTLS, PartyClient, ReasonExpired, 42},
		"server-not-yet-valid":        {RejectedTLS, PartyClient, ReasonNotYetValid, 42},
		"server-hostname-mismatch":    {RejectedTLS, PartyClient, ReasonHostMismatch, 42},
		"server-ip-not-in-san":        {RejectedTLS, PartyClient, ReasonNoIPSAN, 42},
		"server-client-eku":           {RejectedTLS, PartyClient, ReasonIncompatibleKeyUsage, 42},
		"server-missing-intermediate": {RejectedTLS, PartyClient, ReasonUnknownCA, 42},
		"server-full-chain":           {Accepted, "", ReasonEchoVerified, 0},
	}
}

func runAll(t *testing.T, version uint16, opts Options) *Report {
	t.Helper()
	opts.TLSVersion = version
	opts.Materials = testMaterials()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestReferencePairReachesTheExactVerdictOfEveryScenario runs the whole
// matrix in TLS 1.2 and 1.3 and pins outcome, refusing side, reason and
// alert of each scenario.
func TestReferencePairReachesTheExactVerdictOfEveryScenario(t *testing.T) {
	for _, v := range []struct {
		name    string
		version uint16
	}{{"1.3", tls.VersionTLS13}, {"1.2", tls.VersionTLS12}} {
		t.Run("tls"+v.name, func(t *testing.T) {
			rep := runAll(t, v.version, Options{})
			wants := wantVerdicts(v.name)
			if len(rep.Results) != len(wants) || len(rep.Results) != len(Scenarios()) {
				t.Fatalf("%d results, %d expectations, %d scenarios", len(rep.Results), len(wants), len(Scenarios()))
			}
			for i, r := range rep.Results {
				if r.Scenario.Name != Scenarios()[i].Name {
					t.Fatalf("result %d is %s, want %s: results must keep definition order", i, r.Scenario.Name, Scenarios()[i].Name)
				}
				w, ok := wants[r.Scenario.Name]
				if !ok {
					t.Fatalf("no expectation for scenario %s", r.Scenario.Name)
				}
				t.Run(r.Scenario.Name, func(t *testing.T) {
					checkVerdict(t, r, w, "TLS "+v.name)
				})
			}
		})
	}
}

func checkVerdict(t *testing.T, r Result, w want, version string) {
	t.Helper()
	if r.Outcome != w.outcome || r.RefusedBy != w.by || r.Reason.ID != w.reason {
		t.Fatalf("got %s by %q (%s: %s), want %s by %q (%s)", r.Outcome, r.RefusedBy, r.Reason.ID, r.Reason.Text, w.outcome, w.by, w.reason)
	}
	if !r.Pass {
		t.Errorf("scenario did not pass: %s", r.Mismatch)
	}
	if r.Layers.TLS.Version != version {
		t.Errorf("TLS version %q, want %q", r.Layers.TLS.Version, version)
	}
	var got Alert
	if r.Layers.TLS.Alert != nil {
		got = *r.Layers.TLS.Alert
	}
	if got != w.alert {
		t.Errorf("alert %d in the tls layer, want %d", got, w.alert)
	}
	if r.Server == nil {
		t.Fatal("no server observation")
	}
	s := r.Server.TLS
	switch {
	case w.outcome == Accepted:
		if r.Layers.HTTP.StatusCode != 101 || !r.Layers.WS.ByteExact || r.Layers.WS.Echoed != len(r.Scenario.Setup(testMaterials()).Messages) {
			t.Errorf("accepted without a full byte-exact echo: http %d, ws %+v", r.Layers.HTTP.StatusCode, r.Layers.WS)
		}
		if r.Layers.Close.Status != LayerOK || r.Layers.Close.Code != 1000 {
			t.Errorf("close layer %+v, want ok with 1000", r.Layers.Close)
		}
		if !r.Server.WS.HandlerRan || r.Server.WS.CloseCode != 1000 || s.ClientCert != "presented" {
			t.Errorf("server observation %+v", r.Server)
		}
	case w.by == PartyServer:
		// The server's alert (as crypto/tls sends it) is what the client got.
		if s.AlertSent == nil || *s.AlertSent != w.alert {
			t.Errorf("server says it sent %v, the client got alert %d", s.AlertSent, w.alert)
		}
		if s.Reason == nil || s.Reason.ID != w.reason {
			t.Errorf("server's own reason %v, want %s", s.Reason, w.reason)
		}
		if r.Server.HTTP.RequestReceived {
			t.Error("a refused client's HTTP request reached the server")
		}
		if r.Layers.HTTP.StatusCode != 0 || r.Layers.HTTP.Status != LayerSkipped {
			t.Errorf("a TLS refusal shows up in the http layer: %+v", r.Layers.HTTP)
		}
	case w.by == PartyClient:
		if s.AlertReceived == nil || *s.AlertReceived != w.alert {
			t.Errorf("server received alert %v, want %d", s.AlertReceived, w.alert)
		}
		if r.Layers.TLS.ClientCertSent && version == "TLS 1.3" {
			t.Error("the client sent its certificate to a server it refused")
		}
	}
}

// TestTLS13ClientCertRefusalArrivesLateButIsATLSRejection pins the TLS 1.3
// trap: the client's handshake succeeds, and the server's refusal comes
// on the first read. It must be rejected-tls by the server, not a broken
// HTTP reply; in TLS 1.2 the same refusal ends the handshake itself.
func TestTLS13ClientCertRefusalArrivesLateButIsATLSRejection(t *testing.T) {
	m := testMaterials()
	for _, tc := range []struct {
		version uint16
		late    bool
	}{{tls.VersionTLS13, true}, {tls.VersionTLS12, false}} {
		for _, name := range []string{"no-client-cert", "wrong-ca-client", "expired-client"} {
			s, _ := Lookup(name)
			r := RunScenario(context.Background(), s[0], m, Options{TLSVersion: tc.version})
			if r.Outcome != RejectedTLS || r.RefusedBy != PartyServer || r.Layer != "tls" {
				t.Errorf("%s %s: got %s by %q at %s, want rejected-tls by server at tls", tls.VersionName(tc.version), name, r.Outcome, r.RefusedBy, r.Layer)
			}
			if r.Layers.TLS.LateAlert != tc.late {
				t.Errorf("%s %s: late alert %v, want %v", tls.VersionName(tc.version), name, r.Layers.TLS.LateAlert, tc.late)
			}
		}
	}
}

// TestSilentTLSPeerMakesAVerdictNotAHang: a peer that accepts TCP and
// never speaks TLS yields connect-failed/handshake-timeout in one timeout.
func TestSilentTLSPeerMakesAVerdictNotAHang(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start := time.Now()
	v := ReferenceClient().Connect(context.Background(), ClientConfig{Encounter: standard(testMaterials()), Addr: ln.Addr().String(), Timeout: 200 * time.Millisecond})
	if v.Outcome != ConnectFailed || v.Reason.ID != ReasonHandshakeTimeout || v.Layers.TCP.Status != LayerOK {
		t.Fatalf("got %s/%s (%+v), want connect-failed/handshake-timeout", v.Outcome, v.Reason.ID, v.Layers.TCP)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %s with a 200ms timeout", d)
	}
}

// TestClosedPortIsConnectFailed: nothing listening is connect-refused.
func TestClosedPortIsConnectFailed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	v := ReferenceClient().Connect(context.Background(), ClientConfig{Encounter: standard(testMaterials()), Addr: addr, Timeout: time.Second})
	if v.Outcome != ConnectFailed || v.Reason.ID != ReasonConnectRefused || v.Layer != "tcp" {
		t.Fatalf("got %s/%s at %s, want connect-failed/connect-refused at tcp", v.Outcome, v.Reason.ID, v.Layer)
	}
}

// TestJudgeCountsOnlyTheJudgedSidesRefusal pins the pass rule.
func TestJudgeCountsOnlyTheJudgedSidesRefusal(t *testing.T) {
	server, _ := Lookup("wrong-ca-client")
	client, _ := Lookup("server-wrong-ca")
	accept, _ := Lookup("valid-client")
	requested := Layers{TLS: TLSLayer{ClientCertRequested: true}}
	cases := []struct {
		name string
		s    Scenario
		v    Verdict
		pass bool
	}{
		{"server refusing at tls passes a server-side reject", server[0], Verdict{Outcome: RejectedTLS, RefusedBy: PartyServer, Layers: requested}, true},
		{"a server that never asked for a certificate did not refuse one", server[0], Verdict{Outcome: RejectedTLS, RefusedBy: PartyServer}, false},
		{"server refusing the certificate with http 403 passes a server-side reject", server[0], Verdict{Outcome: RejectedHTTP, RefusedBy: PartyServer, Layers: Layers{TLS: requested.TLS, HTTP: HTTPLayer{StatusCode: 403, CertificateRefusal: true}}}, true},
		{"a 403 that says nothing about a certificate is a refusal for the control to attribute", server[0], Verdict{Outcome: RejectedHTTP, RefusedBy: PartyServer, Layers: Layers{TLS: requested.TLS, HTTP: HTTPLayer{StatusCode: 403}}}, true},
		{"a server the client stopped before seeing its request has not refused a certificate", server[0], Verdict{Outcome: RejectedTLS, RefusedBy: PartyServer, Layers: Layers{TLS: TLSLayer{ClientCertRequest: RequestUnknown}}}, false},
		{"a 502 is a broken server, not a refusal", server[0], Verdict{Outcome: RejectedHTTP, RefusedBy: PartyServer, Layers: Layers{TLS: requested.TLS, HTTP: HTTPLayer{StatusCode: 502}}}, false},
		{"client refusing fails a server-side reject", server[0], Verdict{Outcome: RejectedTLS, RefusedBy: PartyClient, Layers: requested}, false},
		{"a hang is not a rejection", server[0], Verdict{Outcome: NoUpgrade}, false},
		{"a missing echo is not a rejection", server[0], Verdict{Outcome: NoEcho}, false},
		{"accepting fails a reject", server[0], Verdict{Outcome: Accepted}, false},
		{"client refusing passes a client-side reject", client[0], Verdict{Outcome: RejectedTLS, RefusedBy: PartyClient}, true},
		{"server refusing fails a client-side reject", client[0], Verdict{Outcome: RejectedTLS, RefusedBy: PartyServer}, false},
		{"accepted passes an accept", accept[0], Verdict{Outcome: Accepted}, true},
		{"no-echo fails an accept", accept[0], Verdict{Outcome: NoEcho}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got, why := judge(c.s, c.v, false); got != c.pass {
				t.Fatalf("judge = %v (%s), want %v", got, why, c.pass)
			}
		})
	}
}

// TestLookupRejectsUnknownNamesAndKeepsDefinitionOrder.
func TestLookupRejectsUnknownNamesAndKeepsDefinitionOrder(t *testing.T) {
	got, err := Lookup("server-full-chain", "valid-client", "valid-client")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "valid-client" || got[1].Name != "server-full-chain" {
		t.Fatalf("got %v", got)
	}
	_, err = Lookup("no-such-scenario")
	if err == nil || !strings.Contains(err.Error(), "no-such-scenario") || !strings.Contains(err.Error(), "valid-server") {
		t.Fatalf("error %v should name the bad scenario and list valid ones", err)
	}
}

// TestScenarioNamesAreStable pins the scenario names: they are interface
// (JSON, JUnit, --scenario); a new one is added here on purpose.
func TestScenarioNamesAreStable(t *testing.T) {
	want := "valid-client server-sends-chain no-client-cert wrong-ca-client self-signed-client expired-client not-yet-valid-client server-eku-as-client revoked-client client-via-intermediate large-message " +
		"valid-server server-missing-san server-wrong-ca server-self-signed server-expired server-not-yet-valid server-hostname-mismatch server-ip-not-in-san server-client-eku server-missing-intermediate server-full-chain server-revoked"
	if got := strings.Join(Names(), " "); got != want {
		t.Fatalf("names changed:\n got %s\nwant %s", got, want)
	}
	for _, s := range Scenarios() {
		if s.Description == "" || (s.Side != ServerSide && s.Side != ClientSide) || (s.Expect != Accept && s.Expect != Reject) {
			t.Errorf("scenario %s is incomplete: %+v", s.Name, s)
		}
	}
}
