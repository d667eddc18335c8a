package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"
)

// dgCA is a root with an intermediate below it (pathlen 1), as
// `mtlskit ca init --intermediate` makes them.
type dgCA struct {
	root, inter *Issued
	rootIss     *Issuer
	interIss    *Issuer
}

func dgNewCA(t *testing.T, req Request) dgCA {
	t.Helper()
	root, err := NewRootCA(req)
	if err != nil {
		t.Fatal(err)
	}
	rootIss, err := root.Issuer()
	if err != nil {
		t.Fatal(err)
	}
	inter, err := rootIss.Issue(Request{Kind: KindIntermediate, CommonName: "mtlskit Intermediate CA"})
	if err != nil {
		t.Fatal(err)
	}
	interIss, err := inter.Issuer()
	if err != nil {
		t.Fatal(err)
	}
	return dgCA{root, inter, rootIss, interIss}
}

func dgIssue(t *testing.T, iss *Issuer, req Request) *Issued {
	t.Helper()
	if req.Kind == "" {
		req.Kind = KindServer
	}
	if req.Kind == KindServer && req.SANs.Empty() && !req.UnsafeAllowMissingSAN {
		req.SANs = mustParseSANs(t, "localhost,127.0.0.1")
	}
	if req.Kind == KindClient && req.CommonName == "" {
		req.CommonName = "alice"
	}
	out, err := iss.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// dgSign signs tmpl with crypto/x509 directly, for certificates pki
// refuses to make (weak keys, SHA-1, CAs without keyCertSign).
func dgSign(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	t.Helper()
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
		tmpl.NotAfter = time.Now().Add(Day)
	}
	if tmpl.SubjectKeyId == nil {
		ski, err := subjectKeyID(pub)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.SubjectKeyId = ski
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func dgServerTemplate() *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
}

func dgKey(t *testing.T, kt KeyType) crypto.Signer {
	t.Helper()
	k, err := GenerateKey(kt)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestDiagnoseBrokenCertificates(t *testing.T) {
	ca := dgNewCA(t, Request{MaxPathLen: 1})
	now := time.Now()
	good := func(leaf *Issued) Input {
		return Input{Chain: leaf.FullChain(), Key: leaf.Key, Roots: []*x509.Certificate{ca.root.Cert}, Host: "localhost"}
	}

	cases := []struct {
		name     string
		input    func(t *testing.T) Input
		want     []string // the failing check IDs, in report order
		contains []string // words the failing checks must say
	}{
		{name: "good server certificate from the intermediate passes", want: nil,
			input: func(t *testing.T) Input { return good(dgIssue(t, ca.interIss, Request{})) }},
		{name: "good client certificate passes", want: nil,
			input: func(t *testing.T) Input {
				in := good(dgIssue(t, ca.rootIss, Request{Kind: KindClient}))
				in.Purpose, in.Host = PurposeClient, ""
				return in
			}},
		{name: "wrong key", want: []string{CheckKeyMatch}, contains: []string{"does not belong"},
			input: func(t *testing.T) Input {
				in := good(dgIssue(t, ca.interIss, Request{}))
				in.Key = dgKey(t, ECDSAP256)
				return in
			}},
		{name: "missing intermediate is named by subject and key id", want: []string{CheckChain},
			contains: []string{"missing issuer", "CN=mtlskit Intermediate CA", colonHex(ca.inter.Cert.SubjectKeyId), "--chain"},
			input: func(t *testing.T) Input {
				in := good(dgIssue(t, ca.interIss, Request{}))
				in.Chain = in.Chain[:1]
				return in
			}},
		{name: "CN-only server certificate", want: []string{CheckSANPresent, CheckSANMatch},
			contains: []string{"only in the Common Name", "modern verifiers ignore", "mtlskit issue server --san localhost"},
			input: func(t *testing.T) Input {
				return good(dgIssue(t, ca.rootIss, Request{CommonName: "localhost", UnsafeAllowMissingSAN: true}))
			}},
		{name: "IP dialled but only DNS SANs", want: []string{CheckSANMatch},
			contains: []string{"you dialled 127.0.0.1 but the certificate has only DNS names: localhost", "--san localhost,127.0.0.1"},
			input: func(t *testing.T) Input {
				in := good(dgIssue(t, ca.rootIss, Request{SANs: mustParseSANs(t, "localhost")}))
				in.Host = "127.0.0.1"
				return in
			}},
		{name: "IP not among the IP SANs", want: []string{CheckSANMatch},
			contains: []string{"you dialled 10.1.2.3 but the certificate's IP addresses are 127.0.0.1"},
			input: func(t *testing.T) Input {
				in := good(dgIssue(t, ca.rootIss, Request{}))
				in.Host = "10.1.2.3"
				return in
			}},
		{name: "hostname mismatch", want: []string{CheckSANMatch},
			contains: []string{"you dialled api.internal but the certificate is for localhost, 127.0.0.1"},
			input: func(t *testing.T) Input {
				in := good(dgIssue(t, ca.rootIss, Request{}))
				in.Host = "api.internal"
				return in
			}},
		{name: "expired", want: []string{CheckValidity}, contains: []string{"expired", "day"},
			input: func(t *testing.T) Input {
				return good(dgIssue(t, ca.rootIss, Request{NotBefore: now.Add(-3 * Day), Validity: Day}))
			}},
		{name: "not yet valid", want: []string{CheckValidity}, contains: []string{"not valid yet", "clock"},
			input: func(t *testing.T) Input {
				return good(dgIssue(t, ca.rootIss, Request{NotBefore: now.Add(Day), Validity: Day}))
			}},
		{name: "expired at a future --at", want: []string{CheckValidity}, contains: []string{"expired"},
			input: func(t *testing.T) Input {
				in := good(dgIssue(t, ca.rootIss, Request{Validity: Day}))
				in.At = now.Add(3 * Day)
				return in
			}},
		{name: "client certificate presented as a server's", want: []string{CheckPurposeEKU},
			contains: []string{"needs serverAuth", "client certificate presented as a server's"},
			input: func(t *testing.T) Input {
				return good(dgIssue(t, ca.rootIss, Request{Kind: KindClient, SANs: mustParseSANs(t, "localhost")}))
			}},
		{name: "server certificate presented as a client's", want: []string{CheckPurposeEKU}, contains: []string{"needs clientAuth"},
			input: func(t *testing.T) Input {
				in := good(dgIssue(t, ca.rootIss, Request{}))
				in.Purpose = PurposeClient
				return in
			}},
		{name: "CA without keyCertSign", want: []string{CheckCAConstraints, CheckLint}, contains: []string{"lacks keyCertSign"},
			input: func(t *testing.T) Input {
				key := dgKey(t, ECDSAP256)
				bad := dgSign(t, &x509.Certificate{
					Subject: pkix.Name{CommonName: "No CertSign CA"}, IsCA: true, BasicConstraintsValid: true,
					KeyUsage: x509.KeyUsageCRLSign, MaxPathLenZero: true,
				}, ca.root.Cert, key.Public(), ca.root.Key)
				forged := *bad // pki refuses such an issuer: lie to it about the key usage
				forged.KeyUsage |= x509.KeyUsageCertSign
				leaf := dgIssue(t, &Issuer{Cert: &forged, Key: key}, Request{Validity: 12 * time.Hour})
				in := good(leaf)
				in.Chain = []*x509.Certificate{leaf.Cert, bad}
				return in
			}},
		{name: "path length exceeded", want: []string{CheckCAConstraints},
			contains: []string{"path length constraint is 0, but 1 intermediate CA(s) stand below it"},
			input: func(t *testing.T) Input {
				root, err := NewRootCA(Request{CommonName: "Pathlen0 Root CA"}) // MaxPathLen 0
				if err != nil {
					t.Fatal(err)
				}
				forged := *root.Cert
				forged.MaxPathLen, forged.MaxPathLenZero = -1, false
				inter := dgIssue(t, &Issuer{Cert: &forged, Key: root.Key}, Request{Kind: KindIntermediate, CommonName: "Too Deep CA"})
				iss, _ := inter.Issuer()
				leaf := dgIssue(t, iss, Request{})
				return Input{Chain: []*x509.Certificate{leaf.Cert, inter.Cert}, Key: leaf.Key, Roots: []*x509.Certificate{root.Cert}, Host: "localhost"}
			}},
		{name: "name constraint violated", want: []string{CheckNameConstraints},
			contains: []string{"DNS name localhost is outside the permitted names (example.com)"},
			input: func(t *testing.T) Input {
				nc := dgNewCA(t, Request{MaxPathLen: 1, PermittedDNS: []string{"example.com"}})
				leaf := dgIssue(t, nc.rootIss, Request{SANs: mustParseSANs(t, "localhost"), UnsafeAllowOutsideNameConstraints: true})
				return Input{Chain: leaf.FullChain(), Key: leaf.Key, Roots: []*x509.Certificate{nc.root.Cert}, Host: "localhost"}
			}},
		{name: "RSA-1024 key", want: []string{CheckKeyStrength}, contains: []string{"1024 bits"},
			input: func(t *testing.T) Input {
				key, err := rsa.GenerateKey(rand.Reader, 1024)
				if err != nil {
					t.Fatal(err)
				}
				leaf := dgSign(t, dgServerTemplate(), ca.root.Cert, key.Public(), ca.root.Key)
				return Input{Chain: []*x509.Certificate{leaf}, Key: key, Roots: []*x509.Certificate{ca.root.Cert}, Host: "localhost"}
			}},
		{name: "SHA-1 signature", want: []string{CheckSignatureAlgorithm}, contains: []string{"SHA1-RSA"},
			input: func(t *testing.T) Input {
				root, err := NewRootCA(Request{KeyType: RSA2048, CommonName: "RSA Root CA"})
				if err != nil {
					t.Fatal(err)
				}
				key := dgKey(t, ECDSAP256)
				tmpl := dgServerTemplate()
				tmpl.KeyUsage = x509.KeyUsageDigitalSignature
				tmpl.SignatureAlgorithm = x509.SHA1WithRSA
				leaf := dgSign(t, tmpl, root.Cert, key.Public(), root.Key)
				return Input{Chain: []*x509.Certificate{leaf}, Key: key, Roots: []*x509.Certificate{root.Cert}, Host: "localhost"}
			}},
		{name: "self-signed leaf", want: []string{CheckChain}, contains: []string{"self-signed", "not one of the trusted roots"},
			input: func(t *testing.T) Input {
				leaf, err := NewSelfSignedLeaf(Request{Kind: KindServer, SANs: mustParseSANs(t, "localhost")})
				if err != nil {
					t.Fatal(err)
				}
				return good(leaf)
			}},
		{name: "unknown CA with the same name", want: []string{CheckChain},
			contains: []string{"another CA with the same name", colonHex(ca.root.Cert.SubjectKeyId)},
			input: func(t *testing.T) Input {
				other := dgNewCA(t, Request{MaxPathLen: 1}) // same default name, another key
				return good(dgIssue(t, other.rootIss, Request{}))
			}},
		{name: "what Go rejects and no check explains is reported as x509-verify", want: []string{CheckX509Verify},
			contains: []string{"unhandled critical extension"},
			input: func(t *testing.T) Input {
				key := dgKey(t, ECDSAP256)
				tmpl := dgServerTemplate()
				tmpl.KeyUsage = x509.KeyUsageDigitalSignature
				tmpl.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Critical: true, Value: []byte{5, 0}}}
				leaf := dgSign(t, tmpl, ca.root.Cert, key.Public(), ca.root.Key)
				return Input{Chain: []*x509.Certificate{leaf}, Key: key, Roots: []*x509.Certificate{ca.root.Cert}, Host: "localhost"}
			}},
		{name: "private key passed as the certificate", want: []string{CheckParse},
			contains: []string{"holds a private key", "not a certificate", "--key"},
			input: func(t *testing.T) Input {
				keyPEM, err := EncodeKeyPEM(dgKey(t, ECDSAP256))
				if err != nil {
					t.Fatal(err)
				}
				certs, check := ReadCertFile("server.key", "--cert", keyPEM)
				return Input{Chain: certs, Parsed: []Check{check}, Roots: []*x509.Certificate{ca.root.Cert}, Host: "localhost"}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Diagnose(tc.input(t))
			got := r.FailedIDs()
			if !slices.Equal(got, tc.want) {
				t.Fatalf("failing checks = %v, want %v\n%s", got, tc.want, dgDump(r))
			}
			var said strings.Builder
			for _, c := range r.Failures() {
				said.WriteString(c.Summary + " " + strings.Join(c.Evidence, " ") + " " + c.Fix + "\n")
				if c.Fix == "" {
					t.Errorf("failing check %s has no fix", c.ID)
				}
			}
			for _, w := range tc.contains {
				if !strings.Contains(said.String(), w) {
					t.Errorf("failing checks do not say %q:\n%s", w, said.String())
				}
			}
			// Every check ran: each ID appears (x509-verify only when needed).
			for _, id := range CheckIDs() {
				if id == CheckX509Verify {
					continue
				}
				if !slices.ContainsFunc(r.Checks, func(c Check) bool { return c.ID == id }) {
					t.Errorf("check %s missing from the report", id)
				}
			}
			if tc.want == nil && r.GoVerify != "ok" {
				t.Errorf("a passing report, but Go's x509.Verify says %s", r.GoVerify)
			}
		})
	}
}

func dgDump(r Report) string {
	var b strings.Builder
	for _, c := range r.Checks {
		b.WriteString(string(c.Status) + " " + c.ID + " [" + c.Subject + "] " + c.Summary + "\n")
		for _, e := range c.Evidence {
			b.WriteString("      " + e + "\n")
		}
		if c.Fix != "" {
			b.WriteString("      fix: " + c.Fix + "\n")
		}
	}
	b.WriteString("go: " + r.GoVerify + "\n")
	return b.String()
}
