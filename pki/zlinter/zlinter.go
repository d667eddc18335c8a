// Package zlinter runs zlint for mtlskit: the RFC 5280 and community
// lints, with mtlskit's waivers for a private CA (docs/lints.md). It is the
// only package that links zlint, zcrypto and the public suffix list, whose
// package initialisation costs every process that links them about 2 ms
// (GODEBUG=inittrace=1): the mtlskit command does not, and starts
// mtlskit-lint (cmd/mtlskit-lint, this package behind a pipe) when it
// lints. It does not import pki, so pki's tests can lint in process.
package zlinter

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"runtime/debug"
	"sort"
	"strings"
	"sync"

	"github.com/weppos/publicsuffix-go/publicsuffix"
	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
	zutil "github.com/zmap/zlint/v3/util"
)

// Finding is one complaint zlint has about a certificate or a CRL.
type Finding struct {
	ID      string `json:"id"`
	Status  string `json:"status"` // "notice", "warn", "error" or "fatal"
	Source  string `json:"source"`
	Details string `json:"details,omitempty"`
}

// Sources are the zlint sources run: the certificate profile of RFC 5280
// and zlint's community lints (pki.LintSources says the same).
var Sources = []string{string(lint.RFC5280), string(lint.Community)}

// Waivers are the lints judged not to apply to a private CA, by zlint
// ID, each with the rule that says when (pki.LintWaivers gives their
// reasons; a test keeps the two in step). A rule must return true only
// when every name that triggers the lint is of the kind the reason
// describes, so the same lint still catches real mistakes.
var Waivers = map[string]func(*x509.Certificate) bool{
	"n_san_iana_pub_suffix_empty":       noExplicitPublicSuffix,
	"e_ext_san_uri_host_not_fqdn_or_ip": onlySPIFFETrustDomains,
}

// Policy changes when mtlskit's own part of linting changes in a way the
// module versions do not show (a waiver's rule): every cached finding is
// then computed again (it is part of Key).
const Policy = "1"

// SignerLints are the lints whose outcome depends only on the key that
// signed the certificate (see pki's lint_cache.go): LintCert can leave
// them out.
var SignerLints = []string{"e_cert_issued_by_compromised_emudhra_ca"}

var registry = sync.OnceValues(func() (lint.Registry, error) {
	return lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeSources: sourceList()})
})

// registryWithoutSigner is registry less SignerLints; if zlint no longer
// has one of them, it is registry.
var registryWithoutSigner = sync.OnceValues(func() (lint.Registry, error) {
	reg, err := lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeSources: sourceList(), ExcludeNames: SignerLints})
	if err != nil {
		return registry()
	}
	return reg, nil
})

func sourceList() lint.SourceList {
	var sources lint.SourceList
	for _, s := range Sources {
		sources = append(sources, lint.LintSource(s))
	}
	return sources
}

// LintCert runs the lints on a DER certificate and returns every result
// of status notice, warn, error or fatal that no waiver covers, sorted by
// ID; withoutSignerLints leaves SignerLints out. A certificate zlint's
// parser cannot read is one fatal finding with ID "zcrypto_parse".
func LintCert(der []byte, withoutSignerLints bool) []Finding {
	reg, err := registry()
	if withoutSignerLints {
		reg, err = registryWithoutSigner()
	}
	if err != nil {
		return []Finding{{ID: "zlint_registry", Status: "fatal", Details: err.Error()}}
	}
	zc, err := zx509.ParseCertificate(der)
	if err != nil {
		return []Finding{{ID: "zcrypto_parse", Status: "fatal", Details: err.Error()}}
	}
	var cert *x509.Certificate // for the waivers' rules, parsed when one is needed
	return findings(zlint.LintCertificateEx(zc, reg), func(name string) bool {
		applies, ok := Waivers[name]
		if !ok {
			return false
		}
		if cert == nil {
			if cert, err = x509.ParseCertificate(der); err != nil {
				return false
			}
		}
		return applies(cert)
	})
}

// LintCRL runs the RFC 5280 and community CRL lints on a DER CRL. A CRL
// zcrypto cannot parse is one fatal finding with ID "zcrypto_parse".
func LintCRL(der []byte) []Finding {
	reg, err := registry()
	if err != nil {
		return []Finding{{ID: "zlint_registry", Status: "fatal", Details: err.Error()}}
	}
	crl, err := zx509.ParseRevocationList(der)
	if err != nil {
		return []Finding{{ID: "zcrypto_parse", Status: "fatal", Details: err.Error()}}
	}
	return findings(zlint.LintRevocationListEx(crl, reg), func(string) bool { return false })
}

// findings keeps the results of status notice and above that waived does
// not drop, sorted by ID.
func findings(rs *zlint.ResultSet, waived func(name string) bool) []Finding {
	var out []Finding
	for name, r := range rs.Results {
		if r.Status < lint.Notice || waived(name) {
			continue
		}
		out = append(out, Finding{ID: name, Status: status(r.Status), Source: string(r.LintMetadata.Source), Details: r.Details})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func status(s lint.LintStatus) string {
	if s == lint.Notice {
		return "notice" // zlint prints "info"
	}
	return s.String()
}

// Key names what findings depend on, as "zlint VERSION HASH": zlint's
// version (and, for a zlint without a released version, the lints it runs
// with their metadata), zcrypto's and the public suffix list's, the
// sources, the waivers and Policy. Findings cached under one key are used
// only under the same key.
func Key() string { return key() }

var key = sync.OnceValue(func() string {
	versions := map[string]string{}
	zl := "(no version)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			path := m.Path
			if m.Replace != nil {
				m = m.Replace
			}
			versions[path] = m.Path + "@" + m.Version + " " + m.Sum
			if path == "github.com/zmap/zlint/v3" {
				zl = m.Version
			}
		}
	}
	waivers := make([]string, 0, len(Waivers))
	for id := range Waivers {
		waivers = append(waivers, id)
	}
	sort.Strings(waivers)
	// Without a released zlint version to go by (a test binary, a replace
	// directive, a devel build), the lints themselves: names and metadata.
	var lints []string
	if v := versions["github.com/zmap/zlint/v3"]; v == "" || strings.Contains(v, "(devel)") || !strings.Contains(v, " h1:") {
		lints = append(lints, "registry")
		if reg, err := registry(); err == nil {
			for _, name := range reg.Names() {
				if l := reg.CertificateLints().ByName(name); l != nil {
					m := l.LintMetadata
					lints = append(lints, strings.Join([]string{m.Name, string(m.Source), m.Description, m.Citation, m.EffectiveDate.String(), m.IneffectiveDate.String()}, "|"))
				}
			}
		}
	}
	sort.Strings(lints)
	h := sha256.New()
	for _, s := range []string{versions["github.com/zmap/zlint/v3"], versions["github.com/zmap/zcrypto"], versions["github.com/weppos/publicsuffix-go"],
		strings.Join(Sources, ","), strings.Join(waivers, ","), strings.Join(lints, "\n"), Policy} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "zlint " + zl + " " + hex.EncodeToString(h.Sum(nil))[:12]
})

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
