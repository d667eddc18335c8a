package pki

import (
	"crypto/x509"
	"fmt"
	"sync"
	"sync/atomic"
)

// LintFinding is one complaint zlint has about a certificate.
type LintFinding struct {
	ID      string // zlint's name for the lint, such as "e_ext_san_missing"
	Status  string // "notice", "warn", "error" or "fatal"
	Source  string // "RFC5280" or "Community"
	Details string // zlint's explanation, often empty
}

func (f LintFinding) String() string {
	s := fmt.Sprintf("%s %s (%s)", f.Status, f.ID, f.Source)
	if f.Details != "" {
		s += ": " + f.Details
	}
	return s
}

// LintSources are the zlint sources Lint runs: the certificate profile of
// RFC 5280 and zlint's community lints. The CA/Browser Forum, Mozilla,
// Apple, Chrome and ETSI sources govern publicly trusted CAs and are left
// out for a private one.
var LintSources = []string{"RFC5280", "Community"}

// lintWaiverReasons are the lints judged not to apply to a private CA,
// by zlint ID, with the reason for each; the rules that decide when each
// applies are in pki/zlinter (Waivers), and docs/lints.md lists the same
// entries with the same reasons (tests keep the three in step). A waiver
// must never hide a defect that can be fixed in the certificate; fix the
// certificate instead.
var lintWaiverReasons = map[string]string{
	"n_san_iana_pub_suffix_empty": "single-label intranet names such as localhost match only the public suffix list's " +
		"default rule, so zlint calls them bare public suffixes; a private CA issues them on " +
		"purpose. Waived only when no DNS name is a suffix under an explicit list rule (com, co.uk).",
	"e_ext_san_uri_host_not_fqdn_or_ip": "a SPIFFE ID's authority is a trust domain name (spiffe://corp/alice), which the SPIFFE " +
		"standard does not require to be a fully qualified domain name. Waived only when every " +
		"URI whose host is not an FQDN or IP is a spiffe:// URI with a valid trust domain.",
}

// LintWaivers returns the lints Lint waives for a private CA, by zlint
// ID, with the reason for each (see docs/lints.md). Each applies only to
// certificates of the kind its reason describes.
func LintWaivers() map[string]string {
	m := make(map[string]string, len(lintWaiverReasons))
	for k, r := range lintWaiverReasons {
		m[k] = r
	}
	return m
}

// A Linter runs zlint for pki: pki/zlinter in process, or mtlskit-lint
// behind a pipe (the default, so that a program linking pki does not link
// zlint, whose package initialisation every process start would pay; see
// lint_proc.go). Its methods are safe for concurrent use.
type Linter interface {
	// LintKey is zlinter.Key: what the findings depend on.
	LintKey() (string, error)
	// LintCert lints a DER certificate, without the signer lints when
	// asked (zlinter.LintCert).
	LintCert(der []byte, withoutSignerLints bool) ([]LintFinding, error)
	// LintCRL lints a DER CRL (zlinter.LintCRL).
	LintCRL(der []byte) ([]LintFinding, error)
}

var linterMu sync.Mutex
var theLinter Linter

// SetLinter makes l the Linter of Lint, LintCRL and the store's lint
// cache. Without a call, pki starts mtlskit-lint when it first lints.
func SetLinter(l Linter) {
	linterMu.Lock()
	defer linterMu.Unlock()
	theLinter = l
}

func currentLinter() Linter {
	linterMu.Lock()
	defer linterMu.Unlock()
	if theLinter == nil {
		theLinter = newProcLinter()
	}
	return theLinter
}

// lintRuns counts zlint runs on certificates (the tests see the cache
// spare them).
var lintRuns atomic.Int64

// lintCert lints cert, without the signer lints when asked; the error
// says zlint could not be run (no mtlskit-lint).
func lintCert(cert *x509.Certificate, withoutSignerLints bool) ([]LintFinding, error) {
	lintRuns.Add(1)
	return currentLinter().LintCert(cert.Raw, withoutSignerLints)
}

// Lint runs zlint's RFC 5280 and community lints on cert and returns
// every result of status notice, warn, error or fatal that no waiver
// covers, sorted by ID. An empty result means the certificate passed. A
// certificate zlint's parser cannot read is reported as one fatal finding
// with ID "zcrypto_parse"; when zlint cannot be run at all (mtlskit-lint
// missing), one fatal finding with ID "zlint_unavailable" says why.
func Lint(cert *x509.Certificate) []LintFinding {
	fs, err := lintCert(cert, false)
	if err != nil {
		return unavailable(err)
	}
	return fs
}

// LintCRL runs zlint's RFC 5280 and community CRL lints on a DER CRL,
// reported as Lint reports a certificate's. A CRL zcrypto cannot parse is
// one fatal finding with ID "zcrypto_parse".
func LintCRL(der []byte) []LintFinding {
	fs, err := currentLinter().LintCRL(der)
	if err != nil {
		return unavailable(err)
	}
	return fs
}

func unavailable(err error) []LintFinding {
	return []LintFinding{{ID: "zlint_unavailable", Status: "fatal", Details: err.Error()}}
}
