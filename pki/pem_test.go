package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

func TestParseKeyFormats(t *testing.T) {
	t.Parallel()
	m := testMatrix(t)
	byType := map[KeyType]*Issued{}
	for _, l := range m.leaves {
		byType[l.keyType] = l.leaf
	}
	rsaKey := byType[RSA2048].Key.(*rsa.PrivateKey)
	ecKey := byType[ECDSAP256].Key.(*ecdsa.PrivateKey)
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	pk8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	tests := []struct {
		name string
		data []byte
		want any // the public key expected
	}{
		{"PKCS#1 RSA PEM", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), rsaKey.Public()},
		{"PKCS#1 RSA DER", x509.MarshalPKCS1PrivateKey(rsaKey), rsaKey.Public()},
		{"SEC 1 EC PEM", pemOf("EC PRIVATE KEY", sec1), ecKey.Public()},
		{"SEC 1 EC DER", sec1, ecKey.Public()},
		{"PKCS#8 PEM under a foreign label", pemOf("PRIVATE KEY", pk8(ecKey)), ecKey.Public()},
	}
	for _, kt := range []KeyType{ECDSAP256, ECDSAP384, Ed25519, RSA2048, RSA3072} {
		k := byType[kt].Key
		p, err := EncodeKeyPEM(k)
		if err != nil {
			t.Fatal(err)
		}
		tests = append(tests,
			struct {
				name string
				data []byte
				want any
			}{"PKCS#8 PEM " + string(kt), p, k.Public()},
			struct {
				name string
				data []byte
				want any
			}{"PKCS#8 DER " + string(kt), pk8(k), k.Public()},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKey(tt.data, nil)
			if err != nil {
				t.Fatalf("ParseKey: %v", err)
			}
			if !KeyMatches(got, tt.want) {
				t.Error("ParseKey returned a different key")
			}
		})
	}
}

func TestParseKeyEncrypted(t *testing.T) {
	t.Parallel()
	key, err := GenerateKey(ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := EncodeEncryptedKeyPEM(key, []byte("s3cret passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	if !IsEncryptedKeyPEM(enc) {
		t.Error("IsEncryptedKeyPEM(encrypted) = false")
	}
	if plain, _ := EncodeKeyPEM(key); IsEncryptedKeyPEM(plain) {
		t.Error("IsEncryptedKeyPEM(plain) = true")
	}
	if bytes.Contains(enc, []byte("PRIVATE KEY-----\nM")) && !bytes.Contains(enc, []byte("ENCRYPTED PRIVATE KEY")) {
		t.Error("the encrypted key is not labelled ENCRYPTED PRIVATE KEY")
	}
	tests := []struct {
		name    string
		pass    []byte
		wantErr error
	}{
		{"right passphrase", []byte("s3cret passphrase"), nil},
		{"wrong passphrase", []byte("s3cret passphrasE"), ErrWrongPassphrase},
		{"missing passphrase", nil, ErrPassphraseNeeded},
		{"empty passphrase", []byte{}, ErrPassphraseNeeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseKey(enc, tt.pass)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseKey error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && !KeyMatches(got, key.Public()) {
				t.Error("decrypted a different key")
			}
		})
	}
	if _, err := EncodeEncryptedKeyPEM(key, nil); err == nil {
		t.Error("EncodeEncryptedKeyPEM with no passphrase succeeded")
	}
}

func TestParseKeyRejects(t *testing.T) {
	t.Parallel()
	l := testMatrix(t).leaves[0]
	keyPEM, err := EncodeKeyPEM(l.leaf.Key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(nil, &x509.CertificateRequest{DNSNames: []string{"a.example"}}, l.leaf.Key)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"certificate passed as key", EncodeCertsPEM(l.leaf.Cert), "this is a certificate, not a private key"},
		{"CSR passed as key", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}), "certificate request, not a private key"},
		{"truncated PEM", keyPEM[:len(keyPEM)/2], "truncated or damaged"},
		{"legacy OpenSSL encryption", []byte("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"), "openssl pkcs8 -topk8"},
		{"garbage PEM body", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("nope")}), `PEM block "PRIVATE KEY" does not hold a readable private key`},
		{"not PEM, not DER", []byte("hello"), "no PEM block and not a DER private key"},
		{"empty", nil, "no PEM block and not a DER private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKey(tt.data, nil)
			if err == nil {
				t.Fatalf("ParseKey returned a %T, want an error", got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseKey error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestParseCerts(t *testing.T) {
	t.Parallel()
	m := testMatrix(t)
	var l matrixLeaf
	for _, x := range m.leaves {
		if len(x.leaf.Chain) > 0 {
			l = x
			break
		}
	}
	keyPEM, err := EncodeKeyPEM(l.leaf.Key)
	if err != nil {
		t.Fatal(err)
	}
	chainPEM := EncodeCertsPEM(l.leaf.FullChain()...)
	t.Run("chain keeps order", func(t *testing.T) {
		got, err := ParseCerts(chainPEM)
		if err != nil || len(got) != 2 || !got[0].Equal(l.leaf.Cert) || !got[1].Equal(l.leaf.Chain[0]) {
			t.Fatalf("ParseCerts(chain) = %d certs, %v; want leaf then intermediate", len(got), err)
		}
	})
	t.Run("key and cert in one file", func(t *testing.T) {
		got, err := ParseCerts(append(append([]byte{}, keyPEM...), EncodeCertsPEM(l.leaf.Cert)...))
		if err != nil || len(got) != 1 || !got[0].Equal(l.leaf.Cert) {
			t.Fatalf("ParseCerts(key+cert) = %d certs, %v", len(got), err)
		}
	})
	t.Run("DER certificate", func(t *testing.T) {
		got, err := ParseCerts(l.leaf.Cert.Raw)
		if err != nil || len(got) != 1 || !got[0].Equal(l.leaf.Cert) {
			t.Fatalf("ParseCerts(DER) = %d certs, %v", len(got), err)
		}
	})
	csr, err := x509.CreateCertificateRequest(nil, &x509.CertificateRequest{DNSNames: []string{"a.example"}}, l.leaf.Key)
	if err != nil {
		t.Fatal(err)
	}
	damaged := EncodeCertsPEM(l.leaf.Cert)
	damaged = bytes.Replace(damaged, []byte("-----BEGIN CERTIFICATE-----\n"), []byte("-----BEGIN CERTIFICATE-----\n%%%%"), 1)
	bad := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: l.leaf.Cert.Raw[:40]})
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"key passed as certificate", keyPEM, `only a PEM block of type "PRIVATE KEY" (a private key, not a certificate)`},
		{"CSR passed as certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}), "a certificate request: sign it with `mtlskit sign --csr`"},
		{"truncated PEM", chainPEM[:100], "truncated or damaged"},
		{"damaged base64", damaged, "truncated or damaged"},
		{"certificate body that does not parse", bad, "certificate 1 does not parse"},
		{"empty", nil, "the file is empty"},
		{"whitespace only", []byte(" \n\t\n"), "the file is empty"},
		{"neither PEM nor DER", []byte("hello world"), "neither PEM nor a DER certificate"},
		{"DER key, not certificate", l.root.Cert.RawSubjectPublicKeyInfo, "neither PEM nor a DER certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCerts(tt.data)
			if err == nil {
				t.Fatalf("ParseCerts returned %d certs, want an error", len(got))
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseCerts error %q does not say %q", err, tt.want)
			}
		})
	}
}
