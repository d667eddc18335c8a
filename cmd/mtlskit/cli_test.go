package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestQuickStartWritesVerifiableFiles(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init")
	var srv writtenReport
	decodeJSON(t, mustRun(t, dir, "issue", "server", "--san", "localhost,127.0.0.1,::1", "--json").stdout, &srv)
	var cli writtenReport
	decodeJSON(t, mustRun(t, dir, "issue", "client", "--cn", "alice", "--san", "spiffe://corp/alice,alice@example.com", "--json").stdout, &cli)

	if len(srv.Certificates) != 1 || srv.Certificates[0].Name != "localhost" || srv.Certificates[0].Kind != "server" {
		t.Fatalf("server report = %+v, want one server named localhost", srv.Certificates)
	}
	if got := strings.Join(srv.Certificates[0].SANs, ","); got != "localhost,127.0.0.1,::1" {
		t.Errorf("server SANs = %s", got)
	}
	if cli.Certificates[0].Name != "alice" || len(cli.Certificates[0].SANs) != 2 {
		t.Errorf("client report = %+v", cli.Certificates[0])
	}
	for _, p := range []string{"pki", "pki/ca", "pki/issued", "pki/issued/localhost"} {
		checkMode(t, filepath.Join(dir, p), 0o700)
	}
	for _, p := range []string{srv.Certificates[0].Paths["key"], cli.Certificates[0].Paths["key"], filepath.Join(dir, "pki/ca/root-key.pem")} {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		checkMode(t, p, 0o600)
	}

	openssl := lookTool(t, "openssl")
	ca := filepath.Join(dir, "pki/ca/root.pem")
	runTool(t, dir, openssl, "verify", "-CAfile", ca, "-purpose", "sslserver", "-verify_hostname", "localhost", "pki/issued/localhost/cert.pem")
	runTool(t, dir, openssl, "verify", "-CAfile", ca, "-purpose", "sslserver", "-verify_ip", "::1", "pki/issued/localhost/cert.pem")
	runTool(t, dir, openssl, "verify", "-CAfile", ca, "-purpose", "sslclient", "pki/issued/alice/cert.pem")
	runTool(t, dir, openssl, "pkey", "-in", "pki/issued/alice/key.pem", "-noout")

	var listed struct {
		Certificates []struct {
			Name, Kind, Status string
		}
	}
	decodeJSON(t, mustRun(t, dir, "list", "--json").stdout, &listed)
	var names []string
	for _, c := range listed.Certificates {
		names = append(names, c.Name+":"+c.Kind+":"+c.Status)
	}
	if got, want := strings.Join(names, " "), "root:root:valid alice:client:valid localhost:server:valid"; got != want {
		t.Errorf("list = %q, want %q", got, want)
	}
}

func TestIntermediateSignsLeavesAndChainVerifies(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init", "--intermediate")
	mustRun(t, dir, "issue", "server", "--san", "api.internal", "--client-auth")
	openssl := lookTool(t, "openssl")
	// chain.pem = leaf + intermediate, exactly what nginx's ssl_certificate wants.
	runTool(t, dir, openssl, "verify", "-CAfile", "pki/ca/root.pem", "-untrusted", "pki/issued/api.internal/chain.pem",
		"-purpose", "sslserver", "-verify_hostname", "api.internal", "pki/issued/api.internal/cert.pem")
	runTool(t, dir, openssl, "verify", "-CAfile", "pki/ca/root.pem", "-untrusted", "pki/issued/api.internal/chain.pem",
		"-purpose", "sslclient", "pki/issued/api.internal/cert.pem")
	// Without the intermediate the leaf must not verify against the root alone.
	r := runToolErr(dir, openssl, "verify", "-CAfile", "pki/ca/root.pem", "pki/issued/api.internal/cert.pem")
	if r == nil {
		t.Error("leaf verified against the root without its intermediate: it was not signed by the intermediate")
	}
}

