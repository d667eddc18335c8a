package pki

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/pki/zlinter"
)

// TestLintCatchesDefects: Lint is not a no-op. A certificate with the
// defect zlint found in an early version (keyEncipherment on an RSA client
// certificate) is reported, and each waiver stays narrow.
func TestLintCatchesDefects(t *testing.T) {
	t.Parallel()
	m := testMatrix(t)
	var rsaChain pkiChain
	for _, ch := range m.chains {
		if ch.keyType == RSA2048 {
			rsaChain = ch
		}
	}
	key, err := GenerateKey(RSA2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).Lsh(big.NewInt(1), 100),
		Subject:      pkix.Name{CommonName: "alice"},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, rsaChain.root.Cert, key.Public(), rsaChain.root.Key)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	_, iss := mustRootCA(t, Request{})
	issue := func(kind Kind, sans string) *x509.Certificate {
		t.Helper()
		got, err := iss.Issue(Request{Kind: kind, CommonName: "x", SANs: mustParseSANs(t, sans), Validity: Day})
		if err != nil {
			t.Fatal(err)
		}
		return got.Cert
	}
	tests := []struct {
		name string
		cert *x509.Certificate
		want string // a finding ID that must be reported; "" for none
	}{
		{"RSA client certificate with keyEncipherment", bad, "e_key_usage_and_extended_key_usage_inconsistent"},
		{"SAN that is a real public suffix", issue(KindServer, "localhost,com"), "n_san_iana_pub_suffix_empty"},
		{"SAN that is a two-label public suffix", issue(KindServer, "localhost,co.uk"), "n_san_iana_pub_suffix_empty"},
		{"single-label intranet names", issue(KindServer, "localhost,db"), ""},
		{"non-SPIFFE URI with a single-label host", issue(KindClient, "https://intranet/x"), "e_ext_san_uri_host_not_fqdn_or_ip"},
		{"non-SPIFFE URI beside a SPIFFE ID", issue(KindClient, "spiffe://corp/alice,ldap://corp/x"), "e_ext_san_uri_host_not_fqdn_or_ip"},
		{"SPIFFE IDs", issue(KindClient, "spiffe://corp/alice,spiffe://prod.corp/bob"), ""},
		{"URI with an FQDN host", issue(KindClient, "https://corp.example.com/x"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Lint(tt.cert)
			if tt.want == "" {
				if len(got) != 0 {
					t.Errorf("Lint = %v, want nothing", got)
				}
				return
			}
			for _, f := range got {
				if f.ID == tt.want {
					if f.Source == "" || f.Status == "" || f.String() == "" {
						t.Errorf("finding %#v lacks source or status", f)
					}
					return
				}
			}
			t.Errorf("Lint = %v, want %s", got, tt.want)
		})
	}
}

func TestLintUnparseable(t *testing.T) {
	t.Parallel()
	got := Lint(&x509.Certificate{Raw: []byte("not DER")})
	if len(got) != 1 || got[0].ID != "zcrypto_parse" || got[0].Status != "fatal" {
		t.Errorf("Lint(garbage) = %v, want one fatal zcrypto_parse finding", got)
	}
}

// TestLintWaiversDocumented keeps docs/lints.md and lintWaivers in step.
func TestLintWaiversDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/lints.md")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for id, reason := range LintWaivers() {
		ids = append(ids, id)
		if reason == "" {
			t.Errorf("waiver %s has no reason", id)
		}
		if !strings.Contains(string(doc), "| `"+id+"` |") {
			t.Errorf("docs/lints.md does not list the waiver %s", id)
		}
	}
	sort.Strings(ids)
	// Every lint ID in the waiver table of the doc must be a waiver.
	table := string(doc)[strings.Index(string(doc), "## Waivers"):]
	table = table[:strings.Index(table, "\n## ")]
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		id := strings.Trim(strings.Split(line, "|")[1], " `")
		if _, ok := lintWaiverReasons[id]; !ok {
			t.Errorf("docs/lints.md lists %s, which pki/lint.go (lintWaiverReasons) does not waive (waivers: %v)", id, ids)
		}
	}
	if !strings.Contains(string(doc), "RFC5280") || !strings.Contains(string(doc), "Community") {
		t.Error("docs/lints.md does not name the sources run")
	}
}

// TestLinterInStep: what pki says of linting is what pki/zlinter does:
// the same sources, waivers and signer lints.
func TestLinterInStep(t *testing.T) {
	if strings.Join(LintSources, ",") != strings.Join(zlinter.Sources, ",") {
		t.Errorf("LintSources %v, zlinter.Sources %v", LintSources, zlinter.Sources)
	}
	if strings.Join(signerLints, ",") != strings.Join(zlinter.SignerLints, ",") {
		t.Errorf("signerLints %v, zlinter.SignerLints %v", signerLints, zlinter.SignerLints)
	}
	for id := range zlinter.Waivers {
		if _, ok := lintWaiverReasons[id]; !ok {
			t.Errorf("zlinter waives %s, which has no reason in pki", id)
		}
	}
	for id := range lintWaiverReasons {
		if _, ok := zlinter.Waivers[id]; !ok {
			t.Errorf("pki gives a reason to waive %s, which zlinter does not waive", id)
		}
	}
}
