package harness

import (
	"strings"
	"testing"
)

// Apache with SSLVerifyClient inside <Location> (fixtures/subjects/apache,
// mode location): no CertificateRequest in the handshake, and every
// client, the valid control too, ends the same way after it: in TLS 1.2
// with the renegotiation the reference client refuses under
// --no-renegotiation (by default it answers it: renegotiation_test.go).
// A reject row is
// then inconclusive, not a FAIL saying the server did not refuse; with
// --strict-tls it stays a FAIL. Without that evidence (TLS 1.3's 403 looks
// like a server that never asks at all: falsepass_test.go's finding 1a)
// it stays a FAIL. cmd/mtlskit's TestApachePerLocation* runs
// the real server.
func TestNeverAskedAndRefusedLikeTheControlIsInconclusive(t *testing.T) {
	t.Parallel()
	scen := func(name string) Scenario {
		s, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		return s[0]
	}
	layers := Layers{}
	layers.TLS.ClientCertRequest = RequestNotSent
	v := Verdict{Outcome: NoUpgrade, Layer: LayerHTTP, Reason: Reason{ID: ReasonRenegotiation, Text: renegotiationWords(true)}, Layers: layers}
	control := Result{Scenario: scen("valid-client"), Verdict: v}
	control.Pass, control.Mismatch = judge(control.Scenario, v, false)
	for _, strict := range []bool{false, true} {
		res := Result{Scenario: scen("wrong-ca-client"), Verdict: v}
		res.Pass, res.Mismatch = judge(res.Scenario, v, strict)
		judgeAgainstControl(&res, control, strict)
		switch {
		case res.Pass:
			t.Errorf("strict=%v: passed", strict)
		case !strict && (!res.Inconclusive || !strings.Contains(res.Mismatch, "it let nobody in")):
			t.Errorf("not inconclusive: %v %s", res.Inconclusive, res.Mismatch)
		case strict && res.Inconclusive:
			t.Errorf("--strict-tls: inconclusive, want FAIL: %s", res.Mismatch)
		}
	}
	// The same without the renegotiation: a 403 to everyone stays a FAIL.
	forbidden := Verdict{Outcome: RejectedHTTP, Layer: LayerHTTP, RefusedBy: PartyServer, Reason: Reason{ID: ReasonHTTPStatus, Text: "403"}, Layers: layers}
	c403 := Result{Scenario: scen("valid-client"), Verdict: forbidden}
	res403 := Result{Scenario: scen("wrong-ca-client"), Verdict: forbidden}
	res403.Pass, res403.Mismatch = judge(res403.Scenario, forbidden, false)
	judgeAgainstControl(&res403, c403, false)
	if res403.Pass || res403.Inconclusive {
		t.Errorf("403 to everyone: pass=%v inconclusive=%v", res403.Pass, res403.Inconclusive)
	}
	// A server that never asks and lets the client in stays a FAIL.
	ok := Verdict{Outcome: Accepted, Layer: LayerWS, Reason: Reason{ID: ReasonEchoVerified}, Layers: layers}
	res := Result{Scenario: scen("no-client-cert"), Verdict: ok}
	res.Pass, res.Mismatch = judge(res.Scenario, ok, false)
	judgeAgainstControl(&res, control, false)
	if res.Pass || res.Inconclusive {
		t.Errorf("an accepted no-client-cert: pass=%v inconclusive=%v", res.Pass, res.Inconclusive)
	}
}

// Apache's SIGHUP restart with a WebSocket open: one probe still sees the
// old serial, then no handshake completes for the rest of the window.
// That is a server that stopped serving, not one that kept its old
// certificate.
func TestRotationThatStopsServingSaysSo(t *testing.T) {
	t.Parallel()
	ev := &RotationLayer{Trigger: "SIGHUP was sent", OldSerial: "aa", NewSerial: "bb", Probes: 3, TimeoutMS: 2000,
		Sightings: []Sighting{{Saw: "old", Serial: "aa", Count: 1}, {Saw: "error: context deadline exceeded", Count: 2}}}
	pass, why := judgeRotation(ev, Verdict{Outcome: ConnectFailed})
	if pass || !strings.Contains(why, "the server stopped serving new connections") || strings.Contains(why, "loads its certificate once") {
		t.Errorf("pass=%v %s", pass, why)
	}
	// Old serial to the end: the server did not rotate, as before.
	ev.Sightings = []Sighting{{Saw: "old", Serial: "aa", Count: 3}}
	if pass, why := judgeRotation(ev, Verdict{Outcome: Accepted}); pass || !strings.Contains(why, "the server did not rotate") {
		t.Errorf("old serial throughout: pass=%v %s", pass, why)
	}
}
