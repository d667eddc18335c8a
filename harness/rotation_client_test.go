package harness

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// helperRotationClient is a client command for server-cert-rotation-
// client: MODE URL CA CERT KEY DIR, where MODE is
//
//   - pin: trusts the CA, and on top pins the first server certificate
//     it sees (its SHA-256 in DIR/pin), refusing any other in the
//     handshake, as a client that pins a leaf does;
//   - session-file: keeps its TLS session in DIR/session between runs
//     and offers it on the next (a client with a persistent session
//     cache);
//   - twice: connects twice in one run, the second time resuming the
//     first connection's session.
func helperRotationClient(args []string) int {
	if len(args) != 6 {
		fmt.Fprintln(os.Stderr, "helper rotation client: pin|session-file|twice URL CA CERT KEY DIR")
		return 2
	}
	mode, url, dir := args[0], args[1], args[5]
	cfg, err := helperTLS(args[2], args[3], args[4])
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper rotation client:", err)
		return 1
	}
	switch mode {
	case "pin":
		cfg.VerifyConnection = func(st tls.ConnectionState) error { return checkPin(filepath.Join(dir, "pin"), st) }
	case "session-file":
		cfg.ClientSessionCache = &fileSessionCache{path: filepath.Join(dir, "session")}
	case "twice":
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		if code := helperEcho(url, cfg); code != 0 {
			return code
		}
	default:
		fmt.Fprintln(os.Stderr, "helper rotation client: unknown mode", mode)
		return 2
	}
	return helperEcho(url, cfg)
}

// checkPin records the server's leaf on the first run and refuses any
// other leaf afterwards.
func checkPin(path string, st tls.ConnectionState) error {
	if len(st.PeerCertificates) == 0 {
		return nil // a resumed session: verified when it was made
	}
	sum := sha256.Sum256(st.PeerCertificates[0].Raw)
	got := hex.EncodeToString(sum[:])
	pinned, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return os.WriteFile(path, []byte(got), 0o600)
	}
	if err != nil {
		return err
	}
	if string(pinned) != got {
		fmt.Fprintf(os.Stderr, "helper rotation client: the server certificate %s is not the pinned %s\n", got, pinned)
		return errors.New("the server certificate is not the pinned one")
	}
	return nil
}

// fileSessionCache is a tls.ClientSessionCache of one session, kept in
// a file between runs.
type fileSessionCache struct{ path string }

type savedSession struct{ Ticket, State []byte }

func (c *fileSessionCache) Get(string) (*tls.ClientSessionState, bool) {
	data, err := os.ReadFile(c.path)
	if err != nil {
		return nil, false
	}
	var s savedSession
	if json.Unmarshal(data, &s) != nil {
		return nil, false
	}
	state, err := tls.ParseSessionState(s.State)
	if err != nil {
		return nil, false
	}
	cs, err := tls.NewResumptionState(s.Ticket, state)
	return cs, err == nil
}

func (c *fileSessionCache) Put(_ string, cs *tls.ClientSessionState) {
	if cs == nil {
		return
	}
	ticket, state, err := cs.ResumptionState()
	if err != nil || state == nil {
		return
	}
	b, err := state.Bytes()
	if err != nil {
		return
	}
	data, _ := json.Marshal(savedSession{Ticket: ticket, State: b})
	_ = os.WriteFile(c.path, data, 0o600)
}

