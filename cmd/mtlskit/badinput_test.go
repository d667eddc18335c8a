package main

import (
	"context"
	"encoding/pem"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/pki"
)

// TestBadInputFailsCleanly drives the binary with bad input. Each case
// must print exactly one line on stderr that names the problem, exit with
// the right status, and leave the store byte for byte as it was.
func TestBadInputFailsCleanly(t *testing.T) {
	base := t.TempDir()
	// A ready store, copied per case.
	mustRun(t, base, "ca", "init")
	mustRun(t, base, "issue", "client", "--cn", "alice")
	writeCSR(t, filepath.Join(base, "good-csr.pem"))
	mustRun(t, base, "sign", "--csr", "good-csr.pem", "--profile", "server", "--name", "fromcsr")
	os.WriteFile(filepath.Join(base, "right-pass"), []byte("s3cret\n"), 0o600)
	mustRun(t, base, "export", "p12", "alice", "--password-file", "right-pass")
	files := map[string]string{
		"garbage.pem": "\x00\x01\x02 not a pem at all \xff",
		"empty.pem":   "",
		"trunc.pem":   "-----BEGIN CERTIFICATE REQUEST-----\nMIIBIjCByQIBADA\n",
		"wrong-pass":  "not the passphrase\n",
		"right-pass":  "s3cret\n",
	}
	key, _ := os.ReadFile(filepath.Join(base, "pki/issued/alice/key.pem"))
	files["key-as-csr.pem"] = string(key)
	cert, _ := os.ReadFile(filepath.Join(base, "pki/issued/alice/cert.pem"))
	files["cert-as-csr.pem"] = string(cert)
	files["trunc-cert.pem"] = string(cert[:len(cert)/2])
	p12, _ := os.ReadFile(filepath.Join(base, "pki/issued/alice/alice.p12"))
	files["alice.p12"] = string(p12)
	rnd := make([]byte, 4096)
	rand.New(rand.NewSource(6)).Read(rnd)
	rnd[0] = 0x30 // looks like DER at first
	files["garbage.bin"] = string(rnd)
	csr, _ := os.ReadFile(filepath.Join(base, "good-csr.pem"))
	block, _ := pem.Decode(csr)
	block.Bytes[len(block.Bytes)-2] ^= 0x01 // a byte of the signature
	files["badsig-csr.pem"] = string(pem.EncodeToMemory(block))
	otherKey, _ := pki.GenerateKey(pki.ECDSAP256)
	otherKeyPEM, _ := pki.EncodeKeyPEM(otherKey)
	rootPEM, _ := os.ReadFile(filepath.Join(base, "pki/ca/root.pem"))
	// setups that damage the copied store before the command runs
	replace := func(rel, data string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "pki", rel), []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	remove := func(rel string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "pki", rel)); err != nil {
				t.Fatal(err)
			}
		}
	}

	cases := []struct {
		name      string
		args      []string
		env       []string
		encrypted bool // the store's CA key is encrypted with "s3cret"
		noStore   bool // run where no CA exists
		setup     func(t *testing.T, dir string)
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
		// Issue 6: more of what people point mtlskit at.
		{name: "SAN with unicode", args: []string{"issue", "server", "--san", "b\u00fccher.example"}, code: 2, want: "punycode"},
		{name: "SAN with underscore", args: []string{"issue", "server", "--san", "under_score.example"}, code: 2, want: "underscore"},
		{name: "SAN with a 300-char label", args: []string{"issue", "server", "--san", strings.Repeat("a", 300) + ".example"}, code: 2, want: "over the limit"},
		{name: "SAN with a Kelvin sign", args: []string{"issue", "server", "--san", "\u212Aexample.com"}, code: 2, want: "punycode"},
		{name: "validity over 290 years", args: []string{"issue", "client", "--cn", "x", "--validity", "291y"}, code: 2, want: "over 290 years"},
		{name: "validity under a minute", args: []string{"issue", "client", "--cn", "x", "--validity", "30s"}, code: 2, want: "under a minute"},
		{name: "empty --cn", args: []string{"issue", "client", "--cn", " "}, code: 2, want: "--cn is empty"},
		{name: "count zero", args: []string{"issue", "client", "--count", "0", "--cn-prefix", "l-"}, code: 2, want: "--count must be between"},
		{name: "wrong CA passphrase in env", encrypted: true, env: []string{"MTLSKIT_CA_PASSPHRASE=nope"}, args: []string{"issue", "client", "--cn", "bob"}, code: 1, want: "wrong passphrase"},
		{name: "sign empty CSR", args: []string{"sign", "--csr", "empty.pem", "--profile", "client"}, code: 1, want: "the file is empty"},
		{name: "sign binary garbage", args: []string{"sign", "--csr", "garbage.bin", "--profile", "client"}, code: 1, want: "not a readable certificate request"},
		{name: "sign a cert passed as CSR", args: []string{"sign", "--csr", "cert-as-csr.pem", "--profile", "client"}, code: 1, want: `"CERTIFICATE", not a certificate request`},
		{name: "sign CSR with a bad signature", args: []string{"sign", "--csr", "badsig-csr.pem", "--profile", "server"}, code: 1, want: "signature does not verify"},
		{name: "inspect binary garbage", args: []string{"inspect", "garbage.bin"}, code: 1, want: "garbage.bin"},
		{name: "inspect truncated PEM cert", args: []string{"inspect", "trunc-cert.pem"}, code: 1, want: "truncated or damaged"},
		{name: "inspect p12 with wrong password", args: []string{"inspect", "alice.p12", "--password-file", "wrong-pass"}, code: 1, want: "PKCS#12 password is wrong"},
		{name: "export p12 over an existing file", args: []string{"export", "p12", "alice", "--password-file", "right-pass"}, code: 1, want: "exists: pass --force"},
		{name: "export p12 of a CSR-signed cert", args: []string{"export", "p12", "fromcsr", "--password-file", "right-pass"}, code: 1, want: "signed from a CSR"},
		{name: "ca init in a file", noStore: true, args: []string{"ca", "init", "--dir", "garbage.pem"}, code: 1, want: "garbage.pem"},
		{name: "list a store that is a file", noStore: true, args: []string{"list", "--dir", "garbage.pem"}, code: 1, want: "is a file, not a directory"},
		{name: "index.json damaged", setup: replace("index.json", "{\"version\": 1, \"entries\": [\x00"), args: []string{"issue", "client", "--cn", "bob"}, code: 1, want: "is damaged"},
		{name: "index.json empty, list", setup: replace("index.json", ""), args: []string{"list"}, code: 1, want: "is damaged"},
		{name: "index.json from the future", setup: replace("index.json", `{"version": 9, "entries": []}`), args: []string{"list"}, code: 1, want: "upgrade mtlskit"},
		{name: "index.json path escapes the store", setup: replace("index.json", `{"version":1,"entries":[{"name":"evil","kind":"client","cert":"../../etc/passwd","key":"../../etc/shadow"}]}`), args: []string{"export", "p12", "evil", "--password-file", "right-pass"}, code: 1, want: "points outside the store"},
		{name: "root-key.pem missing", setup: remove("ca/root-key.pem"), args: []string{"issue", "client", "--cn", "bob"}, code: 1, want: "cannot be read"},
		{name: "root.pem damaged", setup: replace("ca/root.pem", "garbage"), args: []string{"issue", "client", "--cn", "bob"}, code: 1, want: "root.pem"},
		{name: "CA key does not match the CA cert", setup: replace("ca/root-key.pem", string(otherKeyPEM)), args: []string{"issue", "client", "--cn", "bob"}, code: 1, want: "does not belong to"},
		{name: "cert where the CA key is expected", setup: replace("ca/root-key.pem", string(rootPEM)), args: []string{"issue", "client", "--cn", "bob"}, code: 1, want: "a certificate, not a private key"},
		{name: "read-only store", setup: readOnlyStore, args: []string{"issue", "client", "--cn", "bob", "--dir", "mnt/pki"}, code: 1, want: "read-only file system"},
		{name: "full disk", setup: fullDiskStore, args: []string{"issue", "client", "--cn", "bob", "--dir", "mnt/pki"}, code: 1, want: "no space left on device"},
		{name: "full disk, batch", setup: fullDiskStore, args: []string{"issue", "client", "--count", "20", "--cn-prefix", "l-", "--dir", "mnt/pki"}, code: 1, want: "no space left on device"},
		// Revocation.
		{name: "revoke an unknown name", args: []string{"revoke", "nobody"}, code: 1, want: `no certificate named "nobody": see ` + "`mtlskit list`"},
		{name: "revoke the root", args: []string{"revoke", "root"}, code: 1, want: `"root" is the store's root: make a new CA instead`},
		{name: "revoke an unknown serial", args: []string{"revoke", "--serial", "0badc0de"}, code: 1, want: "no certificate with serial 0badc0de"},
		{name: "revoke twice", setup: func(t *testing.T, dir string) { mustRun(t, dir, "revoke", "alice") }, args: []string{"revoke", "alice"}, code: 1, want: "nothing to do; `mtlskit crl` publishes it"},
		{name: "revoke for a CA's reason", args: []string{"revoke", "alice", "--reason", "cACompromise"}, code: 2, want: "pass --reason with one of those"},
		{name: "revoke nothing", args: []string{"revoke"}, code: 2, want: "revoke needs certificate NAMEs or --serial HEX"},
		{name: "revoke a name and a serial", args: []string{"revoke", "alice", "--serial", "01"}, code: 2, want: "revoke needs certificate NAMEs or --serial HEX (not both)"},
		{name: "crl valid for no time", args: []string{"crl", "--next-update", "0"}, code: 2, want: "--next-update \"0\": give a positive duration"},
		{name: "crl without a CA", noStore: true, args: []string{"crl"}, code: 1, want: "no CA in this store"},
		{name: "CRL URL over https", args: []string{"ca", "init", "--force", "--crl-url", "https://127.0.0.1/crl"}, code: 2, want: "is not an http:// URL with a host"},
		{name: "OCSP URL without a host", args: []string{"ca", "init", "--force", "--ocsp-url", "http:///ocsp"}, code: 2, want: "is not an http:// URL with a host"},
		{name: "verify a CRL that is not one", args: []string{"verify", "--cert", "pki/issued/alice/cert.pem", "--crl", "garbage.pem"}, code: 1, want: "--crl garbage.pem"},
		{name: "a CRL with --connect", args: []string{"verify", "--connect", "localhost:1", "--crl", "garbage.pem"}, code: 2, want: "--crl does not apply to --connect"},
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
			if c.setup != nil {
				c.setup(t, dir)
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

// mountTmpfs mounts a small tmpfs at dir/mnt (root only) and copies the
// case's store into it as mnt/pki; the test is skipped when mounting is
// not possible here.
func mountTmpfs(t *testing.T, dir, size string) string {
	t.Helper()
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		t.Skip("skipped: mounting a tmpfs needs root, and this test runs as another user")
	}
	if out, err := badinputTool(t, "mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", mnt); err != nil {
		t.Skipf("skipped: cannot mount a tmpfs here (%v: %s)", err, out)
	}
	t.Cleanup(func() {
		if out, err := badinputTool(t, "umount", mnt); err != nil {
			t.Errorf("umount %s: %v %s", mnt, err, out)
		}
	})
	copyTree(t, filepath.Join(dir, "pki"), filepath.Join(mnt, "pki"))
	return mnt
}

func badinputTool(t *testing.T, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, name, args...).CombinedOutput()
}

