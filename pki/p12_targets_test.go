package pki

import (
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gopkcs12 "software.sslmate.com/src/go-pkcs12"
)

// p12Layout is what a PKCS#12 file says of itself: the algorithms and
// parameters of its MAC, certificate safe and key bag, and the friendly
// names go-pkcs12 reads back.
type p12Layout struct {
	macOID                    asn1.ObjectIdentifier
	macIter, macSalt          int
	certAlg, keyAlg           asn1.ObjectIdentifier
	certIter, keyIter         int
	certSalt, keySalt         int
	friendlyNames             []string
	certBags, keyBags, shroud int
}

// readLayout parses data with go-pkcs12's PEM conversion (for the bags and
// friendly names) and by hand (for the algorithms).
func readLayout(t *testing.T, data []byte, password string) p12Layout {
	t.Helper()
	var l p12Layout
	//lint:ignore SA1019 ToPEM is go-pkcs12's only API that shows bag attributes (the friendly names); its PEM labels do not matter here
	blocks, err := gopkcs12.ToPEM(data, password)
	if err != nil {
		t.Fatalf("go-pkcs12 cannot read the file: %v", err)
	}
	for _, b := range blocks {
		if b.Type == "CERTIFICATE" {
			l.certBags++
		} else {
			l.keyBags++
		}
		if n, ok := b.Headers["friendlyName"]; ok {
			l.friendlyNames = append(l.friendlyNames, b.Type+"="+n)
		}
	}
	var pfx struct {
		Version  int
		AuthSafe p12ContentInfo
		MacData  struct {
			Mac struct {
				Algorithm struct{ Algorithm asn1.ObjectIdentifier }
				Digest    []byte
			}
			Salt       []byte
			Iterations int `asn1:"optional,default:1"`
		}
	}
	mustUnmarshal(t, data, &pfx)
	l.macOID, l.macIter, l.macSalt = pfx.MacData.Mac.Algorithm.Algorithm, pfx.MacData.Iterations, len(pfx.MacData.Salt)
	var authOctets []byte
	mustUnmarshal(t, pfx.AuthSafe.Content.Bytes, &authOctets)
	var safes []p12ContentInfo
	mustUnmarshal(t, authOctets, &safes)
	if len(safes) != 2 || !safes[0].ContentType.Equal(oidEncryptedData) || !safes[1].ContentType.Equal(oidData) {
		t.Fatalf("authenticated safe: %d contents, want an encrypted one (certificates) and a plain one (the key)", len(safes))
	}
	var ed p12EncryptedData
	mustUnmarshal(t, safes[0].Content.Bytes, &ed)
	l.certAlg, l.certIter, l.certSalt = pbeParams(t, ed.Info.Algorithm.Algorithm, ed.Info.Algorithm.Parameters.FullBytes)
	var keyOctets []byte
	mustUnmarshal(t, safes[1].Content.Bytes, &keyOctets)
	var bags []p12SafeBag
	mustUnmarshal(t, keyOctets, &bags)
	if len(bags) != 1 || !bags[0].ID.Equal(oidShroudedKeyBag) {
		t.Fatalf("key safe: %d bags, want one shrouded key bag", len(bags))
	}
	l.shroud++
	var epki struct {
		Algorithm struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.RawValue
		}
		Data []byte
	}
	mustUnmarshal(t, bags[0].Value.Bytes, &epki)
	l.keyAlg, l.keyIter, l.keySalt = pbeParams(t, epki.Algorithm.Algorithm, epki.Algorithm.Parameters.FullBytes)
	return l
}

func mustUnmarshal(t *testing.T, der []byte, v any) {
	t.Helper()
	rest, err := asn1.Unmarshal(der, v)
	if err != nil || len(rest) != 0 {
		t.Fatalf("ASN.1 (%T): %v, %d trailing bytes", v, err, len(rest))
	}
}

