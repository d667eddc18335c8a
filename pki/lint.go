package pki

import (
	"crypto/x509"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/weppos/publicsuffix-go/publicsuffix"
	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
	zutil "github.com/zmap/zlint/v3/util"
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
var LintSources = []string{string(lint.RFC5280), string(lint.Community)}

// A lintWaiver drops a lint's finding for certificates where the lint
// does not apply to a private CA. It is narrow on purpose: applies must
// return true only when every name that triggers the lint is of the kind
// the reason describes, so the same lint still catches real mistakes.
type lintWaiver struct {
	reason  string
	applies func(*x509.Certificate) bool
}

// lintWaivers are the lints judged not to apply to a private CA, by zlint
// ID. docs/lints.md lists the same entries with the same reasons, and a
// test keeps the two in step. A waiver must never hide a defect that can
// be fixed in the certificate; fix the certificate instead.
var lintWaivers = map[string]lintWaiver{
	"n_san_iana_pub_suffix_empty": {
		reason: "single-label intranet names such as localhost match only the public suffix list's " +
			"default rule, so zlint calls them bare public suffixes; a private CA issues them on " +
			"purpose. Waived only when no DNS name is a suffix under an explicit list rule (com, co.uk).",
		applies: noExplicitPublicSuffix,
	},
	"e_ext_san_uri_host_not_fqdn_or_ip": {
		reason: "a SPIFFE ID's authority is a trust domain name (spiffe://corp/alice), which the SPIFFE " +
			"standard does not require to be a fully qualified domain name. Waived only when every " +
			"URI whose host is not an FQDN or IP is a spiffe:// URI with a valid trust domain.",
		applies: onlySPIFFETrustDomains,
	},
}

// LintWaivers returns the lints Lint waives for a private CA, by zlint
// ID, with the reason for each (see docs/lints.md). Each applies only to
// certificates of the kind its reason describes.
func LintWaivers() map[string]string {
	m := make(map[string]string, len(lintWaivers))
	for k, w := range lintWaivers {
		m[k] = w.reason
	}
	return m
}

var lintRegistry = sync.OnceValues(func() (lint.Registry, error) {
	return lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeSources: lintSourceList()})
})

// lintRegistryWithoutSigner is lintRegistry less signerLints (see
// lint_cache.go): for certificates of a signing key that passed them. If
// zlint no longer has one of them, it is lintRegistry.
var lintRegistryWithoutSigner = sync.OnceValues(func() (lint.Registry, error) {
	reg, err := lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeSources: lintSourceList(), ExcludeNames: signerLints})
	if err != nil {
		return lintRegistry()
	}
	return reg, nil
})

func lintSourceList() lint.SourceList {
	var sources lint.SourceList
	for _, s := range LintSources {
		sources = append(sources, lint.LintSource(s))
	}
	return sources
}

// Lint runs zlint's RFC 5280 and community lints on cert and returns
// every result of status notice, warn, error or fatal that no waiver
// covers, sorted by ID. An empty result means the certificate passed. A
// certificate zlint's parser cannot read is reported as one fatal finding
// with ID "zcrypto_parse".
func Lint(cert *x509.Certificate) []LintFinding { return lintWith(cert, lintRegistry) }

// lintWithoutSignerLints is Lint without signerLints.
func lintWithoutSignerLints(cert *x509.Certificate) []LintFinding {
	return lintWith(cert, lintRegistryWithoutSigner)
}

// lintRuns counts zlint runs on certificates (the tests see the cache
// spare them).
var lintRuns atomic.Int64

func lintWith(cert *x509.Certificate, registry func() (lint.Registry, error)) []LintFinding {
	lintRuns.Add(1)
	reg, err := registry()
	if err != nil {
		return []LintFinding{{ID: "zlint_registry", Status: "fatal", Details: err.Error()}}
	}
	zc, err := zx509.ParseCertificate(cert.Raw)
	if err != nil {
		return []LintFinding{{ID: "zcrypto_parse", Status: "fatal", Details: err.Error()}}
	}
	return findings(zlint.LintCertificateEx(zc, reg), func(name string) bool {
		w, ok := lintWaivers[name]
		return ok && w.applies(cert)
	})
}

// LintCRL runs zlint's RFC 5280 and community CRL lints on a DER CRL,
// reported as Lint reports a certificate's. A CRL zcrypto cannot parse is
// one fatal finding with ID "zcrypto_parse".
func LintCRL(der []byte) []LintFinding {
	reg, err := lintRegistry()
	if err != nil {
		return []LintFinding{{ID: "zlint_registry", Status: "fatal", Details: err.Error()}}
	}
	crl, err := zx509.ParseRevocationList(der)
	if err != nil {
		return []LintFinding{{ID: "zcrypto_parse", Status: "fatal", Details: err.Error()}}
	}
	return findings(zlint.LintRevocationListEx(crl, reg), func(string) bool { return false })
}

// findings keeps the results of status notice and above that waived does
// not drop, sorted by ID.
func findings(rs *zlint.ResultSet, waived func(name string) bool) []LintFinding {
	var out []LintFinding
	for name, r := range rs.Results {
		if r.Status < lint.Notice || waived(name) {
			continue
		}
		out = append(out, LintFinding{
			ID:      name,
			Status:  lintStatus(r.Status),
			Source:  string(r.LintMetadata.Source),
			Details: r.Details,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func lintStatus(s lint.LintStatus) string {
	if s == lint.Notice {
		return "notice" // zlint prints "info"
	}
	return s.String()
}

// noExplicitPublicSuffix reports whether no DNS name of cert is, in full,
// a suffix under an explicit rule of the public suffix list.
func noExplicitPublicSuffix(cert *x509.Certificate) bool {
	for _, name := range cert.DNSNames {
		name = strings.TrimPrefix(strings.ToLower(name), "*.")
		rule := publicsuffix.DefaultList.Find(name, &publicsuffix.FindOptions{IgnorePrivate: false})
		if rule != nil && rule.Decompose(name)[0] == "" {
			return false
		}
	}
	return true
}

// onlySPIFFETrustDomains reports whether every URI SAN of cert whose host
// zlint would call neither an FQDN nor an IP is a spiffe:// URI with a
// valid trust domain name.
func onlySPIFFETrustDomains(cert *x509.Certificate) bool {
	for _, u := range cert.URIs {
		if u.Opaque != "" || (u.Host != "" && zutil.IsFQDNOrIP(u.Host)) {
			continue
		}
		if u.Scheme != "spiffe" || !isSPIFFETrustDomain(u.Host) {
			return false
		}
	}
	return true
}

// isSPIFFETrustDomain applies the SPIFFE ID standard (section 2.1): a
// trust domain is lowercase letters, digits, dots, dashes and underscores.
func isSPIFFETrustDomain(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '.' && r != '-' && r != '_' {
			return false
		}
	}
	return true
}
