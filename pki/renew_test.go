package pki

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func renewStore(t *testing.T, intermediate bool) *Store {
	t.Helper()
	s := OpenStore(filepath.Join(t.TempDir(), "pki"))
	if _, err := s.Init(InitOptions{Intermediate: intermediate}); err != nil {
		t.Fatal(err)
	}
	return s
}

func mustSANs(t *testing.T, list string) SANs {
	t.Helper()
	sans, err := ParseSANs(list)
	if err != nil {
		t.Fatal(err)
	}
	return sans
}

// readPair reads an issued directory's certificate and key through one
// open of the directory (os.OpenRoot: openat relative to its fd), the
// way docs/rotation.md tells readers to.
func readPair(dir string) (*x509.Certificate, []byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	certPEM, err := root.ReadFile(leafCertFile)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := root.ReadFile(leafKeyFile)
	if err != nil {
		return nil, nil, err
	}
	certs, err := ParseCerts(certPEM)
	if err != nil {
		return nil, nil, err
	}
	return certs[0], keyPEM, nil
}

// TestRenewKeepsProfileAndKey: a renewal keeps the names, kind, EKUs and
// key, gets a new serial, records the predecessor as superseded, and the
// successor passes openssl verify and zlint as issued certificates do.
func TestRenewKeepsProfileAndKey(t *testing.T) {
	s := renewStore(t, true)
	old, _, err := s.Issue(Request{Kind: KindServer, SANs: mustSANs(t, "localhost,127.0.0.1"), ClientAuth: true, Validity: 48 * time.Hour}, IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	oldCert, oldKey, err := readPair(s.path(issuedDir, old.Name))
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Renew(old.Name, RenewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	newCert, newKey, err := readPair(s.path(issuedDir, old.Name))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case r.Successor.Serial == old.Serial || serialHex(newCert) != r.Successor.Serial:
		t.Errorf("successor serial %s (file %s), predecessor %s", r.Successor.Serial, serialHex(newCert), old.Serial)
	case !bytes.Equal(oldKey, newKey):
		t.Errorf("renew without --rekey changed the key")
	case !slices.Equal(newCert.ExtKeyUsage, oldCert.ExtKeyUsage) || !slices.Equal(r.Successor.SANs, old.SANs) || newCert.Subject.CommonName != oldCert.Subject.CommonName:
		t.Errorf("profile changed: EKU %v -> %v, SANs %v -> %v", oldCert.ExtKeyUsage, newCert.ExtKeyUsage, old.SANs, r.Successor.SANs)
	case r.Successor.RenewedFrom != old.Serial || r.Rekeyed:
		t.Errorf("lineage: renewed_from %q rekeyed %v", r.Successor.RenewedFrom, r.Rekeyed)
	}
	if got := newCert.NotAfter.Sub(newCert.NotBefore); got != oldCert.NotAfter.Sub(oldCert.NotBefore) {
		t.Errorf("lifetime %v, predecessor's %v", got, oldCert.NotAfter.Sub(oldCert.NotBefore))
	}
	sup, err := s.Superseded()
	if err != nil || len(sup) != 1 || sup[0].Serial != old.Serial || sup[0].By != r.Successor.Serial {
		t.Fatalf("superseded = %+v, %v", sup, err)
	}
	got, err := s.Get(old.Name)
	if err != nil || got.Serial != r.Successor.Serial {
		t.Fatalf("Get after renew = %+v, %v", got, err)
	}
	if f := Lint(newCert); len(f) > 0 {
		t.Errorf("zlint findings on the successor: %v", f)
	}
	if ents, _ := os.ReadDir(s.Dir); slices.ContainsFunc(ents, func(e fs.DirEntry) bool { return strings.HasPrefix(e.Name(), ".tmp") }) {
		t.Errorf("renew left temporary files: %v", ents)
	}
	requireTool(t, "openssl")
	out, err := runOpenSSL(t, "verify", "-CAfile", s.RootCertPath(), "-untrusted", s.path(caDir, interCertFile),
		"-purpose", "sslserver", "-x509_strict", s.path(r.Successor.Cert))
	if err != nil || !strings.Contains(out, ": OK") {
		t.Errorf("openssl verify of the successor: %v\n%s", err, out)
	}
}

// TestRenewRekey gives the successor a new key of the same type; a
// certificate signed from a CSR renews with its own key but cannot be
// rekeyed; a revoked one is not renewed.
func TestRenewRekey(t *testing.T) {
	s := renewStore(t, false)
	old, _, err := s.Issue(Request{Kind: KindClient, CommonName: "alice", KeyType: Ed25519}, IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, oldKey, _ := readPair(s.path(issuedDir, "alice"))
	r, err := s.Renew("alice", RenewOptions{Rekey: true, Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c, newKey, err := readPair(s.path(issuedDir, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKey(newKey, nil)
	switch {
	case err != nil || !KeyMatches(k, c.PublicKey):
		t.Fatalf("new key does not match: %v", err)
	case bytes.Equal(oldKey, newKey) || !r.Rekeyed:
		t.Errorf("--rekey kept the key")
	case KeyTypeOf(c.PublicKey) != Ed25519:
		t.Errorf("key type %s, want ed25519", KeyTypeOf(c.PublicKey))
	case c.NotAfter.Sub(c.NotBefore) != time.Hour+Backdate:
		t.Errorf("lifetime %v, want 1h + backdate", c.NotAfter.Sub(c.NotBefore))
	}
	if r.Successor.RenewedFrom != old.Serial {
		t.Errorf("renewed_from %q, want %q", r.Successor.RenewedFrom, old.Serial)
	}
	// A renewal of a renewal chains.
	r2, err := s.Renew("alice", RenewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sup, _ := s.Superseded()
	if len(sup) != 2 || sup[1].RenewedFrom != old.Serial || sup[1].By != r2.Successor.Serial {
		t.Errorf("second renewal's record: %+v", sup)
	}

	key, _ := GenerateKey(ECDSAP256)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "svc"}, DNSNames: []string{"svc.internal"}}, key)
	csr, _ := x509.ParseCertificateRequest(der)
	if _, _, err := s.SignCSR(csr, Request{Kind: KindServer}, IssueOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Renew("svc", RenewOptions{Rekey: true}); !errors.Is(err, ErrRenewNoKey) {
		t.Errorf("--rekey of a CSR certificate: %v, want ErrRenewNoKey", err)
	}
	rc, err := s.Renew("svc", RenewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := s.entryCert(rc.Successor)
	if !KeyMatches(key, cert.PublicKey) || rc.Successor.Key != "" {
		t.Errorf("a CSR certificate's renewal must certify the CSR's key again, with no key file")
	}

	if _, err := s.Revoke(RevokeOptions{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Renew("alice", RenewOptions{}); !errors.Is(err, ErrRenewRevoked) {
		t.Errorf("renewal of a revoked certificate: %v, want ErrRenewRevoked", err)
	}
	if due, _ := s.Due(365*Day, time.Now()); len(due) != 1 || due[0].Name != "svc" {
		t.Errorf("Due lists %v, want svc only (alice is revoked)", due)
	}
}

// TestRenewSwapNeverShowsAMismatchedPair is the proof docs/rotation.md
// cites: readers hammer issued/NAME while it is renewed with --rekey
// over and over. A reader that opens the directory once and reads
// cert.pem and key.pem relative to it always gets a matching pair (or,
// when the directory it opened was removed before its second read, an
// error, never a mismatch); with the atomic exchange, issued/NAME/cert.pem
// is never missing for a reader that opens it by path. Readers that open
// the two paths separately are counted too: they can straddle a swap,
// which is why the guarantee is stated for one open of the directory.
func TestRenewSwapNeverShowsAMismatchedPair(t *testing.T) {
	s := renewStore(t, false)
	if _, _, err := s.Issue(Request{Kind: KindServer, SANs: mustSANs(t, "localhost")}, IssueOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := s.path(issuedDir, "localhost")
	renewals := 60
	if testing.Short() {
		renewals = 20
	}
	var stop atomic.Bool
	var pairs, mismatches, gone, pathMissing, straddled atomic.Int64
	var wg sync.WaitGroup
	exchanged := true
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				cert, keyPEM, err := readPair(dir)
				if err != nil {
					if errors.Is(err, fs.ErrNotExist) {
						gone.Add(1)
						continue
					}
					t.Errorf("reading the pair: %v", err)
					return
				}
				k, err := ParseKey(keyPEM, nil)
				if err != nil {
					t.Errorf("key: %v", err)
					return
				}
				pairs.Add(1)
				if !KeyMatches(k, cert.PublicKey) {
					mismatches.Add(1)
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // the naive reader: two opens by path
		defer wg.Done()
		for !stop.Load() {
			certPEM, err1 := os.ReadFile(filepath.Join(dir, leafCertFile))
			keyPEM, err2 := os.ReadFile(filepath.Join(dir, leafKeyFile))
			if err1 != nil || err2 != nil {
				pathMissing.Add(1)
				continue
			}
			certs, err := ParseCerts(certPEM)
			k, err2 := ParseKey(keyPEM, nil)
			if err == nil && err2 == nil && !KeyMatches(k, certs[0].PublicKey) {
				straddled.Add(1)
			}
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; i < renewals && time.Now().Before(deadline); i++ {
		r, err := s.Renew("localhost", RenewOptions{Rekey: true})
		if err != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatal(err)
		}
		exchanged = exchanged && r.Exchanged
		time.Sleep(time.Millisecond) // let the readers read the new pair
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d renewals (atomic exchange: %v); one-open readers: %d pairs, %d mismatched, %d reads of a removed directory; path readers: %d straddled a swap, %d found a file missing",
		renewals, exchanged, pairs.Load(), mismatches.Load(), gone.Load(), straddled.Load(), pathMissing.Load())
	if mismatches.Load() != 0 {
		t.Errorf("%d of %d pairs read through one open of the directory did not match", mismatches.Load(), pairs.Load())
	}
	if pairs.Load() < int64(renewals) {
		t.Errorf("only %d pairs read during %d renewals: the test proved little", pairs.Load(), renewals)
	}
	if exchanged && pathMissing.Load() != 0 {
		t.Errorf("with the atomic exchange a path reader found cert.pem or key.pem missing %d times", pathMissing.Load())
	}
	c, keyPEM, err := readPair(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := ParseKey(keyPEM, nil); k == nil || !KeyMatches(k, c.PublicKey) {
		t.Errorf("the final pair does not match")
	}
}

// TestRenewSameKeyAnyMixMatches: without --rekey every file of every
// version holds the same key, so even two opens by path always match.
func TestRenewSameKeyAnyMixMatches(t *testing.T) {
	s := renewStore(t, false)
	if _, _, err := s.Issue(Request{Kind: KindClient, CommonName: "bob"}, IssueOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := s.path(issuedDir, "bob")
	var stop atomic.Bool
	var reads, bad atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			certPEM, err1 := os.ReadFile(filepath.Join(dir, leafCertFile))
			keyPEM, err2 := os.ReadFile(filepath.Join(dir, leafKeyFile))
			if err1 != nil || err2 != nil {
				continue
			}
			certs, err1 := ParseCerts(certPEM)
			k, err2 := ParseKey(keyPEM, nil)
			reads.Add(1)
			if err1 != nil || err2 != nil || !KeyMatches(k, certs[0].PublicKey) {
				bad.Add(1)
			}
		}
	}()
	for range 20 {
		if _, err := s.Renew("bob", RenewOptions{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	stop.Store(true)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("reader did not stop")
	}
	if bad.Load() != 0 || reads.Load() == 0 {
		t.Errorf("%d of %d path reads mismatched", bad.Load(), reads.Load())
	}
}

// TestRenewManyAllOrNone: a batch with one unknown name renews nothing.
func TestRenewManyAllOrNone(t *testing.T) {
	s := renewStore(t, false)
	reqs := []Request{{Kind: KindClient, CommonName: "c1"}, {Kind: KindClient, CommonName: "c2"}}
	if _, _, err := s.IssueMany(reqs, []string{"c1", "c2"}, IssueOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(s.path(indexFile))
	if _, err := s.RenewMany([]string{"c1", "nosuch"}, RenewOptions{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if after, _ := os.ReadFile(s.path(indexFile)); !bytes.Equal(before, after) {
		t.Errorf("a failed batch changed the index")
	}
	rs, err := s.RenewMany([]string{"c1", "c2"}, RenewOptions{})
	if err != nil || len(rs) != 2 {
		t.Fatalf("RenewMany = %v, %v", rs, err)
	}
}
