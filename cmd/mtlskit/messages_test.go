package main

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mtlskit/mtlskit/pki"
)

// TestErrorMessagesWordForWord pins the whole stderr line of the errors
// whose words come from the libraries (pki, and harness for snippets):
// the problem, then what to type about it. The flag hints are the
// command line's to give, so these lines must read the same whichever
// layer words them. In a want, DATE stands for a date and NUM for a
// number.
func TestErrorMessagesWordForWord(t *testing.T) {
	base := t.TempDir()
	mustRun(t, base, "ca", "init")
	mustRun(t, base, "issue", "client", "--cn", "alice")
	encBase := t.TempDir()
	if r := mtlskit(t, encBase, []string{"MTLSKIT_CA_PASSPHRASE=s3cret"}, "ca", "init", "--encrypt-key"); r.code != 0 {
		t.Fatalf("ca init --encrypt-key: %d %s", r.code, r.stderr)
	}
	shortBase := t.TempDir()
	mustRun(t, shortBase, "ca", "init", "--validity", "12h")
	writeTestCSR(t, filepath.Join(base, "nosan-csr.pem"), pkix.Name{CommonName: "web"}, nil)
	writeTestCSR(t, filepath.Join(base, "noname-csr.pem"), pkix.Name{}, nil)
	os.WriteFile(filepath.Join(base, "pass"), []byte("p12pass\n"), 0o600)
	mustRun(t, base, "export", "p12", "alice", "--password-file", "pass", "--out", "alice.p12")
	os.WriteFile(filepath.Join(base, "garbage.pem"), []byte("not a store"), 0o600)
	os.WriteFile(filepath.Join(base, "garbage.bin"), []byte{0x30, 0x03, 0x01, 0x02, 0x03}, 0o600)

	long := func(c byte) string { return strings.Repeat(string(c), 65) }
	cases := []struct {
		name  string
		store string // base (default), enc, short or none
		setup func(t *testing.T, dir string)
		env   []string
		args  []string
		code  int
		want  string
	}{
		{name: "issue server without --san", args: []string{"issue", "server"}, code: 2,
			want: "issue server: no --san given: a server certificate needs the names clients dial (verifiers ignore the CN): add --san localhost,127.0.0.1"},
		{name: "issue client without a name", args: []string{"issue", "client"}, code: 2,
			want: "issue client: no --cn or --san given: add --cn alice"},
		{name: "sign a server CSR without SAN", args: []string{"sign", "--csr", "nosan-csr.pem", "--profile", "server"}, code: 1,
			want: "sign nosan-csr.pem: a server certificate needs at least one SAN (verifiers ignore the Common Name): add --san localhost,127.0.0.1 or the names clients dial"},
		{name: "sign a client CSR without names", args: []string{"sign", "--csr", "noname-csr.pem", "--profile", "client", "--name", "anon"}, code: 1,
			want: "sign noname-csr.pem: a client certificate needs a Common Name or a SAN: add --cn NAME"},
		{name: "sign a CSR that gives no store name", args: []string{"sign", "--csr", "noname-csr.pem", "--profile", "client"}, code: 1,
			want: "sign noname-csr.pem: the certificate name is empty: pass --name"},
		{name: "common name over 64 characters", args: []string{"issue", "client", "--cn", long('a')}, code: 1,
			want: `issue client: common name "aaaaaaaaaaaaaaaaaaaa"... is 65 characters long, over the limit of 64: use a shorter --cn`},
		{name: "leaf outliving the root", args: []string{"issue", "client", "--cn", "bob", "--validity", "20y"}, code: 1,
			want: `issue client: validity 20y would end on DATE, after issuer "mtlskit Root CA" expires on DATE: use --validity NUMd or less`},
		{name: "batch outliving the root", args: []string{"issue", "client", "--count", "2", "--cn-prefix", "load-", "--validity", "20y"}, code: 1,
			want: `issue client: validity 20y would end on DATE, after issuer "mtlskit Root CA" expires on DATE: use --validity NUMd or less ` +
				`validity 20y would end on DATE, after issuer "mtlskit Root CA" expires on DATE: use --validity NUMd or less`},
		{name: "leaf outliving a root with hours left", store: "short", args: []string{"issue", "client", "--cn", "bob", "--validity", "1d"}, code: 1,
			want: `issue client: validity 1d would end on DATE, after issuer "mtlskit Root CA" expires on DATE: use --validity 11h0m0s or less, or renew the CA`},
		{name: "intermediate outliving the root", store: "none", args: []string{"ca", "init", "--validity", "30d", "--intermediate", "--intermediate-validity", "40d"}, code: 1,
			want: "ca init: intermediate validity 40d would outlive the root (30d): use --intermediate-validity NUMd or less"},
		{name: "ca init over a CA", args: []string{"ca", "init"}, code: 1,
			want: "pki already holds a CA: use it, pick another --dir, or pass --force to replace it"},
		{name: "list without a CA", store: "none", args: []string{"list"}, code: 1,
			want: "list: no CA in this store at pki: run `mtlskit ca init` first (or pass --dir)"},
		{name: "issue without a CA", store: "none", args: []string{"issue", "client", "--cn", "bob"}, code: 1,
			want: "issue client: no CA in this store at pki: run `mtlskit ca init` first (or pass --dir)"},
		{name: "verify without a CA", store: "none", args: []string{"verify"}, code: 1,
			want: "verify: no CA in this store at pki: run `mtlskit ca init` first (or pass --dir) (or check a file: mtlskit verify --cert FILE)"},
		{name: "harness --pki without a CA", store: "none", args: []string{"harness", "run", "--pki", "nostore", "--target", "wss://localhost:1/"}, code: 1,
			want: "--pki nostore: no CA in this store at nostore: run `mtlskit ca init` first (or pass --dir)"},
		{name: "list a store that is a file", args: []string{"list", "--dir", "garbage.pem"}, code: 1,
			want: "list: store garbage.pem is a file, not a directory: pass --dir with a directory"},
		{name: "issue into a store that is a file", args: []string{"issue", "client", "--cn", "bob", "--dir", "garbage.pem"}, code: 1,
			want: "issue client: store garbage.pem is a file, not a directory: pass --dir with a directory"},
		{name: "CA key missing", setup: remove("pki/ca/root-key.pem"), args: []string{"issue", "client", "--cn", "bob"}, code: 1,
			want: "issue client: CA key pki/ca/root-key.pem cannot be read (open pki/ca/root-key.pem: no such file or directory): restore it or run `mtlskit ca init --force`"},
		{name: "CA key passphrase empty", store: "enc", env: []string{"MTLSKIT_CA_PASSPHRASE="}, args: []string{"issue", "client", "--cn", "bob"}, code: 1,
			want: "issue client: CA key pki/ca/root-key.pem is encrypted and the passphrase is empty: set $MTLSKIT_CA_PASSPHRASE or pass --passphrase-file"},
		{name: "CA key passphrase wrong", store: "enc", env: []string{"MTLSKIT_CA_PASSPHRASE=nope"}, args: []string{"issue", "client", "--cn", "bob"}, code: 1,
			want: "issue client: CA key pki/ca/root-key.pem: wrong passphrase: check $MTLSKIT_CA_PASSPHRASE or --passphrase-file"},
		{name: "CA key passphrase wrong for harness --pki", store: "enc", env: []string{"MTLSKIT_CA_PASSPHRASE=nope"}, args: []string{"harness", "run", "--pki", "pki", "--target", "wss://localhost:1/"}, code: 1,
			want: "--pki pki: CA key pki/ca/root-key.pem: wrong passphrase: check $MTLSKIT_CA_PASSPHRASE or --passphrase-file"},
		{name: "--name with bad characters", args: []string{"issue", "client", "--cn", "bob", "--name", "bad name"}, code: 2,
			want: `--name: name "bad name" may hold only letters, digits and . _ @ - (not first): pass --name with such a name`},
		{name: "--name too long", args: []string{"issue", "client", "--cn", "bob", "--name", long('b')}, code: 2,
			want: `--name: name "bbbbbbbbbbbbbbbbbbbb"... is 65 characters long, over the limit of 64: pass a shorter --name`},
		{name: "--name empty", args: []string{"issue", "client", "--cn", "bob", "--name", ""}, code: 2,
			want: "--name: the certificate name is empty: pass --name"},
		{name: "default name empty", args: []string{"issue", "client", "--cn", "ü"}, code: 1,
			want: "issue client: the certificate name is empty: pass --name"},
		{name: "--cn-prefix makes bad names", args: []string{"issue", "client", "--count", "2", "--cn-prefix", "bad "}, code: 2,
			want: `--cn-prefix: name "bad 0001" may hold only letters, digits and . _ @ - (not first): pass --name with such a name`},
		{name: "name taken", args: []string{"issue", "client", "--cn", "alice"}, code: 1,
			want: `issue client: name "alice" is taken (issued DATE): pick another with --name, or pass --force to replace it`},
		{name: "name taken by a directory only", setup: mkdir("pki/issued/ghost"), args: []string{"issue", "client", "--cn", "ghost"}, code: 1,
			want: `issue client: name "ghost" is taken: pick another with --name, or pass --force to replace it`},
		{name: "export an unknown name", args: []string{"export", "p12", "nosuch"}, code: 1,
			want: "export p12: no certificate named \"nosuch\" in pki: see `mtlskit list`"},
		{name: "lint an unknown name", args: []string{"lint", "nosuch"}, code: 1,
			want: "nosuch is not a file, and no certificate named \"nosuch\" in pki: see `mtlskit list`"},
		{name: "snippet for an unknown name", args: []string{"snippet", "nginx", "nosuch"}, code: 1,
			want: "snippet nginx nosuch: no certificate named \"nosuch\" in pki: see `mtlskit list`"},
		{name: "inspect a PKCS#12 file without its password", args: []string{"inspect", "alice.p12"}, code: 1,
			want: "alice.p12: PKCS#12 password is wrong or missing: pass --password-file"},
		{name: "inspect with an unreadable --password-file", args: []string{"inspect", "alice.p12", "--password-file", "nosuch"}, code: 1,
			want: "alice.p12: --password-file nosuch cannot be read (no such file or directory): check the path"},
		{name: "inspect DER that is nothing", args: []string{"inspect", "garbage.bin"}, code: 1,
			want: "garbage.bin: neither PEM nor a DER certificate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			switch c.store {
			case "":
				copyTree(t, base, dir)
			case "enc":
				copyTree(t, encBase, dir)
			case "short":
				copyTree(t, shortBase, dir)
			}
			if c.setup != nil {
				c.setup(t, dir)
			}
			r := mtlskit(t, dir, c.env, c.args...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d", r.code, c.code)
			}
			pattern := regexp.QuoteMeta("mtlskit: " + c.want + "\n")
			pattern = strings.NewReplacer("DATE", `\d{4}-\d{2}-\d{2}`, "NUM", `\d+`).Replace(pattern)
			if !regexp.MustCompile("^" + pattern + "$").MatchString(r.stderr) {
				t.Errorf("stderr\n  %q\nwant\n  %q", r.stderr, "mtlskit: "+c.want+"\n")
			}
		})
	}
}

func remove(rel string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		if err := os.Remove(filepath.Join(dir, rel)); err != nil {
			t.Fatal(err)
		}
	}
}

func mkdir(rel string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		if err := os.MkdirAll(filepath.Join(dir, rel), 0o700); err != nil {
			t.Fatal(err)
		}
	}
}

// writeTestCSR writes a CSR with the given subject and DNS names.
func writeTestCSR(t *testing.T, path string, subject pkix.Name, dns []string) {
	t.Helper()
	key, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(nil, &x509.CertificateRequest{Subject: subject, DNSNames: dns}, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pemBlock("CERTIFICATE REQUEST", der), 0o600); err != nil {
		t.Fatal(err)
	}
}
