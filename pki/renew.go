package pki

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"
)

// Supersession is the index's record of a certificate that a renewal
// replaced: the predecessor's identity and when, and by which serial, it
// was superseded. The list only grows, like the revocations.
type Supersession struct {
	Name      string    `json:"name"`
	Kind      Kind      `json:"kind"`
	Serial    string    `json:"serial"`
	SHA256    string    `json:"sha256"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// RenewedFrom is the predecessor's own predecessor, when it was a
	// renewal too.
	RenewedFrom string    `json:"renewed_from,omitempty"`
	At          time.Time `json:"superseded_at"`
	// By is the serial of the successor; Rekeyed says whether it has a
	// new key.
	By      string `json:"renewed_to"`
	Rekeyed bool   `json:"rekeyed"`
}

// RenewOptions says how to renew.
type RenewOptions struct {
	// Rekey gives the successor a new key of the same type; otherwise it
	// certifies the predecessor's key again.
	Rekey bool
	// Validity is the successor's lifetime; zero means the predecessor's.
	Validity   time.Duration
	Passphrase PassphraseFunc
}

// Renewal is one certificate renewed: the predecessor as it was indexed
// and its successor.
type Renewal struct {
	Predecessor Entry `json:"predecessor"`
	Successor   Entry `json:"successor"`
	Rekeyed     bool  `json:"rekeyed"`
	// Exchanged says the directories were swapped in one step
	// (renameat2 RENAME_EXCHANGE); false means the fallback of two
	// renames, between which issued/NAME is briefly missing.
	Exchanged bool `json:"exchanged"`
}

// ErrRenewRevoked is a renewal of a revoked certificate: a revoked
// identity is replaced deliberately (issue --force), not renewed.
var ErrRenewRevoked = errors.New("revoked certificates are not renewed")

// ErrRenewNoKey is --rekey for a certificate the store has no key of.
var ErrRenewNoKey = errors.New("no key to replace")

// errExchangeUnsupported is a file system or OS without an atomic
// exchange of two directories.
var errExchangeUnsupported = errors.New("atomic exchange not supported")

// Renew issues a successor of the issued certificate name: the same
// kind, names and extended key usages, a new serial, the predecessor's
// key unless opts.Rekey, and swaps it into issued/NAME (RenewMany).
func (s *Store) Renew(name string, opts RenewOptions) (*Renewal, error) {
	rs, err := s.RenewMany([]string{name}, opts)
	if err != nil {
		return nil, err
	}
	return &rs[0], nil
}

// Due lists the issued certificates, not revoked, that expire before
// now+within (expired ones too), by name: what `renew --expiring-within`
// renews.
func (s *Store) Due(within time.Duration, now time.Time) ([]Entry, error) {
	es, err := s.List()
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, e := range es {
		if !e.Kind.IsCA() && e.Revoked == nil && e.NotAfter.Before(now.Add(within)) {
			out = append(out, e)
		}
	}
	return out, nil
}

// Superseded lists the certificates renewals replaced, oldest first.
func (s *Store) Superseded() ([]Supersession, error) {
	s.settle()
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	return idx.Superseded, nil
}

// RenewMany renews every named certificate under one lock with one
// index update: all or none.
//
// Each successor is written, synced, into a new directory; then, for
// each name, that directory is moved to .tmp~old-issued-NAME at the top
// of the store and exchanged with issued/NAME in one renameat2 call
// (RENAME_EXCHANGE), so that issued/NAME is always a complete directory,
// the old one or the new one; the old one, now at .tmp~old-issued-NAME,
// is removed after the index names the successor. No file inside a
// directory is ever changed once the directory is reachable as
// issued/NAME: a reader that opens issued/NAME once and reads the files
// relative to it (openat, os.OpenRoot) gets a matching key and
// certificate, or, if it holds on past the removal, an error. A reader
// that opens issued/NAME/cert.pem and issued/NAME/key.pem by path can
// straddle a swap: with the same key every mix still matches; after
// --rekey it can see the old certificate with the new key.
// docs/rotation.md states this and the test that checks it.
//
// A writer killed at any moment leaves the store as the other writers
// do: before the exchange the predecessor stays (the staged successor at
// .tmp~old-issued-NAME is removed, issued/NAME is rechecked and matches
// the index); after it, the successor is in place and the next writer
// indexes it from its files (the lineage record of that renewal is then
// missing).
func (s *Store) RenewMany(names []string, opts RenewOptions) ([]Renewal, error) {
	if !s.HasCA() {
		return nil, s.errNoCA()
	}
	seen := map[string]bool{}
	for _, n := range names {
		if err := CheckName(n); err != nil {
			return nil, err
		}
		if seen[n] {
			return nil, fmt.Errorf("name %q appears twice: renew each certificate once", n)
		}
		seen[n] = true
	}
	var out []Renewal
	err := s.withLock(func(idx index, idxErr error) error {
		if idxErr != nil {
			return idxErr
		}
		preds := make([]Entry, len(names))
		items := make([]pending, len(names))
		for i, n := range names {
			e := idx.find(n)
			if e == nil {
				return detailf(ErrNotFound, "no certificate named %q in %s", n, s.Dir)
			}
			if r := idx.revocation(e.Serial); r != nil {
				return detailf(ErrRenewRevoked, "%s %q (serial %s) was revoked on %s (%s): revoked certificates are not renewed; issue a new one (mtlskit issue ... --force)", e.Kind, n, e.Serial, r.At.Format(time.DateOnly), r.ReasonName)
			}
			preds[i] = *e
			it, err := s.successorOf(*e, opts)
			if err != nil {
				return err
			}
			items[i] = it
		}
		iss, err := s.Issuer(opts.Passphrase)
		if err != nil {
			return err
		}
		iss.CRLURLs, iss.OCSPURLs = idx.CA.urls()
		issued, err := signAll(items, iss, idx)
		if err != nil {
			return err
		}
		tmps := make([]string, len(items))
		defer func() {
			for _, t := range tmps {
				if t != "" {
					os.RemoveAll(t)
				}
			}
		}()
		now := time.Now().UTC()
		entries := make([]Entry, len(items))
		for i, it := range items {
			entries[i] = leafEntry(it.name, it.req.Kind, issued[i], now)
		}
		// Successors are linted by the next audit, as single issues are
		// (lint_cache.go).
		if err := s.writeLeaves(items, issued, tmps, func() error { return nil }); err != nil {
			return err
		}
		crashPoint(crashIssueWritten)
		if err := writeNewFile(s.path(pendingName), nil, pubFileMode, false); err != nil {
			return err
		}
		defer os.Remove(s.path(pendingName))
		exchanged := make([]bool, len(items))
		for i, it := range items {
			if exchanged[i], err = s.swapIn(tmps[i], it.name); err != nil {
				for j := i - 1; j >= 0; j-- {
					s.swapBack(tmps[j], items[j].name, exchanged[j])
				}
				return err
			}
		}
		for _, d := range []string{s.path(issuedDir), s.Dir} {
			if err := syncDir(d); err != nil {
				return err
			}
		}
		for i, p := range preds {
			rekeyed := opts.Rekey
			entries[i].RenewedFrom = p.Serial
			idx.remove(p.Name)
			idx.Entries = append(idx.Entries, entries[i])
			idx.Superseded = append(idx.Superseded, Supersession{
				Name: p.Name, Kind: p.Kind, Serial: p.Serial, SHA256: p.SHA256, NotBefore: p.NotBefore, NotAfter: p.NotAfter,
				RenewedFrom: p.RenewedFrom, At: now, By: entries[i].Serial, Rekeyed: rekeyed,
			})
			out = append(out, Renewal{Predecessor: p, Successor: entries[i], Rekeyed: rekeyed, Exchanged: exchanged[i]})
		}
		if err := s.writeIndex(idx); err != nil {
			return err
		}
		crashPoint(crashRenewIndexed)
		for _, it := range items {
			os.RemoveAll(s.asideOf(it.name))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// The test-only crash points of a renewal, besides the issue-* points
// of writing its files (issue-tmpdir ... issue-written), the atomic-*
// points of the index and, on the fallback without an atomic exchange,
// issue-aside.
const (
	crashRenewStaged  = "renew-staged"  // successor at .tmp~old-issued-NAME, predecessor in place
	crashRenewSwapped = "renew-swapped" // successor at issued/NAME, predecessor aside, index not updated
	crashRenewIndexed = "renew-indexed" // index names the successor; predecessor not yet removed
)

func (s *Store) asideOf(name string) string { return s.path(asidePrefix + asideIssued + name) }

// swapIn puts the fully written directory tmp at issued/NAME. With an
// atomic exchange: tmp is moved to .tmp~old-issued-NAME, then exchanged
// with issued/NAME, which leaves the predecessor there. Without one
// (another OS, a file system that refuses RENAME_EXCHANGE): the
// predecessor is moved there first, then tmp to issued/NAME, as `issue
// --force` does. It reports whether the exchange was used.
func (s *Store) swapIn(tmp, name string) (bool, error) {
	final, aside := s.path(issuedDir, name), s.asideOf(name)
	if err := os.Rename(tmp, aside); err != nil {
		return false, err
	}
	crashPoint(crashRenewStaged)
	err := exchangeDirs(aside, final)
	if err == nil {
		crashPoint(crashRenewSwapped)
		return true, nil
	}
	// Put the successor back where it was written, then fall back.
	if err2 := os.Rename(aside, tmp); err2 != nil {
		return false, errors.Join(err, err2)
	}
	if !errors.Is(err, errExchangeUnsupported) {
		return false, err
	}
	if err := os.Rename(final, aside); err != nil {
		return false, err
	}
	crashPoint(crashIssueAside)
	if err := os.Rename(tmp, final); err != nil {
		os.Rename(aside, final)
		return false, err
	}
	crashPoint(crashRenewSwapped)
	return false, nil
}

// swapBack undoes swapIn for a batch that failed later, best effort:
// the predecessor returns to issued/NAME and the successor to tmp.
func (s *Store) swapBack(tmp, name string, exchanged bool) {
	final, aside := s.path(issuedDir, name), s.asideOf(name)
	if exchanged {
		if exchangeDirs(aside, final) == nil {
			os.Rename(aside, tmp)
		}
		return
	}
	if os.Rename(final, tmp) == nil {
		os.Rename(aside, final)
	}
}

// successorOf describes the renewal of e: its request (kind, names,
// extended key usages and key type read from the certificate) and how to
// sign it.
func (s *Store) successorOf(e Entry, opts RenewOptions) (pending, error) {
	cert, err := s.entryCert(e)
	if err != nil {
		return pending{}, err
	}
	req := Request{
		Kind:       e.Kind,
		CommonName: cert.Subject.CommonName,
		SANs:       SANsOf(cert.DNSNames, cert.IPAddresses, cert.EmailAddresses, cert.URIs),
		KeyType:    KeyTypeOf(cert.PublicKey),
		Validity:   opts.Validity,
	}
	if len(cert.Subject.Organization) > 0 {
		req.Organization = cert.Subject.Organization[0]
	}
	if req.Validity == 0 {
		// The store backdates NotBefore: the lifetime asked for was the
		// span less the backdate.
		life := cert.NotAfter.Sub(cert.NotBefore)
		if life > Backdate {
			life -= Backdate
		}
		req.Validity = life
	}
	server, serverClient, client := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	switch {
	case e.Kind == KindServer && slices.Equal(cert.ExtKeyUsage, server), e.Kind == KindClient && slices.Equal(cert.ExtKeyUsage, client):
	case e.Kind == KindServer && slices.Equal(cert.ExtKeyUsage, serverClient):
		req.ClientAuth = true
	default:
		req.UnsafeExtKeyUsage = cert.ExtKeyUsage
	}
	if e.Kind == KindServer && req.SANs.Empty() {
		req.UnsafeAllowMissingSAN = true
	}
	var key crypto.Signer
	if e.Key != "" {
		data, err := os.ReadFile(s.path(e.Key))
		if err != nil {
			return pending{}, err
		}
		if key, err = ParseKey(data, nil); err != nil {
			return pending{}, fmt.Errorf("%s: %v", s.path(e.Key), err)
		}
		if !KeyMatches(key, cert.PublicKey) {
			return pending{}, fmt.Errorf("%s does not belong to %s: the store is damaged", s.path(e.Key), s.path(e.Cert))
		}
	}
	switch {
	case opts.Rekey && key == nil:
		return pending{}, detailf(ErrRenewNoKey, "%q was signed from a CSR and the store has no key of it: renew it without --rekey (the same public key is certified again) or sign a new CSR", e.Name)
	case opts.Rekey:
		return pending{name: e.Name, req: req, make: func(iss *Issuer) (*Issued, error) { return iss.Issue(req) }}, nil
	case key != nil:
		req.Key = key
		return pending{name: e.Name, req: req, make: func(iss *Issuer) (*Issued, error) { return iss.Issue(req) }}, nil
	}
	pub := cert.PublicKey
	return pending{name: e.Name, req: req, make: func(iss *Issuer) (*Issued, error) {
		c, err := iss.certify(req, pub, time.Now())
		if err != nil {
			return nil, err
		}
		return &Issued{Cert: c, Chain: iss.chainBelowRoot()}, nil
	}}, nil
}
