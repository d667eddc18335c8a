package harness

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestNegativeControlsAreAllCaught runs every control and pins the exact
// outcome and reason of each encounter.
func TestNegativeControlsAreAllCaught(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := RunNegativeControls(ctx, Options{Materials: testMaterials(), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || len(rep.Controls) != 7 {
		var missed []string
		for _, c := range rep.Controls {
			if !c.Caught {
				missed = append(missed, c.Control.Name+": "+c.Why)
			}
		}
		t.Fatalf("controls OK=%v, %d controls; missed: %s", rep.OK(), len(rep.Controls), strings.Join(missed, "; "))
	}
	byName := map[string]ControlResult{}
	for _, c := range rep.Controls {
		byName[c.Control.Name] = c
		if !c.Caught {
			t.Errorf("control %s missed: %s", c.Control.Name, c.Why)
		}
		for _, r := range c.Results {
			if r.Pass {
				t.Errorf("control %s passed %s", c.Control.Name, r.Scenario.Name)
			}
		}
	}

	t.Run("insecure client accepts every bad server", func(t *testing.T) {
		c := byName["insecure-client"]
		if len(c.Results) != 10 {
			t.Fatalf("%d results, want the 10 client-side reject scenarios", len(c.Results))
		}
		for _, r := range c.Results {
			if r.Scenario.Side != ClientSide || r.Scenario.Expect != Reject || r.Outcome != Accepted || r.Reason.ID != ReasonEchoVerified {
				t.Errorf("%s: %s/%s", r.Scenario.Name, r.Outcome, r.Reason.ID)
			}
		}
	})
	t.Run("lax server accepts every bad client", func(t *testing.T) {
		c := byName["lax-server"]
		if len(c.Results) != 7 {
			t.Fatalf("%d results, want the 7 server-side reject scenarios", len(c.Results))
		}
		for _, r := range c.Results {
			if r.Scenario.Side != ServerSide || r.Outcome != Accepted || r.Server == nil || r.Server.Subject != "lax-server" || !r.Server.WS.HandlerRan {
				t.Errorf("%s: %s, server %+v", r.Scenario.Name, r.Outcome, r.Server)
			}
			wantCert := CertPresented
			if r.Scenario.Name == "no-client-cert" {
				wantCert = CertNone
			}
			if r.Server != nil && r.Server.TLS.ClientCert != wantCert {
				t.Errorf("%s: server saw client cert %q, want %q", r.Scenario.Name, r.Server.TLS.ClientCert, wantCert)
			}
		}
	})
	// A subject that refuses everyone gets no clean bill: its valid
	// control fails and every refusal of a bad peer is inconclusive.
	for name, side := range map[string]Side{"deny-all-server": ServerSide, "refuse-all-client": ClientSide} {
		t.Run(name+" refuses everyone: control fails, rejects inconclusive", func(t *testing.T) {
			c := byName[name]
			if len(c.Results) != len(OfSide(Scenarios(), side)) {
				t.Fatalf("%d results", len(c.Results))
			}
			for _, r := range c.Results {
				switch {
				case r.Scenario.Name == ControlScenario(side):
					if r.Pass || r.Outcome != RejectedTLS || r.Reason.ID != ReasonUnknownCA {
						t.Errorf("control %s: pass=%v %s/%s", r.Scenario.Name, r.Pass, r.Outcome, r.Reason.ID)
					}
				case r.Scenario.Expect == Reject:
					if r.Pass || !r.Inconclusive || r.Outcome != RejectedTLS || !strings.Contains(r.Mismatch, "inconclusive: the "+ControlScenario(side)+" control failed") {
						t.Errorf("%s: pass=%v inconclusive=%v %s (%s)", r.Scenario.Name, r.Pass, r.Inconclusive, r.Outcome, r.Mismatch)
					}
				default:
					if r.Pass || r.Inconclusive {
						t.Errorf("%s: pass=%v inconclusive=%v", r.Scenario.Name, r.Pass, r.Inconclusive)
					}
				}
			}
		})
	}
	one := func(name string) Result {
		c := byName[name]
		if len(c.Results) != 1 {
			t.Fatalf("%s: %d results", name, len(c.Results))
		}
		return c.Results[0]
	}
	t.Run("101 without a handler is no-echo", func(t *testing.T) {
		r := one("no-handler-server")
		if r.Outcome != NoEcho || r.Reason.ID != ReasonEchoClosed || r.Layers.HTTP.StatusCode != 101 || r.Layers.WS.Echoed != 0 {
			t.Fatalf("%s/%s http %d echoed %d", r.Outcome, r.Reason.ID, r.Layers.HTTP.StatusCode, r.Layers.WS.Echoed)
		}
		if r.Server.HTTP.StatusSent != 101 || r.Server.WS.HandlerRan {
			t.Fatalf("server observation %+v", r.Server)
		}
	})
	t.Run("an unanswered upgrade is no-upgrade", func(t *testing.T) {
		r := one("silent-server")
		if r.Outcome != NoUpgrade || r.Reason.ID != ReasonUpgradeTimeout || r.Layers.TLS.Status != LayerOK || r.Layers.HTTP.StatusCode != 0 {
			t.Fatalf("%s/%s tls %s http %d", r.Outcome, r.Reason.ID, r.Layers.TLS.Status, r.Layers.HTTP.StatusCode)
		}
		if !r.Server.HTTP.RequestReceived || r.Server.HTTP.StatusSent != 0 || !r.Server.HTTP.UpgradeRequested {
			t.Fatalf("server observation %+v", r.Server.HTTP)
		}
	})
	t.Run("a 500 is rejected-http 500 with the body, refused by nobody: the server failed", func(t *testing.T) {
		r := one("status-500-server")
		if r.Outcome != RejectedHTTP || r.RefusedBy != "" || r.Reason.ID != ReasonHTTPStatus || r.Layers.HTTP.StatusCode != 500 {
			t.Fatalf("%s by %q /%s http %d", r.Outcome, r.RefusedBy, r.Reason.ID, r.Layers.HTTP.StatusCode)
		}
		if r.Layers.HTTP.BodyPrefix == "" || r.Server.HTTP.StatusSent != 500 {
			t.Fatalf("body %q, server sent %d", r.Layers.HTTP.BodyPrefix, r.Server.HTTP.StatusSent)
		}
	})
}

// TestCaughtFlagsAControlThatSlipsThrough: a control whose subject passed a
// scenario, or failed with another outcome than wanted, is missed.
func TestCaughtFlagsAControlThatSlipsThrough(t *testing.T) {
	s, _ := Lookup("valid-client")
	c := Control{Subject: "x", WantOutcome: NoEcho}
	if ok, _ := caught(c, []Result{{Scenario: s[0], Pass: true, Verdict: Verdict{Outcome: Accepted}}}); ok {
		t.Error("a passing result counted as caught")
	}
	if ok, _ := caught(c, []Result{{Scenario: s[0], Verdict: Verdict{Outcome: NoUpgrade}}}); ok {
		t.Error("the wrong failure counted as caught")
	}
	if ok, _ := caught(c, nil); ok {
		t.Error("no results counted as caught")
	}
	if ok, why := caught(c, []Result{{Scenario: s[0], Verdict: Verdict{Outcome: NoEcho}}}); !ok {
		t.Errorf("the wanted failure was not caught: %s", why)
	}
}
