package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The fuzz targets below cover every parser of outside input in pki.
// Each checks properties of what it accepts, not only that it does not
// panic. Seed corpora are in testdata/fuzz/<FuzzName>/ (written by
// TestWriteFuzzSeeds: material made by this package and by openssl, plus
// tricky inputs); `make fuzz` runs each target for $(FUZZTIME).

// oneLineErr fails when an error message would not print as one line.
func oneLineErr(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.ContainsAny(err.Error(), "\r\n") {
		t.Fatalf("error is not one line: %q", err.Error())
	}
}

func FuzzParseSANs(f *testing.F) {
	for _, s := range []string{
		"localhost,127.0.0.1,::1", "spiffe://corp/alice,alice@example.com", "*.example.com",
		"local host", "*.*.example", "999.1.1.1", "-foo.example", strings.Repeat("a", 300) + ".example",
		"b\u00fccher.example", "under_score.example", "[::1]", "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
		"::ffff:10.0.0.1", "a@b@example.com", "\u212Aexample.com", "xn--bcher-kva.example", "1.2.3", "a..b", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		s, err := ParseSANs(list)
		oneLineErr(t, err)
		if err != nil {
			if !s.Empty() {
				t.Fatalf("error %v with names %v", err, s.Strings())
			}
			return
		}
		for _, d := range s.DNS {
			if e := checkDNSName(d, true); e != nil {
				t.Fatalf("accepted DNS name %q fails the check: %v", d, e)
			}
			if len(d) > 253 {
				t.Fatalf("accepted DNS name of %d characters", len(d))
			}
			for i, l := range strings.Split(d, ".") {
				if len(l) < 1 || len(l) > 63 {
					t.Fatalf("accepted DNS name %q has a label of %d characters", d, len(l))
				}
				if l == "*" && i != 0 {
					t.Fatalf("accepted DNS name %q has a non-leftmost wildcard", d)
				}
			}
			// The name certified is one the user typed, only lower-cased:
			// no other character may turn into ASCII on the way.
			if !strings.Contains(lowerASCII(list), d) {
				t.Fatalf("accepted DNS name %q is not in the input %q", d, list)
			}
			if d != strings.ToLower(d) {
				t.Fatalf("accepted DNS name %q is not lower case", d)
			}
			for _, r := range d {
				if r > 127 {
					t.Fatalf("accepted DNS name %q is not ASCII", d)
				}
			}
		}
		for _, ip := range s.IPs {
			if len(ip) != 4 && len(ip) != 16 {
				t.Fatalf("accepted IP of %d bytes", len(ip))
			}
		}
		// What was accepted must read back as the same names.
		out := s.Strings()
		again, err := ParseSANs(strings.Join(out, ","))
		if err != nil {
			t.Fatalf("Strings() %q does not parse again: %v", out, err)
		}
		if got := again.Strings(); strings.Join(got, "\x00") != strings.Join(out, "\x00") {
			t.Fatalf("round trip changed the names: %q -> %q", out, got)
		}
	})
}

func FuzzParseValidity(f *testing.F) {
	for _, s := range []string{"90d", "12h", "2y", "1w", "30m", "1h30m", "0d", "-1d", "290y", "291y",
		"18446744073709551615d", "59s", "1m", "1.5h", "9223372036854775807ns", " 3d ", "d", "y", "1e3h", "+5d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseValidity(s)
		oneLineErr(t, err)
		if err != nil {
			return
		}
		if d < minValidity || d > maxValidity {
			t.Fatalf("ParseValidity(%q) = %v, outside [1m, 290y]", s, d)
		}
		again, err := ParseValidity(FormatValidity(d))
		if err != nil || again != d {
			t.Fatalf("FormatValidity(%v) = %q reads back as %v, %v", d, FormatValidity(d), again, err)
		}
	})
}

func FuzzParseCerts(f *testing.F) {
	addFuzzMaterial(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCerts(data)
		if err != nil {
			if certs != nil {
				t.Fatal("certificates returned with an error")
			}
			return
		}
		if len(certs) == 0 {
			t.Fatal("no error and no certificate")
		}
		again, err := ParseCerts(EncodeCertsPEM(certs...))
		if err != nil || len(again) != len(certs) {
			t.Fatalf("re-encoded certificates do not parse: %v", err)
		}
		for i := range certs {
			if !bytes.Equal(again[i].Raw, certs[i].Raw) {
				t.Fatalf("certificate %d changed in a PEM round trip", i)
			}
		}
	})
}

func FuzzParseKey(f *testing.F) {
	addFuzzMaterial(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParsedKey(t, data, nil)
	})
}

