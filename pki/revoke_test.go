package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// revocationStore is a store with an intermediate, CDP and OCSP URLs, a
// server and two clients (alice revoked for keyCompromise, bob not), and
// its CRLs written.
func revocationStore(t *testing.T) (*Store, map[string]*Issued) {
	t.Helper()
	st := OpenStore(filepath.Join(t.TempDir(), "pki"))
	if _, err := st.Init(InitOptions{KeyType: ECDSAP256, Intermediate: true,
		CRLURL: "http://127.0.0.1:9/crl.der", OCSPURL: "http://127.0.0.1:9/ocsp"}); err != nil {
		t.Fatal(err)
	}
	out := map[string]*Issued{}
	for _, r := range []Request{
		{Kind: KindServer, SANs: SANs{DNS: []string{"localhost"}}},
		{Kind: KindClient, CommonName: "alice"},
		{Kind: KindClient, CommonName: "bob"},
	} {
		e, iss, err := st.Issue(r, IssueOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name] = iss
	}
	if _, err := st.Revoke(RevokeOptions{Name: "alice", Reason: ReasonKeyCompromise}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.WriteCRL(CRLOptions{}); err != nil {
		t.Fatal(err)
	}
	return st, out
}

// TestRevokeRecordsOnceAndListsIt: a revocation is in the index, shown by
// List and Get, and revoking twice, a CA, or nothing are typed errors.
func TestRevokeRecordsOnceAndListsIt(t *testing.T) {
	st, _ := revocationStore(t)
	e, err := st.Get("alice")
	if err != nil || e.Revoked == nil || e.Revoked.Reason != ReasonKeyCompromise || e.Revoked.ReasonName != "keyCompromise" {
		t.Fatalf("alice: %+v %v", e, err)
	}
	if e, _ := st.Get("bob"); e.Revoked != nil {
		t.Fatalf("bob is revoked: %+v", e.Revoked)
	}
	for _, c := range []struct {
		opts RevokeOptions
		is   error
	}{
		{RevokeOptions{Name: "alice"}, ErrAlreadyRevoked},
		{RevokeOptions{Serial: e.Serial}, ErrAlreadyRevoked},
		{RevokeOptions{Name: "root"}, ErrNotRevocable},
		{RevokeOptions{Name: "nobody"}, ErrNotFound},
		{RevokeOptions{Serial: "01"}, ErrNotFound},
	} {
		if _, err := st.Revoke(c.opts); !errors.Is(err, c.is) {
			t.Errorf("%+v: %v, want %v", c.opts, err, c.is)
		}
	}
	bob, _ := st.Get("bob")
	if r, err := st.Revoke(RevokeOptions{Serial: strings.ToUpper(bob.Serial), Reason: ReasonSuperseded}); err != nil || r.Name != "bob" {
		t.Errorf("revoke by serial: %+v %v", r, err)
	}
	// The index never stores the derived field in its entries.
	data, _ := os.ReadFile(filepath.Join(st.Dir, "index.json"))
	if bytes.Count(data, []byte(`"revoked_at"`)) != 2 {
		t.Errorf("index.json holds %d revocations, want 2:\n%s", bytes.Count(data, []byte(`"revoked_at"`)), data)
	}
}

// TestCRLIsReadByOpenSSLAndGo: the CRLs verify with openssl against
// their issuers, Go parses them and checks their signature, CRL numbers
// increase, zlint finds nothing, and openssl verify -crl_check_all
// refuses the revoked client and accepts the other.
func TestCRLIsReadByOpenSSLAndGo(t *testing.T) {
	st, leaves := revocationStore(t)
	files, err := st.WriteCRL(CRLOptions{NextUpdate: 2 * Day})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].Number != 2 || files[1].Number != 2 || files[0].Entries != 1 || files[1].Entries != 0 {
		t.Fatalf("second CRLs: %+v", files)
	}
	iss, _ := st.Issuer(nil)
	der, _ := os.ReadFile(st.Path(files[0].DER))
	crl, err := x509.ParseRevocationList(der)
	if err != nil || crl.CheckSignatureFrom(iss.Cert) != nil || crl.Number.Int64() != 2 || len(crl.RevokedCertificateEntries) != 1 ||
		crl.RevokedCertificateEntries[0].SerialNumber.Cmp(leaves["alice"].Cert.SerialNumber) != 0 || crl.RevokedCertificateEntries[0].ReasonCode != 1 ||
		!bytes.Equal(crl.AuthorityKeyId, iss.Cert.SubjectKeyId) || crl.NextUpdate.Sub(crl.ThisUpdate) != 2*Day {
		t.Fatalf("Go reads: %v %+v", err, crl)
	}
	for _, f := range files {
		d, _ := os.ReadFile(st.Path(f.DER))
		if fs := LintCRL(d); len(fs) != 0 {
			t.Errorf("zlint on %s: %v", f.DER, fs)
		}
	}
	for _, name := range []string{"localhost", "alice"} {
		if fs := Lint(leaves[name].Cert); len(fs) != 0 {
			t.Errorf("zlint on %s (with CDP and AIA): %v", name, fs)
		}
	}
	requireTool(t, "openssl")
	root, _ := st.Root()
	dir := t.TempDir()
	inter := writeTemp(t, dir, "inter.pem", certFile(iss.Cert))
	rootPEM := writeTemp(t, dir, "root.pem", certFile(root))
	if out, err := runOpenSSL(t, "crl", "-in", st.Path(files[0].PEM), "-CAfile", inter, "-noout", "-verify"); err != nil || !strings.Contains(out, "verify OK") {
		t.Errorf("openssl crl -verify (intermediate's): %v %s", err, out)
	}
	if out, err := runOpenSSL(t, "crl", "-in", st.Path(files[1].PEM), "-CAfile", rootPEM, "-noout", "-verify"); err != nil || !strings.Contains(out, "verify OK") {
		t.Errorf("openssl crl -verify (root's): %v %s", err, out)
	}
	pemA, _ := os.ReadFile(st.Path(files[0].PEM))
	pemB, _ := os.ReadFile(st.Path(files[1].PEM))
	crls := writeTemp(t, dir, "crls.pem", append(pemA, pemB...))
	for name, ok := range map[string]bool{"alice": false, "bob": true, "localhost": true} {
		leaf := writeTemp(t, dir, name+".pem", certFile(leaves[name].Cert))
		out, err := runOpenSSL(t, "verify", "-crl_check_all", "-CAfile", rootPEM, "-untrusted", inter, "-CRLfile", crls, leaf)
		if (err == nil) != ok || (!ok && !strings.Contains(out, "certificate revoked")) {
			t.Errorf("openssl verify -crl_check_all %s: %v %s", name, err, out)
		}
	}
}