// pbeParams reads the iteration count and salt length of a PKCS#12 PBE
// or a PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) algorithm.
func pbeParams(t *testing.T, oid asn1.ObjectIdentifier, params []byte) (asn1.ObjectIdentifier, int, int) {
	t.Helper()
	if oid.Equal(oidPBES2) {
		var p struct {
			KDF struct {
				Algorithm asn1.ObjectIdentifier
				Params    p12PBKDF2Params
			}
			Enc struct {
				Algorithm asn1.ObjectIdentifier
				IV        []byte
			}
		}
		mustUnmarshal(t, params, &p)
		if !p.KDF.Algorithm.Equal(oidPBKDF2) || !p.KDF.Params.PRF.Algorithm.Equal(oidHMACWithSHA256) || !p.Enc.Algorithm.Equal(oidAES256CBC) || len(p.Enc.IV) != 16 {
			t.Fatalf("PBES2 parameters: KDF %v PRF %v cipher %v IV %d bytes", p.KDF.Algorithm, p.KDF.Params.PRF.Algorithm, p.Enc.Algorithm, len(p.Enc.IV))
		}
		return oidAES256CBC, p.KDF.Params.Iterations, len(p.KDF.Params.Salt)
	}
	var p p12PBEParams
	mustUnmarshal(t, params, &p)
	return oid, p.Iterations, len(p.Salt)
}

// TestPKCS12TargetEncodings pins every target's encoding as it is
// written: algorithms, iteration counts, salts, friendly names, and the
// refusals of EncodePKCS12For.
func TestPKCS12TargetEncodings(t *testing.T) {
	t.Parallel()
	l := p12Fixture(t, ECDSAP256)
	cipherOID := map[PKCS12Cipher]asn1.ObjectIdentifier{PKCS12AES256: oidAES256CBC, PKCS12TripleDES: oidPBEWithSHA3DES}
	macOID := map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA256: oidSHA256, crypto.SHA1: oidSHA1}
	want := map[string]string{
		"java": "aes/10000/8", "node": "aes/2048/8", "openssl3": "aes/2048/8", "openssl1": "3des/2048/8",
		"macos": "3des/2048/8", "windows": "3des/2048/8", "browser": "aes/600000/16",
	}
	var names []string
	for _, tg := range PKCS12Targets() {
		names = append(names, tg.Name)
		t.Run(tg.Name, func(t *testing.T) {
			t.Parallel()
			data, enc, err := EncodePKCS12For(l.leaf, l.root.Cert, "pa55 word", tg.Name, "alice")
			if err != nil {
				t.Fatal(err)
			}
			c := map[PKCS12Cipher]string{PKCS12AES256: "aes", PKCS12TripleDES: "3des"}[enc.Cipher]
			if got := fmt.Sprintf("%s/%d/%d", c, enc.Iterations, enc.SaltLen); got != want[tg.Name] {
				t.Errorf("encoding %s (%v), want %s", got, enc, want[tg.Name])
			}
			got := readLayout(t, data, "pa55 word")
			if !got.certAlg.Equal(cipherOID[enc.Cipher]) || !got.keyAlg.Equal(cipherOID[enc.Cipher]) || !got.macOID.Equal(macOID[enc.MAC]) {
				t.Errorf("algorithms: certificates %v, key %v, MAC %v; want %v", got.certAlg, got.keyAlg, got.macOID, enc)
			}
			if got.certIter != enc.Iterations || got.keyIter != enc.Iterations || got.macIter != enc.MACIterations {
				t.Errorf("iterations: certificates %d, key %d, MAC %d; want %v", got.certIter, got.keyIter, got.macIter, enc)
			}
			if got.certSalt != enc.SaltLen || got.keySalt != enc.SaltLen || got.macSalt != enc.SaltLen {
				t.Errorf("salts: %d, %d, %d bytes; want %d", got.certSalt, got.keySalt, got.macSalt, enc.SaltLen)
			}
			// The leaf and the key carry the name; the CA certificates do not.
			if strings.Join(got.friendlyNames, ",") != "CERTIFICATE=alice,PRIVATE KEY=alice" || got.certBags != 3 || got.keyBags != 1 {
				t.Errorf("friendly names %v, %d certificates, %d keys", got.friendlyNames, got.certBags, got.keyBags)
			}
			iss, root, err := DecodePKCS12(data, "pa55 word")
			if err != nil || !iss.Cert.Equal(l.leaf.Cert) || !KeyMatches(iss.Key, l.leaf.Cert.PublicKey) || len(iss.Chain) != 1 || root == nil {
				t.Errorf("DecodePKCS12: %v", err)
			}
		})
	}
	if strings.Join(names, " ") != "java node openssl3 openssl1 macos windows browser" {
		t.Errorf("targets %v", names)
	}
	t.Run("default and legacy keep their old parameters", func(t *testing.T) {
		t.Parallel()
		for legacy, w := range map[bool][]int{false: {2048, 2048, 16}, true: {2048, 1, 8}} {
			data, err := EncodePKCS12(l.leaf, l.root.Cert, "pw", legacy)
			if err != nil {
				t.Fatal(err)
			}
			got := readLayout(t, data, "pw")
			if got.keyIter != w[0] || got.macIter != w[1] || got.keySalt != w[2] || len(got.friendlyNames) != 0 {
				t.Errorf("legacy=%v: %+v, want iterations %d, MAC %d, salt %d, no friendly name", legacy, got, w[0], w[1], w[2])
			}
		}
	})
	t.Run("refusals", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			target, password, name string
			want                   error
			text                   string
		}{
			{"macos", "", "alice", ErrPKCS12NeedsPassword, "macos: this reader does not import"},
			{"java", "pa55 wörd", "alice", ErrPKCS12ASCIIPassword, "printable ASCII"},
			{"java", "tab\there", "alice", ErrPKCS12ASCIIPassword, "printable ASCII"},
			{"openssl3", "pw", "alice \U0001F512", nil, "outside the Basic Multilingual Plane"},
			{"openssl3", "pw \U0001F512", "alice", nil, "the password has a character outside"},
			{"winxp", "pw", "alice", nil, `unknown PKCS#12 target "winxp"`},
		} {
			_, _, err := EncodePKCS12For(l.leaf, l.root.Cert, tc.password, tc.target, tc.name)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("%s %q %q: %v, want %q", tc.target, tc.password, tc.name, err, tc.text)
			}
		}
		// The other targets take an empty or a non-ASCII password.
		for _, tg := range []string{"node", "openssl3", "windows", "browser"} {
			if _, _, err := EncodePKCS12For(l.leaf, l.root.Cert, "", tg, ""); err != nil {
				t.Errorf("%s with an empty password: %v", tg, err)
			}
		}
		if _, err := EncodePKCS12With(l.leaf, nil, "pw", PKCS12Encoding{Cipher: PKCS12AES256, MAC: crypto.SHA512, Iterations: 1, MACIterations: 1, SaltLen: 8}); err == nil || !strings.Contains(err.Error(), "SHA-1 or SHA-256") {
			t.Errorf("SHA-512 MAC: %v", err)
		}
		if _, err := EncodePKCS12With(l.leaf, nil, "pw", PKCS12Encoding{Cipher: PKCS12TripleDES, MAC: crypto.SHA1, Iterations: 0, MACIterations: 1, SaltLen: 8}); err == nil || !strings.Contains(err.Error(), "iteration counts") {
			t.Errorf("0 iterations: %v", err)
		}
	})
}

