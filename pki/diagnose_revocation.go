package pki

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// CheckRevocation is the revocation check: is any certificate of the
// path (but the root) listed as revoked by a CRL, or said revoked by its
// CA's OCSP responder?
const CheckRevocation = "revocation"

// CRLWarnWithin is how close to its next update a CRL makes a warning.
// CRLs are short-lived by design (mtlskit crl: 7 days), so a
// certificate's --warn-within (30 days) would flag every one.
const CRLWarnWithin = 24 * time.Hour

// RevocationSource says where Diagnose looks revocation up.
type RevocationSource struct {
	// CRLs are CRLs (DER) given by hand (verify --crl FILE).
	CRLs [][]byte
	// Fetch, when set, gets a URL over HTTP: a CRL distribution point
	// (body nil: GET) or an OCSP responder (body: POST the request). It
	// must bound its own time and size (verify --check-revocation).
	Fetch func(url string, body []byte) ([]byte, error)
	// FreshnessElsewhere: the caller judges the CRLs' own dates (the
	// store audit reports them once, not per certificate), so an expiring
	// CRL is no warning here.
	FreshnessElsewhere bool
	// parsed, when set, holds CRLs[i] parsed once for many Diagnose runs
	// (the store audit): the same verdicts, without parsing a CRL and
	// checking its signature for every certificate.
	parsed []*parsedCRL
}

// parsedCRL is a CRL parsed once, its revoked serials by value and its
// signature checked once per issuer.
type parsedCRL struct {
	crl      *x509.RevocationList
	err      error
	bySerial map[string]*x509.RevocationListEntry // the first entry of each serial
	mu       sync.Mutex
	sigErr   map[string]error // by issuer certificate (raw)
}

// withParsedCRLs returns src with its CRLs parsed once (see parsed).
func withParsedCRLs(src *RevocationSource) *RevocationSource {
	out := *src
	out.parsed = make([]*parsedCRL, len(src.CRLs))
	for i, der := range src.CRLs {
		p := &parsedCRL{sigErr: map[string]error{}}
		p.crl, p.err = x509.ParseRevocationList(der)
		if p.err == nil {
			p.bySerial = make(map[string]*x509.RevocationListEntry, len(p.crl.RevokedCertificateEntries))
			for j := range p.crl.RevokedCertificateEntries {
				e := &p.crl.RevokedCertificateEntries[j]
				if k := e.SerialNumber.Text(16); p.bySerial[k] == nil {
					p.bySerial[k] = e
				}
			}
		}
		out.parsed[i] = p
	}
	return &out
}

func (p *parsedCRL) checkSignatureFrom(issuer *x509.Certificate) error {
	p.mu.Lock()
	err, ok := p.sigErr[string(issuer.Raw)]
	p.mu.Unlock()
	if ok {
		return err
	}
	err = p.crl.CheckSignatureFrom(issuer)
	p.mu.Lock()
	p.sigErr[string(issuer.Raw)] = err
	p.mu.Unlock()
	return err
}

// checkRevocation looks each certificate of the path up: in the given
// CRLs first, then (with Fetch) at its CRL distribution point, then at
// its OCSP responder. Without a source the check is skipped.
func (d *diag) checkRevocation() {
	src := d.in.Revocation
	if src == nil || (len(src.CRLs) == 0 && src.Fetch == nil) {
		d.add(Check{ID: CheckRevocation, Status: StatusSkip, Summary: "not checked: give the CRL (--crl FILE) or let mtlskit fetch it (--check-revocation)"})
		return
	}
	if len(d.path) < 2 {
		d.add(Check{ID: CheckRevocation, Status: StatusSkip, Summary: "no issuer found, so no CRL can be checked (see the chain check)"})
		return
	}
	d.eachCert(CheckRevocation, d.path[:len(d.path)-1], func(i int, c *x509.Certificate) verdict {
		return d.revocationOf(c, d.path[i+1], src)
	})
}

// revocationOf is the verdict on one certificate with its issuer.
func (d *diag) revocationOf(c, issuer *x509.Certificate, src *RevocationSource) verdict {
	var looked []string
	for i, der := range src.CRLs {
		var p *parsedCRL
		if i < len(src.parsed) {
			p = src.parsed[i]
		}
		v, ok := d.crlVerdictParsed(c, issuer, der, p, fmt.Sprintf("the CRL given (#%d)", i+1))
		if ok {
			return v
		}
	}
	if len(src.CRLs) > 0 {
		looked = append(looked, fmt.Sprintf("none of the %d CRL(s) given is signed by %q", len(src.CRLs), issuer.Subject.CommonName))
	}
	if src.Fetch != nil {
		for _, url := range c.CRLDistributionPoints {
			der, err := src.Fetch(url, nil)
			if err != nil {
				looked = append(looked, fmt.Sprintf("CRL at %s: %v", url, err))
				continue
			}
			if v, ok := d.crlVerdict(c, issuer, der, "the CRL at "+url); ok {
				return v
			}
			looked = append(looked, fmt.Sprintf("CRL at %s: not signed by %q", url, issuer.Subject.CommonName))
		}
		for _, url := range c.OCSPServer {
			v, err := d.ocspVerdict(c, issuer, url, src.Fetch)
			if err == nil {
				return v
			}
			looked = append(looked, fmt.Sprintf("OCSP at %s: %v", url, err))
		}
		if len(c.CRLDistributionPoints)+len(c.OCSPServer) == 0 {
			if c.IsCA && len(src.CRLs) == 0 {
				return verdict{StatusSkip, "not checked: this CA certificate names no CRL distribution point or OCSP responder (give the root's CRL with --crl to check it)", nil, ""}
			}
			looked = append(looked, "the certificate names no CRL distribution point and no OCSP responder")
		}
	}
	return verdict{StatusWarn, "revocation could not be checked", looked,
		"give the issuer's CRL with --crl FILE (mtlskit crl writes the store's), or serve it where the certificate says (mtlskit serve)"}
}

