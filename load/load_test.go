package load

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/internal/wire"
	"github.com/mtlskit/mtlskit/pki"
)

var (
	matOnce sync.Once
	mat     *harness.Materials
	matErr  error
)

// testMaterials are one run's certificates, minted once for the package.
func testMaterials(t testing.TB) *harness.Materials {
	t.Helper()
	matOnce.Do(func() { mat, matErr = harness.NewMaterials() })
	if matErr != nil {
		t.Fatal(matErr)
	}
	return mat
}

func rootIssuer(t testing.TB) *pki.Issuer {
	t.Helper()
	iss, err := testMaterials(t).Root.Issuer()
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

// startReference starts the reference server on 127.0.0.1, trusting the
// test CA for client certificates; it is closed when the test ends
// (closing it earlier is fine).
func startReference(t testing.TB, version uint16, timeout time.Duration) harness.RunningServer {
	t.Helper()
	m := testMaterials(t)
	srv, err := harness.ReferenceServer().Start(context.Background(), harness.ServerConfig{
		Encounter:  harness.Encounter{Server: m.Server, ServerSendsChain: true, ClientCAs: []*x509.Certificate{m.Root.Cert}},
		TLSVersion: version, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// baseConfig loads addr with ids, one connection each, two messages.
func baseConfig(t testing.TB, addr string, ids []*pki.Issued) Config {
	return Config{
		Target:      Target{URL: "wss://" + addr + "/", RootCAs: []*x509.Certificate{testMaterials(t).Root.Cert}},
		Identities:  ids,
		Connections: len(ids), Messages: 2, MessageSize: 64, Timeout: 5 * time.Second,
	}
}

func mint(t testing.TB, n, untrusted int) []*pki.Issued {
	t.Helper()
	ids, err := Mint(rootIssuer(t), n, MintOptions{Untrusted: untrusted})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// run runs cfg within a minute.
func run(t testing.TB, cfg Config) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Interrupted {
		t.Fatal("the run hit the test's one-minute limit")
	}
	return rep
}

// seenSubjects are the client certificate subjects the reference server
// verified, with how often each was seen.
func seenSubjects(t *testing.T, srv harness.RunningServer) map[string]int {
	t.Helper()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, o := range srv.Observations() {
		if o.TLS.Status == harness.LayerOK && o.TLS.ClientCert == harness.CertPresented {
			seen[o.TLS.ClientSubject]++
		}
	}
	return seen
}

// TestLoadDistinctIdentities: every virtual client presents its own
// certificate, and the server sees each of them, once.
func TestLoadDistinctIdentities(t *testing.T) {
	const n = 40
	srv := startReference(t, 0, 5*time.Second)
	ids := mint(t, n, 0)
	rep := run(t, baseConfig(t, srv.Addr(), ids))
	c := rep.Counts
	if c.Attempted != n || c.TCPConnected != n || c.Handshakes != n || c.Established != n || c.Completed != n || c.Failed != 0 || c.IdentitiesUsed != n {
		t.Fatalf("counts %+v, want %d of each and no failure", c, n)
	}
	if c.MessagesSent != 2*n || c.MessagesEchoed != 2*n || c.BytesEchoed != 2*n*64 {
		t.Errorf("messages %d sent %d echoed %d bytes, want %d, %d, %d", c.MessagesSent, c.MessagesEchoed, c.BytesEchoed, 2*n, 2*n, 2*n*64)
	}
	for name, h := range map[string]*Histogram{"tcp": rep.Latency.TCP, "tls": rep.Latency.TLS, "upgrade": rep.Latency.Upgrade} {
		if h.Count() != n {
			t.Errorf("%s histogram holds %d values, want %d", name, h.Count(), n)
		}
	}
	if rep.Latency.Echo.Count() != 2*n {
		t.Errorf("echo histogram holds %d values, want %d", rep.Latency.Echo.Count(), 2*n)
	}
	if len(rep.Errors) != 0 || !rep.OK() {
		t.Errorf("errors %+v, ok %v", rep.Errors, rep.OK())
	}
	seen := seenSubjects(t, srv)
	if len(seen) != n {
		t.Fatalf("the server verified %d distinct client certificates, want %d: %v", len(seen), n, seen)
	}
	for _, id := range ids {
		if seen[id.Cert.Subject.CommonName] != 1 {
			t.Errorf("the server saw %q %d times, want once", id.Cert.Subject.CommonName, seen[id.Cert.Subject.CommonName])
		}
	}
}

// TestLoadWrongCAHalf: half the identities come from an unrelated CA; the
// reference server refuses exactly those, and the report counts them as
// one class, refused in TLS by the server with unknown_ca, in TLS 1.2
// (the alert ends the handshake) and 1.3 (it arrives on the first read).
func TestLoadWrongCAHalf(t *testing.T) {
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(wire.VersionName(version), func(t *testing.T) {
			const n, bad = 24, 12
			srv := startReference(t, version, 5*time.Second)
			ids := mint(t, n, bad)
			cfg := baseConfig(t, srv.Addr(), ids)
			cfg.TLSVersion, cfg.TicketBaseline = version, true
			rep := run(t, cfg)
			c := rep.Counts
			if c.Attempted != n || c.Failed != bad || c.Established != n-bad || c.Completed != n-bad || c.Handshakes != n-bad {
				t.Fatalf("counts %+v, want %d attempted, %d failed, %d established", c, n, bad, n-bad)
			}
			if len(rep.Errors) != 1 {
				t.Fatalf("%d error classes, want 1: %+v", len(rep.Errors), rep.Errors)
			}
			e := rep.Errors[0]
			if e.Count != bad || e.Layer != harness.LayerTLS || e.Outcome != harness.RejectedTLS || e.RefusedBy != harness.PartyServer ||
				e.Reason != harness.ReasonUnknownCA || e.Alert == nil || *e.Alert != wire.AlertUnknownCA {
				t.Fatalf("error class %+v, want %d refused in TLS by the server: unknown-ca (alert 48)", e, bad)
			}
			if s := e.Summary(); s != "refused in TLS by the server: unknown-ca (alert 48 unknown_ca)" {
				t.Errorf("summary %q", s)
			}
			if rep.Latency.TLS.Count() != n-bad {
				t.Errorf("TLS histogram holds %d handshakes, want only the %d accepted", rep.Latency.TLS.Count(), n-bad)
			}
			// The server's side of it: the same identities refused.
			refused := 0
			if err := srv.Close(); err != nil {
				t.Fatal(err)
			}
			for _, o := range srv.Observations() {
				if o.TLS.Reason != nil && o.TLS.Reason.ID == harness.ReasonUnknownCA {
					refused++
					if !strings.HasPrefix(o.TLS.ClientSubject, "load-") {
						t.Errorf("refused %q", o.TLS.ClientSubject)
					}
				}
			}
			if refused != bad {
				t.Errorf("the server refused %d clients for unknown-ca, want %d", refused, bad)
			}
		})
	}
}

// TestLoadHoldCutByDuration: connections held for longer than the run
// are closed normally when it ends, and none starts after it.
func TestLoadHoldCutByDuration(t *testing.T) {
	srv := startReference(t, 0, 10*time.Second)
	cfg := baseConfig(t, srv.Addr(), mint(t, 5, 0))
	cfg.Hold, cfg.Duration = 20*time.Second, 1500*time.Millisecond
	start := time.Now()
	rep := run(t, cfg)
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("the run took %s: the 20 s holds were not cut at the 1.5 s duration", took)
	}
	c := rep.Counts
	if c.Attempted != 5 || c.Completed != 5 || c.Failed != 0 || c.PeakOpen != 5 || c.CloseUnanswered != 0 {
		t.Fatalf("counts %+v, want 5 attempted, held together and completed with an answered close", c)
	}
}

// TestLoadReconnectResume: with --reconnect until the duration, each
// identity's first handshake is full and every later one resumes its own
// session (the server still sees that identity's certificate); without
// --resume none does.
func TestLoadReconnectResume(t *testing.T) {
	for _, resume := range []bool{false, true} {
		t.Run(fmt.Sprintf("resume=%v", resume), func(t *testing.T) {
			srv := startReference(t, 0, 5*time.Second)
			// One virtual client, so each identity's connections follow
			// one another: its first one stores a ticket before the next
			// one starts.
			cfg := baseConfig(t, srv.Addr(), mint(t, 2, 0))
			cfg.Connections, cfg.Reconnect, cfg.Resume, cfg.Duration, cfg.Messages = 1, true, resume, 500*time.Millisecond, 1
			rep := run(t, cfg)
			c := rep.Counts
			if c.Attempted < 4 || c.IdentitiesUsed != 2 || c.Failed != 0 || c.Completed != c.Attempted || c.Handshakes != c.Attempted {
				t.Fatalf("counts %+v: want at least two rounds of 2, all completed", c)
			}
			want := int64(0)
			if resume {
				want = c.Handshakes - 2
			}
			if c.Resumed != want {
				t.Errorf("%d of %d handshakes resumed, want %d", c.Resumed, c.Handshakes, want)
			}
			seen := seenSubjects(t, srv)
			if len(seen) != 2 {
				t.Errorf("the server saw %d identities, want 2 (a resumed session keeps its certificate): %v", len(seen), seen)
			}
		})
	}
}

// TestLoadRatePacing: a rate with a ramp spaces the starts out.
func TestLoadRatePacing(t *testing.T) {
	srv := startReference(t, 0, 5*time.Second)
	cfg := baseConfig(t, srv.Addr(), mint(t, 10, 0))
	cfg.Rate, cfg.Ramp = 20, 500*time.Millisecond
	start := time.Now()
	rep := run(t, cfg)
	// 10 starts: the ramp covers 5 of them, the 5 others 50 ms apart.
	want := scheduleAt(9, 20, 500*time.Millisecond)
	if took := time.Since(start); took < want {
		t.Errorf("10 starts at 20/s after a 500 ms ramp took %s, want at least %s", took, want)
	}
	if rep.Counts.Completed != 10 {
		t.Errorf("counts %+v", rep.Counts)
	}
}

func TestLoadScheduleAt(t *testing.T) {
	for _, c := range []struct {
		n    int
		ramp time.Duration
		want time.Duration
	}{
		{0, 0, 0}, {10, 0, time.Second}, {0, 2 * time.Second, 0},
		// Over a 2 s ramp to 10/s, 10 starts are made (the triangle's area).
		{10, 2 * time.Second, 2 * time.Second}, {20, 2 * time.Second, 3 * time.Second},
		{5, 2 * time.Second, 1414213562},
	} {
		if got := scheduleAt(c.n, 10, c.ramp); (got - c.want).Abs() > time.Microsecond {
			t.Errorf("start %d at 10/s with a %s ramp: %s, want %s", c.n, c.ramp, got, c.want)
		}
	}
}

// TestLoadFDLimit: a limit below what the connections need is refused
// before anything is dialled, in words that say what to do.
func TestLoadFDLimit(t *testing.T) {
	old := fdLimit
	t.Cleanup(func() { fdLimit = old })
	fdLimit = func() (uint64, error) { return 1024, nil }
	err := CheckFDLimit(5000, false)
	if err == nil || !strings.HasPrefix(err.Error(), "ulimit -n is 1024; 5000 connections need more") {
		t.Fatalf("CheckFDLimit(5000) = %v", err)
	}
	if err := CheckFDLimit(900, false); err != nil {
		t.Errorf("900 connections with 1024 descriptors: %v", err)
	}
	if err := CheckFDLimit(900, true); err == nil {
		t.Error("900 connections with the server in the process need 1864 descriptors, yet 1024 passed")
	}
	cfg := baseConfig(t, "127.0.0.1:1", mint(t, 1, 0))
	cfg.Connections = 2000
	_, err = Run(context.Background(), cfg)
	if _, ok := err.(*FDLimitError); !ok {
		t.Fatalf("Run with 2000 connections and 1024 descriptors: %v, want *FDLimitError", err)
	}
}

// TestLoadUnreachable: nothing listening is a run error, not a report.
func TestLoadUnreachable(t *testing.T) {
	srv := startReference(t, 0, time.Second)
	addr := srv.Addr()
	_ = srv.Close()
	_, err := Run(context.Background(), baseConfig(t, addr, mint(t, 1, 0)))
	if _, ok := err.(*UnreachableError); !ok || !wire.IsRefused(err) {
		t.Fatalf("Run against a closed port: %v, want *UnreachableError (refused)", err)
	}
}

func TestLoadShard(t *testing.T) {
	for _, bad := range []string{"", "3", "3/3", "-1/2", "a/b", "0/0"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) passed", bad)
		}
	}
	s, err := ParseShard("1/3")
	if err != nil || s != (Shard{1, 3}) {
		t.Fatalf("ParseShard(1/3) = %v, %v", s, err)
	}
	total, owned := 0, map[int]int{}
	for i := range 3 {
		sh := Shard{i, 3}
		total += sh.Split(10)
		for g := range 100 {
			if sh.Owns(g) {
				owned[g]++
			}
		}
	}
	if total != 10 || len(owned) != 100 {
		t.Errorf("3 shards split 10 connections into %d and own %d of 100 identities", total, len(owned))
	}
	for g, n := range owned {
		if n != 1 {
			t.Errorf("identity %d owned by %d shards", g, n)
		}
	}
	env := map[string]string{"JOB_COMPLETION_INDEX": "2", "JOB_COMPLETIONS": "4"}
	s, ok, err := ShardFromEnv(func(k string) string { return env[k] })
	if err != nil || !ok || s != (Shard{2, 4}) {
		t.Errorf("ShardFromEnv = %v %v %v", s, ok, err)
	}
	delete(env, "JOB_COMPLETIONS")
	if _, _, err := ShardFromEnv(func(k string) string { return env[k] }); err == nil {
		t.Error("JOB_COMPLETION_INDEX without JOB_COMPLETIONS passed")
	}
}

