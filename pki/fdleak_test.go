package pki

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("skipped: no /proc/self/fd to count open files")
	}
	return len(ents)
}

// TestStoreLeaksNoFiles runs many store operations, failing ones
// included, and checks the number of open file descriptors is unchanged.
func TestStoreLeaksNoFiles(t *testing.T) {
	s := OpenStore(filepath.Join(t.TempDir(), "pki"))
	if _, err := s.Init(InitOptions{KeyType: ECDSAP256}); err != nil {
		t.Fatal(err)
	}
	sans, _ := ParseSANs("localhost")
	req := Request{Kind: KindServer, SANs: sans, KeyType: ECDSAP256}
	if _, _, err := s.Issue(req, IssueOptions{Name: "warmup"}); err != nil {
		t.Fatal(err)
	}
	before := openFDs(t)
	for i := 0; i < 40; i++ {
		name := fmt.Sprintf("leaf%02d", i)
		if _, _, err := s.Issue(req, IssueOptions{Name: name}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Issue(req, IssueOptions{Name: name}); err == nil { // name taken
			t.Fatal("a taken name was issued again")
		}
		if _, _, err := s.Issue(req, IssueOptions{Name: name, Force: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.List(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load(name); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Issuer(nil); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenStore(filepath.Join(s.Dir, "index.json")).List(); err == nil {
			t.Fatal("a file listed as a store")
		}
	}
	reqs := make([]Request, 20)
	names := make([]string, 20)
	for i := range reqs {
		reqs[i], names[i] = req, fmt.Sprintf("batch%02d", i)
	}
	if _, _, err := s.IssueMany(reqs, names, IssueOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Init(InitOptions{KeyType: ECDSAP256, Force: true}); err != nil {
		t.Fatal(err)
	}
	if after := openFDs(t); after != before {
		t.Errorf("open file descriptors: %d before, %d after", before, after)
	}
}
