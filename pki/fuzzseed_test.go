package pki

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/youmark/pkcs8"
)

// TestWriteFuzzSeeds (re)writes the seed corpora in testdata/fuzz from
// material made by this package and by openssl. It runs only with
// MTLSKIT_WRITE_FUZZ_SEEDS=1; the files it writes are committed.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("MTLSKIT_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set MTLSKIT_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz seeds")
	}
	m := map[string][]byte{}
	root, err := NewRootCA(Request{CommonName: "seed Root CA", KeyType: ECDSAP256, Validity: 20 * Year, MaxPathLen: 1})
	if err != nil {
		t.Fatal(err)
	}
	ri, _ := root.Issuer()
	inter, err := ri.Issue(Request{Kind: KindIntermediate, CommonName: "seed Intermediate CA", KeyType: ECDSAP384, Validity: 10 * Year})
	if err != nil {
		t.Fatal(err)
	}
	ii, _ := inter.Issuer()
	sans, _ := ParseSANs("localhost,127.0.0.1,::1,spiffe://corp/a,a@example.com")
	for _, kt := range []KeyType{ECDSAP256, Ed25519, RSA2048} {
		leaf, err := ii.Issue(Request{Kind: KindServer, SANs: sans, KeyType: kt, ClientAuth: kt == Ed25519})
		if err != nil {
			t.Fatal(err)
		}
		keyPEM, _ := EncodeKeyPEM(leaf.Key)
		m["pkg-chain-"+string(kt)] = EncodeCertsPEM(append(leaf.FullChain(), root.Cert)...)
		m["pkg-key-"+string(kt)] = keyPEM
		m["pkg-cert-der-"+string(kt)] = leaf.Cert.Raw
		enc, err := pkcs8.MarshalPrivateKey(leaf.Key, []byte("s3cret"), &pkcs8.Opts{Cipher: pkcs8.AES256CBC,
			KDFOpts: pkcs8.PBKDF2Opts{SaltSize: 8, IterationCount: 1000, HMACHash: crypto.SHA256}})
		if err != nil {
			t.Fatal(err)
		}
		m["pkg-key-encrypted-"+string(kt)] = pem.EncodeToMemory(&pem.Block{Type: pemEncryptedKey, Bytes: enc})
		csr, err := x509.CreateCertificateRequest(nil, &x509.CertificateRequest{DNSNames: []string{"a.example"}}, leaf.Key)
		if err != nil {
			t.Fatal(err)
		}
		m["pkg-csr-"+string(kt)] = pem.EncodeToMemory(&pem.Block{Type: pemCSR, Bytes: csr})
		bad := append([]byte{}, csr...)
		bad[len(bad)-3] ^= 0x01
		m["pkg-csr-badsig-"+string(kt)] = pem.EncodeToMemory(&pem.Block{Type: pemCSR, Bytes: bad})
		if kt == ECDSAP256 {
			for legacy, name := range map[bool]string{false: "modern", true: "legacy"} {
				p12, err := EncodePKCS12(leaf, root.Cert, "s3cret", legacy)
				if err != nil {
					t.Fatal(err)
				}
				m["pkg-p12-"+name] = p12
			}
			m["tricky-key-then-cert"] = append(append([]byte{}, keyPEM...), EncodeCertsPEM(leaf.Cert)...)
			m["tricky-crlf"] = []byte(strings.ReplaceAll(string(EncodeCertsPEM(leaf.Cert)), "\n", "\r\n"))
			m["tricky-bom"] = append([]byte("\xef\xbb\xbf"), EncodeCertsPEM(leaf.Cert)...)
			full := EncodeCertsPEM(leaf.Cert)
			m["tricky-truncated"] = full[:len(full)*2/3]
			m["tricky-der-truncated"] = leaf.Cert.Raw[:len(leaf.Cert.Raw)-10]
		}
	}
	m["tricky-empty"] = nil
	m["tricky-garbage"] = []byte("\x00\x01\x02 not a pem at all \xff")
	m["tricky-begin-only"] = []byte("-----BEGIN CERTIFICATE-----\n")
	m["tricky-other-block"] = []byte("-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n")
	m["tricky-proc-type"] = []byte("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\nAAAA\n-----END RSA PRIVATE KEY-----\n")
	openSSLSeeds(t, m)

	one := []string{"FuzzParseCerts", "FuzzParseKey", "FuzzParseCSR", "FuzzReadCertFile", "FuzzReadKeyFile", "FuzzDiagnose"}
	for name, data := range m {
		for _, target := range one {
			writeSeed(t, target, name, fmt.Sprintf("[]byte(%q)", data))
		}
		writeSeed(t, "FuzzParseKeyPassphrase", name, fmt.Sprintf("[]byte(%q)", data), `[]byte("s3cret")`)
		writeSeed(t, "FuzzDecodePKCS12", name, fmt.Sprintf("[]byte(%q)", data), `string("s3cret")`)
	}
}

func writeSeed(t *testing.T, target, name string, args ...string) {
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := "go test fuzz v1\n" + strings.Join(args, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// openSSLSeeds adds certificates, keys, requests and PKCS#12 files made
// by openssl, in the forms it writes by default and a few others.
func openSSLSeeds(t *testing.T, m map[string][]byte) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Log("openssl absent: no openssl seeds")
		return
	}
	dir := t.TempDir()
	run := func(args ...string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "openssl", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa-key.pem", "-out", "rsa-cert.pem", "-subj", "/CN=ossl", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days", "30")
	run("genpkey", "-algorithm", "ed25519", "-out", "ed-key.pem")
	run("req", "-x509", "-key", "ed-key.pem", "-out", "ed-cert.pem", "-subj", "/CN=ossl-ed", "-days", "30")
	run("ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", "ec-sec1.pem")
	run("genrsa", "-traditional", "-out", "rsa-pkcs1.pem", "1024")
	run("pkcs8", "-topk8", "-in", "ec-sec1.pem", "-v2", "aes-256-cbc", "-iter", "1000", "-passout", "pass:s3cret", "-out", "ec-enc.pem")
	run("ec", "-in", "ec-sec1.pem", "-aes256", "-passout", "pass:s3cret", "-out", "ec-legacy-enc.pem")
	run("req", "-new", "-key", "ec-sec1.pem", "-subj", "/CN=ossl-csr", "-addext", "subjectAltName=DNS:a.example", "-out", "ec-csr.pem")
	run("req", "-in", "ec-csr.pem", "-outform", "der", "-out", "ec-csr.der")
	run("x509", "-in", "rsa-cert.pem", "-outform", "der", "-out", "rsa-cert.der")
	run("pkey", "-in", "ec-sec1.pem", "-outform", "der", "-out", "ec-key.der")
	run("pkcs12", "-export", "-in", "rsa-cert.pem", "-inkey", "rsa-key.pem", "-iter", "1000", "-passout", "pass:s3cret", "-out", "rsa.p12")
	for _, f := range []string{"rsa-key.pem", "rsa-cert.pem", "ed-key.pem", "ed-cert.pem", "ec-sec1.pem", "rsa-pkcs1.pem",
		"ec-enc.pem", "ec-legacy-enc.pem", "ec-csr.pem", "ec-csr.der", "rsa-cert.der", "ec-key.der", "rsa.p12"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		m["openssl-"+f] = data
	}
}
