package pki

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// lookupIndexFile is an index with what makes a lookup hard: names that
// are prefixes of other names, leaves named like the CAs, a renewal (the
// successor indexed, the predecessor superseded), a name revoked and
// issued again (the old serial revoked, the new one not), a serial that
// is a prefix of a revoked one, a serial revoked twice, an entry without
// a lint record, findings and SANs that need escapes (bigIndex).
func lookupIndexFile(n int) index {
	idx := bigIndex(n)
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	leaf := func(name, serial string) Entry {
		return Entry{Name: name, Kind: KindServer, Serial: serial, CommonName: name, SANs: []string{name + ".example.com", "127.0.0.1"},
			KeyType: ECDSAP256, NotBefore: now, NotAfter: now.Add(Year), SHA256: fmt.Sprintf("%064x", len(name)), Issuer: "mtlskit Root CA",
			Created: now, Cert: "issued/" + name + "/cert.pem", Key: "issued/" + name + "/key.pem", Chain: "issued/" + name + "/chain.pem"}
	}
	idx.Entries = append(idx.Entries, Entry{Name: "intermediate", Kind: KindIntermediate, Serial: "02", SANs: []string{},
		Cert: "ca/intermediate.pem", Key: "ca/intermediate-key.pem", Chain: "ca/intermediate.pem"})
	for _, name := range []string{"dev-00000", "dev-0000000", "d", "root", "intermediate", "x@y.z", "A_b.c-d"} {
		idx.Entries = append(idx.Entries, leaf(name, fmt.Sprintf("77%x", len(name)))) // dev-00000: 779
	}
	renewed := leaf("svc", "5e1")
	renewed.RenewedFrom = "5e0"
	renewed.lint = &lintRecord{By: "zlint v3.7.3 0123456789ab", Findings: []LintFinding{{ID: "w_a", Status: "warn", Source: "RFC5280", Details: "tab\there, é, \\ and \u2028"}}}
	idx.Entries = append(idx.Entries, renewed)
	idx.Superseded = append(idx.Superseded, Supersession{Name: "svc", Kind: KindServer, Serial: "5e0", SHA256: "00", NotBefore: now, NotAfter: now,
		At: now, By: "5e1"})
	reissued := leaf("again", "a9a1")
	idx.Entries = append(idx.Entries, reissued)
	rev := func(serial, name string, reason RevocationReason) Revocation {
		return Revocation{Serial: serial, Name: name, At: now, Reason: reason, ReasonName: "r", IssuerKeyID: "0a0b", NotAfter: now}
	}
	idx.Revoked = append(idx.Revoked, rev("a9a0", "again", ReasonKeyCompromise), // the old "again", not the indexed one
		rev("a9a", "x", ReasonKeyCompromise), rev("a9a10", "x", ReasonKeyCompromise), // a9a1 is a prefix of one, has one as its prefix
		rev("77", "x", ReasonKeyCompromise),                                                     // a prefix of every serial below
		rev("779", "dev-00000", ReasonSuperseded), rev("779", "dev-00000", ReasonKeyCompromise)) // twice: the first counts
	return idx
}

