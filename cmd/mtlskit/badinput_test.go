package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadInputFailsCleanly drives the binary with bad input. Each case
// must print exactly one line on stderr that names the problem, exit with
// the right status, and leave the store byte for byte as it was.
func TestBadInputFailsCleanly(t *testing.T) {
	base := t.TempDir()
	// A ready store, copied per case.
	mustRun(t, base, "ca", "init")
	mustRun(t, base, "issue", "client", "--cn", "alice")
	files := map[string]string{
		"garbage.pem": "\x00\x01\x02 not a pem at all \xff",
		"empty.pem":   "",
		"trunc.pem":   "-----BEGIN CERTIFICATE REQUEST-----\nMIIBIjCByQIBADA\n",
		"wrong-pass":  "not the passphrase\n",
		"right-pass":  "s3cret\n",
	}
	key, _ := os.ReadFile(filepath.Join(base, "pki/issued/alice/key.pem"))
	files["key-as-csr.pem"] = string(key)

	cases := []struct {
		name      string
		args      []string
		env       []string
		encrypted bool // the store's CA key is encrypted with "s3cret"
		noStore   bool // run where no CA exists
		code      int
		want      string // substring of the one stderr line
	}{
		{name: "issue without a CA", noStore: true, args: []string{"issue", "server", "--san", "localhost"}, code: 1, want: "no CA in this store"},
		{name: "list without a CA", noStore: true, args: []string{"list"}, code: 1, want: "run `mtlskit ca init` first"},
		{name: "server without SAN", args: []string{"issue", "server", "--cn", "localhost"}, code: 2, want: "needs the names clients dial"},
		{name: "client without CN or SAN", args: []string{"issue", "client"}, code: 2, want: "add --cn alice"},
		{name: "SAN with a space", args: []string{"issue", "server", "--san", "local host"}, code: 2, want: `"local host" is not a valid DNS name: it contains a space`},
		{name: "SAN with two wildcards", args: []string{"issue", "server", "--san", "*.*.example"}, code: 2, want: "wildcard may only be the whole leftmost label"},
		{name: "SAN IPv4 out of range", args: []string{"issue", "server", "--san", "999.1.1.1"}, code: 2, want: `"999.1.1.1" is not a valid IP address`},
		{name: "SAN label with leading hyphen", args: []string{"issue", "server", "--san", "-foo.example"}, code: 2, want: "starts or ends with a hyphen"},
		{name: "SAN label over 63 characters", args: []string{"issue", "server", "--san", strings.Repeat("a", 64) + ".example"}, code: 2, want: "over the limit of 63"},
		{name: "SAN name over 253 characters", args: []string{"issue", "server", "--san", strings.Repeat("abcdefghi.", 30) + "example"}, code: 2, want: "over the limit of 253"},
		{name: "empty SAN entry", args: []string{"issue", "server", "--san", "localhost,,127.0.0.1"}, code: 2, want: "empty entry"},
		{name: "bad validity unit", args: []string{"issue", "client", "--cn", "x", "--validity", "10q"}, code: 2, want: "--validity"},
		{name: "zero validity", args: []string{"issue", "client", "--cn", "x", "--validity", "0d"}, code: 2, want: "not positive"},
		{name: "validity beyond the issuer", args: []string{"issue", "client", "--cn", "x", "--validity", "20y"}, code: 1, want: "after issuer"},
		{name: "unknown key type", args: []string{"issue", "client", "--cn", "x", "--key-type", "dsa"}, code: 2, want: `unknown key type "dsa"`},
		{name: "name taken", args: []string{"issue", "client", "--cn", "alice"}, code: 1, want: `name "alice" is taken`},
		{name: "bad store name", args: []string{"issue", "client", "--cn", "x", "--name", "../escape"}, code: 2, want: "--name"},
		{name: "unknown flag", args: []string{"issue", "server", "--sans", "localhost"}, code: 2, want: "flag provided but not defined"},
		{name: "stray argument", args: []string{"issue", "server", "localhost"}, code: 2, want: `unexpected argument "localhost"`},
		{name: "ca init over an existing CA", args: []string{"ca", "init"}, code: 1, want: "already holds a CA"},
		{name: "sign garbage CSR", args: []string{"sign", "--csr", "garbage.pem", "--profile", "server"}, code: 1, want: "garbage.pem"},
		{name: "sign truncated CSR", args: []string{"sign", "--csr", "trunc.pem", "--profile", "client"}, code: 1, want: "truncated or damaged"},
		{name: "sign a key passed as CSR", args: []string{"sign", "--csr", "key-as-csr.pem", "--profile", "client"}, code: 1, want: "a private key, not a certificate"},
		{name: "sign missing CSR file", args: []string{"sign", "--csr", "nope.pem", "--profile", "client"}, code: 1, want: "nope.pem cannot be read"},
		{name: "sign unknown profile", args: []string{"sign", "--csr", "garbage.pem", "--profile", "peer"}, code: 2, want: `--profile "peer"`},
		{name: "inspect empty file", args: []string{"inspect", "empty.pem"}, code: 1, want: "the file is empty"},
		{name: "inspect garbage", args: []string{"inspect", "garbage.pem"}, code: 1, want: "neither PEM nor a DER certificate"},
		{name: "inspect without file", args: []string{"inspect"}, code: 2, want: "exactly one FILE"},
		{name: "export unknown name", args: []string{"export", "p12", "nobody", "--password-file", "right-pass"}, code: 1, want: `no certificate named "nobody"`},
		{name: "wrong CA passphrase", encrypted: true, args: []string{"issue", "client", "--cn", "bob", "--passphrase-file", "wrong-pass"}, code: 1, want: "wrong passphrase"},
		{name: "encrypted CA without passphrase", encrypted: true, args: []string{"issue", "client", "--cn", "bob"}, code: 2, want: "MTLSKIT_CA_PASSPHRASE"},
		{name: "missing passphrase file", encrypted: true, args: []string{"issue", "client", "--cn", "bob", "--passphrase-file", "nope"}, code: 1, want: "--passphrase-file nope cannot be read"},
		{name: "store dir is a file", args: []string{"issue", "client", "--cn", "bob", "--dir", "garbage.pem"}, code: 1, want: "garbage.pem"},
	}
	encBase := t.TempDir()
	os.WriteFile(filepath.Join(encBase, "right-pass"), []byte("s3cret\n"), 0o600)
	mustRun(t, encBase, "ca", "init", "--encrypt-key", "--passphrase-file", "right-pass")

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			switch {
			case c.encrypted:
				copyTree(t, filepath.Join(encBase, "pki"), filepath.Join(dir, "pki"))
			case !c.noStore:
				copyTree(t, filepath.Join(base, "pki"), filepath.Join(dir, "pki"))
			}
			for name, data := range files {
				os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600)
			}
			before := treeHash(t, dir)
			r := mtlskit(t, dir, c.env, c.args...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, c.code, r.stderr)
			}
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "mtlskit: ") {
				t.Errorf("stderr is not one 'mtlskit: ...' line:\n%s", r.stderr)
			}
			if !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr %q does not contain %q", r.stderr, c.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout not empty on failure: %q", r.stdout)
			}
			if after := treeHash(t, dir); after != before {
				t.Errorf("the failed command changed the directory")
			}
		})
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if fi.IsDir() {
			return os.MkdirAll(dst, fi.Mode().Perm())
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, fi.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}
