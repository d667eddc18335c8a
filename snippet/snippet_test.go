package snippet

import (
	"encoding/pem"
	"go/format"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/pki"
)

func files(crls ...string) Files {
	return Files{CA: "/pki/ca/root.pem", Cert: "/pki/issued/x/cert.pem", Chain: "/pki/issued/x/chain.pem", Key: "/pki/issued/x/key.pem", CRLs: crls}
}

// The Go snippets are gofmt-clean, with and without CRLs (the imports
// differ); cmd/mtlskit builds and runs them.
func TestGoSnippetsAreFormatted(t *testing.T) {
	for _, stack := range []string{"go-server", "go-client"} {
		for _, crls := range [][]string{nil, {"/pki/ca/crl.pem"}, {"/pki/ca/crl.pem", "/pki/ca/root-crl.pem"}} {
			sn, err := Render(stack, Params{Name: "x", Files: files(crls...)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := format.Source([]byte(sn.Text))
			if err != nil || string(got) != sn.Text {
				t.Errorf("%s with CRLs %v is not gofmt-clean (%v):\n%s", stack, crls, err, sn.Text)
			}
			if (len(crls) > 0) != strings.Contains(sn.Text, "checkRevocation(cs.VerifiedChains, crls)") {
				t.Errorf("%s with CRLs %v: the revocation check is there: %v", stack, crls, len(crls) == 0)
			}
		}
	}
}

// Every stack says until when its CRLs are valid, and warns when they
// have expired (a peer then refuses every certificate).
func TestCRLValidityIsSaid(t *testing.T) {
	for _, s := range Stacks() {
		for _, c := range []struct {
			next time.Time
			want string
		}{
			{time.Date(2031, 2, 3, 4, 5, 0, 0, time.UTC), "valid until 2031-02-03 04:05 UTC: run `mtlskit crl` before"},
			{time.Date(2001, 2, 3, 4, 5, 0, 0, time.UTC), "WARNING: the CRL expired at 2001-02-03 04:05 UTC:"},
		} {
			sn, err := Render(s.Name, Params{Name: "x", Files: files("/pki/ca/crl.pem", "/pki/ca/root-crl.pem"), CRLNextUpdate: c.next}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(sn.Text, c.want) {
				t.Errorf("%s: no %q:\n%s", s.Name, c.want, sn.Text)
			}
		}
	}
}

// A bundle is never one of its inputs: cat would empty it first.
func TestBundlePathAvoidsInputs(t *testing.T) {
	d := templateData{Params: Params{Files: files("/pki/ca/crl-bundle.pem", "/pki/ca/2-crl-bundle.pem")}}
	d.revocationData(time.Now())
	if d.CRLBundle != "/pki/ca/3-crl-bundle.pem" || d.CRLBundleCmd != "cat /pki/ca/crl-bundle.pem /pki/ca/2-crl-bundle.pem > /pki/ca/3-crl-bundle.pem" {
		t.Errorf("bundle %q, command %q", d.CRLBundle, d.CRLBundleCmd)
	}
	if d.CACRLBundle != "/pki/ca/ca-with-crls.pem" || d.LeafCRL != "/pki/ca/crl-bundle.pem" {
		t.Errorf("CA bundle %q, leaf CRL %q", d.CACRLBundle, d.LeafCRL)
	}
}

func TestReadCRLs(t *testing.T) {
	dir := t.TempDir()
	root, err := pki.NewRootCA(pki.Request{CommonName: "Test Root", KeyType: pki.ECDSAP256, Validity: pki.Day})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := root.Issuer()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var pems [][]byte
	for _, next := range []time.Duration{48 * time.Hour, 24 * time.Hour} {
		der, _, err := pki.MakeCRL(iss, nil, 1, now, now.Add(next))
		if err != nil {
			t.Fatal(err)
		}
		pems = append(pems, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}))
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := write("a.pem", pems[0]), write("b.pem", append(append([]byte{}, pems[0]...), pems[1]...))
	next, err := ReadCRLs([]string{a, b})
	if err != nil || !next.Equal(now.Add(24*time.Hour).UTC().Truncate(time.Second)) {
		t.Errorf("ReadCRLs: %v, %v; want the earliest NextUpdate", next, err)
	}
	for name, data := range map[string][]byte{
		"der.crl":  []byte{0x30, 0x03, 0x02, 0x01, 0x01},
		"cert.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}),
	} {
		if _, err := ReadCRLs([]string{write(name, data)}); err == nil || !strings.Contains(err.Error(), "holds no PEM CRL") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ReadCRLs([]string{write("bad.pem", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: []byte{1, 2, 3}}))}); err == nil || !strings.Contains(err.Error(), "bad.pem: ") {
		t.Errorf("a corrupt CRL: %v", err)
	}
}