// TestLoadMintShardsUntrusted: shards mint disjoint identities whose union is
// the whole set, with exactly the untrusted ones from the other CA.
func TestLoadMintShardsUntrusted(t *testing.T) {
	names := map[string]bool{}
	untrusted := 0
	for i := range 3 {
		ids, err := Mint(rootIssuer(t), 10, MintOptions{Untrusted: 4, Shard: Shard{i, 3}})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			names[id.Cert.Subject.CommonName] = true
			if id.Cert.Issuer.CommonName != testMaterials(t).Root.Cert.Subject.CommonName {
				untrusted++
			}
		}
	}
	if len(names) != 10 || untrusted != 4 {
		t.Errorf("3 shards minted %d distinct identities, %d untrusted; want 10 and 4", len(names), untrusted)
	}
}

// TestLoadAttempts: --attempts with --reconnect makes exactly that many
// connections, Connections at a time, the identities in turn.
func TestLoadAttempts(t *testing.T) {
	srv := startReference(t, 0, 5*time.Second)
	cfg := baseConfig(t, srv.Addr(), mint(t, 5, 0))
	cfg.Connections, cfg.Reconnect, cfg.Attempts = 4, true, 17
	rep := run(t, cfg)
	c := rep.Counts
	if c.Attempted != 17 || c.Completed != 17 || c.IdentitiesUsed != 5 || c.PeakOpen > 4 {
		t.Fatalf("counts %+v, want 17 attempted and completed with 5 identities, at most 4 open", c)
	}
	seen := seenSubjects(t, srv)
	n := 0
	for _, k := range seen {
		n += k
	}
	if len(seen) != 5 || n != 17 {
		t.Errorf("the server saw %d identities in %d connections, want 5 in 17: %v", len(seen), n, seen)
	}
}
