package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
)

var (
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidNameConstraints  = asn1.ObjectIdentifier{2, 5, 29, 30}
	oidSAN              = asn1.ObjectIdentifier{2, 5, 29, 17}
)

// extension returns cert's extension with the given OID, or nil.
func extension(cert *x509.Certificate, oid asn1.ObjectIdentifier) *struct{ critical bool } {
	for _, e := range cert.Extensions {
		if e.Id.Equal(oid) {
			return &struct{ critical bool }{e.Critical}
		}
	}
	return nil
}

func TestIssueCAExtensions(t *testing.T) {
	t.Parallel()
	m := testMatrix(t)
	for _, ch := range m.chains {
		cas := []struct {
			name       string
			ca         *Issued
			parent     *Issued
			maxPathLen int
		}{{"root", ch.root, ch.root, 1}, {"intermediate", ch.inter, ch.root, 0}}
		if ch.keyType == RSA4096 {
			cas = cas[:1]
			cas[0].maxPathLen = 0 // the zero Request: may sign leaves only
		}
		for _, tc := range cas {
			t.Run(string(ch.keyType)+"/"+tc.name, func(t *testing.T) {
				c := tc.ca.Cert
				if !c.IsCA || !c.BasicConstraintsValid {
					t.Errorf("IsCA=%v BasicConstraintsValid=%v, want both true", c.IsCA, c.BasicConstraintsValid)
				}
				if e := extension(c, oidBasicConstraints); e == nil || !e.critical {
					t.Error("basicConstraints is missing or not critical")
				}
				if c.MaxPathLen != tc.maxPathLen || (tc.maxPathLen == 0) != c.MaxPathLenZero {
					t.Errorf("MaxPathLen=%d MaxPathLenZero=%v, want %d", c.MaxPathLen, c.MaxPathLenZero, tc.maxPathLen)
				}
				if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign; c.KeyUsage != want {
					t.Errorf("KeyUsage = %v, want certSign|crlSign", c.KeyUsage)
				}
				if e := extension(c, oidKeyUsage); e == nil || !e.critical {
					t.Error("keyUsage is missing or not critical")
				}
				if len(c.ExtKeyUsage) != 0 {
					t.Errorf("CA has extended key usages %v", c.ExtKeyUsage)
				}
				if e := extension(c, oidNameConstraints); e != nil {
					t.Error("name constraints present though none were asked for")
				}
				checkKeyIDs(t, c, tc.parent.Cert)
				if err := c.CheckSignatureFrom(tc.parent.Cert); err != nil {
					t.Errorf("signature does not verify with the parent's key: %v", err)
				}
				if got := KeyTypeOf(c.PublicKey); got != ch.keyType {
					t.Errorf("key type = %s, want %s", got, ch.keyType)
				}
				if !KeyMatches(tc.ca.Key, c.PublicKey) {
					t.Error("Issued.Key does not match the certificate")
				}
				want := DefaultRootValidity
				if tc.name == "intermediate" {
					want = DefaultIntermediateValidity
				}
				checkWindow(t, c, want)
			})
		}
	}
}

// checkKeyIDs checks the SKI is RFC 7093 method 1 and the AKI is the
// issuer's SKI (absent on a self-signed root).
func checkKeyIDs(t *testing.T, c, parent *x509.Certificate) {
	t.Helper()
	ski, err := subjectKeyID(c.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.SubjectKeyId) != 20 || !bytes.Equal(c.SubjectKeyId, ski) {
		t.Errorf("SubjectKeyId = %x, want the 20-byte truncated SHA-256 %x", c.SubjectKeyId, ski)
	}
	if c == parent {
		if len(c.AuthorityKeyId) != 0 && !bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId) {
			t.Errorf("self-signed AuthorityKeyId = %x, want none or its own SKI", c.AuthorityKeyId)
		}
		return
	}
	if !bytes.Equal(c.AuthorityKeyId, parent.SubjectKeyId) {
		t.Errorf("AuthorityKeyId = %x, want the issuer's SKI %x", c.AuthorityKeyId, parent.SubjectKeyId)
	}
}

