package pki

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// p12Fixture is a leaf signed by an intermediate, so the exported chain
// has three certificates.
func p12Fixture(t testing.TB, kt KeyType) matrixLeaf {
	t.Helper()
	for _, l := range testMatrix(t).leaves {
		if l.keyType == kt && len(l.leaf.Chain) == 1 && l.profile.kind == KindServer && !l.profile.clientAuth {
			return l
		}
	}
	t.Fatalf("no %s leaf via an intermediate in the matrix", kt)
	return matrixLeaf{}
}

func TestPKCS12RoundTrip(t *testing.T) {
	t.Parallel()
	for _, kt := range matrixKeyTypes {
		for _, legacy := range []bool{false, true} {
			name := string(kt) + "/modern"
			if legacy {
				name = string(kt) + "/legacy"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				l := p12Fixture(t, kt)
				data, err := EncodePKCS12(l.leaf, l.root.Cert, "pa55word", legacy)
				if err != nil {
					t.Fatal(err)
				}
				got, root, err := DecodePKCS12(data, "pa55word")
				if err != nil {
					t.Fatal(err)
				}
				if !got.Cert.Equal(l.leaf.Cert) || !KeyMatches(got.Key, l.leaf.Cert.PublicKey) {
					t.Error("decoded a different certificate or key")
				}
				if len(got.Chain) != 1 || !got.Chain[0].Equal(l.issuer.Cert) {
					t.Errorf("decoded chain has %d certificates, want the intermediate", len(got.Chain))
				}
				if root == nil || !root.Equal(l.root.Cert) {
					t.Error("decoded root is not the root")
				}
				if _, _, err := DecodePKCS12(data, "pa55worD"); !errors.Is(err, ErrWrongPKCS12Password) {
					t.Errorf("wrong password: %v, want ErrWrongPKCS12Password", err)
				}
			})
		}
	}
}

func TestPKCS12Refuses(t *testing.T) {
	t.Parallel()
	l := p12Fixture(t, ECDSAP256)
	other := p12Fixture(t, Ed25519)
	tests := []struct {
		name string
		iss  *Issued
		want string
	}{
		{"no certificate", &Issued{}, "needs a certificate"},
		{"no key (signed from a CSR)", &Issued{Cert: l.leaf.Cert}, "no private key here"},
		{"key of another certificate", &Issued{Cert: l.leaf.Cert, Key: other.leaf.Key}, "does not belong"},
	}
	for _, tt := range tests {
		if _, err := EncodePKCS12(tt.iss, l.root.Cert, "x", false); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, _, err := DecodePKCS12([]byte("garbage"), "x"); err == nil || errors.Is(err, ErrWrongPKCS12Password) {
		t.Errorf("DecodePKCS12(garbage) = %v, want a format error", err)
	}
}

func TestPKCS12ChainWithoutDuplicates(t *testing.T) {
	t.Parallel()
	l := p12Fixture(t, ECDSAP256)
	tests := []struct {
		name      string
		iss       *Issued
		root      bool
		wantChain int
		wantRoot  bool
	}{
		{"intermediate and root", l.leaf, true, 1, true},
		{"no root given", l.leaf, false, 1, false},
		{"chain already ends in the root", &Issued{Cert: l.leaf.Cert, Key: l.leaf.Key, Chain: append(l.leaf.Chain, l.root.Cert)}, true, 1, true},
		{"the root itself", l.root, true, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := l.root.Cert
			if !tt.root {
				root = nil
			}
			data, err := EncodePKCS12(tt.iss, root, "pw", false)
			if err != nil {
				t.Fatal(err)
			}
			got, gotRoot, err := DecodePKCS12(data, "pw")
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Chain) != tt.wantChain || (gotRoot != nil) != tt.wantRoot {
				t.Errorf("chain %d, root %v; want %d, %v", len(got.Chain), gotRoot != nil, tt.wantChain, tt.wantRoot)
			}
		})
	}
}

