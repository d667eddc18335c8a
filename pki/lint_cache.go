package pki

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
)

// The lint cache. A certificate never changes, so its zlint findings are
// computed once, when the store issues it (or by the first audit that
// finds none), and kept in its index entry with the LintKey they were
// computed under. The store audit and `mtlskit lint NAME` use them for a
// certificate file whose SHA-256 is the entry's and whose key is today's
// LintKey; any other certificate (a file that changed, an older zlint, a
// certificate outside the store) is linted afresh. docs/store.md describes
// the record; pki's tests prove the cached audit and a full re-lint give
// identical reports.

// lintRecord is the lint part of an index entry.
type lintRecord struct {
	// By is the LintKey the findings were computed under.
	By string `json:"by"`
	// Findings are Lint's, absent when there were none.
	Findings []LintFinding `json:"findings,omitempty"`
}

// lintPolicy changes when mtlskit's own part of linting changes in a way
// the module versions do not show (a waiver's rule): every cached finding
// is then computed again.
const lintPolicy = "1"

// LintKey names what lint findings depend on: zlint's version (and, for
// a zlint without a released version, the lints it runs with their
// metadata), zcrypto's and the public suffix list's, the sources Lint runs
// and the waivers with their rules (lintPolicy), as "zlint VERSION HASH".
// Cached findings are used only under the same key.
func LintKey() string { return lintKey() }

var lintKey = sync.OnceValue(func() string {
	// The module versions, when the binary carries them (test binaries do
	// not): zlint's, zcrypto's (zlint's parser) and the public suffix
	// list's.
	versions := map[string]string{}
	zlint := "(no version)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			path := m.Path
			if m.Replace != nil {
				m = m.Replace
			}
			versions[path] = m.Path + "@" + m.Version + " " + m.Sum
			if path == "github.com/zmap/zlint/v3" {
				zlint = m.Version
			}
		}
	}
	waivers := make([]string, 0, len(lintWaivers))
	for id := range lintWaivers {
		waivers = append(waivers, id)
	}
	sort.Strings(waivers)
	// Without a released zlint version to go by (a test binary, a replace
	// directive, a devel build), the lints themselves: names and metadata.
	var lints []string
	if v := versions["github.com/zmap/zlint/v3"]; v == "" || strings.Contains(v, "(devel)") || !strings.Contains(v, " h1:") {
		lints = append(lints, "registry")
	}
	if reg, err := lintRegistry(); err == nil && len(lints) > 0 {
		for _, name := range reg.Names() {
			if l := reg.CertificateLints().ByName(name); l != nil {
				m := l.LintMetadata
				lints = append(lints, strings.Join([]string{m.Name, string(m.Source), m.Description, m.Citation, m.EffectiveDate.String(), m.IneffectiveDate.String()}, "|"))
			}
		}
	}
	sort.Strings(lints)
	h := sha256.New()
	for _, s := range []string{versions["github.com/zmap/zlint/v3"], versions["github.com/zmap/zcrypto"], versions["github.com/weppos/publicsuffix-go"],
		strings.Join(LintSources, ","), strings.Join(waivers, ","), strings.Join(lints, "\n"), lintPolicy} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "zlint " + zlint + " " + hex.EncodeToString(h.Sum(nil))[:12]
})

// signerLints are the lints whose outcome depends only on the key that
// signed the certificate, not on the certificate: e_cert_issued_by_
// compromised_emudhra_ca verifies the signature against eight compromised
// P-384 keys, 92% of zlint's time on a certificate (3.4 ms of 3.7 here).
// A key that signed one certificate these lints pass signed every other
// one they pass too: were it one of the keys, its own valid signature
// would verify under it every time. So once a certificate of a signing key
// passed them (with the same LintKey), certificates that key signs later
// are linted without them; a different outcome would need one ECDSA
// signature valid under two keys, a forgery.
var signerLints = []string{"e_cert_issued_by_compromised_emudhra_ca"}

// spkiSum names a signing key in the index's lint_signers.
func spkiSum(pub crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:16])
}

