package harness

import (
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mtlskit/mtlskit/pki"
)

// runOCSP is the OCSP responder a server command that takes {ocsp} is
// pointed at (nginx ssl_ocsp_responder): on loopback for the whole run,
// answering for the run's root and intermediate at one URL, revoked for
// Materials.ClientRevoked and good for every other certificate they
// issued. It counts the requests, so a verdict can say whether the server
// asked.
type runOCSP struct {
	srv *http.Server
	url string
	// aboutRevoked counts the requests about ClientRevoked, which only
	// revoked-client presents: what its verdict can say was asked.
	aboutRevoked atomic.Int64
	// later holds the serials (hex) revoked while the run goes on
	// (client-revoked-during-connection): answered revoked from then on.
	later sync.Map
}

// revoke makes the responder answer revoked for serial from now on.
func (o *runOCSP) revoke(serial *big.Int) { o.later.Store(serial.Text(16), time.Now()) }

// startRunOCSP listens on 127.0.0.1 and answers for m's CAs, signing
// with each CA itself (RFC 6960 4.2.2.2 allows the CA as responder).
func startRunOCSP(m *Materials, timeout time.Duration) (*runOCSP, error) {
	if m.ClientRevoked == nil || m.leafIssuer == nil {
		return nil, fmt.Errorf("these materials have no revoked client to answer for")
	}
	revoked := m.ClientRevoked.Cert.SerialNumber
	o := &runOCSP{}
	status := func(serial *big.Int) (pki.OCSPStatus, error) {
		if serial.Cmp(revoked) == 0 {
			return pki.OCSPStatus{Known: true, Revoked: true, RevokedAt: time.Now().Add(-time.Hour), Reason: pki.ReasonKeyCompromise}, nil
		}
		if at, ok := o.later.Load(serial.Text(16)); ok {
			return pki.OCSPStatus{Known: true, Revoked: true, RevokedAt: at.(time.Time), Reason: pki.ReasonKeyCompromise}, nil
		}
		return pki.OCSPStatus{Known: true}, nil
	}
	observe := func(serial *big.Int, _ string) {
		if serial.Cmp(revoked) == 0 {
			o.aboutRevoked.Add(1)
		}
	}
	resp := &pki.OCSPResponder{Issuer: m.leafIssuer, Status: status, Observe: observe}
	if m.Intermediate != nil && m.Intermediate.Key != nil {
		inter, err := m.Intermediate.Issuer()
		if err != nil {
			return nil, err
		}
		resp.Others = []*pki.OCSPResponder{{Issuer: inter, Status: status, Observe: observe}}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("the OCSP responder cannot listen: %v", err)
	}
	o.url = "http://" + ln.Addr().String() + "/ocsp"
	svc := &pki.RevocationService{OCSP: resp}
	o.srv = &http.Server{Handler: svc, ReadHeaderTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout,
		MaxHeaderBytes: 8 << 10, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = o.srv.Serve(ln) }()
	return o, nil
}

// evidence is what revoked-client's verdict can say: the responder's
// URL and how often the server asked it about the revoked certificate.
func (o *runOCSP) evidence() *RevocationLayer {
	return &RevocationLayer{OCSPURL: o.url, OCSPRequests: int(o.aboutRevoked.Load())}
}

func (o *runOCSP) close() {
	if o != nil {
		_ = o.srv.Close()
	}
}