// TestLookupMatchesFullRead: for every entry of a stamped index, and for
// names it does not have, the lookup returns what the full read returns,
// entry, revocation and lint record, whatever the size of the reads.
func TestLookupMatchesFullRead(t *testing.T) {
	s := OpenStore(t.TempDir())
	ensureDir(s.Dir)
	idx := lookupIndexFile(1000)
	if err := s.writeIndex(idx); err != nil {
		t.Fatal(err)
	}
	names := []string{"nosuch", "dev-0000", "dev-00000000", "dev-", "svc1", "sv", "agai", "root1", "ROOT"}
	for _, e := range idx.Entries {
		names = append(names, e.Name)
	}
	full, err := s.readIndex()
	if err != nil {
		t.Fatal(err)
	}
	defer func(n int) { lookupChunk = n }(lookupChunk)
	for _, chunk := range []int{1, 7, 300, 4096, 256 << 10} {
		lookupChunk = chunk
		for i, name := range names {
			if chunk < 4096 && i%97 != 0 && i > 40 {
				continue // small reads: a sample
			}
			want := full.find(name) // as getFull does
			if want != nil {
				want.Revoked = full.revocation(want.Serial)
			}
			got, err := s.lookup(name)
			if err != nil {
				t.Fatalf("lookup %q (reads of %d bytes) declined a stamped index: %v", name, chunk, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("lookup %q (reads of %d bytes):\n%+v\nfull read:\n%+v", name, chunk, got, want)
			}
		}
	}
	// What the test relies on is there: a revoked name, a CA name given to
	// a leaf, a renewal, a serial revoked twice.
	for name, check := range map[string]func(*Entry) bool{
		"dev-000000":   func(e *Entry) bool { return e.Revoked != nil && e.Revoked.Name == "dev-000000" },
		"dev-000001":   func(e *Entry) bool { return e.Revoked == nil && e.lint != nil },
		"root":         func(e *Entry) bool { return e.Kind == KindServer },
		"intermediate": func(e *Entry) bool { return e.Kind == KindServer },
		"svc":          func(e *Entry) bool { return e.RenewedFrom == "5e0" && len(e.lint.Findings) == 1 },
		"again":        func(e *Entry) bool { return e.Serial == "a9a1" && e.Revoked == nil },
		"dev-00000":    func(e *Entry) bool { return e.Revoked != nil && e.Revoked.Reason == ReasonSuperseded },
	} {
		if e, err := s.Get(name); err != nil || !check(e) {
			t.Errorf("Get %q = %+v, %v", name, e, err)
		}
	}
	if _, err := s.Get("nosuch"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get nosuch: %v, want ErrNotFound", err)
	}
}

// TestLookupDeclines: an index without the stamp, or whose stamp does
// not match its bytes (edited, damaged), or with an entry the full read
// refuses, is left to the full read, which reads or refuses it as before:
// damage anywhere in the file is refused, also for a name the scan would
// have found before the damage.
func TestLookupDeclines(t *testing.T) {
	s := OpenStore(t.TempDir())
	ensureDir(s.Dir)
	idx := bigIndex(200)
	stamped := encodeIndex(&idx)
	path := filepath.Join(s.Dir, indexFile)
	for _, tc := range []struct {
		name    string
		data    []byte
		wantErr string // of Get; "" when it finds dev-000001
		wantCN  string
	}{
		{"no stamp", bytes.Replace(stamped, stamped[len(`{"version":1`):len(stampPrefix)+9], nil, 1), "", "dev-000001"},
		{"an older layout", []byte(`{"version":1,"entries":[` + "\n" + `{"name":"dev-000001","kind":"client","serial":"0b","common_name":"old","cert":"issued/dev-000001/cert.pem"}` + "\n]}\n"), "", "old"},
		{"edited by hand", bytes.Replace(stamped, []byte(`"common_name":"dev-000001"`), []byte(`"common_name":"edited"`), 1), "", "edited"},
		{"a wrong stamp", withStamp(stamped, "deadbeef"), "", "dev-000001"},
		{"a stamp not in hex", withStamp(stamped, "0123456z"), "", "dev-000001"},
		{"damaged after the entry", stamped[:len(stamped)*2/3], "is damaged", ""},
		{"one byte changed after the entry", bytes.Replace(stamped, []byte(`"name":"dev-000150","kind":"client"`), []byte(`"name":"dev-000150","kind":"cli\x01nt"`), 1), "is damaged", ""},
		{"a path outside the store", restamp(bytes.Replace(stamped, []byte(`"issued/dev-000001/cert.pem"`), []byte(`"../dev-000001/cert.pem"`), 1)), "is damaged", ""},
		{"a newer version", restamp(bytes.Replace(stamped, []byte(`{"version":1,`), []byte(`{"version":2,`), 1)), "newer", ""},
	} {
		if err := os.WriteFile(path, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := s.lookup("dev-000001"); !errors.Is(err, errSlowPath) {
			t.Errorf("%s: lookup did not leave the index to the full read (%v)", tc.name, err)
		}
		e, err := s.Get("dev-000001")
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: Get = %+v, %v; want an error with %q", tc.name, e, err, tc.wantErr)
		case tc.wantErr == "" && (err != nil || e.CommonName != tc.wantCN):
			t.Errorf("%s: Get = %+v, %v; want common name %q", tc.name, e, err, tc.wantCN)
		}
	}
}

// withStamp is b with the stamp's digits replaced.
func withStamp(b []byte, digits string) []byte {
	out := append([]byte(nil), b...)
	copy(out[len(stampPrefix):], digits)
	return out
}

// restamp recomputes the stamp of an encoded index.
func restamp(b []byte) []byte {
	at := bytes.Index(b, []byte(`"`+stampKey+`":"`)) + len(stampKey) + 4
	return stamp(b, at)
}

// TestStampCoversTheFile: the writer's stamp is the CRC-32C of what
// follows it, and every index it writes has one.
func TestStampCoversTheFile(t *testing.T) {
	idx := bigIndex(3)
	b := encodeIndex(&idx)
	if !bytes.HasPrefix(b, []byte(stampPrefix)) {
		t.Fatalf("the index does not begin with the stamp: %.60s", b)
	}
	if err := (&indexScan{pattern: []byte("\n{\"name\":\"none\"")}).run(bytes.NewReader(b)); err != nil {
		t.Fatalf("the writer's own index does not check: %v", err)
	}
	b[len(b)-2] = ']' // "]}\n" → "]]\n": one byte at the very end
	if err := (&indexScan{pattern: []byte("\n{\"name\":\"none\"")}).run(bytes.NewReader(b)); !errors.Is(err, errSlowPath) {
		t.Fatalf("a change in the last bytes passed the stamp: %v", err)
	}
}