// FuzzParseKeyPassphrase fuzzes ParseKey with a passphrase, for the
// encrypted PKCS#8 path (seeds use low PBKDF2 iteration counts).
func FuzzParseKeyPassphrase(f *testing.F) {
	for _, m := range fuzzMaterial(f) {
		f.Add(m, []byte("s3cret"))
	}
	f.Fuzz(func(t *testing.T, data, pass []byte) {
		if iterationsOver(data, 100000) {
			t.Skip("PBKDF2 iteration count too high for a fuzz run")
		}
		checkParsedKey(t, data, pass)
	})
}

func checkParsedKey(t *testing.T, data, pass []byte) {
	t.Helper()
	k, err := ParseKey(data, pass)
	if err != nil {
		if k != nil {
			t.Fatal("a key returned with an error")
		}
		return
	}
	if k.Public() == nil {
		t.Fatal("key without a public half")
	}
	if !KeyMatches(k, k.Public()) {
		t.Fatal("key does not match its own public key")
	}
	pemKey, err := EncodeKeyPEM(k)
	if err != nil {
		return // e.g. a key x509 reads but does not write
	}
	again, err := ParseKey(pemKey, nil)
	if err != nil || !KeyMatches(again, k.Public()) {
		t.Fatalf("re-encoded key does not read back: %v", err)
	}
}

func FuzzParseCSR(f *testing.F) {
	addFuzzMaterial(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		csr, err := ParseCSR(data)
		if err != nil {
			return
		}
		if err := csr.CheckSignature(); err != nil {
			t.Fatalf("accepted a request whose signature does not verify: %v", err)
		}
		again, err := ParseCSR(pem.EncodeToMemory(&pem.Block{Type: pemCSR, Bytes: csr.Raw}))
		if err != nil || !bytes.Equal(again.Raw, csr.Raw) {
			t.Fatalf("re-encoded request does not read back: %v", err)
		}
	})
}

func FuzzDecodePKCS12(f *testing.F) {
	for _, m := range fuzzMaterial(f) {
		f.Add(m, "s3cret")
		f.Add(m, "")
	}
	f.Fuzz(func(t *testing.T, data []byte, password string) {
		iss, root, err := DecodePKCS12(data, password)
		if err != nil {
			if iss != nil || root != nil {
				t.Fatal("results returned with an error")
			}
			return
		}
		if iss.Cert == nil || iss.Key == nil {
			t.Fatal("decoded without a certificate or a key")
		}
		if root != nil && !isSelfSigned(root) {
			t.Fatal("root is not self-signed")
		}
	})
}

func FuzzReadCertFile(f *testing.F) {
	addFuzzMaterial(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, c := ReadCertFile("f.pem", "--cert", data)
		checkParseCheck(t, c)
		switch c.Status {
		case StatusPass, StatusWarn:
			if len(certs) == 0 {
				t.Fatalf("%s without certificates", c.Status)
			}
		case StatusFail:
			if certs != nil {
				t.Fatal("failed with certificates")
			}
		default:
			t.Fatalf("status %q", c.Status)
		}
	})
}

func FuzzReadKeyFile(f *testing.F) {
	addFuzzMaterial(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		k, c := ReadKeyFile("k.pem", data)
		checkParseCheck(t, c)
		switch c.Status {
		case StatusPass:
			if k == nil {
				t.Fatal("pass without a key")
			}
		case StatusFail, StatusSkip:
			if k != nil {
				t.Fatalf("%s with a key", c.Status)
			}
		default:
			t.Fatalf("status %q", c.Status)
		}
	})
}

func checkParseCheck(t *testing.T, c Check) {
	t.Helper()
	if c.ID != CheckParse || c.Summary == "" {
		t.Fatalf("parse check incomplete: %+v", c)
	}
	if (c.Status == StatusFail && c.Fix == "") || (c.Status == StatusPass && c.Fix != "") {
		t.Fatalf("a failure needs a fix and a pass none: %+v", c)
	}
}

// FuzzDiagnose runs every check on fuzzed certificate bytes: the first
// certificate is the leaf, the last one is also given as the root.
func FuzzDiagnose(f *testing.F) {
	addFuzzMaterial(f)
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	known := map[string]bool{}
	for _, id := range CheckIDs() {
		known[id] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, parsed := ReadCertFile("f.pem", "--cert", data)
		if len(certs) == 0 {
			return
		}
		in := Input{Chain: certs, Roots: certs[len(certs)-1:], Host: "localhost", At: at,
			Parsed: []Check{parsed}, NoLint: len(data)%4 != 0}
		if len(data)%2 == 0 {
			in.Purpose = PurposeClient
		}
		r := Diagnose(in)
		if len(r.Checks) == 0 {
			t.Fatal("empty report")
		}
		for _, c := range r.Checks {
			if !known[c.ID] {
				t.Fatalf("unknown check ID %q", c.ID)
			}
			switch c.Status {
			case StatusPass, StatusFail, StatusWarn, StatusSkip:
			default:
				t.Fatalf("check %s: status %q", c.ID, c.Status)
			}
			if c.Summary == "" {
				t.Fatalf("check %s has no summary", c.ID)
			}
		}
		if r.GoVerify == "" {
			t.Fatal("roots were given but Go's verdict is missing")
		}
	})
}