// lintSigned lints certificates that signer's key just signed (and Go
// verified), in parallel. A signer that signers records under today's
// LintKey has its certificates linted without the signer lints; otherwise
// the first is linted in full, and the others are too unless it passed
// them, in which case clean names the signer to record.
func lintSigned(signers map[string]string, signer crypto.PublicKey, certs []*x509.Certificate) (recs []*lintRecord, clean string) {
	key := LintKey()
	out := make([]*lintRecord, len(certs))
	sum := ""
	if key != "" {
		sum = spkiSum(signer)
	}
	known := sum != "" && signers[sum] == key
	start := 0
	if !known && len(certs) > 0 {
		fs := Lint(certs[0])
		out[0] = &lintRecord{By: key, Findings: fs}
		start = 1
		if sum != "" && !hasSignerFinding(fs) {
			known, clean = true, sum
		}
	}
	lint := Lint
	if known {
		lint = lintWithoutSignerLints
	}
	_ = forEachParallel(len(certs)-start, func(i int) error {
		out[start+i] = &lintRecord{By: key, Findings: lint(certs[start+i])}
		return nil
	})
	return out, clean
}

func hasSignerFinding(fs []LintFinding) bool {
	for _, f := range fs {
		for _, id := range signerLints {
			if f.ID == id {
				return true
			}
		}
	}
	return false
}

// lintCache answers Lint from the index's records, by certificate
// fingerprint, for records made under today's LintKey, and lints anything
// else. It is safe for concurrent use. Fresh findings it computes are
// kept (fresh) for the caller to write back.
type lintCache struct {
	key    string
	relint bool // ignore the records: lint every certificate
	mu     sync.Mutex
	bySum  map[string][]LintFinding
	fresh  map[string][]LintFinding
}

func newLintCache(entries []Entry, relint bool) *lintCache {
	c := &lintCache{key: LintKey(), relint: relint, bySum: map[string][]LintFinding{}, fresh: map[string][]LintFinding{}}
	if c.key == "" || relint {
		return c
	}
	for _, e := range entries {
		if e.lint != nil && e.lint.By == c.key && e.SHA256 != "" {
			c.bySum[e.SHA256] = e.lint.Findings
		}
	}
	return c
}

// lint returns cert's findings: cached, or computed now.
func (c *lintCache) lint(cert *x509.Certificate) []LintFinding {
	sum := sha256.Sum256(cert.Raw)
	k := hex.EncodeToString(sum[:])
	c.mu.Lock()
	fs, ok := c.bySum[k]
	if !ok {
		fs, ok = c.fresh[k]
	}
	c.mu.Unlock()
	if ok {
		return cloneFindings(fs)
	}
	fs = Lint(cert)
	c.mu.Lock()
	c.fresh[k] = fs
	c.mu.Unlock()
	return cloneFindings(fs)
}

func cloneFindings(fs []LintFinding) []LintFinding {
	if fs == nil {
		return nil
	}
	return append([]LintFinding(nil), fs...)
}

// CachedLint returns the findings the index keeps for e's certificate,
// when cert (read from its file) is the one indexed and they were
// computed under today's LintKey; ok is false otherwise (lint it).
func (e *Entry) CachedLint(cert *x509.Certificate) (findings []LintFinding, ok bool) {
	if e.lint == nil || e.lint.By == "" || e.lint.By != LintKey() || certSum(cert) != e.SHA256 {
		return nil, false
	}
	return cloneFindings(e.lint.Findings), true
}

// storeLints writes findings computed during an audit back into the
// index, for entries whose certificate is still the one linted, so the
// next audit finds them. Best effort: a store that cannot be written (read
// only, locked by a crashed writer's leftovers it cannot repair) keeps
// its index as it is.
func (s *Store) storeLints(fresh map[string][]LintFinding, key string) {
	if len(fresh) == 0 || key == "" {
		return
	}
	_ = s.withLock(func(idx index, err error) error {
		if err != nil {
			return err
		}
		changed := false
		for i := range idx.Entries {
			e := &idx.Entries[i]
			if fs, ok := fresh[e.SHA256]; ok && (e.lint == nil || e.lint.By != key) {
				e.lint = &lintRecord{By: key, Findings: fs}
				changed = true
			}
		}
		if !changed {
			return nil
		}
		return s.writeIndex(idx)
	})
}

// linted is the outcome of lintAsync.
type linted struct {
	recs  []*lintRecord
	clean string // a signer to record as passing the signer lints, or ""
}

// signers is m with l's clean signer added (a copy when it changes).
func (l linted) signers(m map[string]string) map[string]string {
	if l.clean == "" || m[l.clean] == LintKey() {
		return m
	}
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	out[l.clean] = LintKey()
	return out
}

// lintAsync runs lintSigned in the background; signers is only read.
func lintAsync(signers map[string]string, signer crypto.PublicKey, certs []*x509.Certificate) <-chan linted {
	ch := make(chan linted, 1)
	go func() {
		recs, clean := lintSigned(signers, signer, certs)
		ch <- linted{recs, clean}
	}()
	return ch
}
