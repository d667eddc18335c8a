package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportP12ForEachTarget: `export p12 --for T` writes the encoding and
// friendly name of T, and the reader of T opens it where it is installed
// (pki's TestPKCS12ReadByRealTools crosses every encoding with every
// reader; this checks the flag's wiring).
func TestExportP12ForEachTarget(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init", "--intermediate")
	mustRun(t, dir, "issue", "client", "--cn", "alice")
	os.WriteFile(filepath.Join(dir, "pw"), []byte("hunter22\n"), 0o600)
	for _, tc := range []struct {
		target, info string
		check        func(t *testing.T, path string)
	}{
		{"java", "Iteration 10000", func(t *testing.T, path string) {
			if keytool, err := exec.LookPath("keytool"); err == nil {
				out := runTool(t, dir, keytool, "-list", "-storetype", "PKCS12", "-keystore", path, "-storepass", "hunter22")
				if !strings.Contains(out, "alice, ") || !strings.Contains(out, "PrivateKeyEntry") {
					t.Errorf("keytool lists no alias alice:\n%s", out)
				}
			}
		}},
		{"node", "PBES2, PBKDF2, AES-256-CBC, Iteration 2048", func(t *testing.T, path string) {
			if node, err := exec.LookPath("node"); err == nil {
				out := runTool(t, dir, node, "-e", `require("tls").createSecureContext({pfx: require("fs").readFileSync(process.argv[1]), passphrase: "hunter22"}); console.log("ok")`, path)
				if strings.TrimSpace(out) != "ok" {
					t.Errorf("node: %s", out)
				}
			}
		}},
		{"openssl3", "MAC: sha256, Iteration 2048", nil},
		{"openssl1", "pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048", nil},
		{"macos", "MAC: sha1, Iteration 2048", nil},
		{"windows", "pbeWithSHA1And3-KeyTripleDES-CBC", nil},
		{"browser", "Iteration 600000", func(t *testing.T, path string) {
			pk12util, err1 := exec.LookPath("pk12util")
			certutil, err2 := exec.LookPath("certutil")
			if err1 != nil || err2 != nil {
				return
			}
			db := "sql:" + t.TempDir()
			runTool(t, dir, certutil, "-N", "-d", db, "--empty-password")
			runTool(t, dir, pk12util, "-i", path, "-d", db, "-W", "hunter22", "-K", "")
			if out := runTool(t, dir, certutil, "-L", "-d", db); !strings.Contains(out, "\nalice ") {
				t.Errorf("NSS has no certificate nicknamed alice:\n%s", out)
			}
		}},
	} {
		t.Run(tc.target, func(t *testing.T) {
			out := filepath.Join(dir, tc.target+".p12")
			var rep struct {
				Path, Encoding, For string
				FriendlyName        string `json:"friendly_name"`
				Certificates        int
			}
			decodeJSON(t, mustRun(t, dir, "export", "p12", "alice", "--for", tc.target, "--password-file", "pw", "--out", out, "--json").stdout, &rep)
			if rep.For != tc.target || rep.FriendlyName != "alice" || rep.Certificates != 3 || rep.Path != out || rep.Encoding == "" {
				t.Errorf("report %+v", rep)
			}
			checkMode(t, out, 0o600)
			if openssl, err := exec.LookPath("openssl"); err == nil {
				info := runTool(t, dir, openssl, "pkcs12", "-info", "-noout", "-passin", "pass:hunter22", "-in", out)
				if !strings.Contains(info, tc.info) {
					t.Errorf("openssl pkcs12 -info lacks %q:\n%s", tc.info, info)
				}
				if names := runTool(t, dir, openssl, "pkcs12", "-nokeys", "-passin", "pass:hunter22", "-in", out); !strings.Contains(names, "friendlyName: alice") {
					t.Errorf("no friendly name:\n%s", names)
				}
			}
			if tc.check != nil {
				tc.check(t, out)
			}
		})
	}
	// The text report names the target, the encoding and the friendly name.
	r := mustRun(t, dir, "export", "p12", "alice", "--for", "windows", "--friendly-name", "Alice at work", "--password-file", "pw", "--out", "w.p12")
	if want := `(for windows: 3DES (pbeWithSHAAnd3-KeyTripleDES-CBC), 2048 iterations; HMAC-SHA1 MAC, 2048 iterations; friendly name "Alice at work", key + 3 certificates)`; !strings.Contains(r.stdout, want) {
		t.Errorf("stdout %q lacks %q", r.stdout, want)
	}
}

