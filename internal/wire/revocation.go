package wire

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// RevokedError is a certificate a CRL lists: the reference peers return
// it from their verification callbacks, and VerifyReason reads it.
type RevokedError struct {
	Cert   *x509.Certificate
	At     time.Time
	Reason int // RFC 5280 reason code; 0 when the CRL gives none
	// Source says where the revocation was read: "the run's CRL",
	// "the CRL at http://...".
	Source string
}

func (e *RevokedError) Error() string {
	return fmt.Sprintf("%s is revoked (serial %x, since %s, listed in %s)", CertName(e.Cert), e.Cert.SerialNumber, e.At.UTC().Format("2006-01-02 15:04 MST"), e.Source)
}

// RevocationUnknownError is a revocation check that could not be made
// (the CRL at the distribution point could not be fetched or read): a
// strict verifier refuses the certificate rather than guess.
type RevocationUnknownError struct {
	Cert *x509.Certificate
	Err  error
}

func (e *RevocationUnknownError) Error() string {
	return fmt.Sprintf("cannot check whether %s is revoked: %v", CertName(e.Cert), e.Err)
}

func (e *RevocationUnknownError) Unwrap() error { return e.Err }

// CheckCRLs looks cert up in the CRLs (DER) that issuer signed; a CRL of
// another issuer is passed over, one with a bad signature or past its
// NextUpdate is an error.
func CheckCRLs(cert, issuer *x509.Certificate, crls [][]byte, source string) error {
	for _, der := range crls {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return fmt.Errorf("%s: %v", source, err)
		}
		if string(crl.RawIssuer) != string(issuer.RawSubject) {
			continue
		}
		if err := crl.CheckSignatureFrom(issuer); err != nil {
			return fmt.Errorf("%s: the CRL's signature does not verify against %s: %v", source, CertName(issuer), err)
		}
		if !crl.NextUpdate.IsZero() && Now().After(crl.NextUpdate) {
			return fmt.Errorf("%s: the CRL expired at %s", source, crl.NextUpdate.UTC().Format(time.RFC3339))
		}
		for _, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
				return &RevokedError{Cert: cert, At: e.RevocationTime, Reason: e.ReasonCode, Source: source}
			}
		}
	}
	return nil
}

// MaxCRLSize bounds a CRL fetched from a distribution point.
const MaxCRLSize = 16 << 20

// FetchCRL gets the CRL at an http:// distribution point within timeout,
// at most MaxCRLSize bytes.
func FetchCRL(ctx context.Context, url string, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	der, err := io.ReadAll(io.LimitReader(resp.Body, MaxCRLSize+1))
	if err != nil {
		return nil, err
	}
	if len(der) > MaxCRLSize {
		return nil, fmt.Errorf("GET %s: the CRL is larger than %d bytes", url, MaxCRLSize)
	}
	return der, nil
}

// CheckDistributionPoint fetches the CRL at cert's first http:// CRL
// distribution point and looks cert up in it; a certificate without one
// passes. A fetch that fails is a *RevocationUnknownError.
func CheckDistributionPoint(ctx context.Context, cert, issuer *x509.Certificate, timeout time.Duration) error {
	for _, url := range cert.CRLDistributionPoints {
		if len(url) < 7 || url[:7] != "http://" {
			continue
		}
		der, err := FetchCRL(ctx, url, timeout)
		if err != nil {
			return &RevocationUnknownError{Cert: cert, Err: err}
		}
		if err := CheckCRLs(cert, issuer, [][]byte{der}, "the CRL at "+url); err != nil {
			var re *RevokedError
			if errors.As(err, &re) {
				return err
			}
			return &RevocationUnknownError{Cert: cert, Err: err}
		}
		return nil
	}
	return nil
}

// RevocationFetcher is a pki.RevocationSource Fetch over plain HTTP: GET
// a CRL (body nil) or POST an OCSP request, each within timeout and at
// most MaxCRLSize bytes back.
func RevocationFetcher(ctx context.Context, timeout time.Duration) func(url string, body []byte) ([]byte, error) {
	return func(url string, body []byte) ([]byte, error) {
		if body == nil {
			return FetchCRL(ctx, url, timeout)
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/ocsp-request")
		resp, err := (&http.Client{Timeout: timeout}).Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("POST %s: %s", url, resp.Status)
		}
		out, err := io.ReadAll(io.LimitReader(resp.Body, MaxCRLSize+1))
		if err == nil && len(out) > MaxCRLSize {
			err = fmt.Errorf("POST %s: the answer is larger than %d bytes", url, MaxCRLSize)
		}
		return out, err
	}
}
