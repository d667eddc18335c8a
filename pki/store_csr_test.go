package pki

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"testing"
)

// TestStoreSignCSRChecksTheCSRNames: the names of a CSR are outside input,
// and signing through the store (mtlskit sign) checks them as strictly as
// Issuer.SignCSR and ParseSANs do. (The store used to copy them in
// unchecked to derive the default name, which skipped the check.)
func TestStoreSignCSRChecksTheCSRNames(t *testing.T) {
	s := OpenStore(t.TempDir())
	if _, err := s.Init(InitOptions{}); err != nil {
		t.Fatal(err)
	}
	key, err := GenerateKey(ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		dns  []string
		want string // error substring, "" for success
	}{
		{"valid names are kept", []string{"svc.internal"}, ""},
		{"underscore label is refused", []string{"bad_name.example"}, "underscore"},
		{"partial wildcard is refused", []string{"f*o.example"}, "partial wildcard"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
				Subject: pkix.Name{CommonName: "svc"}, DNSNames: tt.dns,
			}, key)
			if err != nil {
				t.Fatal(err)
			}
			csr, err := x509.ParseCertificateRequest(der)
			if err != nil {
				t.Fatal(err)
			}
			e, _, err := s.SignCSR(csr, Request{Kind: KindServer}, IssueOptions{Force: true})
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("SignCSR: %v", err)
			case tt.want == "" && strings.Join(e.SANs, ",") != strings.Join(tt.dns, ","):
				t.Errorf("SANs = %v, want %v", e.SANs, tt.dns)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("SignCSR with %v: err = %v, want one naming %q", tt.dns, err, tt.want)
			}
		})
	}
}