func TestExportP12ForRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init")
	mustRun(t, dir, "issue", "client", "--cn", "alice")
	os.WriteFile(filepath.Join(dir, "pw"), []byte("hunter22\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "utf8"), []byte("pässword\n"), 0o600)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--for", "java", "--legacy", "--password-file", "pw"}, 2,
			"mtlskit: export p12: --for and --legacy cannot be used together: --legacy is the old 3DES/SHA-1 encoding, --for java picks the one its reader takes\n"},
		{[]string{"--for", "winxp", "--password-file", "pw"}, 2,
			"mtlskit: export p12: --for \"winxp\" is not a known reader: use one of java, node, openssl3, openssl1, macos, windows, browser (docs/pkcs12.md)\n"},
		{[]string{"--for", "macos", "--password-file", "empty"}, 1,
			"mtlskit: export p12 --for macos: the password is empty, and that reader does not import a PKCS#12 file without one: put a password in --password-file\n"},
		{[]string{"--for", "java", "--password-file", "utf8"}, 1, "outside printable ASCII, which Java's PKCS#12 key store cannot open"},
	} {
		r := mtlskit(t, dir, nil, append([]string{"export", "p12", "alice", "--out", "x.p12"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%v: exit %d, stderr %q, want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
		if tc.code == 2 && strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: a usage error is one line: %q", tc.args, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.p12")); err == nil {
		t.Error("a refused export wrote its file")
	}
	// The old encodings stand: --legacy alone, and the default.
	mustRun(t, dir, "export", "p12", "alice", "--legacy", "--password-file", "pw", "--out", "l.p12")
	mustRun(t, dir, "export", "p12", "alice", "--password-file", "empty", "--out", "e.p12", "--for", "windows")
}

// TestExportP12FromFiles: --cert, --key and --ca pack files that are not
// in the store (what the Chromium recipe does with the harness's client
// certificate); nothing is read from or written to a store.
func TestExportP12FromFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init", "--intermediate")
	mustRun(t, dir, "issue", "client", "--cn", "bob")
	os.WriteFile(filepath.Join(dir, "pw"), []byte("hunter22\n"), 0o600)
	work := t.TempDir()
	before := treeHash(t, dir)
	var rep struct {
		Name, For    string
		FriendlyName string `json:"friendly_name"`
		Certificates int
	}
	issued := filepath.Join(dir, "pki", "issued", "bob")
	decodeJSON(t, mustRun(t, work, "export", "p12", "--cert", filepath.Join(issued, "chain.pem"), "--key", filepath.Join(issued, "key.pem"),
		"--ca", filepath.Join(dir, "pki", "ca", "root.pem"), "--out", "bob.p12", "--for", "browser", "--password-file", filepath.Join(dir, "pw"), "--json").stdout, &rep)
	if rep.Name != "bob" || rep.FriendlyName != "bob" || rep.For != "browser" || rep.Certificates != 3 {
		t.Errorf("report %+v", rep)
	}
	if treeHash(t, dir) != before {
		t.Error("exporting files changed the store")
	}
	if _, err := os.Stat(filepath.Join(work, "pki")); err == nil {
		t.Error("exporting files made a store in the working directory")
	}
	out := mustRun(t, work, "inspect", "bob.p12", "--password-file", filepath.Join(dir, "pw")).stdout
	if !strings.Contains(out, "Certificate 3 of 3 (pkcs12)") || !strings.Contains(out, "CN=bob") {
		t.Errorf("inspect:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--cert", filepath.Join(issued, "cert.pem"), "--out", "x.p12"}, 2, "--cert FILE needs --key FILE and --out FILE too"},
		{[]string{"bob", "--cert", filepath.Join(issued, "cert.pem"), "--key", filepath.Join(issued, "key.pem"), "--out", "x.p12"}, 2, "give NAME or --cert and --key files, not both"},
		{[]string{"--cert", filepath.Join(issued, "key.pem"), "--key", filepath.Join(issued, "key.pem"), "--out", "x.p12"}, 1, "--cert " + filepath.Join(issued, "key.pem") + ": no certificate"},
		{[]string{"--cert", filepath.Join(issued, "cert.pem"), "--key", filepath.Join(dir, "pki", "ca", "root.pem"), "--out", "x.p12"}, 1, "--key " + filepath.Join(dir, "pki", "ca", "root.pem")},
		{[]string{"--cert", filepath.Join(issued, "cert.pem"), "--key", filepath.Join(dir, "pki", "ca", "intermediate-key.pem"), "--out", "x.p12"}, 1, "does not belong to certificate \"bob\""},
		{[]string{"--cert", "nosuch.pem", "--key", filepath.Join(issued, "key.pem"), "--out", "x.p12"}, 1, "--cert nosuch.pem cannot be read"},
	} {
		r := mtlskit(t, work, nil, append([]string{"export", "p12", "--password-file", filepath.Join(dir, "pw")}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
}
