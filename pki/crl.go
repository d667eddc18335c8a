package pki

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"path/filepath"
	"time"
)

// CRL file names in ca/: the issuing CA's CRL (the intermediate's when
// there is one, listing revoked leaves) and, with an intermediate, the
// root's CRL (listing revoked intermediates: none, since a CA is replaced,
// not revoked, but verifiers that check the whole chain need it).
const (
	crlPEMFile     = "crl.pem"
	crlDERFile     = "crl.der"
	rootCRLPEMFile = "root-crl.pem"
	rootCRLDERFile = "root-crl.der"
)

// DefaultCRLValidity is how long a CRL is valid when no NextUpdate is given.
const DefaultCRLValidity = 7 * Day

// CRLOptions tune WriteCRL.
type CRLOptions struct {
	// NextUpdate is how long the CRL is valid (DefaultCRLValidity when 0).
	NextUpdate time.Duration
	Passphrase PassphraseFunc
	// Now is the thisUpdate time; zero means now.
	Now time.Time
}

// CRLFile is one CRL WriteCRL wrote.
type CRLFile struct {
	Issuer     string    `json:"issuer"`
	Number     int64     `json:"number"`
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update"`
	Entries    int       `json:"entries"`
	PEM        string    `json:"pem"`
	DER        string    `json:"der"`
}

// MakeCRL signs a CRL by iss listing the revocations of certificates it
// issued (those whose Authority Key Identifier is its subject key ID),
// with CRL number number. crypto/x509 adds the Authority Key Identifier.
func MakeCRL(iss *Issuer, revs []Revocation, number int64, thisUpdate, nextUpdate time.Time) ([]byte, int, error) {
	ski := hex.EncodeToString(iss.Cert.SubjectKeyId)
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(number),
		ThisUpdate: thisUpdate.UTC().Truncate(time.Second),
		NextUpdate: nextUpdate.UTC().Truncate(time.Second),
	}
	for _, r := range revs {
		if r.IssuerKeyID != ski {
			continue
		}
		serial, ok := new(big.Int).SetString(r.Serial, 16)
		if !ok {
			return nil, 0, fmt.Errorf("revocation of %q: serial %q is not hex", r.Name, r.Serial)
		}
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: serial, RevocationTime: r.At.UTC(), ReasonCode: int(r.Reason),
		})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, iss.Cert, iss.Key)
	if err != nil {
		return nil, 0, fmt.Errorf("signing the CRL of %q: %v", iss.Cert.Subject.CommonName, err)
	}
	return der, len(tmpl.RevokedCertificateEntries), nil
}

// WriteCRL signs and writes the store's CRLs: ca/crl.pem and ca/crl.der
// by the issuing CA and, with an intermediate, ca/root-crl.pem and
// ca/root-crl.der by the root. Each gets the next CRL number: the number
// is recorded in the index before the files are written, so a crash
// leaves a gap, never a reused number.
func (s *Store) WriteCRL(opts CRLOptions) ([]CRLFile, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	validity := opts.NextUpdate
	if validity <= 0 {
		validity = DefaultCRLValidity
	}
	if !s.HasCA() {
		return nil, s.errNoCA() // before the lock, which would create the directory
	}
	var out []CRLFile
	err := s.withLock(func(idx index, idxErr error) error {
		if idxErr != nil {
			return idxErr
		}
		if !s.HasCA() {
			return s.errNoCA()
		}
		iss, err := s.Issuer(opts.Passphrase)
		if err != nil {
			return err
		}
		var signers []crlSigner
		if idx.CA == nil {
			idx.CA = &CAInfo{}
		}
		signers = append(signers, crlSigner{iss, crlPEMFile, crlDERFile, &idx.CA.CRLNumber})
		if s.hasIntermediate() {
			root, err := s.RootIssuer(opts.Passphrase)
			if err != nil {
				return err
			}
			signers = append(signers, crlSigner{root, rootCRLPEMFile, rootCRLDERFile, &idx.CA.RootCRLNumber})
		}
		for _, sg := range signers {
			*sg.number++
		}
		if err := s.writeIndex(idx); err != nil {
			return err
		}
		for _, sg := range signers {
			der, n, err := MakeCRL(sg.iss, idx.Revoked, *sg.number, now, now.Add(validity))
			if err != nil {
				return err
			}
			pemData := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
			if err := writeFileAtomic(s.path(caDir, sg.der), der, pubFileMode); err != nil {
				return err
			}
			if err := writeFileAtomic(s.path(caDir, sg.pem), pemData, pubFileMode); err != nil {
				return err
			}
			out = append(out, CRLFile{Issuer: sg.iss.Cert.Subject.CommonName, Number: *sg.number, ThisUpdate: now.UTC().Truncate(time.Second),
				NextUpdate: now.Add(validity).UTC().Truncate(time.Second), Entries: n,
				PEM: filepath.Join(caDir, sg.pem), DER: filepath.Join(caDir, sg.der)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// crlSigner is one CRL to write: its CA, its files, its counter in the
// index.
type crlSigner struct {
	iss      *Issuer
	pem, der string
	number   *int64
}

// CRLPaths are the store's CRL files that exist: the issuing CA's PEM,
// then the root's when there is an intermediate.
func (s *Store) CRLPaths() (issuing, root string) {
	issuing = s.path(caDir, crlPEMFile)
	if s.hasIntermediate() {
		root = s.path(caDir, rootCRLPEMFile)
	}
	return issuing, root
}

// ParseCRLs reads CRLs from PEM ("X509 CRL" blocks) or one DER CRL, and
// returns each as DER after checking it parses.
func ParseCRLs(data []byte) ([][]byte, error) {
	var out [][]byte
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "X509 CRL" {
			continue
		}
		if _, err := x509.ParseRevocationList(b.Bytes); err != nil {
			return nil, fmt.Errorf("CRL block %d: %v", len(out)+1, err)
		}
		out = append(out, b.Bytes)
	}
	if len(out) > 0 {
		return out, nil
	}
	if _, err := x509.ParseRevocationList(data); err != nil {
		return nil, fmt.Errorf("no PEM X509 CRL block, and not a DER CRL (%v)", err)
	}
	return [][]byte{data}, nil
}