func certFile(c *x509.Certificate) []byte { return EncodeCertsPEM(c) }

// TestOCSPResponderAnswersOpenSSL: `openssl ocsp` gets good, revoked (with
// its reason) and unknown from the store's responder, signed by a
// delegated OCSPSigning certificate it verifies; a revocation made while
// it serves is answered at once; hostile requests get error answers.
func TestOCSPResponderAnswersOpenSSL(t *testing.T) {
	requireTool(t, "openssl")
	st, leaves := revocationStore(t)
	iss, err := st.Issuer(nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := NewOCSPSigner(iss, Day)
	if err != nil {
		t.Fatal(err)
	}
	if fs := Lint(signer.Cert); len(fs) != 0 {
		t.Errorf("zlint on the OCSP signer: %v", fs)
	}
	var seen []string
	resp := &OCSPResponder{Issuer: iss, Signer: signer, Status: st.OCSPStatusFunc(iss), Observe: func(_ *big.Int, s string) { seen = append(seen, s) }}
	url := serveLoopback(t, &RevocationService{OCSP: resp, CRL: st.CRLFileFunc()})
	dir := t.TempDir()
	inter := writeTemp(t, dir, "inter.pem", certFile(iss.Cert))
	root, _ := st.Root()
	rootPEM := writeTemp(t, dir, "root.pem", certFile(root))
	ask := func(args ...string) string {
		t.Helper()
		out, err := runOpenSSL(t, append([]string{"ocsp", "-issuer", inter, "-url", url + "/ocsp", "-CAfile", rootPEM, "-resp_text"}, args...)...)
		if err != nil {
			t.Fatalf("openssl ocsp %v: %v\n%s", args, err, out)
		}
		return out
	}
	alice := writeTemp(t, dir, "alice.pem", certFile(leaves["alice"].Cert))
	bob := writeTemp(t, dir, "bob.pem", certFile(leaves["bob"].Cert))
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"-cert", alice}, []string{"Response verify OK", alice + ": revoked", "Revocation Reason: keyCompromise (0x1)"}},
		{[]string{"-cert", bob}, []string{"Response verify OK", bob + ": good"}},
		{[]string{"-serial", "0x1234abcd"}, []string{"Response verify OK", "0x1234abcd: unknown"}},
	} {
		out := ask(c.args...)
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: no %q in\n%s", c.args, w, out)
			}
		}
	}
	if _, err := st.Revoke(RevokeOptions{Name: "bob", Reason: ReasonCessationOfOperation}); err != nil {
		t.Fatal(err)
	}
	if out := ask("-cert", bob); !strings.Contains(out, bob+": revoked") {
		t.Errorf("bob after revoke:\n%s", out)
	}
	if fmt.Sprint(seen) != "[revoked good unknown revoked]" {
		t.Errorf("observed %v", seen)
	}

	// GET with the base64 request in the path (RFC 6960 A.1).
	req, _ := ocsp.CreateRequest(leaves["localhost"].Cert, iss.Cert, nil)
	b64 := base64.StdEncoding.EncodeToString(req)
	for _, path := range []string{b64, neturl.PathEscape(b64)} {
		r, err := httpClient().Get(url + "/ocsp/" + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if got, err := ocsp.ParseResponseForCert(body, leaves["localhost"].Cert, iss.Cert); err != nil || got.Status != ocsp.Good {
			t.Errorf("GET %s: %v %+v", path, err, got)
		}
	}
	// Hostile input: garbage, another CA's certificate, a huge body.
	for name, c := range map[string]struct {
		body   []byte
		status int
		answer []byte
	}{
		"garbage":    {[]byte("not DER"), 200, ocsp.MalformedRequestErrorResponse},
		"another CA": {otherCARequest(t), 200, ocsp.UnauthorizedErrorResponse},
		"huge":       {make([]byte, MaxOCSPRequest+1), http.StatusRequestEntityTooLarge, nil},
	} {
		r, err := httpClient().Post(url+"/ocsp", "application/ocsp-request", bytes.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != c.status || (c.answer != nil && !bytes.Equal(b, c.answer)) {
			t.Errorf("%s: %d %x", name, r.StatusCode, b)
		}
	}
}

// otherCARequest is an OCSP request about a certificate of another CA.
func otherCARequest(t *testing.T) []byte {
	root, iss := mustRootCA(t, Request{CommonName: "other", KeyType: ECDSAP256, Validity: Day})
	leaf, err := iss.Issue(Request{Kind: KindClient, CommonName: "x", KeyType: ECDSAP256, Validity: Day})
	if err != nil {
		t.Fatal(err)
	}
	req, err := ocsp.CreateRequest(leaf.Cert, root.Cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func httpClient() *http.Client { return &http.Client{Timeout: 5 * time.Second} }

// serveLoopback serves h on 127.0.0.1 until the test ends and returns
// its http:// base URL.
func serveLoopback(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestCRLNumbersNeverRepeat: every WriteCRL takes the next number, and a
// new CA starts afresh.
func TestCRLNumbersNeverRepeat(t *testing.T) {
	st, _ := revocationStore(t)
	var last int64 = 1
	for range 3 {
		fs, err := st.WriteCRL(CRLOptions{})
		if err != nil || fs[0].Number != last+1 {
			t.Fatalf("%+v %v, want number %d", fs, err, last+1)
		}
		last = fs[0].Number
	}
	ca, err := st.CA()
	if err != nil || ca.CRLNumber != last || ca.CRLURL != "http://127.0.0.1:9/crl.der" {
		t.Fatalf("%+v %v", ca, err)
	}
	if _, err := st.Init(InitOptions{KeyType: ECDSAP256, Force: true}); err != nil {
		t.Fatal(err)
	}
	fs, err := st.WriteCRL(CRLOptions{})
	if err != nil || len(fs) != 1 || fs[0].Number != 1 || fs[0].Entries != 0 {
		t.Fatalf("new CA: %+v %v", fs, err)
	}
}

// TestRevocationURLsAreChecked: only http:// URLs with a host go into
// certificates; nothing is written otherwise.
func TestRevocationURLsAreChecked(t *testing.T) {
	for _, u := range []string{"https://127.0.0.1/crl", "ldap://x/crl", "http://", "/crl.der", "http//x"} {
		st := OpenStore(filepath.Join(t.TempDir(), "pki"))
		if _, err := st.Init(InitOptions{KeyType: ECDSAP256, CRLURL: u}); !errors.Is(err, ErrBadRevocationURL) || st.HasCA() {
			t.Errorf("%q: %v (CA written: %v)", u, err, st.HasCA())
		}
	}
}

func TestParseRevocationReason(t *testing.T) {
	for in, want := range map[string]RevocationReason{"": ReasonUnspecified, "keycompromise": ReasonKeyCompromise, "Superseded": ReasonSuperseded, "cessationOfOperation": ReasonCessationOfOperation} {
		if got, err := ParseRevocationReason(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"cACompromise", "certificateHold", "x"} {
		if _, err := ParseRevocationReason(in); !errors.Is(err, ErrUnknownReason) {
			t.Errorf("%q: %v", in, err)
		}
	}
}

// revocationCheck is the revocation check(s) of a diagnosis.
func revocationChecks(r Report) []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.ID == CheckRevocation {
			out = append(out, c)
		}
	}
	return out
}

// TestDiagnoseRevocation: the revocation check reads CRLs given by hand,
// fetches the distribution point, asks the OCSP responder, and says what
// it could not check; every case is one row.
func TestDiagnoseRevocation(t *testing.T) {
	st, leaves := revocationStore(t)
	iss, _ := st.Issuer(nil)
	root, _ := st.Root()
	crl, _ := st.CRLFileFunc()("crl")
	rootCRL, _ := st.CRLFileFunc()("root-crl")
	signer, _ := NewOCSPSigner(iss, Day)
	svc := &RevocationService{OCSP: &OCSPResponder{Issuer: iss, Signer: signer, Status: st.OCSPStatusFunc(iss)}, CRL: st.CRLFileFunc()}
	base := serveLoopback(t, svc)
	// Leaves whose CDP/AIA point at the test's service.
	reissue := func(name string, crlURL, ocspURL []string) *Issued {
		iss2 := *iss
		iss2.CRLURLs, iss2.OCSPURLs = crlURL, ocspURL
		r := Request{Kind: KindClient, CommonName: name, KeyType: ECDSAP256}
		l, err := iss2.Issue(r)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	good := reissue("carol", []string{base + "/crl.der"}, nil)
	ocspOnly := reissue("dave", nil, []string{base + "/ocsp"})
	fetch := func(url string, body []byte) ([]byte, error) {
		var r *http.Response
		var err error
		if body == nil {
			r, err = httpClient().Get(url)
		} else {
			r, err = httpClient().Post(url, "application/ocsp-request", bytes.NewReader(body))
		}
		if err != nil {
			return nil, err
		}
		defer r.Body.Close()
		return io.ReadAll(r.Body)
	}
	otherRoot, _ := mustRootCA(t, Request{CommonName: "other", KeyType: ECDSAP256, Validity: Day})
	otherIss, _ := otherRoot.Issuer()
	otherCRL, _, _ := MakeCRL(otherIss, nil, 1, time.Now(), time.Now().Add(Day))
	expired, _, _ := MakeCRL(iss, nil, 9, time.Now().Add(-3*Day), time.Now().Add(-Day))
	forged, _, _ := MakeCRL(&Issuer{Cert: iss.Cert, Key: otherIss.Key}, nil, 9, time.Now(), time.Now().Add(Day))
	for _, c := range []struct {
		name   string
		leaf   *Issued
		src    *RevocationSource
		status CheckStatus
		words  string
	}{
		{"no source: skipped", leaves["bob"], nil, StatusSkip, "not checked"},
		{"revoked in the CRL given", leaves["alice"], &RevocationSource{CRLs: [][]byte{crl, rootCRL}}, StatusFail, "revoked on"},
		{"not in the CRL given", leaves["bob"], &RevocationSource{CRLs: [][]byte{crl, rootCRL}}, StatusPass, "not revoked: the CRL given (#1) does not list it"},
		{"only another CA's CRL", leaves["bob"], &RevocationSource{CRLs: [][]byte{otherCRL}}, StatusWarn, "revocation could not be checked"},
		{"an expired CRL", leaves["bob"], &RevocationSource{CRLs: [][]byte{expired}}, StatusFail, "expired"},
		{"a CRL with another key's signature", leaves["bob"], &RevocationSource{CRLs: [][]byte{forged}}, StatusFail, "is not signed by"},
		{"fetched at the distribution point", good, &RevocationSource{Fetch: fetch}, StatusPass, "not revoked: the CRL at " + base + "/crl.der"},
		{"asked the OCSP responder", ocspOnly, &RevocationSource{Fetch: fetch}, StatusWarn, "the OCSP responder does not know this certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := Diagnose(Input{Chain: []*x509.Certificate{c.leaf.Cert, iss.Cert}, Roots: []*x509.Certificate{root}, Purpose: PurposeClient, NoLint: true, Revocation: c.src})
			got := revocationChecks(r)
			// A whole passing path is one check whose evidence names each.
			if len(got) == 0 || got[0].Status != c.status || !strings.Contains(got[0].Summary+strings.Join(got[0].Evidence, " "), c.words) {
				t.Errorf("%+v", got)
			}
		})
	}
	// A revocation only the OCSP responder tells: erin is in the index,
	// names no CRL, and is revoked.
	_, erin, err := st.Issue(Request{Kind: KindClient, CommonName: "erin", OCSPURLs: []string{base + "/ocsp"}}, IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Revoke(RevokeOptions{Name: "erin", Reason: ReasonAffiliationChanged}); err != nil {
		t.Fatal(err)
	}
	r := Diagnose(Input{Chain: []*x509.Certificate{erin.Cert, iss.Cert}, Roots: []*x509.Certificate{root}, Purpose: PurposeClient, NoLint: true, Revocation: &RevocationSource{Fetch: fetch}})
	if got := revocationChecks(r); len(got) == 0 || got[0].Status != StatusFail || !strings.Contains(got[0].Summary, "(affiliationChanged), says the OCSP responder") {
		t.Errorf("erin by OCSP: %+v", got)
	}
}

// TestAuditReportsRevocation: a revoked certificate is a warning (kept
// out of service), a revocation no CRL lists yet is a warning, an expired
// CRL fails the audit.
func TestAuditReportsRevocation(t *testing.T) {
	st, _ := revocationStore(t)
	if _, err := st.Revoke(RevokeOptions{Name: "bob"}); err != nil {
		t.Fatal(err)
	}
	entries, err := st.Audit(AuditOptions{NoLint: true})
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]AuditEntry{}
	for _, e := range entries {
		by[e.Name] = e
	}
	if c := revocationChecks(by["alice"].Report); len(c) == 0 || c[0].Status != StatusWarn || !strings.Contains(c[0].Summary, "keep it out of service") || by["alice"].Report.Failed() {
		t.Errorf("alice: %+v", c)
	}
	if c := revocationChecks(by["localhost"].Report); len(c) == 0 || c[0].Status != StatusPass {
		t.Errorf("localhost: %+v", c)
	}
	crl := by["crl"].Report
	if ws := crl.Warnings(); len(ws) != 1 || !strings.Contains(ws[0].Summary, "1 revocation(s) are on no CRL yet") || !strings.Contains(strings.Join(ws[0].Evidence, " "), "bob") {
		t.Errorf("crl entry: %+v", crl.Checks)
	}
	entries, _ = st.Audit(AuditOptions{NoLint: true, At: time.Now().Add(30 * Day)})
	for _, e := range entries {
		if e.Name == "crl" && !e.Report.Failed() {
			t.Errorf("a month later the CRLs have expired: %+v", e.Report.Checks)
		}
	}
}