// FuzzReadIndex feeds fuzzed index.json files to the store's reader: it
// must never panic, must give a one-line error, and what it accepts must
// be safe to use (paths inside the store) and survive a write and a read.
func FuzzReadIndex(f *testing.F) {
	f.Add([]byte(`{"version":1,"entries":[]}`))
	f.Add([]byte(`{"version":1,"entries":[{"name":"root","kind":"root","cert":"ca/root.pem","key":"ca/root-key.pem"},` +
		`{"name":"alice","kind":"client","serial":"0a","sans":[],"not_after":"2030-01-01T00:00:00Z","cert":"issued/alice/cert.pem","key":"issued/alice/key.pem","chain":"issued/alice/chain.pem"}]}`))
	f.Add([]byte(`{"version":1,"ca":{"crl_url":"http://x/crl","crl_number":3},"lint_signers":{"ab":"zlint v3.7.3 0a"},"revoked":[` + "\n" +
		`{"serial":"0a","name":"alice","revoked_at":"2026-01-02T03:04:05Z","reason_code":5,"reason":"cessationOfOperation","issuer_key_id":"ff","not_after":"2027-01-01T00:00:00.5+01:00"}` + "\n" +
		`],"entries":[` + "\n" + `{"name":"alice","kind":"client","serial":"0a","common_name":"al\u00e9 \"x\" <b>","sans":["spiffe://c/a"],"not_after":"2030-01-01T00:00:00.123456789Z",` +
		`"cert":"issued/alice/cert.pem","lint":{"by":"zlint v3.7.3 0a","findings":[{"id":"w_x","status":"warn","source":"Community","details":"d"}]},"extra":[1,2.5e3,true,{"a":false}]}` + "\n" + `]}`))
	// Renewals (renew.go): a chain of two, rekeyed, under a name that is a
	// prefix of another and is live; a record of a name no longer live;
	// and the fields encoding/json reads its own way (another case,
	// null, a repeat).
	f.Add([]byte(`{"version":1,"crc32c":"00000000","superseded":[{"name":"svc","kind":"server","serial":"5e0","sha256":"00",` +
		`"not_before":"2026-12-01T10:00:00Z","not_after":"2027-12-01T10:00:00Z","superseded_at":"2026-12-02T09:00:00.123456789Z","renewed_to":"5e1","rekeyed":false},` +
		`{"name":"svc","kind":"server","serial":"5e1","sha256":"01","not_before":"2026-12-02T09:00:00Z","not_after":"2027-12-02T09:00:00+01:00",` +
		`"renewed_from":"5e0","superseded_at":"2026-12-03T09:00:00Z","renewed_to":"5e2","rekeyed":true},` +
		`{"name":"gone","kind":"client\u00e9","serial":"0g","renewed_to":"0h","rekeyed":false,"x":[true]}],"entries":[` + "\n" +
		`{"name":"svc","kind":"server","serial":"5e2","cert":"issued/svc/cert.pem","renewed_from":"5e1"},` + "\n" +
		`{"name":"svc2","kind":"server","serial":"5f0","cert":"issued/svc2/cert.pem"}` + "\n" + `]}` + "\n"))
	f.Add([]byte(`{"version":1,"superseded":[{"Name":"a","rekeyed":null,"renewed_to":"1","renewed_to":"2"}],"entries":[]}`))
	f.Add([]byte(`{"version":1,"superseded":null,"entries":[]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"entries":[{"name":"x","kind":"client","cert":"../../etc/passwd"}]}`))
	f.Add([]byte(`{"version":1,"entries":[{"name":"x","kind":"client","cert":"/etc/passwd"}]}`))
	f.Add([]byte(`{"version":1,"entries":[{"name":"x\ny","kind":"weird","cert":"a"}]}`))
	f.Add([]byte(`{"version":1,"entries":[{"name":"x","kind":"server","not_before":"yesterday"}]}`))
	f.Add([]byte("{\"version\":1,\n\"entries\":[\n"))
	f.Add([]byte(""))
	f.Add([]byte("null"))
	f.Add([]byte(`[]`))
	f.Add([]byte{0xff, 0xfe, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := parseIndex("pki/index.json", string(data))
		oneLineErr(t, err)
		if err != nil {
			if !strings.Contains(err.Error(), "index pki/index.json") {
				t.Fatalf("error does not name the index: %v", err)
			}
			return
		}
		for _, e := range idx.Entries {
			for _, p := range []string{e.Cert, e.Key, e.Chain} {
				if p != "" && !localPath(p, false) {
					t.Fatalf("accepted path %q outside the store", p)
				}
			}
			if CheckName(e.Name) != nil {
				t.Fatalf("accepted name %q", e.Name)
			}
		}
		// The fast decoder reads what it accepts exactly as encoding/json
		// does, and what the index writer makes of it reads back the same.
		if fast, err := decodeIndexFast(string(data)); err == nil {
			slow, err := decodeIndexSlow(data)
			if err != nil {
				t.Fatalf("the fast decoder accepts what encoding/json refuses (%v)", err)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("fast and encoding/json decoding differ:\n%+v\n%+v", fast, slow)
			}
		}
		written := encodeIndex(&index{Version: idx.Version, CA: idx.CA, Revoked: idx.Revoked, Superseded: idx.Superseded, LintSigners: idx.LintSigners, Entries: idx.listed()})
		// The superseded records are written as encoding/json wrote them
		// (but a time outside years 0-9999, which it refuses and
		// jsonw writes as the zero time).
		if sup, err := json.Marshal(idx.Superseded); err == nil && len(idx.Superseded) > 0 &&
			!bytes.Contains(written, append([]byte(`,"superseded":`), sup...)) {
			t.Fatalf("the superseded records are not written as encoding/json writes them:\n%s\n%s", written, sup)
		}
		again, err := decodeIndexFast(string(written))
		if err != nil {
			t.Fatalf("the fast decoder refuses what the writer wrote (%v):\n%s", err, written)
		}
		if rewritten := encodeIndex(&again); !bytes.Equal(rewritten, written) {
			t.Fatalf("index changed across a write and a read:\n%s\n%s", written, rewritten)
		}
		// The single-name lookup reads what the writer wrote as the full
		// read does (the store writes the current version only:
		// prepareIndex), and leaves anything else to it.
		for _, e := range append(again.Entries, Entry{Name: "alice"}, Entry{Name: "x"}) {
			if again.Version != indexVersion {
				break
			}
			want := again.find(e.Name)
			if want != nil {
				want.Revoked = again.revocation(want.Serial)
			}
			got, err := lookupIndex(bytes.NewReader(written), e.Name)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("lookup %q of the written index = %+v, %v; the full read finds %+v", e.Name, got, err, want)
			}
		}
		if got, err := lookupIndex(bytes.NewReader(data), "alice"); err == nil && !bytes.Equal(data, written) {
			t.Fatalf("lookup accepted an index the writer did not write (%+v):\n%s", got, data)
		}
		// Finding and removing must not panic.
		idx.find("alice")
		idx.remove("alice")
	})
}

