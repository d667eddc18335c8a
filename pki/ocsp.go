package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"
)

// oidOCSPNoCheck is id-pkix-ocsp-nocheck (RFC 6960 4.2.2.2.1): a client
// need not check the revocation of the responder's own certificate.
var oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// DefaultOCSPValidity is how long an OCSP answer is valid (NextUpdate).
const DefaultOCSPValidity = time.Hour

// MaxOCSPRequest bounds an OCSP request's size (a real one is ~100 bytes).
const MaxOCSPRequest = 16 << 10

// NewOCSPSigner issues, in memory, a delegated OCSP signing certificate
// for iss (RFC 6960 4.2.2.2: issued by the CA, extended key usage
// OCSPSigning, digitalSignature, with id-pkix-ocsp-nocheck) valid for
// validity.
func NewOCSPSigner(iss *Issuer, validity time.Duration) (*Issued, error) {
	key, err := GenerateKey(ECDSAP256)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	serial, err := NewSerial()
	if err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(validity)
	if notAfter.After(iss.Cert.NotAfter) {
		notAfter = iss.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: iss.Cert.Subject.CommonName + " OCSP responder"},
		NotBefore:             now.Add(-Backdate),
		NotAfter:              notAfter,
		SubjectKeyId:          ski,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
		BasicConstraintsValid: true,
		ExtraExtensions:       []pkix.Extension{{Id: oidOCSPNoCheck, Value: asn1.NullBytes}},
	}
	cert, err := sign(tmpl, iss.Cert, key.Public(), iss.Key)
	if err != nil {
		return nil, err
	}
	return &Issued{Cert: cert, Key: key, Chain: []*x509.Certificate{iss.Cert}}, nil
}

// OCSPStatus is what a responder says of one serial.
type OCSPStatus struct {
	// Known is false for a serial the CA never issued (or the store does
	// not list): the answer is "unknown".
	Known     bool
	Revoked   bool
	RevokedAt time.Time
	Reason    RevocationReason
}

// OCSPResponder answers RFC 6960 requests about the certificates one CA
// issued, signed by a delegated responder certificate. It is an
// http.Handler for POST (application/ocsp-request) and GET /BASE64.
type OCSPResponder struct {
	Issuer *Issuer
	// Signer is the delegated responder (NewOCSPSigner); nil signs with
	// the CA itself.
	Signer *Issued
	// Status looks up a serial; it is called for every request, so a
	// revocation made while the responder runs is answered at once.
	Status func(serial *big.Int) (OCSPStatus, error)
	// Validity is NextUpdate-ThisUpdate (DefaultOCSPValidity when 0).
	Validity time.Duration
	// Observe, when set, is told each answered serial and status (for
	// tests and logs).
	Observe func(serial *big.Int, status string)
	// Others answer for other CAs at the same URL (a root and its
	// intermediate behind one responder URL, as a server configured with
	// one responder for every client asks it): a request naming one of
	// their CAs goes to it.
	Others []*OCSPResponder
}

// Respond answers one DER OCSP request. Outside input: a malformed
// request gets the malformedRequest error response, a request about
// another CA's certificates unauthorized; the error says why (for logs),
// the bytes are what to send.
func (r *OCSPResponder) Respond(der []byte) ([]byte, error) {
	req, err := ocsp.ParseRequest(der)
	if err != nil {
		return ocsp.MalformedRequestErrorResponse, err
	}
	if !r.issuedBy(req) {
		for _, o := range r.Others {
			if o.issuedBy(req) {
				return o.Respond(der)
			}
		}
		return ocsp.UnauthorizedErrorResponse, errors.New("the request names another CA")
	}
	st, err := r.Status(req.SerialNumber)
	if err != nil {
		return ocsp.InternalErrorErrorResponse, err
	}
	now := time.Now().UTC().Truncate(time.Second)
	validity := r.Validity
	if validity <= 0 {
		validity = DefaultOCSPValidity
	}
	tmpl := ocsp.Response{SerialNumber: req.SerialNumber, ThisUpdate: now, NextUpdate: now.Add(validity), Status: ocsp.Good}
	word := "good"
	switch {
	case !st.Known:
		tmpl.Status, word = ocsp.Unknown, "unknown"
	case st.Revoked:
		tmpl.Status, tmpl.RevokedAt, tmpl.RevocationReason, word = ocsp.Revoked, st.RevokedAt.UTC(), int(st.Reason), "revoked"
	}
	signerCert, signerKey := r.Issuer.Cert, r.Issuer.Key
	if r.Signer != nil {
		signerCert, signerKey = r.Signer.Cert, r.Signer.Key
		tmpl.Certificate = r.Signer.Cert
	}
	out, err := ocsp.CreateResponse(r.Issuer.Cert, signerCert, tmpl, signerKey)
	if err != nil {
		return ocsp.InternalErrorErrorResponse, err
	}
	if r.Observe != nil {
		r.Observe(req.SerialNumber, word)
	}
	return out, nil
}

