package pki

import (
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"time"
)

// AuditEntry is the diagnosis of one certificate of a store.
type AuditEntry struct {
	Name   string `json:"name"`
	Kind   Kind   `json:"kind"`
	Report Report `json:"report"`
}

// AuditOptions configures Store.Audit.
type AuditOptions struct {
	At         time.Time     // zero means now
	WarnWithin time.Duration // expiry closer than this is a warning
	NoLint     bool
	// Relint lints every certificate afresh instead of taking the
	// findings the index keeps (same checks and statuses: the cache only
	// saves zlint's time), and writes nothing back.
	Relint bool
	// Begin, when set, is called once before the audit starts with what
	// it will report on.
	Begin func(AuditPlan)
	// Progress, when set, is called after every batch of certificates with
	// how many are done out of how many.
	Progress func(done, total int)
}

// AuditPlan is what an audit reports on, in order: one AuditEntry per
// index entry, then, when CRL is set, one about the CRLs (KindCRL).
type AuditPlan struct {
	Entries []Entry
	CRL     bool
}

// auditBatch is how many certificates the audit checks at once, in
// parallel, before it reports them in order.
const auditBatch = 256

// Audit diagnoses every certificate of the store's index against the
// store's root: it chains to the CA, its key matches, a server
// certificate has SANs, the EKUs fit its kind, nothing has expired, and
// anything expiring within opts.WarnWithin is a warning. A certificate
// issued by a CA the store no longer holds fails its chain check.
//
// Certificates are checked in parallel. zlint's findings come from the
// index (computed when the certificate was issued) when the certificate
// file is the one indexed and they were computed under today's LintKey;
// otherwise zlint runs, and its findings are written back to the index
// for the next audit (opts.Relint lints everything and writes nothing).
func (s *Store) Audit(opts AuditOptions) ([]AuditEntry, error) {
	out := []AuditEntry{}
	err := s.AuditEach(opts, func(e AuditEntry) error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AuditEach is Audit, handing each entry to fn in order as soon as it is
// ready, so a large store's audit is never held in memory whole. An error
// from fn stops the audit and is returned.
func (s *Store) AuditEach(opts AuditOptions, fn func(AuditEntry) error) error {
	s.settle()
	if !s.HasCA() {
		return s.errNoCA()
	}
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	entries := idx.listed()
	root, err := s.Root()
	if err != nil {
		return err
	}
	crls := s.crlDERs()
	var src *RevocationSource
	if len(crls) > 0 {
		src = withParsedCRLs(&RevocationSource{CRLs: crls, FreshnessElsewhere: true})
	}
	hasCRL := len(crls) > 0 || len(idx.Revoked) > 0
	if opts.Begin != nil {
		opts.Begin(AuditPlan{Entries: entries, CRL: hasCRL})
	}
	cache := newLintCache(entries, idx.LintSigners, opts.Relint)
	sigs := newSigMemo()
	reports := make([]Report, min(auditBatch, len(entries)))
	for start := 0; start < len(entries); start += auditBatch {
		n := min(auditBatch, len(entries)-start)
		_ = forEachParallel(n, func(i int) error {
			reports[i] = s.auditEntry(entries[start+i], root, src, cache, sigs, opts)
			return nil
		})
		for i := 0; i < n; i++ {
			e := entries[start+i]
			if err := fn(AuditEntry{Name: e.Name, Kind: e.Kind, Report: reports[i]}); err != nil {
				return err
			}
			reports[i] = Report{}
		}
		if opts.Progress != nil {
			opts.Progress(start+n, len(entries))
		}
	}
	if hasCRL {
		if err := fn(auditCRL(idx, crls, opts)); err != nil {
			return err
		}
	}
	if !opts.NoLint {
		s.storeLints(cache)
	}
	return nil
}

// KindCRL names the store audit's entry about the CRL files.
const KindCRL Kind = "crl"

// crlDERs are the store's CRL files that exist.
func (s *Store) crlDERs() [][]byte {
	var out [][]byte
	for _, name := range []string{"crl", "root-crl"} {
		if der, ok := s.CRLFileFunc()(name); ok {
			out = append(out, der)
		}
	}
	return out
}

// auditCRL is the audit's entry about revocation as a whole: a CRL that
// expired or expires within opts.WarnWithin, and revocations that no CRL
// lists yet (the audit adds it when the store has CRLs or revocations).
func auditCRL(idx index, files [][]byte, opts AuditOptions) AuditEntry {
	at := opts.At
	if at.IsZero() {
		at = time.Now()
	}
	var checks []Check
	add := func(st CheckStatus, summary, fix string, ev ...string) {
		checks = append(checks, Check{ID: CheckRevocation, Status: st, Subject: "ca/crl.pem", Summary: summary, Evidence: ev, Fix: fix})
	}
	listed := map[string]bool{}
	for _, der := range files {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			add(StatusFail, "a CRL file cannot be read: "+err.Error(), "write it again: mtlskit crl")
			continue
		}
		for _, e := range crl.RevokedCertificateEntries {
			listed[hex.EncodeToString(e.SerialNumber.Bytes())] = true
		}
		what := fmt.Sprintf("CRL #%s of %q", crl.Number, crl.Issuer.CommonName)
		switch {
		case at.After(crl.NextUpdate):
			add(StatusFail, fmt.Sprintf("%s expired %s: peers that check it refuse every certificate of the CA", what, crl.NextUpdate.UTC().Format(time.RFC3339)), "publish a fresh CRL: mtlskit crl")
		case crl.NextUpdate.Sub(at) < CRLWarnWithin:
			add(StatusWarn, fmt.Sprintf("%s expires %s", what, crl.NextUpdate.UTC().Format(time.RFC3339)), "publish a fresh CRL soon: mtlskit crl")
		default:
			add(StatusPass, fmt.Sprintf("%s is valid until %s and lists %d certificate(s)", what, crl.NextUpdate.UTC().Format(time.RFC3339), len(crl.RevokedCertificateEntries)), "")
		}
	}
	var pending []string
	for _, r := range idx.Revoked {
		if !listed[r.Serial] && r.NotAfter.After(at) {
			pending = append(pending, fmt.Sprintf("%s (serial %s, revoked %s)", r.Name, r.Serial, r.At.UTC().Format(time.DateOnly)))
		}
	}
	if len(pending) > 0 {
		add(StatusWarn, fmt.Sprintf("%d revocation(s) are on no CRL yet: peers that check a CRL file still accept them", len(pending)), "publish them: mtlskit crl", pending...)
	}
	return AuditEntry{Name: "crl", Kind: KindCRL, Report: Report{Checks: checks, Path: []string{}}}
}

func (s *Store) auditEntry(e Entry, root *x509.Certificate, crls *RevocationSource, cache *lintCache, sigs *sigMemo, opts AuditOptions) Report {
	in := Input{Roots: []*x509.Certificate{root}, At: opts.At, WarnWithin: opts.WarnWithin, NoLint: opts.NoLint, lint: cache.lint, sigs: sigs}
	if crls != nil && !e.Kind.IsCA() {
		in.Revocation = crls
	}
	switch e.Kind {
	case KindServer:
		in.Purpose = PurposeServer
	case KindClient:
		in.Purpose = PurposeClient
	default:
		in.Purpose = PurposeCA
	}
	readCerts := func(rel, role string) []*x509.Certificate {
		p := s.Path(rel)
		data, err := os.ReadFile(p)
		if err != nil {
			in.Parsed = append(in.Parsed, Check{ID: CheckParse, Status: StatusFail, Subject: p,
				Summary: "cannot be read: " + diagErrText(err), Fix: "restore it, or reissue: see `mtlskit list`"})
			return nil
		}
		certs, c := ReadCertFile(p, role, data)
		in.Parsed = append(in.Parsed, c)
		return certs
	}
	in.Chain = readCerts(e.Cert, "--cert")
	if e.Chain != "" && e.Chain != e.Cert {
		in.Extra = readCerts(e.Chain, "--chain")
	}
	if e.Kind == KindIntermediate && len(in.Chain) > 0 {
		in.Purpose = PurposeCA
	}
	if e.Key != "" {
		p := s.Path(e.Key)
		if data, err := os.ReadFile(p); err != nil {
			in.Parsed = append(in.Parsed, Check{ID: CheckParse, Status: StatusFail, Subject: p,
				Summary: "cannot be read: " + diagErrText(err), Fix: "restore it, or reissue the certificate with a new key"})
		} else {
			k, c := ReadKeyFile(p, data)
			if c.Status == StatusSkip {
				c.Fix = "" // encrypted CA keys are the store's choice, not a problem
			}
			in.Key = k
			in.Parsed = append(in.Parsed, c)
		}
	}
	rep := Diagnose(in)
	if e.Revoked != nil {
		// A revoked certificate is the store's own decision, not a defect:
		// the audit says so, and that it must stay out of service.
		for i, c := range rep.Checks {
			if c.ID == CheckRevocation && c.Status == StatusFail {
				rep.Checks[i].Status = StatusWarn
				rep.Checks[i].Summary = fmt.Sprintf("revoked on %s (%s): keep it out of service", e.Revoked.At.UTC().Format(time.DateOnly), e.Revoked.ReasonName)
				rep.Checks[i].Fix = ""
			}
		}
	}
	return rep
}

func diagErrText(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}