// TestPKCS12KDFVector: the PKCS#12 key derivation against Stephen
// Henson's test vectors (as quoted in Apple's Security
// OSX/sec/Security/p12pbegen.c).
func TestPKCS12KDFVector(t *testing.T) {
	t.Parallel()
	pass, _ := bmpString("smeg")
	pass = append(pass, 0, 0)
	salt := []byte{0x0A, 0x58, 0xCF, 0x64, 0x53, 0x0D, 0x82, 0x3F}
	got := fmt.Sprintf("%X", pkcs12KDF(sha1.New, pass, salt, 1, 1, 24))
	if got != "8AAAE6297B6CB04642AB5B077851284EB7128F1A2A7FBCA3" {
		t.Errorf("PKCS#12 KDF(smeg, ID 1, 1 round) = %s", got)
	}
	salt = []byte{0x05, 0xDE, 0xC9, 0x59, 0xAC, 0xFF, 0x72, 0xF7}
	pass, _ = bmpString("queeg")
	pass = append(pass, 0, 0)
	got = fmt.Sprintf("%X", pkcs12KDF(sha1.New, pass, salt, 1, 1000, 24))
	if got != "ED2034E36328830FF09DF1E1A07DD357185DAC0D4F9EB3D4" {
		t.Errorf("PKCS#12 KDF(queeg, ID 1, 1000 rounds) = %s", got)
	}
}

// p12Reader is one real reader of PKCS#12 files: it opens path with the
// password and says what it found (the friendly name where it shows one)
// or why it refused.
type p12Reader struct {
	name, tool string
	read       func(t *testing.T, path, password string) (string, error)
}