func TestSignCSRKeepsKeyOutside(t *testing.T) {
	openssl := lookTool(t, "openssl")
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init")
	runTool(t, dir, openssl, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", "svc.key", "-out", "svc.csr", "-subj", "/CN=svc.internal", "-addext", "subjectAltName=DNS:svc.internal,IP:127.0.0.1")
	var rep writtenReport
	decodeJSON(t, mustRun(t, dir, "sign", "--csr", "svc.csr", "--profile", "server", "--json").stdout, &rep)
	e := rep.Certificates[0]
	if e.Name != "svc.internal" || e.Key != "" || strings.Join(e.SANs, ",") != "svc.internal,127.0.0.1" {
		t.Fatalf("signed entry = %+v, want svc.internal with SANs from the CSR and no key", e)
	}
	if _, err := os.Stat(filepath.Join(dir, "pki/issued/svc.internal/key.pem")); !os.IsNotExist(err) {
		t.Errorf("a key file exists for a CSR-signed certificate: %v", err)
	}
	runTool(t, dir, openssl, "verify", "-CAfile", "pki/ca/root.pem", "-purpose", "sslserver", "-verify_ip", "127.0.0.1", e.Paths["cert"])
}

func TestEncryptedCAKeyNeedsPassphrase(t *testing.T) {
	dir := t.TempDir()
	pass := filepath.Join(dir, "pass")
	os.WriteFile(pass, []byte("correct horse\n"), 0o600)
	mustRun(t, dir, "ca", "init", "--encrypt-key", "--passphrase-file", pass)
	key, _ := os.ReadFile(filepath.Join(dir, "pki/ca/root-key.pem"))
	if !strings.Contains(string(key), "ENCRYPTED PRIVATE KEY") {
		t.Fatalf("CA key is not encrypted PKCS#8:\n%s", key)
	}
	if openssl, err := exec.LookPath("openssl"); err == nil {
		runTool(t, dir, openssl, "pkey", "-in", "pki/ca/root-key.pem", "-passin", "pass:correct horse", "-noout")
	}
	r := mtlskit(t, dir, []string{"MTLSKIT_CA_PASSPHRASE=correct horse"}, "issue", "client", "--cn", "bob")
	if r.code != 0 {
		t.Fatalf("issue with the passphrase in the environment: exit %d: %s", r.code, r.stderr)
	}
	mustRun(t, dir, "issue", "client", "--cn", "carol", "--passphrase-file", pass)
}

func TestConcurrentIssuesGetDistinctSerialsAndOneIndexEntryEach(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init")
	const n = 8
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binPath, "issue", "client", "--cn", "load-"+string(rune('a'+i)))
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				errs <- string(out)
				return
			}
			errs <- ""
		}(i)
	}
	for i := 0; i < n; i++ {
		if e := <-errs; e != "" {
			t.Errorf("concurrent issue failed: %s", e)
		}
	}
	var listed struct {
		Certificates []struct{ Name, Serial string }
	}
	decodeJSON(t, mustRun(t, dir, "list", "--json").stdout, &listed)
	seenName, seenSerial := map[string]int{}, map[string]bool{}
	for _, c := range listed.Certificates {
		seenName[c.Name]++
		if seenSerial[c.Serial] {
			t.Errorf("serial %s appears twice", c.Serial)
		}
		seenSerial[c.Serial] = true
	}
	for i := 0; i < n; i++ {
		if name := "load-" + string(rune('a'+i)); seenName[name] != 1 {
			t.Errorf("%s listed %d times, want once", name, seenName[name])
		}
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "pki/issued"))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("stray temporary entry left in the store: %s", e.Name())
		}
	}
}

func TestForceReplacesAnIssuedName(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init")
	var first, second writtenReport
	decodeJSON(t, mustRun(t, dir, "issue", "client", "--cn", "alice", "--json").stdout, &first)
	decodeJSON(t, mustRun(t, dir, "issue", "client", "--cn", "alice", "--force", "--json").stdout, &second)
	if first.Certificates[0].Serial == second.Certificates[0].Serial {
		t.Fatal("--force kept the old certificate")
	}
	var listed struct {
		Certificates []struct{ Name, Serial string }
	}
	decodeJSON(t, mustRun(t, dir, "list", "--json").stdout, &listed)
	if len(listed.Certificates) != 2 || listed.Certificates[1].Serial != second.Certificates[0].Serial {
		t.Errorf("index after --force = %+v, want root + the new alice", listed.Certificates)
	}
}

func TestInspectDescribesEachFileKind(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init", "--intermediate")
	mustRun(t, dir, "issue", "server", "--san", "localhost,127.0.0.1")
	cases := []struct {
		file string
		want []string
	}{
		{"pki/issued/localhost/cert.pem", []string{"Certificate (pem-certificates)", "SANs:", "localhost, 127.0.0.1", "serverAuth", "digitalSignature"}},
		{"pki/issued/localhost/chain.pem", []string{"Certificate 1 of 2", "Certificate 2 of 2", "CA, path length 0"}},
		{"pki/issued/localhost/key.pem", []string{"private key (ecdsa-p256)"}},
		{"pki/ca/root.pem", []string{"CA, path length 1, self-signed", "keyCertSign, cRLSign"}},
	}
	for _, c := range cases {
		out := mustRun(t, dir, "inspect", c.file).stdout
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("inspect %s: missing %q in\n%s", c.file, w, out)
			}
		}
	}
}

func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (.ci/run installs it)", name)
	}
	return p
}

