package pki

import (
	"crypto/x509"
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
	out := make([]AuditEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, AuditEntry{Name: e.Name, Kind: e.Kind, Report: s.auditEntry(e, root, opts)})
	}
	return out, nil
}

func (s *Store) auditEntry(e Entry, root *x509.Certificate, opts AuditOptions) Report {
	in := Input{Roots: []*x509.Certificate{root}, At: opts.At, WarnWithin: opts.WarnWithin, NoLint: opts.NoLint}
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
	return Diagnose(in)
}

func diagErrText(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}