func p12Readers() []p12Reader {
	return []p12Reader{
		{"openssl3", "openssl", func(t *testing.T, path, pw string) (string, error) {
			return runTool(t, time.Minute, "openssl", "pkcs12", "-in", path, "-passin", "pass:"+pw, "-nodes", "-info")
		}},
		{"openssl3 -legacy", "openssl", func(t *testing.T, path, pw string) (string, error) {
			return runTool(t, time.Minute, "openssl", "pkcs12", "-legacy", "-in", path, "-passin", "pass:"+pw, "-nodes", "-info")
		}},
		{"node", "node", func(t *testing.T, path, pw string) (string, error) {
			return runTool(t, time.Minute, "node", "-e", `require("tls").createSecureContext({pfx: require("fs").readFileSync(process.argv[1]), passphrase: process.argv[2]}); console.log("node: secure context made")`, path, pw)
		}},
		{"keytool", "keytool", func(t *testing.T, path, pw string) (string, error) {
			out, err := runTool(t, 2*time.Minute, "keytool", "-list", "-v", "-storetype", "PKCS12", "-keystore", path, "-storepass", pw)
			if err == nil && !strings.Contains(out, "Entry type: PrivateKeyEntry") {
				err = errors.New("no private key entry")
			}
			return out, err
		}},
		{"python cryptography", "/usr/bin/python3", func(t *testing.T, path, pw string) (string, error) {
			return runTool(t, time.Minute, "/usr/bin/python3", "-c", `import sys
from cryptography.hazmat.primitives.serialization import pkcs12
p = pkcs12.load_pkcs12(open(sys.argv[1], "rb").read(), sys.argv[2].encode())
print("friendly name", p.cert.friendly_name, "key", type(p.key).__name__, "cas", len(p.additional_certs))`, path, pw)
		}},
		{"NSS pk12util", "pk12util", func(t *testing.T, path, pw string) (string, error) {
			db := "sql:" + t.TempDir()
			if out, err := runTool(t, time.Minute, "certutil", "-N", "-d", db, "--empty-password"); err != nil {
				t.Fatalf("certutil -N: %v\n%s", err, out)
			}
			out, err := runTool(t, time.Minute, "pk12util", "-i", path, "-d", db, "-W", pw, "-K", "")
			if err != nil {
				return out, err
			}
			list, lerr := runTool(t, time.Minute, "certutil", "-L", "-d", db)
			keys, kerr := runTool(t, time.Minute, "certutil", "-K", "-d", db)
			if lerr != nil || kerr != nil {
				return out + list + keys, errors.Join(lerr, kerr)
			}
			return out + list + keys, nil
		}},
	}
}

func havePythonCryptography() bool {
	return exec.Command("/usr/bin/python3", "-c", "import cryptography.hazmat.primitives.serialization.pkcs12").Run() == nil
}