func runTool(t *testing.T, dir, tool string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(tool), strings.Join(args, " "), err, out)
	}
	return string(out)
}

func runToolErr(dir, tool string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Dir = dir
	return cmd.Run()
}

func TestExportP12ReadableByOpenSSLAndKeytool(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init", "--intermediate")
	mustRun(t, dir, "issue", "client", "--cn", "alice")
	os.WriteFile(filepath.Join(dir, "pw"), []byte("hunter2\n"), 0o600)
	for _, legacy := range []bool{false, true} {
		args := []string{"export", "p12", "alice", "--password-file", "pw", "--force", "--json"}
		if legacy {
			args = append(args, "--legacy")
		}
		var rep struct {
			Path   string
			Legacy bool
		}
		decodeJSON(t, mustRun(t, dir, args...).stdout, &rep)
		if !filepath.IsAbs(rep.Path) {
			rep.Path = filepath.Join(dir, rep.Path)
		}
		checkMode(t, rep.Path, 0o600)
		// inspect reads it back: leaf, intermediate, root.
		out := mustRun(t, dir, "inspect", rep.Path, "--password-file", "pw").stdout
		if !strings.Contains(out, "Certificate 3 of 3 (pkcs12)") || !strings.Contains(out, "CN=alice") {
			t.Errorf("inspect of the p12 (legacy=%v) lacks the chain:\n%s", legacy, out)
		}
		if openssl, err := exec.LookPath("openssl"); err == nil {
			info := runTool(t, dir, openssl, "pkcs12", "-info", "-noout", "-passin", "pass:hunter2", "-in", rep.Path)
			want := "PBES2"
			if legacy {
				want = "pbeWithSHA1And3-KeyTripleDES-CBC"
			}
			if !strings.Contains(info, want) {
				t.Errorf("openssl pkcs12 -info (legacy=%v) lacks %s:\n%s", legacy, want, info)
			}
		}
		if keytool, err := exec.LookPath("keytool"); err == nil {
			list := runTool(t, dir, keytool, "-list", "-storetype", "PKCS12", "-keystore", rep.Path, "-storepass", "hunter2")
			if !strings.Contains(list, "PrivateKeyEntry") {
				t.Errorf("keytool (legacy=%v) found no private key entry:\n%s", legacy, list)
			}
		}
	}
	if r := mtlskit(t, dir, nil, "export", "p12", "alice", "--password-file", "pw"); r.code != 1 || !strings.Contains(r.stderr, "exists") {
		t.Errorf("export over an existing p12 without --force: exit %d %q", r.code, r.stderr)
	}
	if r := mtlskit(t, dir, nil, "inspect", "pki/issued/alice/alice.p12"); r.code != 1 || !strings.Contains(r.stderr, "password is wrong or missing") {
		t.Errorf("inspect p12 without password: exit %d %q", r.code, r.stderr)
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if fi.Mode().Perm() != want {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
	}
}

func TestIssueClientCountMintsDistinctIdentitiesInOneRun(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init")
	var rep writtenReport
	decodeJSON(t, mustRun(t, dir, "issue", "client", "--count", "50", "--cn-prefix", "load-", "--json").stdout, &rep)
	if len(rep.Certificates) != 50 || rep.Certificates[0].Name != "load-0001" || rep.Certificates[49].Name != "load-0050" {
		t.Fatalf("got %d certificates (%v...), want load-0001..load-0050", len(rep.Certificates), rep.Certificates[0].Name)
	}
	serials := map[string]bool{}
	for _, c := range rep.Certificates {
		if serials[c.Serial] {
			t.Errorf("serial %s repeated", c.Serial)
		}
		serials[c.Serial] = true
		if c.CommonName != c.Name || c.Kind != "client" {
			t.Errorf("entry %+v: want a client whose CN is its name", c.Entry)
		}
	}
	if openssl, err := exec.LookPath("openssl"); err == nil {
		runTool(t, dir, openssl, "verify", "-CAfile", "pki/ca/root.pem", "-purpose", "sslclient", "pki/issued/load-0037/cert.pem")
	}
	// A batch that collides with an existing name records nothing.
	before := treeHash(t, filepath.Join(dir, "pki"))
	r := mtlskit(t, dir, nil, "issue", "client", "--count", "60", "--cn-prefix", "load-")
	if r.code != 1 || !strings.Contains(r.stderr, `name "load-0001" is taken`) {
		t.Errorf("colliding batch: exit %d, stderr %q", r.code, r.stderr)
	}
	if treeHash(t, filepath.Join(dir, "pki")) != before {
		t.Error("a refused batch changed the store")
	}
	for _, bad := range [][]string{
		{"issue", "client", "--count", "0", "--cn-prefix", "x-"},
		{"issue", "client", "--count", "5"},
		{"issue", "client", "--count", "5", "--cn-prefix", "x-", "--cn", "y"},
	} {
		if r := mtlskit(t, dir, nil, bad...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", bad, r.code, r.stderr)
		}
	}
}

func TestNameConstrainedCARefusesNamesOutsideItsConstraints(t *testing.T) {
	dir := t.TempDir()
	var rep writtenReport
	decodeJSON(t, mustRun(t, dir, "ca", "init", "--intermediate", "--validity", "2y",
		"--permitted-dns", "example.com", "--permitted-ip", "10.0.0.0/8", "--json").stdout, &rep)
	root := rep.Certificates[0]
	if years := root.NotAfter.Sub(root.NotBefore).Hours() / 24 / 365; years < 1.99 || years > 2.01 {
		t.Errorf("root lifetime %.2f years, want 2 (--validity 2y)", years)
	}
	var insp inspected
	decodeJSON(t, mustRun(t, dir, "inspect", "pki/ca/intermediate.pem", "--json").stdout, &insp)
	if c := insp.Certificates[0]; strings.Join(c.PermittedIPs, ",") != "10.0.0.0/8" || strings.Join(c.PermittedDNS, ",") != "example.com" {
		t.Errorf("intermediate constraints = DNS %v IP %v, want example.com and 10.0.0.0/8", c.PermittedDNS, c.PermittedIPs)
	}
	for _, san := range []string{"192.168.1.1", "api.other.org"} {
		before := treeHash(t, dir)
		r := mtlskit(t, dir, nil, "issue", "server", "--san", san)
		if r.code != 1 || !strings.Contains(r.stderr, "allows only") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("issue --san %s under a constrained CA: exit %d, stderr %q; want exit 1 naming the constraint", san, r.code, r.stderr)
		}
		if treeHash(t, dir) != before {
			t.Errorf("the refused --san %s changed the store", san)
		}
	}
	mustRun(t, dir, "issue", "server", "--san", "api.example.com,10.1.2.3")
	if openssl, err := exec.LookPath("openssl"); err == nil {
		runTool(t, dir, openssl, "verify", "-CAfile", "pki/ca/root.pem", "-untrusted", "pki/ca/intermediate.pem",
			"-purpose", "sslserver", "-verify_ip", "10.1.2.3", "pki/issued/api.example.com/cert.pem")
	}
}