// readOnlyStore puts the store where it cannot be written. chmod 0500
// does not stop root (these tests run as root here and in CI), so as
// root the store goes on a tmpfs remounted read-only; as another user,
// the store's directories are made 0500.
func readOnlyStore(t *testing.T, dir string) {
	if os.Geteuid() != 0 {
		mnt := filepath.Join(dir, "mnt")
		copyTree(t, filepath.Join(dir, "pki"), filepath.Join(mnt, "pki"))
		for _, d := range []string{"pki", "pki/ca", "pki/issued"} {
			os.Chmod(filepath.Join(mnt, d), 0o500)
		}
		t.Cleanup(func() {
			for _, d := range []string{"pki", "pki/ca", "pki/issued"} {
				os.Chmod(filepath.Join(mnt, d), 0o700)
			}
		})
		return
	}
	mnt := mountTmpfs(t, dir, "1m")
	if out, err := badinputTool(t, "mount", "-o", "remount,ro", mnt); err != nil {
		t.Skipf("skipped: cannot remount the tmpfs read-only (%v: %s)", err, out)
	}
}

// fullDiskStore puts the store on a small tmpfs and fills it.
func fullDiskStore(t *testing.T, dir string) {
	mnt := mountTmpfs(t, dir, "256k")
	f, err := os.Create(filepath.Join(mnt, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for i := 0; i < 1024; i++ {
		if _, err := f.Write(chunk); err != nil {
			return // full
		}
	}
	t.Skip("skipped: the tmpfs did not fill up")
}