// issuedBy checks the request's issuer hashes against the CA.
func (r *OCSPResponder) issuedBy(req *ocsp.Request) bool {
	h := req.HashAlgorithm
	if !h.Available() {
		return false
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(r.Issuer.Cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		return false
	}
	keyHash := hashOf(h, spki.PublicKey.RightAlign())
	nameHash := hashOf(h, r.Issuer.Cert.RawSubject)
	return bytes.Equal(keyHash, req.IssuerKeyHash) && bytes.Equal(nameHash, req.IssuerNameHash)
}

func hashOf(h crypto.Hash, b []byte) []byte {
	w := h.New()
	w.Write(b)
	return w.Sum(nil)
}

// ServeHTTP answers POST with the request as body (at most
// MaxOCSPRequest bytes) and GET with the URL-encoded base64 request as
// the path, after an optional /ocsp/ (RFC 6960 appendix A.1).
func (r *OCSPResponder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var der []byte
	switch req.Method {
	case http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(req.Body, MaxOCSPRequest+1))
		if err != nil {
			http.Error(w, "reading the request failed", http.StatusBadRequest)
			return
		}
		if len(body) > MaxOCSPRequest {
			http.Error(w, "OCSP request too large", http.StatusRequestEntityTooLarge)
			return
		}
		der = body
	case http.MethodGet:
		// The request is everything after the responder's path (which
		// RevocationService mounts at /ocsp/): base64 may hold '/', sent
		// raw or as %2F.
		elem := strings.TrimPrefix(req.URL.EscapedPath(), "/")
		elem = strings.TrimPrefix(elem, "ocsp/")
		if len(elem) > 2*MaxOCSPRequest {
			http.Error(w, "OCSP request too large", http.StatusRequestURITooLong)
			return
		}
		unescaped, err := url.PathUnescape(elem)
		if err == nil {
			der, err = base64.StdEncoding.DecodeString(unescaped)
		}
		if err != nil {
			der = nil // malformedRequest below
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "OCSP takes GET or POST", http.StatusMethodNotAllowed)
		return
	}
	out, _ := r.Respond(der)
	w.Header().Set("Content-Type", "application/ocsp-response")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(out)
}

// OCSPStatusFunc is a Status for an OCSPResponder answering for the
// store's issuing CA: a serial the index lists (issued by that CA) is
// good unless revoked; any other is unknown. The index is read on every
// call, so `mtlskit revoke` takes effect at once.
func (s *Store) OCSPStatusFunc(iss *Issuer) func(*big.Int) (OCSPStatus, error) {
	issuerCN := iss.Cert.Subject.CommonName
	return func(serial *big.Int) (OCSPStatus, error) {
		idx, err := s.readIndex()
		if err != nil {
			return OCSPStatus{}, err
		}
		hexSerial := hex.EncodeToString(serial.Bytes())
		for _, e := range idx.Entries {
			if e.Serial != hexSerial || e.Kind.IsCA() || e.Issuer != issuerCN {
				continue
			}
			st := OCSPStatus{Known: true}
			if r := idx.revocation(e.Serial); r != nil {
				st.Revoked, st.RevokedAt, st.Reason = true, r.At, r.Reason
			}
			return st, nil
		}
		return OCSPStatus{}, nil
	}
}
