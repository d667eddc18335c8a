package pki

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func newCSR(t testing.TB, kt KeyType, tmpl *x509.CertificateRequest) ([]byte, *x509.CertificateRequest) {
	t.Helper()
	key, err := GenerateKey(kt)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return der, csr
}

func TestSignCSR(t *testing.T) {
	t.Parallel()
	m := testMatrix(t)
	ch := m.chains[0]
	iss, err := ch.inter.Issuer()
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ch.root.Cert)
	spiffe, _ := url.Parse("spiffe://corp/bob")
	for _, kt := range []KeyType{ECDSAP256, Ed25519, RSA2048} {
		t.Run("server from a Go CSR/"+string(kt), func(t *testing.T) {
			t.Parallel()
			der, csr := newCSR(t, kt, &x509.CertificateRequest{
				Subject:     pkix.Name{CommonName: "web"},
				DNSNames:    []string{"web.internal"},
				IPAddresses: []net.IP{net.ParseIP("10.0.0.5")},
			})
			parsed, err := ParseCSR(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
			if err != nil {
				t.Fatalf("ParseCSR: %v", err)
			}
			got, err := iss.SignCSR(parsed, Request{Kind: KindServer, Validity: 30 * Day})
			if err != nil {
				t.Fatal(err)
			}
			if got.Key != nil {
				t.Error("SignCSR returned a private key; the key stays with the requester")
			}
			c := got.Cert
			if !reflect.DeepEqual(c.PublicKey, csr.PublicKey) {
				t.Error("the certificate does not certify the CSR's key")
			}
			if c.Subject.CommonName != "web" || !reflect.DeepEqual(c.DNSNames, []string{"web.internal"}) ||
				len(c.IPAddresses) != 1 || c.IPAddresses[0].String() != "10.0.0.5" {
				t.Errorf("CN %q DNS %v IP %v, want the CSR's", c.Subject.CommonName, c.DNSNames, c.IPAddresses)
			}
			if len(c.IPAddresses[0]) != net.IPv4len {
				t.Error("the CSR's IPv4 address was encoded in 16 bytes")
			}
			inters := x509.NewCertPool()
			inters.AddCert(got.Chain[0])
			if _, err := c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, DNSName: "10.0.0.5"}); err != nil {
				t.Errorf("Verify: %v", err)
			}
			if f := Lint(c); len(f) != 0 {
				t.Errorf("zlint: %v", f)
			}
		})
	}
	t.Run("client profile with CSR email and URI", func(t *testing.T) {
		t.Parallel()
		_, csr := newCSR(t, ECDSAP256, &x509.CertificateRequest{
			Subject: pkix.Name{CommonName: "bob"}, EmailAddresses: []string{"bob@example.com"}, URIs: []*url.URL{spiffe},
		})
		got, err := iss.SignCSR(csr, Request{Kind: KindClient, Validity: Day})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) ||
			!reflect.DeepEqual(got.Cert.EmailAddresses, []string{"bob@example.com"}) || len(got.Cert.URIs) != 1 {
			t.Errorf("EKU %v emails %v URIs %v", got.Cert.ExtKeyUsage, got.Cert.EmailAddresses, got.Cert.URIs)
		}
	})
	t.Run("request SANs replace the CSR's", func(t *testing.T) {
		t.Parallel()
		_, csr := newCSR(t, ECDSAP256, &x509.CertificateRequest{DNSNames: []string{"asked.example"}})
		got, err := iss.SignCSR(csr, Request{Kind: KindServer, CommonName: "given", SANs: mustParseSANs(t, "given.example"), Validity: Day})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Cert.DNSNames, []string{"given.example"}) || got.Cert.Subject.CommonName != "given" {
			t.Errorf("DNS %v CN %q, want the request's", got.Cert.DNSNames, got.Cert.Subject.CommonName)
		}
	})

	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{"a.example"}}, weak)
	if err != nil {
		t.Fatal(err)
	}
	weakCSR, _ := x509.ParseCertificateRequest(weakDER)
	tamperedDER, _ := newCSR(t, Ed25519, &x509.CertificateRequest{DNSNames: []string{"a.example"}})
	tamperedDER[len(tamperedDER)-1] ^= 0xff // a byte of the Ed25519 signature
	tampered, err := x509.ParseCertificateRequest(tamperedDER)
	if err != nil {
		t.Fatal(err)
	}
	csrWith := func(tmpl *x509.CertificateRequest) *x509.CertificateRequest {
		_, c := newCSR(t, ECDSAP256, tmpl)
		return c
	}
	tests := []struct {
		name string
		csr  *x509.CertificateRequest
		kind Kind
		want []string
	}{
		{"bad signature", tampered, KindServer, []string{"CSR signature does not verify"}},
		{"underscore in a CSR DNS name", csrWith(&x509.CertificateRequest{DNSNames: []string{"foo_bar.example"}}), KindServer, []string{"CSR", `"foo_bar.example"`, "underscore"}},
		{"nested wildcard in a CSR DNS name", csrWith(&x509.CertificateRequest{DNSNames: []string{"*.*.example"}}), KindServer, []string{`"*.*.example"`, "wildcard"}},
		{"trailing dot in a CSR DNS name", csrWith(&x509.CertificateRequest{DNSNames: []string{"ok.example", "a.example."}}), KindServer, []string{`"a.example."`}},
		{"bad email in a CSR", csrWith(&x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}, EmailAddresses: []string{"x@a..b"}}), KindClient, []string{`"x@a..b"`}},
		{"server CSR without SAN", csrWith(&x509.CertificateRequest{Subject: pkix.Name{CommonName: "web.example"}}), KindServer, []string{"needs at least one SAN"}},
		{"RSA-1024 key", weakCSR, KindServer, []string{"1024 bits is too weak"}},
		{"intermediate profile", csrWith(&x509.CertificateRequest{DNSNames: []string{"a.example"}}), KindIntermediate, []string{`CSR profile "intermediate" is not supported`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := iss.SignCSR(tt.csr, Request{Kind: tt.kind, Validity: Day})
			if err == nil {
				t.Fatalf("SignCSR signed %v, want an error", got.Cert.DNSNames)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	t.Run("ParseCSR refuses a tampered CSR", func(t *testing.T) {
		if _, err := ParseCSR(tamperedDER); err == nil || !strings.Contains(err.Error(), "signature does not verify") {
			t.Errorf("ParseCSR(tampered) = %v", err)
		}
	})
	t.Run("ParseCSR names a certificate passed as CSR", func(t *testing.T) {
		if _, err := ParseCSR(EncodeCertsPEM(ch.root.Cert)); err == nil || !strings.Contains(err.Error(), `"CERTIFICATE"`) {
			t.Errorf("ParseCSR(cert) = %v", err)
		}
	})
}

// TestSignCSRFromOpenSSL signs a request made by `openssl req`, keeping the
// key OpenSSL generated, and has OpenSSL verify the result.
func TestSignCSRFromOpenSSL(t *testing.T) {
	t.Parallel()
	requireTool(t, "openssl")
	ch := testMatrix(t).chains[0]
	iss, err := ch.root.Issuer()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tt := range []struct{ name, newkey string }{
		{"ecdsa-p256", "ec"}, {"ed25519", "ed25519"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			keyFile, csrFile := filepath.Join(dir, tt.name+".key"), filepath.Join(dir, tt.name+".csr")
			args := []string{"req", "-new", "-newkey", tt.newkey, "-nodes", "-keyout", keyFile, "-out", csrFile,
				"-subj", "/CN=web", "-addext", "subjectAltName=DNS:web.internal,IP:10.0.0.5"}
			if tt.newkey == "ec" {
				args = append(args[:4], append([]string{"-pkeyopt", "ec_paramgen_curve:P-256"}, args[4:]...)...)
			}
			if out, err := runOpenSSL(t, args...); err != nil {
				t.Fatalf("openssl req: %v\n%s", err, out)
			}
			data, err := os.ReadFile(csrFile)
			if err != nil {
				t.Fatal(err)
			}
			csr, err := ParseCSR(data)
			if err != nil {
				t.Fatalf("ParseCSR of openssl's request: %v", err)
			}
			got, err := iss.SignCSR(csr, Request{Kind: KindServer, Validity: Day})
			if err != nil {
				t.Fatal(err)
			}
			keyPEM, err := os.ReadFile(keyFile)
			if err != nil {
				t.Fatal(err)
			}
			key, err := ParseKey(keyPEM, nil)
			if err != nil {
				t.Fatalf("ParseKey of openssl's key: %v", err)
			}
			if !KeyMatches(key, got.Cert.PublicKey) {
				t.Error("the certificate does not certify openssl's key")
			}
			if !reflect.DeepEqual(got.Cert.DNSNames, []string{"web.internal"}) || got.Cert.IPAddresses[0].String() != "10.0.0.5" {
				t.Errorf("SANs %v %v", got.Cert.DNSNames, got.Cert.IPAddresses)
			}
			root := writeTemp(t, dir, tt.name+"-root.pem", EncodeCertsPEM(ch.root.Cert))
			leaf := writeTemp(t, dir, tt.name+"-leaf.pem", EncodeCertsPEM(got.Cert))
			out, err := runOpenSSL(t, "verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", root,
				"-verify_hostname", "web.internal", "-verify_ip", "10.0.0.5", leaf)
			if err != nil || !strings.Contains(out, ": OK") {
				t.Errorf("openssl verify: %v\n%s", err, out)
			}
		})
	}
}