func TestExportP12WithAnEmptyPasswordSaysSo(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init")
	mustRun(t, dir, "issue", "client", "--cn", "alice")
	os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600)
	r := mtlskit(t, dir, nil, "export", "p12", "alice", "--password-file", "empty", "--json")
	if r.code != 0 || !strings.Contains(r.stderr, "password is empty") {
		t.Fatalf("export with an empty password: exit %d, stderr %q; want success and a warning", r.code, r.stderr)
	}
	var rep struct {
		EmptyPassword bool `json:"empty_password"`
	}
	decodeJSON(t, r.stdout, &rep)
	if !rep.EmptyPassword {
		t.Errorf("JSON does not report empty_password: %s", r.stdout)
	}
}

// TestCAPassphrasePromptOnATerminal drives the no-echo prompt through a
// pseudo-terminal (script(1)): ca init asks twice, issue once, and a
// wrong passphrase fails with one line.
func TestCAPassphrasePromptOnATerminal(t *testing.T) {
	script := lookTool(t, "script")
	dir := t.TempDir()
	onTTY := func(input, cmdline string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, script, "-qec", binPath+" "+cmdline, "/dev/null")
		cmd.Dir = dir
		cmd.Env = cleanEnv()
		cmd.Stdin = strings.NewReader(input)
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	out := onTTY("pa55word\npa55word\n", "ca init --encrypt-key")
	if !strings.Contains(out, "new CA key passphrase again:") {
		t.Fatalf("ca init --encrypt-key on a terminal did not ask twice:\n%s", out)
	}
	key, _ := os.ReadFile(filepath.Join(dir, "pki/ca/root-key.pem"))
	if !strings.Contains(string(key), "ENCRYPTED PRIVATE KEY") {
		t.Fatalf("the CA key is not encrypted:\n%s", out)
	}
	if out := onTTY("pa55word\n", "issue client --cn bob"); !strings.Contains(out, "CA key passphrase:") || !strings.Contains(out, `client "bob"`) {
		t.Errorf("issue with the passphrase typed at the prompt:\n%s", out)
	}
	if out := onTTY("wrong\n", "issue client --cn eve"); !strings.Contains(out, "wrong passphrase") {
		t.Errorf("issue with a wrong passphrase typed at the prompt:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "pki/issued/eve")); !os.IsNotExist(err) {
		t.Errorf("a wrong passphrase left pki/issued/eve behind: %v", err)
	}
}
