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
}

// Audit diagnoses every certificate of the store's index against the
// store's root: it chains to the CA, its key matches, a server
// certificate has SANs, the EKUs fit its kind, nothing has expired, and
// anything expiring within opts.WarnWithin is a warning. A certificate
// issued by a CA the store no longer holds fails its chain check.
func (s *Store) Audit(opts AuditOptions) ([]AuditEntry, error) {
	entries, err := s.List()
	if err != nil {
		return nil, err
	}
	root, err := s.Root()
	if err != nil {
		return nil, err
	}
	crls := s.crlDERs()
	out := make([]AuditEntry, 0, len(entries)+1)
	for _, e := range entries {
		out = append(out, AuditEntry{Name: e.Name, Kind: e.Kind, Report: s.auditEntry(e, root, crls, opts)})
	}
	if crl := s.auditCRL(entries, opts); crl != nil {
		out = append(out, *crl)
	}
	return out, nil
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
// lists yet; nil when the store has neither CRLs nor revocations.
func (s *Store) auditCRL(entries []Entry, opts AuditOptions) *AuditEntry {
	at := opts.At
	if at.IsZero() {
		at = time.Now()
	}
	idx, err := s.readIndex()
	if err != nil {
		return nil
	}
	files := s.crlDERs()
	if len(files) == 0 && len(idx.Revoked) == 0 {
		return nil
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
	return &AuditEntry{Name: "crl", Kind: KindCRL, Report: Report{Checks: checks, Path: []string{}}}
}

func (s *Store) auditEntry(e Entry, root *x509.Certificate, crls [][]byte, opts AuditOptions) Report {
	in := Input{Roots: []*x509.Certificate{root}, At: opts.At, WarnWithin: opts.WarnWithin, NoLint: opts.NoLint}
	if len(crls) > 0 && !e.Kind.IsCA() {
		in.Revocation = &RevocationSource{CRLs: crls, FreshnessElsewhere: true}
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
