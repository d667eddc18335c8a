package pki

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// matrixKeyTypes are issued in every kind, via the root and via an
// intermediate. RSA-3072 and RSA-4096 are slow to generate and get one
// certificate each (see oddKeyCerts).
var matrixKeyTypes = []KeyType{ECDSAP256, ECDSAP384, Ed25519, RSA2048}

// leafProfile is one kind of leaf the matrix issues.
type leafProfile struct {
	name       string
	kind       Kind
	clientAuth bool
	cn         string
	sans       string
}

var leafProfiles = []leafProfile{
	{name: "server", kind: KindServer, sans: "localhost,127.0.0.1,::1"},
	{name: "client", kind: KindClient, cn: "alice"},
	{name: "server+clientAuth", kind: KindServer, clientAuth: true, sans: "localhost,127.0.0.1"},
	{name: "client-email-uri", kind: KindClient, cn: "alice", sans: "spiffe://corp/alice,alice@example.com"},
}

// pkiChain is a root CA and an intermediate it signed, of one key type.
type pkiChain struct {
	keyType KeyType
	root    *Issued
	inter   *Issued // nil for the RSA-4096 root
}

// matrixLeaf is one leaf of the matrix with what it was issued for.
type matrixLeaf struct {
	name    string // e.g. "ecdsa-p256/via-intermediate/server"
	keyType KeyType
	profile leafProfile
	root    *Issued
	issuer  *Issued // the CA that signed the leaf: root or intermediate
	leaf    *Issued
}

// intermediates is the pool to verify leaf with.
func (m matrixLeaf) intermediates() *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range m.leaf.Chain {
		p.AddCert(c)
	}
	return p
}

func (m matrixLeaf) roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(m.root.Cert)
	return p
}

type pkiMatrix struct {
	chains []pkiChain
	leaves []matrixLeaf
}

// allCerts lists every certificate of the matrix with a name.
func (m *pkiMatrix) allCerts() map[string]*x509.Certificate {
	out := map[string]*x509.Certificate{}
	for _, c := range m.chains {
		out[string(c.keyType)+"/root"] = c.root.Cert
		if c.inter != nil {
			out[string(c.keyType)+"/intermediate"] = c.inter.Cert
		}
	}
	for _, l := range m.leaves {
		out[l.name] = l.leaf.Cert
	}
	return out
}

func newChain(kt KeyType) (pkiChain, error) {
	root, err := NewRootCA(Request{KeyType: kt, MaxPathLen: 1, CommonName: "test root " + string(kt)})
	if err != nil {
		return pkiChain{}, err
	}
	ri, err := root.Issuer()
	if err != nil {
		return pkiChain{}, err
	}
	inter, err := ri.Issue(Request{Kind: KindIntermediate, KeyType: kt, CommonName: "test intermediate " + string(kt)})
	if err != nil {
		return pkiChain{}, err
	}
	return pkiChain{keyType: kt, root: root, inter: inter}, nil
}

func issueProfile(ca *Issued, kt KeyType, p leafProfile) (*Issued, error) {
	iss, err := ca.Issuer()
	if err != nil {
		return nil, err
	}
	sans, err := ParseSANs(p.sans)
	if err != nil {
		return nil, err
	}
	return iss.Issue(Request{Kind: p.kind, KeyType: kt, CommonName: p.cn, SANs: sans, ClientAuth: p.clientAuth})
}

func buildMatrix() (*pkiMatrix, error) {
	m := &pkiMatrix{chains: make([]pkiChain, len(matrixKeyTypes))}
	leaves := make([][]matrixLeaf, len(matrixKeyTypes))
	errs := make([]error, len(matrixKeyTypes))
	var wg sync.WaitGroup
	for i, kt := range matrixKeyTypes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch, err := newChain(kt)
			if err != nil {
				errs[i] = err
				return
			}
			m.chains[i] = ch
			for _, via := range []struct {
				name string
				ca   *Issued
			}{{"via-root", ch.root}, {"via-intermediate", ch.inter}} {
				for _, p := range leafProfiles {
					leaf, err := issueProfile(via.ca, kt, p)
					if err != nil {
						errs[i] = err
						return
					}
					leaves[i] = append(leaves[i], matrixLeaf{
						name: string(kt) + "/" + via.name + "/" + p.name, keyType: kt, profile: p,
						root: ch.root, issuer: via.ca, leaf: leaf,
					})
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, l := range leaves {
		m.leaves = append(m.leaves, l...)
	}
	// The slow RSA sizes, once each: an RSA-4096 root signing an
	// RSA-3072 server+clientAuth leaf.
	root4096, err := NewRootCA(Request{KeyType: RSA4096, CommonName: "test root rsa-4096"})
	if err != nil {
		return nil, err
	}
	p := leafProfiles[2] // server+clientAuth
	leaf3072, err := issueProfile(root4096, RSA3072, p)
	if err != nil {
		return nil, err
	}
	m.leaves = append(m.leaves, matrixLeaf{
		name: "rsa-3072/via-rsa-4096-root/" + p.name, keyType: RSA3072, profile: p,
		root: root4096, issuer: root4096, leaf: leaf3072,
	})
	m.chains = append(m.chains, pkiChain{keyType: RSA4096, root: root4096})
	return m, nil
}

var sharedMatrix = sync.OnceValues(buildMatrix)

// testMatrix returns the certificates shared by the issuing, cross-check
// and lint tests, made once per test binary.
func testMatrix(t testing.TB) *pkiMatrix {
	t.Helper()
	m, err := sharedMatrix()
	if err != nil {
		t.Fatalf("building the test PKI: %v", err)
	}
	return m
}

func mustRootCA(t testing.TB, req Request) (*Issued, *Issuer) {
	t.Helper()
	root, err := NewRootCA(req)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := root.Issuer()
	if err != nil {
		t.Fatal(err)
	}
	return root, iss
}

// writeTemp writes data into dir/name and returns the path.
func writeTemp(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// requireTool skips the test when tool is not on PATH. CI installs openssl
// and a JDK, so there the cross-checks always run.
func requireTool(t testing.TB, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s is not on PATH: skipping the cross-check (CI installs it)", tool)
	}
}

// runTool executes tool with a timeout and returns its combined output.
func runTool(t testing.TB, timeout time.Duration, tool string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out after %v", tool, strings.Join(args, " "), timeout)
	}
	return string(out), err
}

func runOpenSSL(t testing.TB, args ...string) (string, error) {
	t.Helper()
	return runTool(t, 30*time.Second, "openssl", args...)
}
