package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/pki"
)

// loadJSON is the part of `mtlskit load --json` the tests read.
type loadJSON struct {
	Kind    string `json:"kind"`
	Counts  map[string]int64
	Shard   struct{ Index, Count int }
	Shards  []int
	Latency map[string]struct {
		Count int64  `json:"count"`
		HDR   string `json:"hdr"`
	}
	Errors []struct {
		Layer, Outcome, Reason string
		RefusedBy              string `json:"refused_by"`
		Status                 int
		Count                  int64
	}
}

// storeServer makes a store in dir/pki and starts the reference server,
// in the test process, with a certificate from the store's CA and trust
// in it for client certificates.
func storeServer(t *testing.T, dir string) (url string, srv harness.RunningServer) {
	t.Helper()
	mustRun(t, dir, "ca", "init", "--dir", "pki")
	st := pki.OpenStore(filepath.Join(dir, "pki"))
	root, err := st.Root()
	if err != nil {
		t.Fatal(err)
	}
	iss, err := st.Issuer(nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := harness.MaterialsFromCA(root, iss)
	if err != nil {
		t.Fatal(err)
	}
	srv, err = harness.ReferenceServer().Start(context.Background(), harness.ServerConfig{
		Encounter: harness.Encounter{Server: m.Server, ServerSendsChain: true, ClientCAs: []*x509.Certificate{root}}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	_, port, _ := net.SplitHostPort(srv.Addr())
	return "wss://localhost:" + port + "/", srv
}

// mtlskitAsync runs the built binary with args in dir, with a timeout;
// unlike mtlskit it may be called from any goroutine.
func mtlskitAsync(dir string, env []string, args ...string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code, err = ee.ExitCode(), nil
	}
	return result{code, out.String(), errb.String()}, err
}

// TestLoadShardMerge: the same run, once whole and once as three shards
// in three processes of the binary at the same time (one taking its
// shard from JOB_COMPLETION_INDEX and JOB_COMPLETIONS, as a Kubernetes
// Indexed Job's pod), merged by `mtlskit load merge`: every total, every
// histogram's count and every error class are the same, and the shards
// presented disjoint identities that together are all of them.
func TestLoadShardMerge(t *testing.T) {
	dir := t.TempDir()
	url, srv := storeServer(t, dir)
	args := []string{"load", "--target", url, "--pki", "pki", "--identities", "30", "--untrusted", "6", "--connections", "30", "--messages", "2", "--json"}
	whole := mtlskit(t, dir, nil, args...)
	if whole.code != 1 {
		t.Fatalf("the whole run: exit %d (want 1: 6 refused)\n%s\n%s", whole.code, whole.stdout, whole.stderr)
	}
	var w loadJSON
	decodeJSON(t, whole.stdout, &w)

	var wg sync.WaitGroup
	res := make([]result, 3)
	errs := make([]error, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := append(append([]string{}, args...), "--out", filepath.Join(dir, "shard"+string(rune('0'+i))+".json"))
			var env []string
			if i == 0 {
				env = []string{"JOB_COMPLETION_INDEX=0", "JOB_COMPLETIONS=3"}
			} else {
				a = append(a, "--shard", string(rune('0'+i))+"/3")
			}
			res[i], errs[i] = mtlskitAsync(dir, env, a...)
		}()
	}
	wg.Wait()
	for i := range 3 {
		if errs[i] != nil || res[i].code != 1 {
			t.Fatalf("shard %d: exit %d, %v\n%s\n%s", i, res[i].code, errs[i], res[i].stdout, res[i].stderr)
		}
		data, err := os.ReadFile(filepath.Join(dir, "shard"+string(rune('0'+i))+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var s loadJSON
		decodeJSON(t, string(data), &s)
		if s.Shard.Index != i || s.Shard.Count != 3 || s.Counts["attempted"] != 10 || s.Counts["identities_used"] != 10 {
			t.Errorf("shard %d: shard %+v, %d attempted with %d identities, want shard %d/3, 10 and 10", i, s.Shard, s.Counts["attempted"], s.Counts["identities_used"], i)
		}
	}
	merged := mtlskit(t, dir, nil, "load", "merge", "shard0.json", "shard1.json", "shard2.json", "--json")
	if merged.code != 1 {
		t.Fatalf("merge: exit %d\n%s\n%s", merged.code, merged.stdout, merged.stderr)
	}
	var m loadJSON
	decodeJSON(t, merged.stdout, &m)
	for _, k := range []string{"attempted", "tcp_connected", "handshakes", "established", "completed", "failed", "messages_sent", "messages_echoed", "bytes_sent", "bytes_echoed", "identities_used"} {
		if m.Counts[k] != w.Counts[k] {
			t.Errorf("%s: merged %d, whole run %d", k, m.Counts[k], w.Counts[k])
		}
	}
	if w.Counts["attempted"] != 30 || w.Counts["failed"] != 6 || w.Counts["established"] != 24 {
		t.Errorf("whole run counts %v", w.Counts)
	}
	for _, k := range []string{"tcp_connect", "tls_handshake", "upgrade", "echo_rtt"} {
		if m.Latency[k].Count != w.Latency[k].Count || m.Latency[k].HDR == "" {
			t.Errorf("%s histogram: merged holds %d, whole run %d", k, m.Latency[k].Count, w.Latency[k].Count)
		}
	}
	if len(m.Errors) != 1 || len(w.Errors) != 1 || m.Errors[0] != w.Errors[0] ||
		m.Errors[0].Count != 6 || m.Errors[0].Layer != "tls" || m.Errors[0].Reason != "unknown-ca" || m.Errors[0].RefusedBy != "server" {
		t.Errorf("errors: merged %+v, whole run %+v, want 6 refused in TLS by the server: unknown-ca", m.Errors, w.Errors)
	}
	if len(m.Shards) != 3 || m.Shards[0] != 0 || m.Shards[2] != 2 {
		t.Errorf("merged shards %v", m.Shards)
	}
	// The server's side: each run presented the same 24 trusted identities.
	_ = srv.Close()
	seen := map[string]int{}
	for _, o := range srv.Observations() {
		if o.TLS.Status == harness.LayerOK && strings.HasPrefix(o.TLS.ClientSubject, "load-") {
			seen[o.TLS.ClientSubject]++
		}
	}
	if len(seen) != 24 {
		t.Errorf("the server verified %d distinct load identities, want 24: %v", len(seen), seen)
	}
	// A shard merged twice is refused.
	if r := mtlskit(t, dir, nil, "load", "merge", "shard1.json", "shard1.json"); r.code != 1 || !strings.Contains(r.stderr, "more than one report") {
		t.Errorf("merging a shard twice: exit %d %s", r.code, r.stderr)
	}
}

// TestLoadFDLimit: with ulimit -n 200 (hard, so Go cannot raise it), 500
// connections are refused up front, saying the limit and the need.
func TestLoadFDLimit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", `ulimit -n 200 && exec "$0" load --connections 500`, binPath)
	cmd.Env = cleanEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != exitRunError {
		t.Fatalf("exit %v, want %d\n%s\n%s", err, exitRunError, out.String(), errb.String())
	}
	if want := "mtlskit: load: ulimit -n is 200; 500 connections need more (about 1064 descriptors)"; !strings.HasPrefix(errb.String(), want) {
		t.Errorf("stderr %q, want it to start %q", errb.String(), want)
	}
	if out.Len() != 0 {
		t.Errorf("stdout %q: nothing should run", out.String())
	}
}

// TestLoadBrokenRunTable: the table of a run with untrusted identities
// counts the refusals as the harness names them, and exits 1.
func TestLoadBrokenRunTable(t *testing.T) {
	r := mtlskit(t, t.TempDir(), nil, "load", "--connections", "20", "--untrusted", "10", "--tls-version", "1.2")
	if r.code != 1 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"errors: 10 of 20 connections failed", "10  tls  refused in TLS by the server: unknown-ca (alert 48 unknown_ca)", "reference server in this process"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the table lacks %q:\n%s", want, r.stdout)
		}
	}
	ok := mtlskit(t, t.TempDir(), nil, "load", "--connections", "10", "--messages", "3", "--json")
	var j loadJSON
	decodeJSON(t, ok.stdout, &j)
	if ok.code != 0 || j.Kind != "mtlskit-load" || j.Counts["completed"] != 10 || j.Counts["messages_echoed"] != 30 || len(j.Errors) != 0 {
		t.Errorf("a clean run: exit %d, %+v", ok.code, j)
	}
}

