package harness

import (
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mtlskit/mtlskit/pki"
)

// RevocationLayer is the evidence of a revocation check the run made
// possible: where the server certificate said its CRL and OCSP responder
// are (a service the encounter ran on loopback), and how often the
// client asked each.
type RevocationLayer struct {
	CRLURL       string `json:"crl_url"`
	OCSPURL      string `json:"ocsp_url"`
	CRLFetches   int    `json:"crl_fetches"`
	OCSPRequests int    `json:"ocsp_requests"`
}

// Asked reports whether the client asked either.
func (r *RevocationLayer) Asked() bool { return r.CRLFetches+r.OCSPRequests > 0 }

// revocationService is the CRL and OCSP service one server-revoked
// encounter runs: it answers for the run's leaf issuer, knows one revoked
// serial (the certificate it minted), and counts what it was asked.
type revocationService struct {
	srv     *http.Server
	base    string
	issuer  *pki.Issuer
	revoked *big.Int
	crl     []byte

	mu sync.Mutex
	ev RevocationLayer
}

// startRevocationService listens on 127.0.0.1 and serves the issuer's
// CRL and OCSP answers, bounded like `mtlskit serve`.
func startRevocationService(iss *pki.Issuer, timeout time.Duration) (*revocationService, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("the revocation service cannot listen: %v", err)
	}
	s := &revocationService{issuer: iss, base: "http://" + ln.Addr().String()}
	s.ev.CRLURL, s.ev.OCSPURL = s.base+"/crl.der", s.base+"/ocsp"
	handler := &pki.RevocationService{
		OCSP: &pki.OCSPResponder{Issuer: iss, Status: func(serial *big.Int) (pki.OCSPStatus, error) {
			if s.revoked != nil && serial.Cmp(s.revoked) == 0 {
				return pki.OCSPStatus{Known: true, Revoked: true, RevokedAt: time.Now().Add(-time.Hour), Reason: pki.ReasonKeyCompromise}, nil
			}
			return pki.OCSPStatus{}, nil
		}},
		CRL: func(name string) ([]byte, bool) { return s.crl, name == "crl" && s.crl != nil },
		Observe: func(_, path string) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if path == "/crl.der" || path == "/crl.pem" {
				s.ev.CRLFetches++
			} else {
				s.ev.OCSPRequests++
			}
		},
	}
	s.srv = &http.Server{Handler: handler, ReadHeaderTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout,
		MaxHeaderBytes: 8 << 10, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// mintRevoked issues a server certificate for localhost naming this
// service as its CRL distribution point and OCSP responder, revokes it,
// and returns it with the CRL that lists it.
func (s *revocationService) mintRevoked() (*pki.Issued, []byte, error) {
	sans, err := pki.ParseSANs("localhost,127.0.0.1,::1")
	if err != nil {
		return nil, nil, err
	}
	leaf, err := s.issuer.Issue(pki.Request{Kind: pki.KindServer, KeyType: pki.ECDSAP256, SANs: sans, Validity: pki.Day / 2,
		CRLURLs: []string{s.ev.CRLURL}, OCSPURLs: []string{s.ev.OCSPURL}})
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	crl, _, err := pki.MakeCRL(s.issuer, []pki.Revocation{revocationOf(leaf, now)}, 1, now.Add(-pki.Backdate), now.Add(pki.Day))
	if err != nil {
		return nil, nil, err
	}
	s.revoked, s.crl = leaf.Cert.SerialNumber, crl
	return leaf, crl, nil
}

// evidence is what the client asked of the service.
func (s *revocationService) evidence() *RevocationLayer {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := s.ev
	return &ev
}

func (s *revocationService) close() { _ = s.srv.Close() }

// revocationNote says, for a scenario whose peer certificate was
// revoked, what the judged party did about it: whether it fetched the
// CRL or asked the OCSP responder the run served (the evidence is only
// what the service saw; a CRL handed over as a file is not counted).
func revocationNote(v Verdict, judged Party) string {
	r := v.Revocation
	if r == nil {
		return ""
	}
	var where []string
	if r.CRLURL != "" {
		where = append(where, "fetched the CRL ("+r.CRLURL+")")
	}
	if r.OCSPURL != "" {
		where = append(where, "asked the OCSP responder ("+r.OCSPURL+")")
	}
	if !r.Asked() {
		return fmt.Sprintf("; it never %s: this %s does not check revocation", strings.Join(where, " nor "), judged)
	}
	return fmt.Sprintf("; it fetched the CRL %d time(s) and asked the OCSP responder %d time(s), and accepted the certificate anyway", r.CRLFetches, r.OCSPRequests)
}
