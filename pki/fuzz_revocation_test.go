package pki

import (
	"bytes"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// FuzzOCSPRespond: whatever bytes arrive as an OCSP request, the
// responder answers with an OCSP response that parses (an error response
// for anything but a well-formed request about its own CA), never panics,
// and says "revoked" only for the revoked serial.
func FuzzOCSPRespond(f *testing.F) {
	root, iss := mustRootCA(f, Request{CommonName: "fuzz CA", KeyType: ECDSAP256, Validity: Day})
	leaf, err := iss.Issue(Request{Kind: KindClient, CommonName: "x", KeyType: ECDSAP256, Validity: Day / 2})
	if err != nil {
		f.Fatal(err)
	}
	good, _ := ocsp.CreateRequest(leaf.Cert, root.Cert, nil)
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Add(bytes.Repeat([]byte{0x30, 0x80}, 64))
	revoked := leaf.Cert.SerialNumber
	r := &OCSPResponder{Issuer: iss, Status: func(s *big.Int) (OCSPStatus, error) {
		return OCSPStatus{Known: true, Revoked: s.Cmp(revoked) == 0, RevokedAt: time.Now().Add(-time.Hour)}, nil
	}}
	f.Fuzz(func(t *testing.T, req []byte) {
		out, rerr := r.Respond(req)
		resp, err := ocsp.ParseResponse(out, nil)
		if err != nil {
			if _, ok := err.(ocsp.ResponseError); !ok {
				t.Fatalf("answer does not parse: %v (request error %v)", err, rerr)
			}
			if rerr == nil {
				t.Fatal("an error answer without an error")
			}
			return
		}
		if rerr != nil {
			t.Fatalf("a signed answer with an error: %v", rerr)
		}
		if (resp.Status == ocsp.Revoked) != (resp.SerialNumber.Cmp(revoked) == 0) {
			t.Fatalf("serial %x answered %d", resp.SerialNumber, resp.Status)
		}
	})
}

// FuzzParseCRLs: outside input (verify --crl): every CRL returned parses,
// and an error is one line.
func FuzzParseCRLs(f *testing.F) {
	_, iss := mustRootCA(f, Request{CommonName: "fuzz CA", KeyType: ECDSAP256, Validity: Day})
	der, _, err := MakeCRL(iss, nil, 1, time.Now(), time.Now().Add(Day))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(der)
	f.Add([]byte("-----BEGIN X509 CRL-----\nMIIB\n-----END X509 CRL-----\n"))
	f.Add([]byte("not a CRL"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ders, err := ParseCRLs(data)
		oneLineErr(t, err)
		if err == nil && len(ders) == 0 {
			t.Fatal("no CRL and no error")
		}
		for _, d := range ders {
			if _, err := ParseCRLs(d); err != nil {
				t.Fatalf("a returned CRL does not parse again: %v", err)
			}
		}
	})
}
