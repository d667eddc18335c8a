package pki

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// auditStore is a store with an intermediate, a batch of clients, a
// server, a revoked client with a CRL, and a certificate zlint fails
// ("bad": a Common Name over RFC 5280's 64 characters, signed by the
// store's CA and recorded by reconcile as a crashed writer's would be).
func auditStore(t *testing.T) *Store {
	t.Helper()
	s := OpenStore(filepath.Join(t.TempDir(), "pki"))
	if _, err := s.Init(InitOptions{Intermediate: true}); err != nil {
		t.Fatal(err)
	}
	sans, _ := ParseSANs("localhost,127.0.0.1")
	if _, _, err := s.Issue(Request{Kind: KindServer, SANs: sans}, IssueOptions{}); err != nil {
		t.Fatal(err)
	}
	var reqs []Request
	var names []string
	for _, n := range []string{"c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"} {
		reqs, names = append(reqs, Request{Kind: KindClient, CommonName: n}), append(names, n)
	}
	if _, _, err := s.IssueMany(reqs, names, IssueOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Revoke(RevokeOptions{Name: "c3", Reason: ReasonKeyCompromise}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteCRL(CRLOptions{}); err != nil {
		t.Fatal(err)
	}
	iss, err := s.Issuer(nil)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := GenerateKey(ECDSAP256)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(424242), Subject: pkix.Name{CommonName: strings.Repeat("x", 70)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(Year), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, AuthorityKeyId: iss.Cert.SubjectKeyId}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, iss.Cert, key.Public(), iss.Key)
	if err != nil {
		t.Fatal(err)
	}
	bad, _ := x509.ParseCertificate(der)
	dir := s.path(issuedDir, "bad")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, leafCertFile), EncodeCertsPEM(bad), 0o644)
	os.WriteFile(filepath.Join(dir, leafChainFile), EncodeCertsPEM(bad, iss.Cert), 0o644)
	// The next writer indexes it (reconcile), without lint findings.
	if err := s.withLock(func(index, error) error { return nil }); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCachedAuditEqualsFullRelint: the audit that takes zlint's findings
// from the index reports exactly what an audit linting every certificate
// afresh reports, on a store with a certificate zlint fails, and runs
// zlint on nothing it has findings for.
func TestCachedAuditEqualsFullRelint(t *testing.T) {
	s := auditStore(t)
	at := time.Now().Add(time.Minute)
	e, err := s.Get("bad")
	if err != nil || e.lint != nil {
		t.Fatalf("bad: %v, lint record %+v (want none before the first audit)", err, e)
	}
	if c, err := s.Get("c5"); err != nil || c.lint == nil || c.lint.By != LintKey() {
		t.Fatalf("c5 (issued in a batch) has no lint record from issue time: %+v %v", c, err)
	}
	if c, err := s.Get("localhost"); err != nil || c.lint != nil {
		t.Fatalf("localhost (issued alone) has a lint record before the first audit: %+v %v", c, err)
	}
	// The first audit lints bad (it has no findings) and keeps them.
	first, err := s.Audit(AuditOptions{At: at})
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Get("bad"); e.lint == nil || len(e.lint.Findings) == 0 {
		t.Fatalf("the audit did not keep bad's findings: %+v", e.lint)
	}
	if c, _ := s.Get("localhost"); c.lint == nil || c.lint.By != LintKey() {
		t.Fatalf("the audit did not keep localhost's findings: %+v", c.lint)
	}
	before := lintRuns.Load()
	cached, err := s.Audit(AuditOptions{At: at})
	if err != nil {
		t.Fatal(err)
	}
	if n := lintRuns.Load() - before; n != 0 {
		t.Errorf("the cached audit ran zlint %d times", n)
	}
	full, err := s.Audit(AuditOptions{At: at, Relint: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := lintRuns.Load() - before; n < int64(len(full)-1) {
		t.Errorf("the full re-lint ran zlint %d times for %d certificates", n, len(full))
	}
	if !reflect.DeepEqual(cached, full) {
		for i := range cached {
			if i < len(full) && !reflect.DeepEqual(cached[i], full[i]) {
				t.Errorf("%s: cached\n%+v\nfull re-lint\n%+v", cached[i].Name, cached[i].Report, full[i].Report)
			}
		}
		t.Fatalf("the cached audit differs from a full re-lint (%d vs %d entries)", len(cached), len(full))
	}
	if !reflect.DeepEqual(first, full) {
		t.Error("the first audit (linting bad afresh) differs from a full re-lint")
	}
	var badReport *Report
	for i := range full {
		if full[i].Name == "bad" {
			badReport = &full[i].Report
		}
	}
	if badReport == nil || !contains(badReport.FailedIDs(), CheckLint) {
		t.Fatalf("bad does not fail the lint check: %+v", badReport)
	}
	if len(full) != 1+1+1+9+1+1 { // root, intermediate, server, 9 clients, bad, crl
		t.Errorf("%d audit entries", len(full))
	}
}

// TestAuditRelintsStaleFindings: findings made under another LintKey (an
// older zlint) or for another certificate (a file that changed) are not
// used: the audit lints afresh and reports what zlint says today.
func TestAuditRelintsStaleFindings(t *testing.T) {
	s := auditStore(t)
	at := time.Now().Add(time.Minute)
	want, err := s.Audit(AuditOptions{At: at, Relint: true})
	if err != nil {
		t.Fatal(err)
	}
	// Plant wrong findings: under another key for c1, under today's key
	// but for another certificate for c2 (its file replaced by bad's).
	if err := s.withLock(func(idx index, err error) error {
		for i := range idx.Entries {
			switch idx.Entries[i].Name {
			case "c1":
				idx.Entries[i].lint = &lintRecord{By: "zlint v0.0.1 000000000000", Findings: []LintFinding{{ID: "e_planted", Status: "error"}}}
			}
		}
		return s.writeIndex(idx)
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Audit(AuditOptions{At: at})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatal("an audit with stale findings in the index differs from a full re-lint")
	}
	if e, _ := s.Get("c1"); e.lint == nil || e.lint.By != LintKey() {
		t.Errorf("the stale record was not refreshed: %+v", e.lint)
	}
	c2, _ := s.Get("c2")
	badPEM, _ := os.ReadFile(s.Path("issued/bad/cert.pem"))
	os.WriteFile(s.Path(c2.Cert), badPEM, 0o644)
	c, _ := ParseCerts(badPEM)
	if _, ok := c2.CachedLint(c[0]); ok {
		t.Error("CachedLint answered for a file that is not the indexed certificate")
	}
	got, _ = s.Audit(AuditOptions{At: at})
	full, _ := s.Audit(AuditOptions{At: at, Relint: true})
	if !reflect.DeepEqual(got, full) {
		t.Fatal("with a replaced certificate file the cached audit differs from a full re-lint")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
