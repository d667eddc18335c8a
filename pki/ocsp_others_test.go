package pki

import (
	"math/big"
	"testing"

	"golang.org/x/crypto/ocsp"
)

// TestOCSPResponderAnswersForItsOthers: one responder URL for a root and
// its intermediate (what a server configured with one responder asks
// about every client): a request about the intermediate's leaf is
// answered, signed by the intermediate, and checks against it with
// x/crypto/ocsp; a request about an unrelated CA's leaf is unauthorized.
func TestOCSPResponderAnswersForItsOthers(t *testing.T) {
	_, root := mustRootCA(t, Request{CommonName: "others root", KeyType: ECDSAP256, MaxPathLen: 1, Validity: Day})
	interIssued, err := root.Issue(Request{Kind: KindIntermediate, CommonName: "others intermediate", KeyType: ECDSAP256, Validity: Day})
	if err != nil {
		t.Fatal(err)
	}
	inter, err := interIssued.Issuer()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := inter.Issue(Request{Kind: KindClient, CommonName: "via intermediate", KeyType: ECDSAP256, Validity: Day / 2})
	if err != nil {
		t.Fatal(err)
	}
	_, stranger := mustRootCA(t, Request{CommonName: "stranger", KeyType: ECDSAP256, Validity: Day})
	strangerLeaf, err := stranger.Issue(Request{Kind: KindClient, CommonName: "s", KeyType: ECDSAP256, Validity: Day / 2})
	if err != nil {
		t.Fatal(err)
	}
	good := func(*big.Int) (OCSPStatus, error) { return OCSPStatus{Known: true}, nil }
	r := &OCSPResponder{Issuer: root, Status: good, Others: []*OCSPResponder{{Issuer: inter, Status: good}}}

	req, _ := ocsp.CreateRequest(leaf.Cert, inter.Cert, nil)
	out, err := r.Respond(req)
	if err != nil {
		t.Fatalf("intermediate's leaf: %v", err)
	}
	resp, err := ocsp.ParseResponseForCert(out, leaf.Cert, inter.Cert)
	if err != nil || resp.Status != ocsp.Good || resp.SerialNumber.Cmp(leaf.Cert.SerialNumber) != 0 {
		t.Fatalf("intermediate's leaf: %+v, %v", resp, err)
	}

	req, _ = ocsp.CreateRequest(strangerLeaf.Cert, stranger.Cert, nil)
	out, err = r.Respond(req)
	if err == nil {
		t.Fatal("a stranger's leaf was answered")
	}
	if _, perr := ocsp.ParseResponse(out, nil); perr != (ocsp.ResponseError{Status: ocsp.Unauthorized}) {
		t.Fatalf("a stranger's leaf: %v, want unauthorized", perr)
	}
}
