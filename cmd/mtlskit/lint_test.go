package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mtlskit/mtlskit/pki"
)

type lintJSON struct {
	Result       string `json:"result"`
	Certificates []struct {
		SHA256   string `json:"sha256"`
		Result   string `json:"result"`
		Cached   bool   `json:"cached"`
		LintKey  string `json:"lint_key"`
		Findings []struct{ ID, Status string }
	} `json:"certificates"`
}

func lintJSONOf(t *testing.T, dir string, env []string, args ...string) lintJSON {
	t.Helper()
	r := mtlskit(t, dir, env, append([]string{"lint", "--json"}, args...)...)
	var out lintJSON
	decodeJSON(t, r.stdout, &out)
	if len(out.Certificates) != 1 {
		t.Fatalf("lint %v: %d certificates\n%s", args, len(out.Certificates), r.stdout)
	}
	return out
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ParseCerts(data)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(certs[0].Raw)
	return hex.EncodeToString(sum[:])
}

// TestLintNameCache: lint NAME shows the findings the index keeps only
// for the certificate file it reads now (same SHA-256) under the installed
// mtlskit-lint's lint key, says so, and otherwise lints: with --relint,
// for a certificate file replaced by another certificate, for an entry
// without findings, and without mtlskit-lint (which is no pass).
func TestLintNameCache(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init")
	mustRun(t, dir, "issue", "server", "--san", "localhost")
	mustRun(t, dir, "issue", "client", "--cn", "alice")
	cert := filepath.Join(dir, "pki", "issued", "localhost", "cert.pem")
	indexed := fileSum(t, cert)

	// Issued one at a time: no findings in the index yet, zlint runs.
	if out := lintJSONOf(t, dir, nil, "localhost"); out.Certificates[0].Cached || out.Certificates[0].LintKey == "" {
		t.Errorf("lint before any audit: %+v, want a zlint run with the lint key", out)
	}
	mustRun(t, dir, "verify") // the audit writes the findings back
	cached := lintJSONOf(t, dir, nil, "localhost")
	if c := cached.Certificates[0]; !c.Cached || c.SHA256 != indexed || !strings.HasPrefix(c.LintKey, "zlint ") {
		t.Errorf("lint after the audit: %+v, want the index's findings for %s", cached, indexed)
	}
	if r := mustRun(t, dir, "lint", "localhost"); !strings.Contains(r.stdout, "cached: the findings the index recorded for SHA-256 "+indexed) ||
		!strings.Contains(r.stdout, cached.Certificates[0].LintKey) {
		t.Errorf("the text report does not say the findings are cached:\n%s", r.stdout)
	}
	fresh := lintJSONOf(t, dir, nil, "localhost", "--relint")
	if c := fresh.Certificates[0]; c.Cached || c.SHA256 != indexed || !reflect.DeepEqual(c.Findings, cached.Certificates[0].Findings) {
		t.Errorf("lint --relint: %+v, want a zlint run with the cached findings %+v", fresh, cached)
	}
	if r := mustRun(t, dir, "lint", "localhost", "--relint"); strings.Contains(r.stdout, "cached") {
		t.Errorf("lint --relint says cached:\n%s", r.stdout)
	}

	// Another certificate in the file, one the index has findings for
	// under another name: not served the entry's findings.
	other := filepath.Join(dir, "pki", "issued", "alice", "cert.pem")
	data, err := os.ReadFile(other)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cert, data, 0o644); err != nil {
		t.Fatal(err)
	}
	swapped := lintJSONOf(t, dir, nil, "localhost")
	if c := swapped.Certificates[0]; c.Cached || c.SHA256 != fileSum(t, other) {
		t.Errorf("lint of a replaced certificate file: %+v, want a zlint run on %s", swapped, fileSum(t, other))
	}
	if r := mtlskit(t, dir, nil, "lint", "localhost"); strings.Contains(r.stdout, "cached") {
		t.Errorf("lint of a replaced certificate file says cached:\n%s", r.stdout)
	}

	// Without mtlskit-lint there is no lint key to trust the cache by.
	none := []string{"MTLSKIT_LINT=" + filepath.Join(dir, "no-such-mtlskit-lint")}
	out := lintJSONOf(t, dir, none, "alice")
	if c := out.Certificates[0]; c.Cached || c.LintKey != "" || out.Result != "fail" || len(c.Findings) != 1 || c.Findings[0].ID != "zlint_unavailable" {
		t.Errorf("lint without mtlskit-lint: %+v, want zlint_unavailable", out)
	}
}