// crlVerdict checks c in one CRL; ok is false when the CRL is not its
// issuer's (look elsewhere).
func (d *diag) crlVerdict(c, issuer *x509.Certificate, der []byte, where string) (verdict, bool) {
	return d.crlVerdictParsed(c, issuer, der, nil, where)
}

// crlVerdictParsed is crlVerdict with the CRL parsed already (p; nil
// parses der).
func (d *diag) crlVerdictParsed(c, issuer *x509.Certificate, der []byte, p *parsedCRL, where string) (verdict, bool) {
	var crl *x509.RevocationList
	var err error
	if p != nil {
		crl, err = p.crl, p.err
	} else {
		crl, err = x509.ParseRevocationList(der)
	}
	if err != nil {
		return verdict{StatusFail, where + " cannot be read: " + diagErrText(err), nil, "give a DER or PEM CRL (mtlskit crl writes ca/crl.pem and ca/crl.der)"}, true
	}
	if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) {
		return verdict{}, false
	}
	ev := []string{fmt.Sprintf("%s: CRL #%s of %q, this update %s, next update %s, %d revoked", where, crl.Number, crl.Issuer.CommonName,
		crl.ThisUpdate.UTC().Format(time.RFC3339), crl.NextUpdate.UTC().Format(time.RFC3339), len(crl.RevokedCertificateEntries))}
	if p != nil {
		err = p.checkSignatureFrom(issuer)
	} else {
		err = crl.CheckSignatureFrom(issuer)
	}
	if err != nil {
		return verdict{StatusFail, fmt.Sprintf("%s is not signed by %q's key: %v", where, issuer.Subject.CommonName, err), ev,
			"get the CRL from the CA that issued the certificate: mtlskit crl"}, true
	}
	revokedAs := func(e *x509.RevocationListEntry) (verdict, bool) {
		return verdict{StatusFail, fmt.Sprintf("revoked on %s (%s)", e.RevocationTime.UTC().Format(time.RFC3339), RevocationReason(e.ReasonCode)), ev,
			"a revoked certificate cannot be used again: issue a new one (" + d.fixIssue("") + ")"}, true
	}
	if p != nil {
		if e := p.bySerial[c.SerialNumber.Text(16)]; e != nil {
			return revokedAs(e)
		}
	} else {
		for i := range crl.RevokedCertificateEntries {
			if e := &crl.RevokedCertificateEntries[i]; e.SerialNumber.Cmp(c.SerialNumber) == 0 {
				return revokedAs(e)
			}
		}
	}
	if !crl.NextUpdate.IsZero() && d.at.After(crl.NextUpdate) && !d.in.Revocation.FreshnessElsewhere {
		return verdict{StatusFail, fmt.Sprintf("%s expired %s: peers that check it refuse every certificate of %q", where, crl.NextUpdate.UTC().Format(time.RFC3339), issuer.Subject.CommonName), ev,
			"publish a fresh CRL: mtlskit crl"}, true
	}
	if !crl.NextUpdate.IsZero() && crl.NextUpdate.Sub(d.at) < CRLWarnWithin && !d.in.Revocation.FreshnessElsewhere {
		return verdict{StatusWarn, fmt.Sprintf("not revoked, but %s expires %s", where, crl.NextUpdate.UTC().Format(time.RFC3339)), ev, "publish a fresh CRL soon: mtlskit crl"}, true
	}
	return verdict{StatusPass, "not revoked: " + where + " does not list it", ev, ""}, true
}

// ocspVerdict asks the OCSP responder at url about c.
func (d *diag) ocspVerdict(c, issuer *x509.Certificate, url string, fetch func(string, []byte) ([]byte, error)) (verdict, error) {
	req, err := ocsp.CreateRequest(c, issuer, nil)
	if err != nil {
		return verdict{}, err
	}
	der, err := fetch(url, req)
	if err != nil {
		return verdict{}, err
	}
	resp, err := ocsp.ParseResponseForCert(der, c, issuer)
	if err != nil {
		var re ocsp.ResponseError
		if errors.As(err, &re) {
			return verdict{}, fmt.Errorf("the responder answered %s", strings.ToLower(re.Status.String()))
		}
		return verdict{}, err
	}
	ev := []string{fmt.Sprintf("OCSP at %s: this update %s, next update %s", url, resp.ThisUpdate.UTC().Format(time.RFC3339), resp.NextUpdate.UTC().Format(time.RFC3339))}
	switch resp.Status {
	case ocsp.Revoked:
		return verdict{StatusFail, fmt.Sprintf("revoked on %s (%s), says the OCSP responder", resp.RevokedAt.UTC().Format(time.RFC3339), RevocationReason(resp.RevocationReason)), ev,
			"a revoked certificate cannot be used again: issue a new one (" + d.fixIssue("") + ")"}, nil
	case ocsp.Unknown:
		return verdict{StatusWarn, "the OCSP responder does not know this certificate", ev, "check that the responder answers for this CA (mtlskit serve for the store)"}, nil
	}
	return verdict{StatusPass, "not revoked: the OCSP responder says good", ev, ""}, nil
}
