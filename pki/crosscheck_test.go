package pki

// Cross-checks: every certificate the package makes must satisfy verifiers
// and linters we did not write: Go's x509.Verify, `openssl verify` and
// zlint (see lint.go). A defect found here is fixed in the certificate.

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"strings"
	"testing"
)

func TestCrossCheckGoVerify(t *testing.T) {
	t.Parallel()
	for _, l := range testMatrix(t).leaves {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			c := l.leaf.Cert
			opts := func(eku x509.ExtKeyUsage, host string) x509.VerifyOptions {
				return x509.VerifyOptions{
					Roots: l.roots(), Intermediates: l.intermediates(),
					KeyUsages: []x509.ExtKeyUsage{eku}, DNSName: host,
				}
			}
			serves := l.profile.kind == KindServer
			clients := l.profile.kind == KindClient || l.profile.clientAuth
			if serves {
				for _, host := range []string{"localhost", "127.0.0.1"} {
					chains, err := c.Verify(opts(x509.ExtKeyUsageServerAuth, host))
					if err != nil {
						t.Errorf("Verify as server for %s: %v", host, err)
						continue
					}
					if want := 2 + len(l.leaf.Chain); len(chains) != 1 || len(chains[0]) != want {
						t.Errorf("Verify built %d chains, first %d long; want 1 chain of %d", len(chains), len(chains[0]), want)
					}
				}
				for _, ip := range mustParseSANs(t, l.profile.sans).IPs {
					if err := c.VerifyHostname(ip.String()); err != nil {
						t.Errorf("VerifyHostname(%s): %v", ip, err)
					}
				}
				for _, wrong := range []string{"example.com", "127.0.0.2", "10.0.0.1"} {
					if err := c.VerifyHostname(wrong); err == nil {
						t.Errorf("VerifyHostname(%s) succeeded for SANs %s", wrong, l.profile.sans)
					}
				}
				if _, err := c.Verify(opts(x509.ExtKeyUsageServerAuth, "")); err != nil {
					t.Errorf("Verify as server without a host: %v", err)
				}
			} else if _, err := c.Verify(opts(x509.ExtKeyUsageServerAuth, "")); !isEKUError(err) {
				t.Errorf("client certificate Verify as server = %v, want an incompatible-usage error", err)
			}
			if clients {
				if _, err := c.Verify(opts(x509.ExtKeyUsageClientAuth, "")); err != nil {
					t.Errorf("Verify as client: %v", err)
				}
			} else if _, err := c.Verify(opts(x509.ExtKeyUsageClientAuth, "")); !isEKUError(err) {
				t.Errorf("server-only certificate Verify as client = %v, want an incompatible-usage error", err)
			}
			// A chain that skips the intermediate must not verify.
			if len(l.leaf.Chain) > 0 {
				o := opts(x509.ExtKeyUsageAny, "")
				o.Intermediates = nil
				if _, err := c.Verify(o); err == nil {
					t.Error("verified without the intermediate")
				}
			}
		})
	}
}

func isEKUError(err error) bool {
	var ie x509.CertificateInvalidError
	return errors.As(err, &ie) && ie.Reason == x509.IncompatibleUsage
}

func TestCrossCheckOpenSSLVerify(t *testing.T) {
	t.Parallel()
	requireTool(t, "openssl")
	m := testMatrix(t)
	for _, l := range m.leaves {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			base := []string{"verify", "-x509_strict", "-CAfile", writeTemp(t, dir, "root.pem", EncodeCertsPEM(l.root.Cert))}
			if len(l.leaf.Chain) > 0 {
				base = append(base, "-untrusted", writeTemp(t, dir, "chain.pem", EncodeCertsPEM(l.leaf.Chain...)))
			}
			leaf := writeTemp(t, dir, "leaf.pem", EncodeCertsPEM(l.leaf.Cert))
			verify := func(ok bool, args ...string) {
				t.Helper()
				args = append(append(append([]string{}, base...), args...), leaf)
				out, err := runOpenSSL(t, args...)
				passed := err == nil && strings.Contains(out, ": OK")
				if passed != ok {
					t.Errorf("openssl %s: passed=%v, want %v\n%s", strings.Join(args, " "), passed, ok, out)
				}
			}
			sans := mustParseSANs(t, l.profile.sans)
			serves := l.profile.kind == KindServer
			clients := l.profile.kind == KindClient || l.profile.clientAuth
			if serves {
				verify(true, "-purpose", "sslserver", "-verify_hostname", "localhost", "-verify_ip", "127.0.0.1")
				for _, ip := range sans.IPs[1:] {
					verify(true, "-purpose", "sslserver", "-verify_ip", ip.String())
				}
				verify(false, "-purpose", "sslserver", "-verify_hostname", "example.com")
				verify(false, "-purpose", "sslserver", "-verify_ip", "127.0.0.2")
			} else {
				verify(false, "-purpose", "sslserver")
			}
			if clients {
				verify(true, "-purpose", "sslclient")
				for _, e := range sans.Emails {
					verify(true, "-purpose", "sslclient", "-verify_email", e)
					verify(false, "-purpose", "sslclient", "-verify_email", "mallory@example.com")
				}
			} else {
				verify(false, "-purpose", "sslclient")
			}
		})
	}
	for _, ch := range m.chains {
		t.Run(string(ch.keyType)+"/CAs", func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			root := writeTemp(t, dir, "root.pem", EncodeCertsPEM(ch.root.Cert))
			files := []string{root}
			if ch.inter != nil {
				files = append(files, writeTemp(t, dir, "inter.pem", EncodeCertsPEM(ch.inter.Cert)))
			}
			for _, f := range files {
				args := []string{"verify", "-x509_strict", "-CAfile", root, f}
				if out, err := runOpenSSL(t, args...); err != nil || !strings.Contains(out, ": OK") {
					t.Errorf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
		})
	}
}

