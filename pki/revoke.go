package pki

import (
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"
)

// RevocationReason is an RFC 5280 CRL reason code (section 5.3.1).
type RevocationReason int

// The reasons a leaf can be revoked for. Unspecified is written as no
// reason at all (RFC 5280: the extension SHOULD be absent rather than 0).
const (
	ReasonUnspecified          RevocationReason = 0
	ReasonKeyCompromise        RevocationReason = 1
	ReasonAffiliationChanged   RevocationReason = 3
	ReasonSuperseded           RevocationReason = 4
	ReasonCessationOfOperation RevocationReason = 5
	ReasonPrivilegeWithdrawn   RevocationReason = 9
)

var reasonNames = map[RevocationReason]string{
	ReasonUnspecified: "unspecified", ReasonKeyCompromise: "keyCompromise",
	ReasonAffiliationChanged: "affiliationChanged", ReasonSuperseded: "superseded",
	ReasonCessationOfOperation: "cessationOfOperation", ReasonPrivilegeWithdrawn: "privilegeWithdrawn",
}

func (r RevocationReason) String() string {
	if n, ok := reasonNames[r]; ok {
		return n
	}
	return fmt.Sprintf("reason-%d", int(r))
}

// ErrUnknownReason is a revocation reason ParseRevocationReason does not
// know (or one a leaf cannot be revoked for, such as cACompromise).
var ErrUnknownReason = errors.New("unknown revocation reason")

// ParseRevocationReason reads a reason by its RFC 5280 name, case
// insensitively ("keyCompromise", "superseded", ...); "" is unspecified.
func ParseRevocationReason(s string) (RevocationReason, error) {
	if s == "" {
		return ReasonUnspecified, nil
	}
	for r, n := range reasonNames {
		if strings.EqualFold(n, s) {
			return r, nil
		}
	}
	return 0, detailf(ErrUnknownReason, "revocation reason %q is not one of %s", s, strings.Join(RevocationReasonNames(), ", "))
}

