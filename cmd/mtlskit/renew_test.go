package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRenewCommand: renew NAME keeps the key and names, renew --rekey
// changes the key, list shows the lineage, --exec runs after the swap
// (it sees the new files) and its failure is reported with exit 1.
func TestRenewCommand(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init", "--intermediate")
	mustRun(t, dir, "issue", "server", "--san", "localhost,127.0.0.1", "--validity", "10d")
	keyBefore, _ := os.ReadFile(filepath.Join(dir, "pki/issued/localhost/key.pem"))
	var out struct {
		Renewed []struct {
			Predecessor struct{ Serial string } `json:"predecessor"`
			Successor   struct {
				Serial      string `json:"serial"`
				RenewedFrom string `json:"renewed_from"`
				SHA256      string `json:"sha256"`
			} `json:"successor"`
			Exchanged bool `json:"exchanged"`
		} `json:"renewed"`
		Exec *execReport `json:"exec"`
	}
	// The reload command sees the successor in place.
	r := mustRun(t, dir, "renew", "localhost", "--json", "--exec", "sha256sum pki/issued/localhost/cert.pem >seen; echo $MTLSKIT_RENEWED >names")
	decodeJSON(t, r.stdout, &out)
	if len(out.Renewed) != 1 || out.Exec == nil || out.Exec.ExitCode != 0 {
		t.Fatalf("renew --json: %s", r.stdout)
	}
	rn := out.Renewed[0]
	if rn.Successor.Serial == rn.Predecessor.Serial || rn.Successor.RenewedFrom != rn.Predecessor.Serial {
		t.Errorf("lineage: %+v", rn)
	}
	seen, _ := os.ReadFile(filepath.Join(dir, "seen"))
	certPEM, _ := os.ReadFile(filepath.Join(dir, "pki/issued/localhost/cert.pem"))
	if names, _ := os.ReadFile(filepath.Join(dir, "names")); strings.TrimSpace(string(names)) != "localhost" {
		t.Errorf("$MTLSKIT_RENEWED = %q", names)
	}
	if len(seen) == 0 || len(certPEM) == 0 {
		t.Fatalf("the reload command did not run")
	}
	if keyAfter, _ := os.ReadFile(filepath.Join(dir, "pki/issued/localhost/key.pem")); string(keyAfter) != string(keyBefore) {
		t.Errorf("renew without --rekey changed key.pem")
	}
	mustRun(t, dir, "renew", "localhost", "--rekey")
	if keyAfter, _ := os.ReadFile(filepath.Join(dir, "pki/issued/localhost/key.pem")); string(keyAfter) == string(keyBefore) {
		t.Errorf("renew --rekey kept key.pem")
	}
	checkStore(t, dir, "pki", true)
	list := mustRun(t, dir, "list").stdout
	if !strings.Contains(list, "renewed from") || !strings.Contains(list, "superseded by renewal") || strings.Count(list, "localhost") < 3 {
		t.Errorf("list does not show the lineage:\n%s", list)
	}
	if runTool(t, dir, "openssl", "verify", "-CAfile", "pki/ca/root.pem", "-untrusted", "pki/ca/intermediate.pem", "-purpose", "sslserver", "pki/issued/localhost/cert.pem") == "" {
		t.Errorf("openssl verify printed nothing")
	}
	lint := mustRun(t, dir, "lint", "localhost")
	if strings.Contains(lint.stdout, "error") {
		t.Errorf("lint of the successor: %s", lint.stdout)
	}

	// A failing reload is reported, and the renewal stands.
	r = mtlskit(t, dir, nil, "renew", "localhost", "--exec", "exit 3")
	if r.code != 1 || !strings.Contains(r.stdout, "exited 3") || !strings.Contains(r.stderr, "were renewed") {
		t.Errorf("failing --exec: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// Failures change nothing.
	before := treeHash(t, filepath.Join(dir, "pki"))
	for _, args := range [][]string{
		{"renew", "nosuch"},
		{"renew", "localhost", "--validity", "30y"},
		{"renew"},
		{"renew", "localhost", "--expiring-within", "30d"},
	} {
		if r := mtlskit(t, dir, nil, args...); r.code == 0 {
			t.Errorf("%v succeeded", args)
		}
	}
	if treeHash(t, filepath.Join(dir, "pki")) != before {
		t.Errorf("a failed renew changed the store")
	}
}

// TestRenewExpiringWithinThousand renews 1,000 client certificates due
// within 30 days in one run, with one reload command.
func TestRenewExpiringWithinThousand(t *testing.T) {
	n := "1000"
	if testing.Short() {
		n = "100"
	}
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init")
	mustRun(t, dir, "issue", "client", "--count", n, "--cn-prefix", "dev-", "--validity", "7d")
	mustRun(t, dir, "issue", "client", "--cn", "longlived", "--validity", "1y")
	start := time.Now()
	r := mustRun(t, dir, "renew", "--expiring-within", "30d", "--exec", "echo $MTLSKIT_RENEWED | wc -w >count")
	took := time.Since(start)
	count, _ := os.ReadFile(filepath.Join(dir, "count"))
	if strings.TrimSpace(string(count)) != n || strings.Contains(r.stdout, `"longlived"`) {
		t.Errorf("renewed %q certificates, want %s (not longlived)", count, n)
	}
	t.Logf("renewed %s client certificates with --exec in %v", n, took.Round(time.Millisecond))
	rows := checkStore(t, dir, "pki", true)
	for name, e := range rows {
		if strings.HasPrefix(name, "client/dev-") && e.RenewedFrom == "" {
			t.Fatalf("%s was not renewed", name)
		}
	}
	if r := mustRun(t, dir, "renew", "--expiring-within", "1d"); !strings.Contains(r.stdout, "nothing to renew") {
		t.Errorf("second run: %s", r.stdout)
	}
}