// TestLoadUsage: contradictory or impossible flags are usage errors
// (exit 2) that say what to do, before anything starts.
func TestLoadUsage(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--reconnect"}, "--reconnect: reconnecting goes on until --duration or --attempts"},
		{[]string{"--connections", "0"}, "--connections: 0: use 1 to"},
		{[]string{"--ramp", "1s"}, "--ramp: a ramp needs a positive --rate"},
		{[]string{"--message-size", "0"}, "--message-size: 0"},
		{[]string{"--shard", "3/3"}, `--shard: "3/3": use I/N`},
		{[]string{"--tls-version", "1.1"}, "--tls-version"},
		{[]string{"--curve", "x448"}, "--curve"},
		{[]string{"--format", "junit"}, "--format"},
		{[]string{"--target", "wss://localhost:1/"}, "--target needs --pki DIR"},
		{[]string{"--target", "ws://localhost:1/", "--pki", "x"}, "ws:// has no TLS"},
		{[]string{"--from-store", "load-"}, "--from-store PREFIX reads the store given with --pki"},
		{[]string{"--identities", "3", "--identities-dir", "x"}, "pick one"},
		{[]string{"--server-cmd", "x {nope}"}, "unknown placeholder {nope}"},
		{[]string{"--untrusted", "30", "--identities", "20"}, "--untrusted: 30 of 20 identities"},
		{[]string{"extra"}, "load takes no arguments"},
	} {
		r := mtlskit(t, dir, nil, append([]string{"load"}, c.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("load %v: exit %d, stderr %q; want 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
	if r := mtlskit(t, dir, nil, "load", "merge"); r.code != 2 {
		t.Errorf("load merge without reports: exit %d", r.code)
	}
}

// TestLoadServerCmdNginx loads the nginx fixture (mTLS termination in
// front of `mtlskit harness echo`) through --server-cmd, with half the
// identities from an unrelated CA: nginx completes every handshake and
// refuses those with 400, which the report counts as such.
func TestLoadServerCmdNginx(t *testing.T) {
	if _, err := exec.LookPath("nginx"); err != nil {
		t.Skip("nginx is not installed (apt-get install nginx-light)")
	}
	r := mtlskit(t, repoRoot(t), nil, "load", "--server-cmd", "sh fixtures/subjects/nginx/run.sh {dir} {port} {chain} {key} {ca} on",
		"--target", "wss://localhost:{port}/echo", "--connections", "20", "--untrusted", "10", "--messages", "2", "--json")
	var j loadJSON
	decodeJSON(t, r.stdout, &j)
	if r.code != 1 || j.Counts["established"] != 10 || j.Counts["failed"] != 10 || j.Counts["handshakes"] != 20 {
		t.Fatalf("exit %d, counts %v\n%s", r.code, j.Counts, r.stderr)
	}
	if len(j.Errors) != 1 || j.Errors[0].Count != 10 || j.Errors[0].Outcome != "rejected-http" || j.Errors[0].Status != 400 || j.Errors[0].RefusedBy != "server" {
		t.Errorf("errors %+v, want 10 upgrades answered 400 by the server", j.Errors)
	}
}

// TestLoadFromStoreAndDir: identities already issued, from the store
// (--from-store) and from a directory of pairs (--identities-dir, here a
// store's issued/ directory, with --ca instead of --pki), each presented
// to the server.
func TestLoadFromStoreAndDir(t *testing.T) {
	dir := t.TempDir()
	url, srv := storeServer(t, dir)
	mustRun(t, dir, "issue", "client", "--dir", "pki", "--count", "6", "--cn-prefix", "dev-")
	for _, args := range [][]string{
		{"--pki", "pki", "--from-store", "dev-"},
		{"--ca", filepath.Join("pki", "ca", "root.pem"), "--identities-dir", filepath.Join("pki", "issued")},
	} {
		r := mtlskit(t, dir, nil, append([]string{"load", "--target", url, "--connections", "6", "--json"}, args...)...)
		var j loadJSON
		decodeJSON(t, r.stdout, &j)
		if r.code != 0 || j.Counts["completed"] != 6 || j.Counts["identities_used"] != 6 {
			t.Errorf("load %v: exit %d, counts %v\n%s", args, r.code, j.Counts, r.stderr)
		}
	}
	_ = srv.Close()
	seen := map[string]int{}
	for _, o := range srv.Observations() {
		if o.TLS.Status == harness.LayerOK && strings.HasPrefix(o.TLS.ClientSubject, "dev-") {
			seen[o.TLS.ClientSubject]++
		}
	}
	if len(seen) != 6 {
		t.Errorf("the server verified %d of the 6 issued identities: %v", len(seen), seen)
	}
}