// TestPKCS12OpenSSL: OpenSSL 3, without -legacy, opens both encodings,
// reports the algorithms we promise, and lists the whole chain and the key.
func TestPKCS12OpenSSL(t *testing.T) {
	t.Parallel()
	requireTool(t, "openssl")
	for _, tt := range []struct {
		name   string
		legacy bool
		kt     KeyType
		want   []string
	}{
		{"modern", false, ECDSAP256, []string{"MAC: sha256", "PBES2, PBKDF2, AES-256-CBC", "PRF hmacWithSHA256"}},
		{"modern/rsa-2048", false, RSA2048, []string{"MAC: sha256", "AES-256-CBC"}},
		{"modern/ed25519", false, Ed25519, []string{"MAC: sha256", "AES-256-CBC"}},
		{"legacy", true, ECDSAP256, []string{"MAC: sha1", "pbeWithSHA1And3-KeyTripleDES-CBC"}},
		{"legacy/rsa-2048", true, RSA2048, []string{"MAC: sha1", "pbeWithSHA1And3-KeyTripleDES-CBC"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := p12Fixture(t, tt.kt)
			data, err := EncodePKCS12(l.leaf, l.root.Cert, "pa55 word", tt.legacy)
			if err != nil {
				t.Fatal(err)
			}
			f := writeTemp(t, t.TempDir(), "id.p12", data)
			out, err := runOpenSSL(t, "pkcs12", "-info", "-noout", "-in", f, "-passin", "pass:pa55 word")
			if err != nil {
				t.Fatalf("openssl pkcs12 -info: %v\n%s", err, out)
			}
			for _, w := range append(tt.want, "Shrouded Keybag") {
				if !strings.Contains(out, w) {
					t.Errorf("openssl pkcs12 -info does not show %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "RC2") {
				t.Errorf("RC2 in the file:\n%s", out)
			}
			if n := strings.Count(out, "Certificate bag"); n != 3 {
				t.Errorf("openssl sees %d certificate bags, want 3 (leaf, intermediate, root)", n)
			}
			out, err = runOpenSSL(t, "pkcs12", "-in", f, "-passin", "pass:pa55 word", "-nokeys")
			if err != nil {
				t.Fatalf("openssl pkcs12 -nokeys: %v\n%s", err, out)
			}
			certs, err := ParseCerts([]byte(out))
			if err != nil || len(certs) != 3 || !certs[0].Equal(l.leaf.Cert) ||
				!certs[1].Equal(l.issuer.Cert) || !certs[2].Equal(l.root.Cert) {
				t.Errorf("openssl lists %d certificates (%v), want leaf, intermediate, root", len(certs), err)
			}
			out, err = runOpenSSL(t, "pkcs12", "-in", f, "-passin", "pass:pa55 word", "-nocerts", "-nodes")
			if err != nil {
				t.Fatalf("openssl pkcs12 -nocerts: %v\n%s", err, out)
			}
			if key, err := ParseKey([]byte(out[strings.Index(out, "-----BEGIN"):]), nil); err != nil || !KeyMatches(key, l.leaf.Cert.PublicKey) {
				t.Errorf("openssl extracted a key that does not match the certificate (%v)", err)
			}
			if out, err := runOpenSSL(t, "pkcs12", "-info", "-noout", "-in", f, "-passin", "pass:wrong"); err == nil {
				t.Errorf("openssl opened the file with the wrong password:\n%s", out)
			}
		})
	}
}

func keytool(t testing.TB, args ...string) (string, error) {
	t.Helper()
	return runTool(t, 2*time.Minute, "keytool", args...)
}

// TestPKCS12Keytool: Java's keytool lists both encodings, with the key
// entry and the whole chain.
func TestPKCS12Keytool(t *testing.T) {
	t.Parallel()
	requireTool(t, "keytool")
	for _, legacy := range []bool{false, true} {
		name := map[bool]string{false: "modern", true: "legacy"}[legacy]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l := p12Fixture(t, ECDSAP256)
			data, err := EncodePKCS12(l.leaf, l.root.Cert, "pa55word", legacy)
			if err != nil {
				t.Fatal(err)
			}
			f := writeTemp(t, t.TempDir(), "id.p12", data)
			out, err := keytool(t, "-list", "-v", "-storetype", "PKCS12", "-keystore", f, "-storepass", "pa55word")
			if err != nil {
				t.Fatalf("keytool -list: %v\n%s", err, out)
			}
			for _, w := range []string{"Your keystore contains 1 entry", "Entry type: PrivateKeyEntry", "Certificate chain length: 3"} {
				if !strings.Contains(out, w) {
					t.Errorf("keytool -list does not show %q:\n%s", w, out)
				}
			}
			if out, err := keytool(t, "-list", "-storetype", "PKCS12", "-keystore", f, "-storepass", "wrongpass"); err == nil {
				t.Errorf("keytool opened the file with the wrong password:\n%s", out)
			}
		})
	}
}

// TestPKCS12EmptyPassword pins what EncodePKCS12's doc comment promises
// about an empty password: the API allows it, and OpenSSL 3 and keytool
// both open the file with an empty password, in both encodings.
func TestPKCS12EmptyPassword(t *testing.T) {
	t.Parallel()
	l := p12Fixture(t, ECDSAP256)
	for _, legacy := range []bool{false, true} {
		name := map[bool]string{false: "modern", true: "legacy"}[legacy]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := EncodePKCS12(l.leaf, l.root.Cert, "", legacy)
			if err != nil {
				t.Fatalf("EncodePKCS12 with an empty password: %v", err)
			}
			if _, _, err := DecodePKCS12(data, ""); err != nil {
				t.Errorf("DecodePKCS12 with the empty password: %v", err)
			}
			if _, _, err := DecodePKCS12(data, "x"); !errors.Is(err, ErrWrongPKCS12Password) {
				t.Errorf("DecodePKCS12 with a password: %v, want ErrWrongPKCS12Password", err)
			}
			f := writeTemp(t, t.TempDir(), "id.p12", data)
			t.Run("openssl", func(t *testing.T) {
				requireTool(t, "openssl")
				out, err := runOpenSSL(t, "pkcs12", "-in", f, "-passin", "pass:", "-nokeys")
				if err != nil {
					t.Fatalf("openssl pkcs12 -passin pass: %v\n%s", err, out)
				}
				if n := strings.Count(out, "BEGIN CERTIFICATE"); n != 3 {
					t.Errorf("openssl lists %d certificates, want 3", n)
				}
			})
			t.Run("keytool", func(t *testing.T) {
				requireTool(t, "keytool")
				out, err := keytool(t, "-list", "-v", "-storetype", "PKCS12", "-keystore", f, "-storepass", "")
				if err != nil || !strings.Contains(out, "Certificate chain length: 3") {
					t.Errorf("keytool -storepass \"\": %v\n%s", err, out)
				}
			})
		})
	}
}

func TestPKCS12IsNotPEMOrDER(t *testing.T) {
	t.Parallel()
	l := p12Fixture(t, ECDSAP256)
	data, err := EncodePKCS12(l.leaf, nil, "pw", false)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, l.leaf.Cert.Raw) {
		t.Error("the certificate is stored in clear; the modern encoding encrypts the certificate bags")
	}
}
