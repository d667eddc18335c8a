package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRevokeCRLServeEndToEnd: through the binary, a store with CDP and
// OCSP URLs revokes a client, writes its CRLs, serves them and answers
// OCSP; list, verify --crl, verify --check-revocation and openssl ocsp
// all agree.
func TestRevokeCRLServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	port := freeLoopbackPort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	mustRun(t, dir, "ca", "init", "--intermediate", "--crl-url", base+"/crl.der", "--ocsp-url", base+"/ocsp")
	mustRun(t, dir, "issue", "client", "--cn", "alice")
	mustRun(t, dir, "issue", "client", "--cn", "bob")
	r := mustRun(t, dir, "revoke", "alice", "--reason", "keyCompromise", "--json")
	var rev struct{ Serial, Reason string }
	if err := json.Unmarshal([]byte(r.stdout), &rev); err != nil || rev.Reason != "keyCompromise" || rev.Serial == "" {
		t.Fatalf("revoke --json: %v %s", err, r.stdout)
	}
	r = mustRun(t, dir, "crl", "--json", "--next-update", "2d")
	var crls struct {
		CRLs []struct {
			Number  int64
			Entries int
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &crls); err != nil || len(crls.CRLs) != 2 || crls.CRLs[0].Entries != 1 || crls.CRLs[0].Number != 1 {
		t.Fatalf("crl --json: %v %s", err, r.stdout)
	}
	if r := mustRun(t, dir, "list"); !strings.Contains(r.stdout, "revoked "+time.Now().UTC().Format(time.DateOnly)+" (keyCompromise)") {
		t.Errorf("list:\n%s", r.stdout)
	}
	alice, bob, inter := filepath.Join("pki", "issued", "alice", "cert.pem"), filepath.Join("pki", "issued", "bob", "cert.pem"), filepath.Join("pki", "ca", "intermediate.pem")
	r = mtlskit(t, dir, nil, "verify", "--cert", alice, "--chain", inter, "--purpose", "client", "--crl", "pki/ca/crl.pem", "--crl", "pki/ca/root-crl.pem")
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL  revocation") || !strings.Contains(r.stdout, "revoked on") {
		t.Errorf("verify --crl alice: exit %d\n%s", r.code, r.stdout)
	}

	out := startServer(t, dir, nil, binPath, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	waitPort(t, port, out)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(base + "/crl.der")
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pkix-crl" {
		t.Fatalf("GET /crl.der: %v %+v", err, resp)
	}
	resp.Body.Close()
	r = mtlskit(t, dir, nil, "verify", "--cert", bob, "--chain", inter, "--purpose", "client", "--check-revocation")
	if r.code != 0 || !strings.Contains(r.stdout, "PASS  revocation           CN=bob") {
		t.Errorf("verify --check-revocation bob: exit %d\n%s", r.code, r.stdout)
	}
	r = mtlskit(t, dir, nil, "verify", "--cert", alice, "--chain", inter, "--purpose", "client", "--check-revocation")
	if r.code != 1 || !strings.Contains(r.stdout, "revoked on") {
		t.Errorf("verify --check-revocation alice: exit %d\n%s", r.code, r.stdout)
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	for name, want := range map[string]string{alice: "revoked", bob: "good"} {
		o := execTool(t, dir, nil, 10*time.Second, "openssl", "ocsp", "-issuer", inter, "-cert", name, "-url", base+"/ocsp", "-CAfile", "pki/ca/root.pem")
		if !strings.Contains(o.output, "Response verify OK") || !strings.Contains(o.output, name+": "+want) {
			t.Errorf("openssl ocsp %s: want %s\n%s", name, want, o.output)
		}
	}
	if s := out.String(); !strings.Contains(s, ": revoked") || !strings.Contains(s, ": good") {
		t.Errorf("serve logged:\n%s", s)
	}
}