// checkWindow checks NotBefore is backdated by Backdate and the lifetime
// counts from the moment of issue.
func checkWindow(t *testing.T, c *x509.Certificate, validity time.Duration) {
	t.Helper()
	if age := time.Since(c.NotBefore); age < Backdate || age > Backdate+10*time.Minute {
		t.Errorf("NotBefore is %v before now, want a little over the backdate %v", age.Round(time.Second), Backdate)
	}
	if got := c.NotAfter.Sub(c.NotBefore) - Backdate; got < validity-2*time.Second || got > validity+2*time.Second {
		t.Errorf("NotAfter - NotBefore - Backdate = %v, want %v", got, validity)
	}
}

func TestIssueLeafExtensions(t *testing.T) {
	t.Parallel()
	m := testMatrix(t)
	for _, l := range m.leaves {
		t.Run(l.name, func(t *testing.T) {
			c := l.leaf.Cert
			if c.IsCA || !c.BasicConstraintsValid {
				t.Errorf("IsCA=%v BasicConstraintsValid=%v, want CA:FALSE present", c.IsCA, c.BasicConstraintsValid)
			}
			want := x509.KeyUsageDigitalSignature
			if _, isRSA := c.PublicKey.(*rsa.PublicKey); isRSA && l.profile.kind == KindServer {
				want |= x509.KeyUsageKeyEncipherment
			}
			if c.KeyUsage != want {
				t.Errorf("KeyUsage = %v, want %v", c.KeyUsage, want)
			}
			switch c.PublicKey.(type) {
			case *ecdsa.PublicKey, ed25519.PublicKey:
				if c.KeyUsage&x509.KeyUsageKeyEncipherment != 0 {
					t.Error("keyEncipherment on an ECDSA/Ed25519 key, which cannot encrypt")
				}
			}
			var eku []x509.ExtKeyUsage
			switch {
			case l.profile.kind == KindClient:
				eku = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
			case l.profile.clientAuth:
				eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
			default:
				eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			}
			if !reflect.DeepEqual(c.ExtKeyUsage, eku) {
				t.Errorf("ExtKeyUsage = %v, want %v", c.ExtKeyUsage, eku)
			}
			checkKeyIDs(t, c, l.issuer.Cert)
			if err := c.CheckSignatureFrom(l.issuer.Cert); err != nil {
				t.Errorf("signature does not verify with the issuer's key: %v", err)
			}
			if !KeyMatches(l.leaf.Key, c.PublicKey) {
				t.Error("Issued.Key does not match the certificate")
			}
			if got := KeyTypeOf(c.PublicKey); got != l.keyType {
				t.Errorf("key type = %s, want %s", got, l.keyType)
			}
			wantSANs := mustParseSANs(t, l.profile.sans).Strings()
			if got := SANsOf(c.DNSNames, c.IPAddresses, c.EmailAddresses, c.URIs).Strings(); !reflect.DeepEqual(got, wantSANs) {
				t.Errorf("SANs = %q, want %q", got, wantSANs)
			}
			if cn := c.Subject.CommonName; cn == "" || (l.profile.cn != "" && cn != l.profile.cn) {
				t.Errorf("CommonName = %q, want %q or the first SAN", cn, l.profile.cn)
			}
			if l.issuer == l.root && len(l.leaf.Chain) != 0 {
				t.Errorf("leaf of the root has Chain %d long, want none (the root is never in Chain)", len(l.leaf.Chain))
			}
			if l.issuer != l.root && (len(l.leaf.Chain) != 1 || !l.leaf.Chain[0].Equal(l.issuer.Cert)) {
				t.Errorf("leaf of the intermediate has Chain %d long, want just the intermediate", len(l.leaf.Chain))
			}
			if fc := l.leaf.FullChain(); len(fc) != len(l.leaf.Chain)+1 || fc[0] != c {
				t.Error("FullChain is not the leaf followed by Chain")
			}
			checkWindow(t, c, DefaultLeafValidity)
		})
	}
}

func TestIssueSerialsAreUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	for name, c := range testMatrix(t).allCerts() {
		if other, dup := seen[c.SerialNumber.String()]; dup {
			t.Errorf("%s and %s share serial %x", name, other, c.SerialNumber)
		}
		seen[c.SerialNumber.String()] = name
		if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() <= 64 {
			t.Errorf("%s: serial %x is not positive with over 64 bits", name, c.SerialNumber)
		}
	}
}