// iterationsOver reports whether data looks like an encrypted PKCS#8 key
// with a PBKDF2 iteration count above max. Only fuzzing uses it: real
// keys are the store's own (600,000 iterations).
func iterationsOver(data []byte, max int) bool {
	der := data
	if b, _ := pem.Decode(data); b != nil {
		der = b.Bytes
	}
	n, ok := pbkdf2Iterations(der)
	return ok && n > max
}

// fuzzSeedKinds make sure every fuzz seed set has certificates, keys and
// requests even before TestWriteFuzzSeeds has written files.
func fuzzMaterial(tb testing.TB) [][]byte {
	tb.Helper()
	root, err := NewRootCA(Request{CommonName: "fuzz Root CA", KeyType: ECDSAP256, Validity: 20 * Year})
	if err != nil {
		tb.Fatal(err)
	}
	ri, _ := root.Issuer()
	leaf, err := ri.Issue(Request{Kind: KindServer, SANs: SANs{DNS: []string{"localhost"}}, KeyType: ECDSAP256})
	if err != nil {
		tb.Fatal(err)
	}
	keyPEM, _ := EncodeKeyPEM(leaf.Key)
	csrDER, err := x509.CreateCertificateRequest(nil, &x509.CertificateRequest{DNSNames: []string{"a.example"}}, leaf.Key)
	if err != nil {
		tb.Fatal(err)
	}
	chain := EncodeCertsPEM(leaf.Cert, root.Cert)
	return [][]byte{
		chain, leaf.Cert.Raw, keyPEM,
		pem.EncodeToMemory(&pem.Block{Type: pemCSR, Bytes: csrDER}), csrDER,
		append(append([]byte{}, chain...), keyPEM...),
		chain[:len(chain)/2], {}, []byte("-----BEGIN"),
	}
}

func addFuzzMaterial(f *testing.F) {
	for _, m := range fuzzMaterial(f) {
		f.Add(m)
	}
}

func lowerASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}
