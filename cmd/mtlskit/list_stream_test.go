package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/pki"
)

// TestListJSONStreamsWhatPrintJSONWrites: list --json writes a
// certificate at a time, byte for byte the document printJSON writes.
func TestListJSONStreamsWhatPrintJSONWrites(t *testing.T) {
	store := pki.OpenStore("some <dir>/pki")
	now := time.Date(2026, 12, 1, 10, 0, 0, 5, time.UTC)
	entries := []pki.Entry{
		{Name: "root", Kind: pki.KindRoot, Serial: "01", CommonName: "mtlskit Root CA", SANs: []string{}, KeyType: pki.ECDSAP256,
			NotBefore: now, NotAfter: now.Add(10 * pki.Year), SHA256: "ab", Issuer: "mtlskit Root CA", Created: now, Cert: "ca/root.pem", Key: "ca/root-key.pem"},
		{Name: "alice", Kind: pki.KindClient, Serial: "0a", CommonName: "al\u00e9 \"<x>\" & \u2028\x01", SANs: []string{"spiffe://corp/alice", "a@example.com"},
			KeyType: pki.Ed25519, NotBefore: now, NotAfter: now.Add(24 * time.Hour), SHA256: "cd", Issuer: "I", Created: now,
			Cert: "issued/alice/cert.pem", Key: "issued/alice/key.pem", Chain: "issued/alice/chain.pem",
			Revoked: &pki.Revocation{Serial: "0a", Name: "alice", At: now, Reason: pki.ReasonKeyCompromise, ReasonName: "keyCompromise", IssuerKeyID: "ff", NotAfter: now}},
		{Name: "csr1", Kind: pki.KindServer, Serial: "0b", SANs: nil, Cert: "issued/csr1/cert.pem", Chain: "issued/csr1/chain.pem"},
	}
	for _, n := range []int{0, 1, 3} {
		type row struct {
			entryFacts
			Status string `json:"status"`
		}
		want := struct {
			Dir          string `json:"dir"`
			Certificates []row  `json:"certificates"`
		}{Dir: store.Dir, Certificates: []row{}}
		for _, e := range entries[:n] {
			want.Certificates = append(want.Certificates, row{factsOf(store, e), status(e, now)})
		}
		var w, got bytes.Buffer
		if err := printJSON(&w, want); err != nil {
			t.Fatal(err)
		}
		if err := listJSON(&got, store, entries[:n], func(pki.Entry) bool { return true }, now); err != nil {
			t.Fatal(err)
		}
		if got.String() != w.String() {
			t.Errorf("%d entries: list --json streamed\n%s\nprintJSON writes\n%s", n, got.String(), w.String())
		}
	}
}

// TestListTableAlignsAsTabwriter: the one-pass table is what
// text/tabwriter (newTable) printed.
func TestListTableAlignsAsTabwriter(t *testing.T) {
	now := time.Now()
	entries := []pki.Entry{
		{Name: "root", Kind: pki.KindRoot, Serial: "0123456789abcdef0123", SANs: []string{}, NotAfter: now.Add(pki.Year)},
		{Name: "a-much-longer-name", Kind: pki.KindClient, Serial: "0a", SANs: []string{"spiffe://corp/é", "x@y"}, NotAfter: now.Add(pki.Day)},
		{Name: "b", Kind: pki.KindServer, Serial: "0b", SANs: []string{"localhost"}, NotAfter: now.Add(-pki.Day)},
	}
	var got, want bytes.Buffer
	if err := listTable(&got, entries, func(pki.Entry) bool { return true }, now, palette{}); err != nil {
		t.Fatal(err)
	}
	tw := newTable(&want)
	tw.row("NAME", "KIND", "SERIAL", "SANS", "EXPIRES", "STATUS")
	for _, e := range entries {
		serial := e.Serial
		if len(serial) > 16 {
			serial = serial[:16] + "…"
		}
		sans := strings.Join(e.SANs, ", ")
		if sans == "" {
			sans = "-"
		}
		tw.row(e.Name, string(e.Kind), serial, sans, e.NotAfter.Format(time.DateOnly), status(e, now))
	}
	tw.flush()
	if got.String() != want.String() {
		t.Errorf("table\n%s\ntabwriter\n%s", got.String(), want.String())
	}
}

// TestListFilters: --kind keeps one kind, --expiring D the certificates
// that expire within D, and a bad value is a usage error.
func TestListFilters(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init")
	mustRun(t, dir, "issue", "server", "--san", "localhost")
	mustRun(t, dir, "issue", "client", "--count", "3", "--cn-prefix", "dev-", "--validity", "10d")
	mustRun(t, dir, "issue", "client", "--cn", "alice")
	lines := func(out string) []string { return strings.Split(strings.TrimSpace(out), "\n")[1:] }
	if got := lines(mustRun(t, dir, "list", "--kind", "client").stdout); len(got) != 4 || !strings.HasPrefix(got[0], "alice ") {
		t.Errorf("--kind client listed %q", got)
	}
	if got := lines(mustRun(t, dir, "list", "--expiring", "30d").stdout); len(got) != 3 || !strings.HasPrefix(got[0], "dev-0001 ") {
		t.Errorf("--expiring 30d listed %q", got)
	}
	js := mustRun(t, dir, "list", "--json", "--kind", "server").stdout
	if strings.Count(js, `"kind": "server"`) != 1 || strings.Contains(js, `"kind": "client"`) {
		t.Errorf("list --json --kind server:\n%s", js)
	}
	for _, bad := range [][]string{{"list", "--kind", "ca"}, {"list", "--expiring", "soon"}} {
		if r := mtlskit(t, dir, nil, bad...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", bad, r.code, r.stderr)
		}
	}
}
