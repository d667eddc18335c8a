package pki

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// bigIndex is an index of n leaves (plus a root) as a large store's
// would be: lint records, revocations, CA information.
func bigIndex(n int) index {
	now := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)
	idx := index{Version: indexVersion, CA: &CAInfo{CRLURL: "http://127.0.0.1:8080/crl.der", CRLNumber: 7},
		LintSigners: map[string]string{"00112233445566778899aabbccddeeff": "zlint v3.7.3 0123456789ab"}}
	idx.Entries = append(idx.Entries, Entry{Name: "root", Kind: KindRoot, Serial: "01", CommonName: "mtlskit Root CA", SANs: []string{},
		KeyType: ECDSAP256, NotBefore: now, NotAfter: now.Add(10 * Year), SHA256: "ab", Issuer: "mtlskit Root CA", Created: now,
		Cert: "ca/root.pem", Key: "ca/root-key.pem", lint: &lintRecord{By: "zlint v3.7.3 0123456789ab"}})
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("dev-%06d", i)
		e := Entry{Name: name, Kind: KindClient, Serial: fmt.Sprintf("%032x", i*7919+1), CommonName: name, SANs: []string{},
			KeyType: ECDSAP256, NotBefore: now, NotAfter: now.Add(Year), SHA256: fmt.Sprintf("%064x", i), Issuer: "mtlskit Intermediate CA",
			Created: now, Cert: "issued/" + name + "/cert.pem", Key: "issued/" + name + "/key.pem", Chain: "issued/" + name + "/chain.pem",
			lint: &lintRecord{By: "zlint v3.7.3 0123456789ab"}}
		if i%1000 == 0 {
			e.SANs = []string{"spiffe://corp/" + name, name + "@example.com"}
			e.lint.Findings = []LintFinding{{ID: "n_some_notice", Status: "notice", Source: "Community", Details: `"quoted" <detail> & more`}}
		}
		if i%100 == 0 {
			idx.Revoked = append(idx.Revoked, Revocation{Serial: e.Serial, Name: name, At: now, Reason: ReasonSuperseded,
				ReasonName: "superseded", IssuerKeyID: "0a0b", NotAfter: e.NotAfter})
		}
		idx.Entries = append(idx.Entries, e)
	}
	return idx
}

// TestIndex100kRoundTrips writes an index of 100,000 leaves through the
// store's writer and reads it back through its reader, entry for entry,
// and checks the fast decoder and encoding/json read the file alike.
func TestIndex100kRoundTrips(t *testing.T) {
	n := 100000
	if testing.Short() {
		n = 5000
	}
	s := OpenStore(t.TempDir())
	if err := ensureDir(s.Dir); err != nil {
		t.Fatal(err)
	}
	want := bigIndex(n)
	if err := s.writeIndex(want); err != nil {
		t.Fatal(err)
	}
	got, err := s.readIndex()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the index read back differs from the one written (%d/%d entries)", len(got.Entries), len(want.Entries))
	}
	data, err := os.ReadFile(filepath.Join(s.Dir, indexFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d entries: %d bytes, %d a leaf", len(want.Entries), len(data), len(data)/n)
	slow, err := decodeIndexSlow(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(slow, got) {
		t.Fatal("encoding/json reads the index differently from the fast decoder")
	}
	// The single-name lookup finds what the full read finds.
	for i := 0; i < len(got.Entries); i += 997 {
		name := got.Entries[i].Name
		want, err := s.getFull(name)
		if err != nil {
			t.Fatal(err)
		}
		if e, err := s.lookup(name); err != nil || !reflect.DeepEqual(e, want) {
			t.Fatalf("lookup %q = %+v, %v; the full read has %+v", name, e, err, want)
		}
	}
	// The list view: sorted already, revocations attached.
	es := got.listed()
	if es[1].Revoked == nil || es[1].Revoked.Name != "dev-000000" || es[2].Revoked != nil {
		t.Errorf("revocations not attached: %+v %+v", es[1].Revoked, es[2].Revoked)
	}
}

// TestIndexWrittenInListOrder: entries appended in any order are written
// CAs first, then by name, and an index written by an older mtlskit
// (indented, other order) is read the same.
func TestIndexWrittenInListOrder(t *testing.T) {
	s := OpenStore(t.TempDir())
	ensureDir(s.Dir)
	idx := bigIndex(3)
	idx.Entries[0], idx.Entries[3] = idx.Entries[3], idx.Entries[0]
	if err := s.writeIndex(idx); err != nil {
		t.Fatal(err)
	}
	got, err := s.readIndex()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range got.Entries {
		names = append(names, e.Name)
	}
	if want := []string{"root", "dev-000000", "dev-000001", "dev-000002"}; !reflect.DeepEqual(names, want) {
		t.Errorf("written order %v, want %v", names, want)
	}
	old := []byte(`{
  "version": 1,
  "entries": [
    {
      "name": "zed",
      "kind": "client",
      "serial": "0b",
      "sans": [],
      "cert": "issued/zed/cert.pem"
    },
    {
      "name": "root",
      "kind": "root",
      "serial": "01",
      "cert": "ca/root.pem"
    }
  ]
}
`)
	if err := os.WriteFile(filepath.Join(s.Dir, indexFile), old, 0o644); err != nil {
		t.Fatal(err)
	}
	es, err := s.readIndex()
	if err != nil {
		t.Fatal(err)
	}
	if l := es.listed(); len(l) != 2 || l[0].Name != "root" || l[1].Name != "zed" {
		t.Errorf("old index listed as %+v", l)
	}
	if bytes.Contains(encodeIndex(&es), []byte("  ")) {
		t.Error("the writer indents")
	}
}

// TestIndexParallelDecodeSplitsSafely: an index whose entries hold line
// starts inside them ("\n{" in a hand-edited file) still decodes as
// encoding/json decodes it, wherever the parallel decoder splits it.
func TestIndexParallelDecodeSplitsSafely(t *testing.T) {
	idx := bigIndex(3 * parallelFrom)
	data := bytes.ReplaceAll(encodeIndex(&idx), []byte(`"lint":{`), []byte("\"lint\":\n{"))
	fast, err := decodeIndex(string(data))
	if err != nil {
		t.Fatal(err)
	}
	slow, err := decodeIndexSlow(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fast, slow) || len(fast.Entries) != len(idx.Entries) {
		t.Fatalf("decoded %d entries, encoding/json %d", len(fast.Entries), len(slow.Entries))
	}
}