// TestCrossCheckOpenSSLNameConstraints: OpenSSL, not only Go, refuses a
// leaf outside its CA's name constraints.
func TestCrossCheckOpenSSLNameConstraints(t *testing.T) {
	t.Parallel()
	requireTool(t, "openssl")
	_, tenNet, _ := net.ParseCIDR("10.0.0.0/8")
	root, iss := mustRootCA(t, Request{PermittedDNS: []string{"example.com"}, PermittedIPs: []*net.IPNet{tenNet}})
	dir := t.TempDir()
	rootFile := writeTemp(t, dir, "root.pem", EncodeCertsPEM(root.Cert))
	for _, tt := range []struct {
		sans string
		ok   bool
	}{{"api.example.com,10.0.0.1", true}, {"api.example.org", false}, {"api.example.com,192.168.1.1", false}} {
		leaf, err := iss.Issue(Request{Kind: KindServer, SANs: mustParseSANs(t, tt.sans), Validity: Day, UnsafeAllowOutsideNameConstraints: true})
		if err != nil {
			t.Fatal(err)
		}
		f := writeTemp(t, dir, "leaf.pem", EncodeCertsPEM(leaf.Cert))
		out, err := runOpenSSL(t, "verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", rootFile, f)
		if passed := err == nil && strings.Contains(out, ": OK"); passed != tt.ok {
			t.Errorf("openssl verify of a leaf for %s: passed=%v, want %v\n%s", tt.sans, passed, tt.ok, out)
		}
		if !tt.ok && !strings.Contains(out, "subtree violation") {
			t.Errorf("openssl refused %s for another reason than name constraints:\n%s", tt.sans, out)
		}
	}
}

// TestCrossCheckOpenSSLReadsEncryptedKey: OpenSSL decrypts the encrypted
// PKCS#8 key we write, with the passphrase and only with it, and we read
// the encrypted PKCS#8 key OpenSSL writes.
func TestCrossCheckOpenSSLReadsEncryptedKey(t *testing.T) {
	t.Parallel()
	requireTool(t, "openssl")
	for _, kt := range []KeyType{ECDSAP256, Ed25519, RSA2048} {
		t.Run(string(kt), func(t *testing.T) {
			t.Parallel()
			key, err := GenerateKey(kt)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := EncodeEncryptedKeyPEM(key, []byte("correct horse"))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			f := writeTemp(t, dir, "key.pem", enc)
			out, err := runOpenSSL(t, "pkey", "-in", f, "-passin", "pass:correct horse", "-pubout")
			if err != nil {
				t.Fatalf("openssl pkey with the passphrase: %v\n%s", err, out)
			}
			spki, err := x509.MarshalPKIXPublicKey(key.Public())
			if err != nil {
				t.Fatal(err)
			}
			want := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}))
			if out != want {
				t.Errorf("openssl read a different public key:\n%s\nwant\n%s", out, want)
			}
			if out, err := runOpenSSL(t, "pkey", "-in", f, "-passin", "pass:wrong", "-pubout"); err == nil {
				t.Errorf("openssl pkey accepted the wrong passphrase:\n%s", out)
			}

			// The other way: OpenSSL encrypts (PBES2, AES-256-CBC), we read.
			plainPEM, err := EncodeKeyPEM(key)
			if err != nil {
				t.Fatal(err)
			}
			plain := writeTemp(t, dir, "plain.pem", plainPEM)
			out, err = runOpenSSL(t, "pkcs8", "-topk8", "-in", plain, "-v2", "aes-256-cbc", "-passout", "pass:s3cret")
			if err != nil {
				t.Fatalf("openssl pkcs8 -topk8: %v\n%s", err, out)
			}
			got, err := ParseKey([]byte(out), []byte("s3cret"))
			if err != nil {
				t.Fatalf("ParseKey of OpenSSL's encrypted key: %v", err)
			}
			if !KeyMatches(got, key.Public()) {
				t.Error("ParseKey of OpenSSL's encrypted key gave another key")
			}
			if _, err := ParseKey([]byte(out), []byte("nope")); !errors.Is(err, ErrWrongPassphrase) {
				t.Errorf("wrong passphrase on OpenSSL's key: %v, want ErrWrongPassphrase", err)
			}
		})
	}
}

// TestCrossCheckZlint runs zlint's RFC 5280 and community lints on every
// certificate the matrix made: roots, intermediates, servers, clients,
// clients with email and URI SANs, RSA-3072 and RSA-4096.
func TestCrossCheckZlint(t *testing.T) {
	t.Parallel()
	for name, c := range testMatrix(t).allCerts() {
		t.Run(name, func(t *testing.T) {
			for _, f := range Lint(c) {
				t.Errorf("zlint: %s", f)
			}
		})
	}
}