// TestPKCS12ReadByRealTools is the observed half of docs/pkcs12.md's
// table: every encoding the targets use, and an RC2-40 control (what
// mkcert and OpenSSL 1.x wrote by default), opened by each reader on this
// machine. A reader that is not installed is skipped (.ci/run installs
// them all: openssl, default-jre-headless, nodejs, python3-cryptography,
// libnss3-tools).
func TestPKCS12ReadByRealTools(t *testing.T) {
	t.Parallel()
	l := p12Fixture(t, ECDSAP256)
	dir := t.TempDir()
	type row struct {
		name    string
		targets string
		data    []byte
		refused map[string]string // reader -> what its refusal says
	}
	var rows []row
	seen := map[string]int{}
	for _, tg := range PKCS12Targets() {
		key := tg.Encoding.String()
		if i, ok := seen[key]; ok {
			rows[i].targets += ", " + tg.Name
			continue
		}
		data, _, err := EncodePKCS12For(l.leaf, l.root.Cert, "pa55 word", tg.Name, "alice")
		if err != nil {
			t.Fatal(err)
		}
		seen[key] = len(rows)
		rows = append(rows, row{name: key, targets: tg.Name, data: data})
	}
	rc2, err := gopkcs12.LegacyRC2.Encode(l.leaf.Key, l.leaf.Cert, []*x509.Certificate{l.issuer.Cert, l.root.Cert}, "pa55 word")
	if err != nil {
		t.Fatal(err)
	}
	rows = append(rows, row{name: "control: RC2-40 certificates, 3DES key, SHA-1 MAC", targets: "none", data: rc2,
		refused: map[string]string{"openssl3": "RC2-40-CBC", "node": "Unsupported PKCS12 PFX data"}})
	if len(rows) != 5 {
		t.Fatalf("%d distinct encodings, want 4 and the control", len(rows))
	}
	for i := range rows {
		rows[i].name = fmt.Sprintf("%d %s", i, rows[i].name)
	}
	for _, rd := range p12Readers() {
		t.Run(rd.name, func(t *testing.T) {
			t.Parallel()
			requireTool(t, rd.tool)
			if rd.name == "python cryptography" && !havePythonCryptography() {
				t.Skip("/usr/bin/python3 lacks cryptography (.ci/run installs python3-cryptography)")
			}
			if rd.tool == "pk12util" {
				requireTool(t, "certutil")
			}
			for _, r := range rows {
				path := writeTemp(t, dir, strings.ReplaceAll(rd.name, " ", "_")+fmt.Sprint(r.name[0])+".p12", r.data)
				out, err := rd.read(t, path, "pa55 word")
				if text, refuse := r.refused[rd.name]; refuse {
					if err == nil || !strings.Contains(out, text) {
						t.Errorf("%s (targets %s): read (%v), want a refusal saying %q:\n%s", r.name, r.targets, err, text, out)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s (targets %s): %v\n%s", r.name, r.targets, err, out)
					continue
				}
				// Friendly names, where the reader shows them.
				wantName := map[string]string{"openssl3": "friendlyName: alice", "keytool": "Alias name: alice",
					"python cryptography": "friendly name b'alice'", "NSS pk12util": "alice  "}[rd.name]
				if r.targets != "none" && wantName != "" && !strings.Contains(out, wantName) {
					t.Errorf("%s: %s shows no %q:\n%s", r.name, rd.name, wantName, out)
				}
			}
			// An empty password, in both ciphers: every reader opens the
			// file (macOS, not here, does not: EncodePKCS12For refuses).
			for _, tg := range []string{"openssl3", "windows"} {
				data, _, err := EncodePKCS12For(l.leaf, l.root.Cert, "", tg, "alice")
				if err != nil {
					t.Fatal(err)
				}
				path := writeTemp(t, dir, strings.ReplaceAll(rd.name, " ", "_")+"-empty-"+tg+".p12", data)
				if out, err := rd.read(t, path, ""); err != nil {
					t.Errorf("empty password, %s encoding: %v\n%s", tg, err, out)
				}
			}
			// The same file with a password outside ASCII: Java's PBE keys
			// take printable ASCII only, the others decode UTF-8.
			data, _, err := EncodePKCS12For(l.leaf, l.root.Cert, "pa55 wörd", "openssl3", "alice")
			if err != nil {
				t.Fatal(err)
			}
			path := writeTemp(t, dir, strings.ReplaceAll(rd.name, " ", "_")+"-utf8.p12", data)
			out, err := rd.read(t, path, "pa55 wörd")
			if rd.name == "keytool" {
				if err == nil || !strings.Contains(out, "keystore password was incorrect") {
					t.Errorf("keytool opened a file with a non-ASCII password (%v): EncodePKCS12For(java) need not refuse them:\n%s", err, out)
				}
			} else if err != nil {
				t.Errorf("non-ASCII password: %v\n%s", err, out)
			}
		})
	}
}

// TestPKCS12NSSImportIsNotTrust: pk12util imports the CA certificates of
// the file without any trust (",,"), and names a certificate without a
// friendly name after its subject: trusting the CA is a separate step
// (certutil -A -t), which the Chromium recipe takes.
func TestPKCS12NSSImportIsNotTrust(t *testing.T) {
	t.Parallel()
	requireTool(t, "pk12util")
	requireTool(t, "certutil")
	l := p12Fixture(t, ECDSAP256)
	data, err := EncodePKCS12(l.leaf, l.root.Cert, "pw", false)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := writeTemp(t, dir, "plain.p12", data)
	db := "sql:" + filepath.Join(dir, "db")
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := runTool(t, time.Minute, "certutil", "-N", "-d", db, "--empty-password"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err := runTool(t, time.Minute, "pk12util", "-i", path, "-d", db, "-W", "pw", "-K", "")
	if err != nil || !strings.Contains(out, "no nickname for cert in PKCS12 file") {
		t.Fatalf("pk12util without a friendly name: %v\n%s", err, out)
	}
	list, err := runTool(t, time.Minute, "certutil", "-L", "-d", db)
	if err != nil {
		t.Fatal(err)
	}
	root := l.root.Cert.Subject.CommonName
	for _, line := range strings.Split(list, "\n") {
		if strings.HasPrefix(line, root) && !strings.HasSuffix(strings.TrimSpace(line), ",,") {
			t.Errorf("the root came in trusted: %q", line)
		}
	}
	if !strings.Contains(list, root) || !strings.Contains(list, "u,u,u") {
		t.Errorf("certutil -L:\n%s", list)
	}
}
