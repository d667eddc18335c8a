package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/pki"
)

// listed is one row of `mtlskit list --json`.
type listed struct {
	pki.Entry
	Paths map[string]string `json:"paths"`
}

func listStore(t *testing.T, dir, store string) []listed {
	t.Helper()
	r := mtlskit(t, dir, nil, "list", "--json", "--dir", store)
	if r.code != 0 {
		t.Fatalf("list after the crash: exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		Certificates []listed `json:"certificates"`
	}
	decodeJSON(t, r.stdout, &out)
	return out.Certificates
}

// checkStore proves a store is consistent: list works; every indexed
// certificate's files exist, match the index and, for leaves of the
// current CA, verify to its root with their chain and hold the matching
// key; names and serials appear once. With settled (after a writer ran)
// there is also no temporary file and every directory under issued/ is
// indexed. It returns the names listed.
func checkStore(t *testing.T, dir, store string, settled bool) map[string]pki.Entry {
	t.Helper()
	abs := filepath.Join(dir, store)
	rows := listStore(t, dir, store)
	rootPEM, err := os.ReadFile(filepath.Join(abs, "ca", "root.pem"))
	if err != nil {
		t.Fatalf("no root after the crash: %v", err)
	}
	root, err := pki.ParseCerts(rootPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root[0])
	// Leaves of the current CA must verify; those of a CA that `ca init
	// --force` replaced stay listed but cannot.
	current := map[string]bool{string(root[0].SubjectKeyId): true}
	if data, err := os.ReadFile(filepath.Join(abs, "ca", "intermediate.pem")); err == nil {
		if ic, err := pki.ParseCerts(data); err == nil {
			current[string(ic[0].SubjectKeyId)] = true
		}
	}
	names := map[string]pki.Entry{}
	serials := map[string]bool{}
	for _, row := range rows {
		e := row.Entry
		if _, dup := names[string(e.Kind)+"/"+e.Name]; dup {
			t.Errorf("%s listed twice", e.Name)
		}
		names[string(e.Kind)+"/"+e.Name] = e
		if serials[e.Serial] {
			t.Errorf("serial %s listed twice", e.Serial)
		}
		serials[e.Serial] = true
		data, err := os.ReadFile(filepath.Join(abs, e.Cert))
		if err != nil {
			t.Errorf("%s: indexed cert missing: %v", e.Name, err)
			continue
		}
		certs, err := pki.ParseCerts(data)
		if err != nil {
			t.Errorf("%s: %v", e.Name, err)
			continue
		}
		if pki.InfoOf(certs[0]).SHA256 != e.SHA256 {
			t.Errorf("%s: cert.pem is not the certificate indexed", e.Name)
		}
		if e.Key != "" {
			keyPEM, err := os.ReadFile(filepath.Join(abs, e.Key))
			if err != nil {
				t.Errorf("%s: indexed key missing: %v", e.Name, err)
			} else if k, err := pki.ParseKey(keyPEM, nil); err != nil || !pki.KeyMatches(k, certs[0].PublicKey) {
				t.Errorf("%s: key does not read or match: %v", e.Name, err)
			}
		}
		if e.Kind.IsCA() || !current[string(certs[0].AuthorityKeyId)] {
			continue
		}
		chainPEM, err := os.ReadFile(filepath.Join(abs, e.Chain))
		if err != nil {
			t.Errorf("%s: indexed chain missing: %v", e.Name, err)
			continue
		}
		chain, _ := pki.ParseCerts(chainPEM)
		inter := x509.NewCertPool()
		for _, c := range chain[1:] {
			inter.AddCert(c)
		}
		if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s: does not verify: %v", e.Name, err)
		}
	}
	if _, ok := names["root/root"]; !ok && settled {
		t.Errorf("root not indexed")
	}
	if !settled {
		return names
	}
	filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".tmp") {
			t.Errorf("stray temporary %s after the next writer", p)
		}
		return nil
	})
	ents, _ := os.ReadDir(filepath.Join(abs, "issued"))
	for _, d := range ents {
		if _, ok := names["client/"+d.Name()]; !ok {
			if _, ok := names["server/"+d.Name()]; !ok {
				t.Errorf("issued/%s is not indexed after the next writer", d.Name())
			}
		}
	}
	return names
}

// TestConcurrentIssue runs 20 `mtlskit issue` processes at once against
// one store: all succeed, each with its own serial and one index entry,
// and no temporary file is left.
func TestConcurrentIssue(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init")
	const n = 20
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			args := []string{"issue", "client", "--cn", fmt.Sprintf("c%02d", i), "--json"}
			if i%4 == 0 {
				args = []string{"issue", "server", "--san", fmt.Sprintf("s%02d.example,127.0.0.%d", i, i+1), "--json"}
			}
			results[i] = mtlskit(t, dir, nil, args...)
		}(i)
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("process %d: exit %d: %s", i, r.code, r.stderr)
		}
	}
	names := checkStore(t, dir, "pki", true)
	leaves := 0
	for k := range names {
		if !strings.HasPrefix(k, "root/") {
			leaves++
		}
	}
	if leaves != n {
		t.Errorf("index lists %d leaves, want %d", leaves, n)
	}
}

// TestKillAtRandomTimes SIGKILLs `mtlskit issue` from outside at random
// moments and checks the store after each kill.
func TestKillAtRandomTimes(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init")
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	seed := rng.Int63()
	t.Logf("seed %d", seed)
	rng = rand.New(rand.NewSource(seed))
	killed := 0
	for i := 0; i < 12; i++ {
		args := []string{"issue", "client", "--cn", fmt.Sprintf("r%02d", i)}
		if i%2 == 1 {
			args = []string{"issue", "client", "--count", "20", "--cn-prefix", fmt.Sprintf("batch%02d-", i)}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, binPath, append(args, "--dir", "pki")...)
		cmd.Dir = dir
		cmd.Env = cleanEnv()
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Intn(40000)) * time.Microsecond)
		if cmd.Process.Signal(syscall.SIGKILL) == nil {
			killed++
		}
		cmd.Wait()
		cancel()
		checkStore(t, dir, "pki", false)
	}
	mustRun(t, dir, "issue", "client", "--cn", "after")
	checkStore(t, dir, "pki", true)
	t.Logf("%d processes killed at random moments", killed)
}

func writeCSR(t *testing.T, path string) {
	t.Helper()
	key, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(nil, &x509.CertificateRequest{DNSNames: []string{"csr1.example"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pemBlock("CERTIFICATE REQUEST", der), 0o600); err != nil {
		t.Fatal(err)
	}
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