func TestIssueRefuses(t *testing.T) {
	t.Parallel()
	root, iss := mustRootCA(t, Request{Validity: 30 * Day, MaxPathLen: 1})
	inter, err := iss.Issue(Request{Kind: KindIntermediate, Validity: 20 * Day})
	if err != nil {
		t.Fatal(err)
	}
	interIss, err := inter.Issuer()
	if err != nil {
		t.Fatal(err)
	}
	_, shortIss := mustRootCA(t, Request{Validity: 12 * time.Hour})
	_, expiredIss := mustRootCA(t, Request{NotBefore: time.Now().Add(-48 * time.Hour), Validity: 24 * time.Hour})
	_, leafOnlyIss := mustRootCA(t, Request{})
	server := mustParseSANs(t, "localhost")
	tests := []struct {
		name string
		iss  *Issuer
		req  Request
		want []string
		is   error         // errors.Is target, when the error is a sentinel
		left time.Duration // with an *OutlivesIssuerError: the issuer's time left, in days (in hours under a day)
	}{
		{
			name: "leaf outliving its root",
			iss:  iss, req: Request{Kind: KindServer, SANs: server, Validity: 60 * Day},
			want: []string{"validity 60d", "after issuer", `"mtlskit Root CA"`, "expires"}, left: 29 * Day,
		},
		{
			name: "leaf with the default lifetime outliving its root",
			iss:  iss, req: Request{Kind: KindClient, CommonName: "alice"},
			want: []string{"validity 1y", "after issuer"},
		},
		{
			name: "leaf outliving its intermediate",
			iss:  interIss, req: Request{Kind: KindServer, SANs: server, Validity: 25 * Day},
			want: []string{"after issuer", `"mtlskit Intermediate CA"`}, left: 19 * Day,
		},
		{
			name: "intermediate outliving its root",
			iss:  iss, req: Request{Kind: KindIntermediate, Validity: 31 * Day},
			want: []string{"after issuer"},
		},
		{
			name: "leaf outliving a root with under a day left",
			iss:  shortIss, req: Request{Kind: KindServer, SANs: server, Validity: Day},
			want: []string{"after issuer"}, left: 11 * time.Hour,
		},
		{
			name: "leaf of an expired root",
			iss:  expiredIss, req: Request{Kind: KindServer, SANs: server, Validity: time.Hour},
			want: []string{"the issuer has expired: renew the CA first"},
		},
		{
			name: "server certificate without SAN",
			iss:  iss, req: Request{Kind: KindServer, CommonName: "localhost", Validity: Day},
			want: []string{"server certificate needs at least one SAN"}, is: ErrServerNeedsSAN,
		},
		{
			name: "client certificate without name",
			iss:  iss, req: Request{Kind: KindClient, Validity: Day},
			want: []string{"client certificate needs a Common Name or a SAN"}, is: ErrNeedsName,
		},
		{
			name: "common name over 64 characters",
			iss:  iss, req: Request{Kind: KindClient, CommonName: strings.Repeat("a", 65), Validity: Day},
			want: []string{"65 characters", "64"}, is: ErrCommonNameTooLong,
		},
		{
			name: "root kind through Issue",
			iss:  iss, req: Request{Kind: KindRoot},
			want: []string{"NewRootCA"},
		},
		{
			name: "unknown kind",
			iss:  iss, req: Request{Kind: "peer", Validity: Day},
			want: []string{`unknown certificate kind "peer"`},
		},
		{
			name: "intermediate from a root with path length 0",
			iss:  leafOnlyIss, req: Request{Kind: KindIntermediate, Validity: Day},
			want: []string{"path length 0"},
		},
		{
			name: "intermediate from an intermediate with path length 0",
			iss:  interIss, req: Request{Kind: KindIntermediate, Validity: Day},
			want: []string{"path length 0"},
		},
		{
			name: "unknown key type",
			iss:  iss, req: Request{Kind: KindClient, CommonName: "alice", KeyType: "dsa-1024", Validity: Day},
			want: []string{`unknown key type "dsa-1024"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.iss.Issue(tt.req)
			if err == nil {
				t.Fatalf("Issue succeeded (NotAfter %v), want an error", got.Cert.NotAfter)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %q", err, tt.is)
			}
			if tt.left != 0 {
				var oe *OutlivesIssuerError
				unit := Day
				if tt.left < Day {
					unit = time.Hour
				}
				if !errors.As(err, &oe) {
					t.Errorf("error %q is not an *OutlivesIssuerError", err)
				} else if got := oe.Remaining.Truncate(unit); got != tt.left {
					t.Errorf("issuer's time left %v (truncated to %v), want %v", oe.Remaining, unit, tt.left)
				}
			}
		})
	}
	_ = root
}

func TestIssueUnsafeOptions(t *testing.T) {
	t.Parallel()
	root, iss := mustRootCA(t, Request{Validity: 30 * Day})
	roots := x509.NewCertPool()
	roots.AddCert(root.Cert)

	t.Run("UnsafeAllowMissingSAN makes a CN-only server cert that Go refuses", func(t *testing.T) {
		t.Parallel()
		got, err := iss.Issue(Request{Kind: KindServer, CommonName: "localhost", Validity: Day, UnsafeAllowMissingSAN: true})
		if err != nil {
			t.Fatal(err)
		}
		if e := extension(got.Cert, oidSAN); e != nil || got.Cert.Subject.CommonName != "localhost" {
			t.Fatalf("want no SAN extension and CN localhost, got SAN=%v CN=%q", e != nil, got.Cert.Subject.CommonName)
		}
		_, err = got.Cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost"})
		var he x509.HostnameError
		if !errors.As(err, &he) {
			t.Errorf("Verify for localhost = %v, want a HostnameError (CN is not a host name)", err)
		}
	})
	t.Run("UnsafeAllowOutliveIssuer lets a leaf end after its issuer", func(t *testing.T) {
		t.Parallel()
		got, err := iss.Issue(Request{Kind: KindClient, CommonName: "alice", Validity: 60 * Day, UnsafeAllowOutliveIssuer: true})
		if err != nil {
			t.Fatal(err)
		}
		if !got.Cert.NotAfter.After(root.Cert.NotAfter) {
			t.Errorf("NotAfter %v is not after the root's %v", got.Cert.NotAfter, root.Cert.NotAfter)
		}
	})
	t.Run("UnsafeExtKeyUsage replaces the kind's EKU", func(t *testing.T) {
		t.Parallel()
		got, err := iss.Issue(Request{Kind: KindServer, SANs: mustParseSANs(t, "localhost"), Validity: Day,
			UnsafeExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
			t.Errorf("ExtKeyUsage = %v", got.Cert.ExtKeyUsage)
		}
		_, err = got.Cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost"})
		if err == nil {
			t.Error("a clientAuth-only certificate verified as a server")
		}
	})
}

func TestIssueWithCallerKeyAndNotBefore(t *testing.T) {
	t.Parallel()
	_, iss := mustRootCA(t, Request{})
	key, err := GenerateKey(Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	nb := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	got, err := iss.Issue(Request{Kind: KindClient, CommonName: "bob", Key: key, NotBefore: nb, Validity: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !KeyMatches(key, got.Cert.PublicKey) || !KeyMatches(got.Key, key.Public()) {
		t.Error("the certificate does not certify the caller's key")
	}
	if !got.Cert.NotBefore.Equal(nb) || !got.Cert.NotAfter.Equal(nb.Add(2*time.Hour)) {
		t.Errorf("window = %v..%v, want %v..%v", got.Cert.NotBefore, got.Cert.NotAfter, nb, nb.Add(2*time.Hour))
	}
}

func TestIssuerOfLeafRefused(t *testing.T) {
	t.Parallel()
	l := testMatrix(t).leaves[0]
	if _, err := l.leaf.Issuer(); err == nil || !strings.Contains(err.Error(), "not a CA") {
		t.Errorf("leaf.Issuer() error = %v, want 'not a CA'", err)
	}
	noKey := &Issued{Cert: l.root.Cert}
	if _, err := noKey.Issuer(); err == nil || !strings.Contains(err.Error(), "no private key") {
		t.Errorf("keyless CA Issuer() error = %v, want 'no private key'", err)
	}
}

func TestNewSelfSignedLeaf(t *testing.T) {
	t.Parallel()
	got, err := NewSelfSignedLeaf(Request{Kind: KindServer, SANs: mustParseSANs(t, "localhost")})
	if err != nil {
		t.Fatal(err)
	}
	if got.Cert.IsCA || got.Cert.CheckSignatureFrom(got.Cert) == nil {
		// A leaf has no certSign usage, so Go refuses it as its own parent.
		t.Errorf("IsCA=%v; a self-signed leaf should not pass as a CA", got.Cert.IsCA)
	}
	roots := x509.NewCertPool()
	roots.AddCert(testMatrix(t).chains[0].root.Cert)
	if _, err := got.Cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost"}); err == nil {
		t.Error("a self-signed leaf verified against an unrelated root")
	}
	if !bytes.Equal(got.Cert.AuthorityKeyId, got.Cert.SubjectKeyId) {
		t.Errorf("AuthorityKeyId = %x, want its own SKI (only a self-signed CA may omit it)", got.Cert.AuthorityKeyId)
	}
	if f := Lint(got.Cert); len(f) != 0 {
		t.Errorf("zlint: %v (a self-signed leaf should fail only for want of trust)", f)
	}
	if _, err := NewSelfSignedLeaf(Request{Kind: KindRoot}); err == nil {
		t.Error("NewSelfSignedLeaf made a CA")
	}
}

func TestNameConstraints(t *testing.T) {
	t.Parallel()
	_, tenNet, _ := net.ParseCIDR("10.0.0.0/8")
	root, iss := mustRootCA(t, Request{
		MaxPathLen:   1,
		PermittedDNS: []string{"example.com"},
		ExcludedDNS:  []string{"bad.example.com"},
		PermittedIPs: []*net.IPNet{tenNet},
	})
	c := root.Cert
	if e := extension(c, oidNameConstraints); e == nil || !e.critical {
		t.Fatal("nameConstraints is missing or not critical (RFC 5280 4.2.1.10: MUST be critical)")
	}
	if !reflect.DeepEqual(c.PermittedDNSDomains, []string{"example.com"}) ||
		!reflect.DeepEqual(c.ExcludedDNSDomains, []string{"bad.example.com"}) ||
		len(c.PermittedIPRanges) != 1 || c.PermittedIPRanges[0].String() != "10.0.0.0/8" {
		t.Errorf("constraints = permitted %v %v, excluded %v", c.PermittedDNSDomains, c.PermittedIPRanges, c.ExcludedDNSDomains)
	}
	if got := Lint(c); len(got) != 0 {
		t.Errorf("zlint findings on the constrained root: %v", got)
	}
	inter, err := iss.Issue(Request{Kind: KindIntermediate})
	if err != nil {
		t.Fatal(err)
	}
	interIss, _ := inter.Issuer()
	roots := x509.NewCertPool()
	roots.AddCert(c)
	tests := []struct {
		name string
		sans string
		ok   bool
	}{
		{"name inside permitted subtree", "api.example.com,10.1.2.3", true},
		{"permitted domain itself", "example.com", true},
		{"name outside permitted subtree", "api.example.org", false},
		{"name in excluded subtree", "x.bad.example.com", false},
		{"IP outside permitted range", "api.example.com,192.168.0.1", false},
		{"suffix match is not a subtree", "notexample.com", false},
	}
	for _, tt := range tests {
		for _, via := range []struct {
			name string
			iss  *Issuer
		}{{"via-root", iss}, {"via-intermediate", interIss}} {
			t.Run(via.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				if _, err := via.iss.Issue(Request{Kind: KindServer, SANs: mustParseSANs(t, tt.sans), Validity: Day}); via.name == "via-root" && (err == nil) != tt.ok {
					t.Fatalf("Issue under the constrained root: err = %v, want refusal=%v", err, !tt.ok)
				}
				leaf, err := via.iss.Issue(Request{Kind: KindServer, SANs: mustParseSANs(t, tt.sans), Validity: Day, UnsafeAllowOutsideNameConstraints: true})
				if err != nil {
					t.Fatal(err)
				}
				inters := x509.NewCertPool()
				for _, ic := range leaf.Chain {
					inters.AddCert(ic)
				}
				_, err = leaf.Cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters})
				if tt.ok && err != nil {
					t.Errorf("Verify: %v, want success", err)
				}
				var ie x509.CertificateInvalidError
				if !tt.ok && (!errors.As(err, &ie) || ie.Reason != x509.CANotAuthorizedForThisName) {
					t.Errorf("Verify = %v, want CANotAuthorizedForThisName", err)
				}
			})
		}
	}
}