// TestServerCertRotationClient runs server-cert-rotation-client with
// purpose-built clients: a well-behaved one passes, one that pins the
// first certificate it saw fails with the pinning words, one that keeps
// its TLS session in {dir} still has to see the new certificate (the
// rotation changed the ticket keys), one that resumes within a run has
// its resumed connection recorded, and one that fails the plain case is
// inconclusive.
func TestServerCertRotationClient(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	m := testMaterials()
	s, err := Lookup(ClientRotationScenario)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	run := func(t *testing.T, cmd string, version uint16) (Result, string) {
		t.Helper()
		tpl, err := ParseTemplate(cmd)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		rep, err := Run(ctx, s, Options{Materials: m, Client: &ClientCommand{Command: tpl, Dir: dir, Timeout: 10 * time.Second},
			Timeout: 2 * time.Second, TLSVersion: version, Rotation: RotationOptions{Run: true}})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Results) != 1 {
			t.Fatalf("%d results, want 1", len(rep.Results))
		}
		r := rep.Results[0]
		t.Logf("%s: %s pass %v inconclusive %v: %s", cmd, r.Outcome, r.Pass, r.Inconclusive, r.Mismatch)
		return r, filepath.Join(dir, ClientRotationScenario)
	}
	helper := func(mode string) string {
		return `sh -c '` + helperEnv + `=rotation-client exec "$0" "$@"' ` + quote(exe) + ` ` + mode + ` {url} {ca} {cert} {key} {dir}`
	}
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run("well-behaved/"+tls.VersionName(v), func(t *testing.T) {
			r, _ := run(t, `sh -c '`+helperEnv+`=client exec "$0" "$@"' `+quote(exe)+` {url} {ca} {cert} {key}`, v)
			ev := r.ClientRotation
			if !r.Pass || r.Inconclusive || r.Outcome != Accepted || ev == nil || ev.After == nil {
				t.Fatalf("a client that trusts the CA must pass: %s", r.Mismatch)
			}
			if ev.OldSerial == "" || ev.OldSerial == ev.NewSerial || ev.Before.Serial != ev.OldSerial || ev.After.Serial != ev.NewSerial {
				t.Errorf("serials: %+v", ev)
			}
			for _, run := range []ClientRotationRun{ev.Before, *ev.After} {
				if len(run.Connections) != 1 || !run.Connections[0].Presented || run.Connections[0].Resumed || run.Outcome != Accepted {
					t.Errorf("each run is one full handshake, accepted: %+v", run)
				}
			}
		})
		t.Run("session-file/"+tls.VersionName(v), func(t *testing.T) {
			r, dir := run(t, helper("session-file"), v)
			if _, err := os.Stat(filepath.Join(dir, "session")); err != nil {
				t.Fatalf("the client kept no session, so this proves nothing: %v", err)
			}
			if !r.Pass || r.Inconclusive {
				t.Fatalf("the new ticket keys make the saved session useless, so the client sees the new certificate: %s", r.Mismatch)
			}
			if c := r.ClientRotation.After.Connections; len(c) != 1 || c[0].Resumed || !c[0].Presented {
				t.Errorf("after the rotation the saved session must not resume: %+v", c)
			}
		})
	}
	t.Run("pins", func(t *testing.T) {
		r, _ := run(t, helper("pin"), 0)
		ev := r.ClientRotation
		if r.Pass || r.Inconclusive || ev == nil || ev.Before.Outcome != Accepted || r.Outcome != RejectedTLS {
			t.Fatalf("a pinning client must fail after passing the first run: %s %s", r.Outcome, r.Mismatch)
		}
		for _, w := range []string{"refused the rotated server certificate", "pinned the old certificate", ev.NewSerial, "not the pinned"} {
			if !strings.Contains(r.Mismatch, w) {
				t.Errorf("mismatch lacks %q: %s", w, r.Mismatch)
			}
		}
		if c := ev.After.Connections; len(c) != 1 || !c[0].Presented || c[0].Handshake == "completed" {
			t.Errorf("the client must have been shown the new certificate and aborted: %+v", c)
		}
	})
	t.Run("twice", func(t *testing.T) {
		r, _ := run(t, helper("twice"), 0)
		if !r.Pass {
			t.Fatalf("a client that resumes within a run, after a full handshake with the new certificate: %s", r.Mismatch)
		}
		for _, run := range []ClientRotationRun{r.ClientRotation.Before, *r.ClientRotation.After} {
			resumed := 0
			for _, c := range run.Connections {
				if c.Resumed {
					resumed++
				}
			}
			if len(run.Connections) != 2 || resumed != 1 {
				t.Errorf("two connections, the second resumed: %+v", run.Connections)
			}
		}
	})
	t.Run("no-leak", func(t *testing.T) {
		// The listener outlives the first run's server: both accept
		// loops must end, and the port be closed, once the scenario is.
		noLeak(t, "server-cert-rotation-client", func() { run(t, helper("pin"), 0) })
	})
	t.Run("fails-the-plain-case", func(t *testing.T) {
		r, _ := run(t, "false", 0)
		if r.Pass || !r.Inconclusive || r.ClientRotation.After != nil || !strings.Contains(r.Mismatch, "before any rotation") {
			t.Errorf("a client that never connects: pass %v inconclusive %v, %s", r.Pass, r.Inconclusive, r.Mismatch)
		}
	})
	t.Run("not-a-client-command", func(t *testing.T) {
		rep, err := Run(ctx, s, Options{Materials: m, Timeout: 2 * time.Second, Rotation: RotationOptions{Run: true}})
		if err != nil || rep.Results[0].Outcome != Skipped || !strings.Contains(rep.Results[0].Reason.Text, "--client-cmd") {
			t.Errorf("with the reference client: %+v, %v", rep.Results[0].Verdict, err)
		}
		tpl, _ := ParseTemplate("false")
		if r := RunScenario(ctx, s[0], m, Options{Client: &ClientCommand{Command: tpl, Dir: t.TempDir()}}); r.Outcome != Skipped || !strings.Contains(r.Reason.Text, "when named") {
			t.Errorf("not named: %+v", r.Verdict)
		}
	})
}

// TestJudgeClientRotationResumed: a second run accepted on resumed
// connections only never showed the client the new certificate:
// inconclusive, not a pass.
func TestJudgeClientRotationResumed(t *testing.T) {
	ev := &ClientRotationLayer{OldSerial: "0a", NewSerial: "0b", After: &ClientRotationRun{Connections: []RotationConnection{{Resumed: true, Handshake: "completed"}}}}
	pass, inconclusive, why := judgeClientRotation(ev, Verdict{Outcome: Accepted})
	if pass || !inconclusive || !strings.Contains(why, "never presented") || !strings.Contains(why, "1 resumed") {
		t.Errorf("pass %v inconclusive %v: %s", pass, inconclusive, why)
	}
}
