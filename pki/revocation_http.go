package pki

import (
	"encoding/pem"
	"net/http"
	"os"
	"strings"
)

// RevocationService serves a CA's revocation information over plain HTTP,
// as CRL distribution points and AIA OCSP URLs name it:
//
//	GET  /crl.der, /crl.pem            the issuing CA's CRL
//	GET  /root-crl.der, /root-crl.pem  the root's CRL (with an intermediate)
//	POST /ocsp, GET /ocsp/BASE64       OCSP (RFC 6960 appendix A)
//
// It holds no listener: callers bound it with an http.Server's timeouts
// and header limit (`mtlskit serve`, the harness's server-revoked
// scenario).
type RevocationService struct {
	// OCSP answers OCSP requests; nil answers 404.
	OCSP *OCSPResponder
	// CRL returns the DER of the named CRL ("crl" or "root-crl"), read
	// fresh on every request; ok false answers 404.
	CRL func(name string) (der []byte, ok bool)
	// Observe, when set, is told the path of every request.
	Observe func(method, path string)
}

func (s *RevocationService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.Observe != nil {
		s.Observe(r.Method, r.URL.Path)
	}
	path := r.URL.Path
	switch {
	case path == "/ocsp" || strings.HasPrefix(path, "/ocsp/"):
		if s.OCSP == nil {
			http.NotFound(w, r)
			return
		}
		s.OCSP.ServeHTTP(w, r)
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "CRLs are fetched with GET", http.StatusMethodNotAllowed)
	default:
		name, ext, ok := strings.Cut(strings.TrimPrefix(path, "/"), ".")
		if !ok || (ext != "der" && ext != "pem") || s.CRL == nil {
			http.NotFound(w, r)
			return
		}
		der, ok := s.CRL(name)
		if !ok {
			http.Error(w, "no such CRL: run `mtlskit crl` to write it", http.StatusNotFound)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if ext == "pem" {
			w.Header().Set("Content-Type", "application/x-pem-file")
			_, _ = w.Write(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}))
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		_, _ = w.Write(der)
	}
}

// CRLFileFunc is a RevocationService.CRL reading the store's CRL files
// (`mtlskit crl` writes them): "crl" is ca/crl.der, "root-crl"
// ca/root-crl.der.
func (s *Store) CRLFileFunc() func(string) ([]byte, bool) {
	return func(name string) ([]byte, bool) {
		var file string
		switch name {
		case "crl":
			file = crlDERFile
		case "root-crl":
			file = rootCRLDERFile
		default:
			return nil, false
		}
		der, err := os.ReadFile(s.path(caDir, file))
		return der, err == nil
	}
}