// RevocationReasonNames lists the reasons a leaf can be revoked for.
func RevocationReasonNames() []string {
	var out []string
	for _, n := range reasonNames {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Revocation is one revoked certificate, as the index keeps it. The list
// only grows: a revoked certificate that is later replaced (--force)
// stays on its CA's CRL until it expires.
type Revocation struct {
	Serial string           `json:"serial"`
	Name   string           `json:"name"`
	At     time.Time        `json:"revoked_at"`
	Reason RevocationReason `json:"reason_code"`
	// ReasonName spells Reason for people reading index.json.
	ReasonName string `json:"reason"`
	// IssuerKeyID is the Authority Key Identifier of the certificate (the
	// subject key ID of the CA that issued it), hex: a CA's CRL lists the
	// revocations of its own certificates only.
	IssuerKeyID string `json:"issuer_key_id"`
	// NotAfter is the certificate's expiry (an expired certificate may
	// leave the CRL; mtlskit keeps it, as RFC 5280 allows).
	NotAfter time.Time `json:"not_after"`
}

// CAInfo is what the index keeps about the CA beyond its files: the URLs
// it puts in the leaves it issues and its CRL counter.
type CAInfo struct {
	CRLURL  string `json:"crl_url,omitempty"`
	OCSPURL string `json:"ocsp_url,omitempty"`
	// CRLNumber is the number of the last CRL written (RFC 5280 5.2.3:
	// monotonically increasing). The next CRL gets CRLNumber+1.
	CRLNumber int64 `json:"crl_number,omitempty"`
	// RootCRLNumber is the same for the root's CRL when an intermediate
	// signs the leaves.
	RootCRLNumber int64 `json:"root_crl_number,omitempty"`
}

// urls are the CRL and OCSP URLs leaves get (nil for none).
func (c *CAInfo) urls() (crl, ocsp []string) {
	if c == nil {
		return nil, nil
	}
	if c.CRLURL != "" {
		crl = []string{c.CRLURL}
	}
	if c.OCSPURL != "" {
		ocsp = []string{c.OCSPURL}
	}
	return crl, ocsp
}

// ErrAlreadyRevoked is a certificate that is revoked already.
var ErrAlreadyRevoked = errors.New("already revoked")

// ErrNotRevocable is a certificate the store does not revoke (its CA).
var ErrNotRevocable = errors.New("not revocable")

// ErrBadRevocationURL is a CRL or OCSP URL that is not http:// (RFC 5280
// and RFC 6960 clients fetch both over plain HTTP; the data is signed).
var ErrBadRevocationURL = errors.New("bad revocation URL")

// CheckRevocationURL accepts an absolute http:// URL with a host.
func CheckRevocationURL(what, s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return detailf(ErrBadRevocationURL, "%s %q is not an http:// URL with a host (clients fetch CRLs and ask OCSP over plain HTTP; the answers are signed)", what, s)
	}
	return nil
}

// RevokeOptions says what to revoke and why.
type RevokeOptions struct {
	// Name or Serial (hex, as `mtlskit list` shows it) picks the
	// certificate; exactly one is set.
	Name   string
	Serial string
	Reason RevocationReason
	// At is the revocation time; zero means now.
	At time.Time
}

// Revoke records the revocation of an issued certificate in the index
// (atomically, like every write). The CRL and the OCSP responder read it
// from there; `mtlskit crl` publishes it. Revoking twice is
// ErrAlreadyRevoked; a CA is ErrNotRevocable; an unknown one ErrNotFound.
func (s *Store) Revoke(opts RevokeOptions) (*Revocation, error) {
	out, err := s.RevokeMany([]RevokeOptions{opts})
	if err != nil {
		return nil, err
	}
	return &out[0], nil
}

// RevokeMany revokes several certificates with one index write: all or
// none (a fleet's devices retired at once). Each is checked as Revoke
// checks one, and naming one twice is ErrAlreadyRevoked.
func (s *Store) RevokeMany(list []RevokeOptions) ([]Revocation, error) {
	if !s.HasCA() {
		return nil, s.errNoCA() // before the lock, which would create the directory
	}
	var out []Revocation
	err := s.withLock(func(idx index, idxErr error) error {
		if idxErr != nil {
			return idxErr
		}
		revoked := map[string]*Revocation{}
		for i := range idx.Revoked {
			revoked[idx.Revoked[i].Serial] = &idx.Revoked[i]
		}
		akis := map[string]string{} // by certificate file, read once
		for _, opts := range list {
			r, err := s.revocationFor(&idx, opts, revoked, akis)
			if err != nil {
				return err
			}
			out = append(out, r)
			revoked[r.Serial] = &out[len(out)-1]
		}
		idx.Revoked = append(idx.Revoked, out...)
		return s.writeIndex(idx)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// revocationFor checks one revocation against the index and the ones
// already made, and builds its record.
func (s *Store) revocationFor(idx *index, opts RevokeOptions, revoked map[string]*Revocation, akis map[string]string) (Revocation, error) {
	e, err := idx.pick(opts.Name, opts.Serial)
	if err != nil {
		return Revocation{}, err
	}
	if prev := revoked[e.Serial]; prev != nil {
		return Revocation{}, detailf(ErrAlreadyRevoked, "%s %q (serial %s) was revoked on %s (%s)", e.Kind, e.Name, e.Serial, prev.At.UTC().Format(time.DateOnly), prev.ReasonName)
	}
	aki, ok := akis[e.Cert]
	if !ok {
		if aki, err = s.authorityKeyID(*e); err != nil {
			return Revocation{}, err
		}
		akis[e.Cert] = aki
	}
	at := opts.At
	if at.IsZero() {
		at = time.Now()
	}
	return Revocation{Serial: e.Serial, Name: e.Name, At: at.UTC().Truncate(time.Second), Reason: opts.Reason,
		ReasonName: opts.Reason.String(), IssuerKeyID: aki, NotAfter: e.NotAfter}, nil
}

// pick finds the leaf a revocation names, by name or by serial.
func (x *index) pick(name, serial string) (*Entry, error) {
	if (name == "") == (serial == "") {
		return nil, errors.New("give a certificate name or a serial, not both")
	}
	var e *Entry
	if name != "" {
		if e = x.find(name); e == nil {
			for i := range x.Entries {
				if x.Entries[i].Name == name {
					return nil, detailf(ErrNotRevocable, "%q is the store's %s: make a new CA instead (mtlskit ca init --force)", name, x.Entries[i].Kind)
				}
			}
			return nil, detailf(ErrNotFound, "no certificate named %q", name)
		}
		return e, nil
	}
	want := strings.ToLower(strings.TrimPrefix(strings.ReplaceAll(serial, ":", ""), "0x"))
	for i := range x.Entries {
		if strings.TrimLeft(x.Entries[i].Serial, "0") == strings.TrimLeft(want, "0") {
			if x.Entries[i].Kind.IsCA() {
				return nil, detailf(ErrNotRevocable, "serial %s is the store's %s: make a new CA instead (mtlskit ca init --force)", serial, x.Entries[i].Kind)
			}
			return &x.Entries[i], nil
		}
	}
	return nil, detailf(ErrNotFound, "no certificate with serial %s", serial)
}

// revocation is the record of a revoked serial, or nil.
func (x *index) revocation(serial string) *Revocation {
	for i := range x.Revoked {
		if x.Revoked[i].Serial == serial {
			return &x.Revoked[i]
		}
	}
	return nil
}

// authorityKeyID reads an entry's certificate for its Authority Key
// Identifier.
func (s *Store) authorityKeyID(e Entry) (string, error) {
	c, err := s.entryCert(e)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(c.AuthorityKeyId), nil
}

// entryCert reads the certificate an entry names.
func (s *Store) entryCert(e Entry) (*x509.Certificate, error) {
	data, err := os.ReadFile(s.path(e.Cert))
	if err != nil {
		return nil, err
	}
	certs, err := ParseCerts(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", s.path(e.Cert), err)
	}
	return certs[0], nil
}

// Revocations lists the store's revocations, oldest first.
func (s *Store) Revocations() ([]Revocation, error) {
	s.settle()
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	return idx.Revoked, nil
}

// RevocationOf returns the revocation of a serial, or nil.
func (s *Store) RevocationOf(serial string) (*Revocation, error) {
	rs, err := s.Revocations()
	if err != nil {
		return nil, err
	}
	for i := range rs {
		if rs[i].Serial == serial {
			return &rs[i], nil
		}
	}
	return nil, nil
}

// CA returns what the index keeps about the CA (its revocation URLs and
// CRL counters); zero when none was set.
func (s *Store) CA() (CAInfo, error) {
	s.settle()
	idx, err := s.readIndex()
	if err != nil {
		return CAInfo{}, err
	}
	if idx.CA == nil {
		return CAInfo{}, nil
	}
	return *idx.CA, nil
}
