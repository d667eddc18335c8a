package pki

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
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
		if i%100 == 50 {
			renewChain(&idx, &e, 1+i/100%3, i/100%2 == 1, now)
		}
		idx.Entries = append(idx.Entries, e)
	}
	// A predecessor of a name no longer indexed, that is a prefix of
	// indexed names (dev-000050...), with escapes in its kind.
	idx.Superseded = append(idx.Superseded, Supersession{Name: "dev-00005", Kind: "client\u00e9 <&>\t", Serial: "5e", SHA256: "00",
		NotBefore: now.In(time.FixedZone("", 3600)), NotAfter: now.Truncate(time.Second), At: now, By: "5f"})
	return idx
}

// renewChain makes e the successor of length renewals, as renew leaves
// them: the predecessors under superseded, oldest first, each naming its
// own predecessor, and e renewed_from the last.
func renewChain(idx *index, e *Entry, length int, rekeyed bool, now time.Time) {
	prev := ""
	for k := range length {
		serial := fmt.Sprintf("%s%02d", e.Serial[:30], k)
		by := e.Serial
		if k < length-1 {
			by = fmt.Sprintf("%s%02d", e.Serial[:30], k+1)
		}
		idx.Superseded = append(idx.Superseded, Supersession{Name: e.Name, Kind: e.Kind, Serial: serial, SHA256: e.SHA256,
			NotBefore: now.Add(-Year), NotAfter: now, RenewedFrom: prev, At: now.Add(time.Duration(k) * time.Hour), By: by, Rekeyed: rekeyed})
		prev = serial
	}
	e.RenewedFrom = prev
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
	// The store's own index, renewals and all, is the fast decoder's: a
	// fallback to encoding/json would pass the comparisons unseen.
	if _, err := decodeIndexFast(string(data)); err != nil {
		t.Fatalf("the fast decoder leaves the written index to encoding/json (%v)", err)
	}
	slow, err := decodeIndexSlow(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(slow, got) {
		t.Fatal("encoding/json reads the index differently from the fast decoder")
	}
	if sup, _ := json.Marshal(want.Superseded); !bytes.Contains(data, append([]byte(`,"superseded":`), sup...)) {
		t.Error("the superseded records are not written as encoding/json writes them")
	}
	chains := 1 // the predecessor of a name no longer indexed
	for i := 50; i < n; i += 100 {
		chains += 1 + i/100%3
	}
	if len(got.Superseded) != chains || got.Superseded[2].RenewedFrom != got.Superseded[1].Serial {
		t.Fatalf("%d superseded records read back, want %d in chains", len(got.Superseded), chains)
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

// TestIndexSupersededLikeEncodingJSON: the fast decoder reads superseded
// records as encoding/json does, and leaves to it what it reads
// differently from a plain field (null, a key in another letter case, a
// repeated key, a value of the wrong type).
func TestIndexSupersededLikeEncodingJSON(t *testing.T) {
	const rec = `{"name":"svc","kind":"server","serial":"5e0","sha256":"00","not_before":"2026-12-01T10:00:00Z",` +
		`"not_after":"2027-12-01T10:00:00.5+01:00","renewed_from":"4e0","superseded_at":"2026-12-02T09:00:00.123Z","renewed_to":"5e1","rekeyed":true}`
	file := func(sup string) string {
		return `{"version":1,"superseded":` + sup + `,"entries":[` + "\n" +
			`{"name":"svc","kind":"server","serial":"5e1","cert":"issued/svc/cert.pem","renewed_from":"5e0"}` + "\n]}\n"
	}
	for _, c := range []struct {
		sup  string
		fast bool // whether the fast decoder reads it
	}{
		{`[]`, true},
		{`[` + rec + `]`, true},
		{`[` + rec + `,` + strings.Replace(rec, `"rekeyed":true`, `"rekeyed":false,"extra":[1,{"a":"b"}]`, 1) + `]`, true},
		{`[{"name":"dev-0","renewed_to":"\u0035e1"}, {}]`, true},
		{`[` + strings.Replace(rec, `"name"`, `"Name"`, 1) + `]`, false},
		{`[` + strings.Replace(rec, `"rekeyed":true`, `"rekeyed":null`, 1) + `]`, false},
		{`[` + strings.Replace(rec, `"rekeyed":true`, `"rekeyed":true,"rekeyed":false`, 1) + `]`, false},
		{`[` + strings.Replace(rec, `"rekeyed":true`, `"rekeyed":"true"`, 1) + `]`, false},
		{`[` + strings.Replace(rec, `"renewed_to":"5e1"`, `"renewed_to":5`, 1) + `]`, false},
		{`[` + strings.Replace(rec, `"2026-12-02T09:00:00.123Z"`, `"yesterday"`, 1) + `]`, false},
		{`null`, false},
		{`[null]`, false},
		{`{}`, false},
	} {
		data := file(c.sup)
		fast, ferr := decodeIndexFast(data)
		if (ferr == nil) != c.fast {
			t.Errorf("superseded %s: fast decoder error %v, want it to read it: %v", c.sup, ferr, c.fast)
		}
		slow, serr := decodeIndexSlow([]byte(data))
		if ferr == nil && (serr != nil || !reflect.DeepEqual(fast, slow)) {
			t.Errorf("superseded %s: fast %+v, encoding/json %+v (%v)", c.sup, fast.Superseded, slow.Superseded, serr)
		}
		if got, err := decodeIndex(data); (err == nil) != (serr == nil) || (err == nil && !reflect.DeepEqual(got, slow)) {
			t.Errorf("superseded %s: read as %+v, %v; encoding/json %+v, %v", c.sup, got.Superseded, err, slow.Superseded, serr)
		}
	}
}
