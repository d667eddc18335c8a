package pki

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
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

// LintKey names what lint findings depend on (zlinter.Key, asked of the
// Linter): zlint's version, zcrypto's and the public suffix list's, the
// sources, the waivers and their rules. Cached findings are used only
// under the same key. It is empty when zlint cannot be run (then nothing
// is cached or taken from the cache).
func LintKey() string {
	k, err := currentLinter().LintKey()
	if err != nil {
		return ""
	}
	return k
}

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
var signerLints = []string{"e_cert_issued_by_compromised_emudhra_ca"} // zlinter.SignerLints

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
// them, in which case clean names the signer to record. A certificate
// zlint could not be run on gets no record (nil): the audit lints it.
func lintSigned(signers map[string]string, signer crypto.PublicKey, certs []*x509.Certificate) (recs []*lintRecord, clean string) {
	out := make([]*lintRecord, len(certs))
	key := LintKey()
	if key == "" {
		return out, ""
	}
	sum := spkiSum(signer)
	known := sum != "" && signers[sum] == key
	start := 0
	if !known && len(certs) > 0 {
		start = 1
		if fs, err := lintCert(certs[0], false); err == nil {
			out[0] = &lintRecord{By: key, Findings: fs}
			if sum != "" && !hasSignerFinding(fs) {
				known, clean = true, sum
			}
		}
	}
	_ = forEachParallel(len(certs)-start, func(i int) error {
		if fs, err := lintCert(certs[start+i], known); err == nil {
			out[start+i] = &lintRecord{By: key, Findings: fs}
		}
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
// else: with the signer lints only for the first certificate of each
// signing key (see signerLints; signer is the key whose signature on the
// certificate verified), unless relint, which lints everything in full.
// It is safe for concurrent use. Fresh findings, and signing keys found
// to pass the signer lints, are kept for the caller to write back.
type lintCache struct {
	key        string
	relint     bool
	mu         sync.Mutex
	bySum      map[string][]LintFinding
	fresh      map[string][]LintFinding
	signers    map[string]string // spkiSum → LintKey, as in the index
	newSigners map[string]bool
}

func newLintCache(entries []Entry, signers map[string]string, relint bool) *lintCache {
	c := &lintCache{key: LintKey(), relint: relint, bySum: map[string][]LintFinding{}, fresh: map[string][]LintFinding{},
		signers: map[string]string{}, newSigners: map[string]bool{}}
	if relint {
		return c
	}
	for k, v := range signers {
		c.signers[k] = v
	}
	for _, e := range entries {
		if e.lint != nil && e.lint.By == c.key && e.SHA256 != "" {
			c.bySum[e.SHA256] = e.lint.Findings
		}
	}
	return c
}

// lint returns cert's findings: cached, or computed now.
func (c *lintCache) lint(cert *x509.Certificate, signer crypto.PublicKey) []LintFinding {
	k := certSum(cert)
	c.mu.Lock()
	fs, ok := c.bySum[k]
	if !ok {
		fs, ok = c.fresh[k]
	}
	sk := ""
	clean := false
	if !ok && !c.relint && signer != nil {
		sk = spkiSum(signer)
		clean = sk != "" && c.signers[sk] == c.key
	}
	c.mu.Unlock()
	if ok {
		return cloneFindings(fs)
	}
	fs, err := lintCert(cert, clean)
	if err != nil {
		return unavailable(err)
	}
	c.mu.Lock()
	c.fresh[k] = fs
	if sk != "" && !clean && !hasSignerFinding(fs) {
		c.signers[sk] = c.key
		c.newSigners[sk] = true
	}
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
	if e.lint == nil || e.lint.By == "" || certSum(cert) != e.SHA256 || e.lint.By != LintKey() {
		return nil, false
	}
	return cloneFindings(e.lint.Findings), true
}

// storeLints writes findings computed during an audit back into the
// index, for entries whose certificate is still the one linted, with the
// signing keys found to pass the signer lints, so the next audit finds
// them. Best effort: a store that cannot be written (read only, say)
// keeps its index as it is.
func (s *Store) storeLints(c *lintCache) {
	if c.relint || c.key == "" || (len(c.fresh) == 0 && len(c.newSigners) == 0) {
		return
	}
	_ = s.withLock(func(idx index, err error) error {
		if err != nil {
			return err
		}
		changed := false
		for i := range idx.Entries {
			e := &idx.Entries[i]
			if fs, ok := c.fresh[e.SHA256]; ok && (e.lint == nil || e.lint.By != c.key) {
				e.lint = &lintRecord{By: c.key, Findings: fs}
				changed = true
			}
		}
		for sk := range c.newSigners {
			if idx.LintSigners[sk] != c.key {
				idx.LintSigners = linted{clean: sk}.signers(idx.LintSigners)
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
