package pki

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// File names inside a store; docs/store.md describes the layout.
const (
	caDir            = "ca"
	issuedDir        = "issued"
	indexFile        = "index.json"
	lockName         = ".lock"
	rootCertFile     = "root.pem"
	rootKeyFile      = "root-key.pem"
	interCertFile    = "intermediate.pem"
	interKeyFile     = "intermediate-key.pem"
	leafCertFile     = "cert.pem"
	leafKeyFile      = "key.pem"
	leafChainFile    = "chain.pem"
	indexVersion     = 1
	tmpPrefix        = ".tmp-"
	maxNameLength    = 64
	storeDescription = "mtlskit store"
)

// Store is a CA and the certificates it issued, kept in one directory.
type Store struct {
	Dir string
}

// Entry is one certificate in the store's index.
type Entry struct {
	Name       string    `json:"name"`
	Kind       Kind      `json:"kind"`
	Serial     string    `json:"serial"`
	CommonName string    `json:"common_name"`
	SANs       []string  `json:"sans"`
	KeyType    KeyType   `json:"key_type"`
	NotBefore  time.Time `json:"not_before"`
	NotAfter   time.Time `json:"not_after"`
	SHA256     string    `json:"sha256"`
	Issuer     string    `json:"issuer"`
	Created    time.Time `json:"created"`
	Cert       string    `json:"cert"`
	Key        string    `json:"key,omitempty"`
	Chain      string    `json:"chain,omitempty"`
	// Revoked is the certificate's revocation, filled in by List and
	// Get from the index's revocations (never stored in the entry).
	Revoked *Revocation `json:"revoked,omitempty"`
	// RenewedFrom is the serial of the certificate this one renewed
	// (`mtlskit renew`); its record is in the index's superseded list.
	RenewedFrom string `json:"renewed_from,omitempty"`
	// lint is the certificate's cached zlint findings (lint_cache.go),
	// kept in the index only.
	lint *lintRecord
}

type index struct {
	Version int     `json:"version"`
	Entries []Entry `json:"entries"`
	// CA holds the CA's revocation URLs and CRL counters (absent before
	// any was set); Revoked every revocation, oldest first.
	CA      *CAInfo      `json:"ca,omitempty"`
	Revoked []Revocation `json:"revoked,omitempty"`
	// Superseded records every certificate a renewal replaced, oldest
	// first (renew.go).
	Superseded []Supersession `json:"superseded,omitempty"`
	// LintSigners are the signing keys (SPKI SHA-256, first 16 bytes,
	// hex) a certificate of which passed the signer lints, with the
	// LintKey of that run (lint_cache.go).
	LintSigners map[string]string `json:"lint_signers,omitempty"`
}

// PassphraseFunc supplies the passphrase of an encrypted CA key when one
// is needed. It may prompt; it is not called for plain keys.
type PassphraseFunc func() ([]byte, error)

// InitOptions configures a new CA.
type InitOptions struct {
	CommonName           string
	KeyType              KeyType
	Validity             time.Duration
	Intermediate         bool
	IntermediateValidity time.Duration
	PermittedDNS         []string
	ExcludedDNS          []string
	PermittedIPs         []*net.IPNet
	Passphrase           []byte // when set, CA keys are written encrypted
	Force                bool   // replace an existing CA
	// CRLURL and OCSPURL (http://) go into every leaf issued after, as a
	// CRL distribution point and an AIA OCSP URL.
	CRLURL  string
	OCSPURL string
}

// ErrNoCA is returned when a store has no CA yet.
var ErrNoCA = errors.New("no CA in this store")

// OpenStore returns the store in dir without creating anything.
func OpenStore(dir string) *Store {
	return &Store{Dir: dir}
}

func (s *Store) path(parts ...string) string {
	return filepath.Join(append([]string{s.Dir}, parts...)...)
}

// RootCertPath is the trust anchor peers must be given.
func (s *Store) RootCertPath() string { return s.path(caDir, rootCertFile) }

// HasCA reports whether the store holds a root certificate.
func (s *Store) HasCA() bool {
	_, err := os.Stat(s.RootCertPath())
	return err == nil
}

// withLock runs fn holding the store's exclusive lock, after repairing
// what an interrupted writer left behind (recoverLocked, reconcile). fn
// gets the index as read under the lock, or the error reading it.
func (s *Store) withLock(fn func(idx index, idxErr error) error) error {
	if err := ensureDir(s.Dir); err != nil {
		return err
	}
	f, err := os.OpenFile(s.path(lockName), os.O_RDWR|os.O_CREATE, keyFileMode)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := lockFile(f); err != nil {
		return fmt.Errorf("locking %s: %w", s.Dir, err)
	}
	defer unlockFile(f)
	recheck := s.recoverLocked()
	idx, idxErr := s.readIndex()
	if idxErr == nil && s.reconcile(&idx, recheck) {
		if err := s.writeIndex(idx); err != nil {
			return err
		}
	}
	crashPoint(crashLocked)
	return fn(idx, idxErr)
}

// Init creates a root CA (and, with opts.Intermediate, an intermediate
// that signs the leaves) in the store. It refuses to replace an existing
// CA unless opts.Force is set.
func (s *Store) Init(opts InitOptions) ([]Entry, error) {
	for _, u := range []struct{ what, url string }{{"CRL URL", opts.CRLURL}, {"OCSP URL", opts.OCSPURL}} {
		if u.url != "" {
			if err := CheckRevocationURL(u.what, u.url); err != nil {
				return nil, err
			}
		}
	}
	var out []Entry
	err := s.withLock(func(idx index, idxErr error) error {
		if s.HasCA() && !opts.Force {
			return &CAExistsError{Dir: s.Dir}
		}
		root, inter, err := newCA(opts)
		if err != nil {
			return err
		}
		if err := ensureDir(s.path(caDir)); err != nil {
			return err
		}
		// Write into a temporary directory, then swap it in whole.
		tmp, err := os.MkdirTemp(s.Dir, tmpPrefix+"ca-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		// The new index is written and synced with the CA files, and
		// renamed into place after the swap (commit). The CA certificates
		// are linted by the first audit (lint_cache.go).
		files := &newFiles{}
		defer files.close()
		if err := writeCAFiles(files, tmp, root, rootCertFile, rootKeyFile, opts.Passphrase); err != nil {
			return err
		}
		if inter != nil {
			if err := writeCAFiles(files, tmp, inter, interCertFile, interKeyFile, opts.Passphrase); err != nil {
				return err
			}
		}
		var idxFile *atomicFile
		prepare := func() error {
			now := time.Now().UTC()
			out = append(out, entryFor("root", KindRoot, root.Cert, now, filepath.Join(caDir, rootCertFile), filepath.Join(caDir, rootKeyFile), ""))
			if inter != nil {
				out = append(out, entryFor("intermediate", KindIntermediate, inter.Cert, now, filepath.Join(caDir, interCertFile), filepath.Join(caDir, interKeyFile), filepath.Join(caDir, interCertFile)))
			}
			// Certificates issued by a replaced CA stay listed (and fail the
			// store audit) rather than vanish from the inventory.
			if idxErr != nil {
				idx = index{Version: indexVersion}
			}
			idx.Entries = append(withoutCA(idx.Entries), out...)
			// A new CA starts its CRL numbers afresh; the revocations of
			// the old one stay (they name its key, so its CRL only).
			idx.CA = nil
			if opts.CRLURL != "" || opts.OCSPURL != "" {
				idx.CA = &CAInfo{CRLURL: opts.CRLURL, OCSPURL: opts.OCSPURL}
			}
			var err error
			idxFile, err = s.prepareIndex(idx)
			return err
		}
		flushes := append(files.flushes(), func() error { return syncDir(tmp) }, prepare)
		err = syncAll(flushes...)
		if cerr := files.close(); err == nil {
			err = cerr
		}
		if err != nil {
			idxFile.discard()
			return err
		}
		crashPoint(crashInitWritten)
		// ca/ always exists here (ensureDir), so it always goes aside.
		swap := []swap{{tmp: tmp, final: s.path(caDir), aside: s.path(asidePrefix + caDir), replace: true}}
		return s.commit(swap, s.Dir, initPoints, idxFile)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// newCA makes the root (and with opts.Intermediate the intermediate) of
// a new CA, in memory.
func newCA(opts InitOptions) (root, inter *Issued, err error) {
	root, err = NewRootCA(Request{
		CommonName:   opts.CommonName,
		KeyType:      opts.KeyType,
		Validity:     opts.Validity,
		MaxPathLen:   boolInt(opts.Intermediate),
		PermittedDNS: opts.PermittedDNS,
		ExcludedDNS:  opts.ExcludedDNS,
		PermittedIPs: opts.PermittedIPs,
	})
	if err != nil || !opts.Intermediate {
		return root, nil, err
	}
	rootLife := time.Until(root.Cert.NotAfter)
	switch {
	case opts.IntermediateValidity == 0 && DefaultIntermediateValidity >= rootLife:
		// The default must fit inside a short-lived root: all of it
		// but 30 days, or half of it for a root under two months.
		opts.IntermediateValidity = max(rootLife/2, rootLife-30*Day).Truncate(time.Hour)
	case opts.IntermediateValidity >= rootLife:
		return nil, nil, &IntermediateValidityError{Validity: opts.IntermediateValidity, RootLife: rootLife}
	}
	ri, _ := root.Issuer()
	inter, err = ri.Issue(Request{
		Kind:         KindIntermediate,
		CommonName:   strings.TrimSuffix(root.Cert.Subject.CommonName, " Root CA") + " Intermediate CA",
		KeyType:      opts.KeyType,
		Validity:     opts.IntermediateValidity,
		PermittedDNS: opts.PermittedDNS,
		ExcludedDNS:  opts.ExcludedDNS,
		PermittedIPs: opts.PermittedIPs,
	})
	if err != nil {
		return nil, nil, err
	}
	return root, inter, nil
}

// swap is one directory a store transaction puts in place: tmp, fully
// written and synced, becomes final. With replace, the final directory
// that is there is first moved aside, to the top of the store, and
// removed only once the index names its replacement.
type swap struct {
	tmp, final, aside string
	replace           bool
}

// commitPoints are the test-only crash points a transaction passes: after
// a directory is moved aside, after each directory is in place, and after
// the index is written.
type commitPoints struct{ aside, renamed, indexed string }

var (
	initPoints  = commitPoints{aside: crashInitAside, renamed: crashInitSwapped, indexed: crashInitIndexed}
	issuePoints = commitPoints{aside: crashIssueAside, renamed: crashIssueRenamed, indexed: crashIssueIndexed}
)

// commit is the second half of every store write (Init, Issue, IssueMany,
// SignCSR), once the new directories and the new index (idxFile) are
// written and synced: it marks the store pending, renames each swap into
// place (moving the old one aside first, and back if the rename fails),
// syncs parent (the directory that holds the finals), renames the index
// into place and syncs its directory, and only then removes the
// directories moved aside. A writer killed between any two steps leaves
// the pending mark or a directory aside, which the next writer repairs
// under the lock (recoverLocked, reconcile); docs/store.md walks through
// the cases.
func (s *Store) commit(swaps []swap, parent string, at commitPoints, idxFile *atomicFile) (err error) {
	defer func() {
		if err != nil {
			idxFile.discard()
		}
	}()
	if err := writeNewFile(s.path(pendingName), nil, pubFileMode, false); err != nil {
		return err
	}
	defer os.Remove(s.path(pendingName))
	var asides []string
	for _, sw := range swaps {
		if sw.replace {
			if err := os.Rename(sw.final, sw.aside); err != nil {
				return err
			}
			crashPoint(at.aside)
			if err := os.Rename(sw.tmp, sw.final); err != nil {
				os.Rename(sw.aside, sw.final)
				return err
			}
			asides = append(asides, sw.aside)
		} else if err := os.Rename(sw.tmp, sw.final); err != nil {
			return err
		}
		crashPoint(at.renamed)
	}
	if err := syncDir(parent); err != nil {
		return err
	}
	if err := idxFile.commit(); err != nil {
		return err
	}
	crashPoint(at.indexed)
	for _, old := range asides {
		os.RemoveAll(old)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func withoutCA(es []Entry) []Entry {
	var out []Entry
	for _, e := range es {
		if !e.Kind.IsCA() {
			out = append(out, e)
		}
	}
	return out
}

// writeCAFiles writes a CA's key and certificate into dir, unsynced
// (files holds them open for one flush).
func writeCAFiles(files *newFiles, dir string, ca *Issued, certName, keyName string, passphrase []byte) error {
	keyPEM, err := encodeKey(ca, passphrase)
	if err != nil {
		return err
	}
	if err := files.write(filepath.Join(dir, keyName), keyPEM, keyFileMode); err != nil {
		return err
	}
	return files.write(filepath.Join(dir, certName), EncodeCertsPEM(ca.Cert), pubFileMode)
}

func encodeKey(i *Issued, passphrase []byte) ([]byte, error) {
	if len(passphrase) > 0 {
		return EncodeEncryptedKeyPEM(i.Key, passphrase)
	}
	return EncodeKeyPEM(i.Key)
}

// errNoCA says why a store without root certificate has no CA: its path
// is a file (ErrStoreNotDir), or it holds none (ErrNoCA).
func (s *Store) errNoCA() error {
	if fi, err := os.Stat(s.Dir); err == nil && !fi.IsDir() {
		return detailf(ErrStoreNotDir, "store %s is a file, not a directory", s.Dir)
	}
	return fmt.Errorf("%w at %s", ErrNoCA, s.Dir)
}

// Root reads the store's root certificate.
func (s *Store) Root() (*x509.Certificate, error) {
	data, err := os.ReadFile(s.RootCertPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, s.errNoCA()
	}
	if err != nil {
		return nil, err
	}
	certs, err := ParseCerts(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", s.RootCertPath(), err)
	}
	return certs[0], nil
}

// Issuer loads the CA that signs leaves: the intermediate when there is
// one, the root otherwise. pass is called only for an encrypted key.
func (s *Store) Issuer(pass PassphraseFunc) (*Issuer, error) {
	if s.hasIntermediate() {
		return s.loadCA(interCertFile, interKeyFile, pass)
	}
	return s.loadCA(rootCertFile, rootKeyFile, pass)
}

// RootIssuer loads the root CA with its key (it signs the root's CRL,
// which covers the intermediate).
func (s *Store) RootIssuer(pass PassphraseFunc) (*Issuer, error) {
	return s.loadCA(rootCertFile, rootKeyFile, pass)
}

func (s *Store) hasIntermediate() bool {
	_, err := os.Stat(s.path(caDir, interCertFile))
	return err == nil
}

// loadCA reads a CA certificate and its key from ca/; pass is called
// only for an encrypted key.
func (s *Store) loadCA(certName, keyName string, pass PassphraseFunc) (*Issuer, error) {
	root, err := s.Root()
	if err != nil {
		return nil, err
	}
	certPath, keyPath := s.path(caDir, certName), s.path(caDir, keyName)
	cert := root
	if certName != rootCertFile {
		data, err := os.ReadFile(certPath)
		if err != nil {
			return nil, err
		}
		certs, err := ParseCerts(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", certPath, err)
		}
		cert = certs[0]
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, &CAKeyError{Path: keyPath, Err: ErrCAKeyUnreadable, cause: err,
			msg: fmt.Sprintf("CA key %s cannot be read (%v)", keyPath, err)}
	}
	var passphrase []byte
	if IsEncryptedKeyPEM(keyPEM) {
		if pass == nil {
			return nil, &CAKeyError{Path: keyPath, Err: ErrPassphraseNeeded, msg: fmt.Sprintf("CA key %s is encrypted", keyPath)}
		}
		if passphrase, err = pass(); err != nil {
			return nil, err
		}
	}
	key, err := ParseKey(keyPEM, passphrase)
	switch {
	case errors.Is(err, ErrWrongPassphrase):
		return nil, &CAKeyError{Path: keyPath, Err: ErrWrongPassphrase, msg: fmt.Sprintf("CA key %s: wrong passphrase", keyPath)}
	case errors.Is(err, ErrPassphraseNeeded):
		return nil, &CAKeyError{Path: keyPath, Err: ErrPassphraseNeeded, msg: fmt.Sprintf("CA key %s is encrypted and the passphrase is empty", keyPath)}
	case err != nil:
		return nil, fmt.Errorf("CA key %s: %v", keyPath, err)
	}
	if !KeyMatches(key, cert.PublicKey) {
		return nil, fmt.Errorf("CA key %s does not belong to %s: restore the matching pair", keyPath, certPath)
	}
	// Chain stays empty: above the intermediate is only the root, which
	// chains omit.
	return &Issuer{Cert: cert, Key: key}, nil
}

// validName is ^[A-Za-z0-9][A-Za-z0-9._@-]*$ (a loop: the index checks
// 100,000 names on every read).
func validName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '@' || c == '-'):
		default:
			return false
		}
	}
	return name != ""
}

// CheckName validates a certificate name used as a directory name.
func CheckName(name string) error {
	switch {
	case name == "":
		return ErrNameEmpty
	case len(name) > maxNameLength:
		return detailf(ErrNameTooLong, "name %.20q... is %d characters long, over the limit of %d", name, len(name), maxNameLength)
	case !validName(name) || strings.Contains(name, ".."):
		return detailf(ErrNameInvalid, "name %q may hold only letters, digits and . _ @ - (not first)", name)
	}
	return nil
}

// DefaultName derives a certificate name from its Common Name or first
// SAN: "*.example.com" becomes "wildcard.example.com", "spiffe://corp/a"
// becomes "corp-a".
func DefaultName(req Request) string {
	n := req.CommonName
	if n == "" {
		if names := req.SANs.Strings(); len(names) > 0 {
			n = names[0]
		}
	}
	n = strings.Replace(n, "*", "wildcard", 1)
	if i := strings.Index(n, "://"); i >= 0 {
		n = n[i+3:]
	}
	var b strings.Builder
	for _, r := range n {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-', r == '@':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-.")
	if len(out) > maxNameLength {
		out = out[:maxNameLength]
	}
	return out
}

// IssueOptions says where and how to record a new certificate.
type IssueOptions struct {
	Name       string // directory name under issued/; DefaultName when empty
	Force      bool   // replace an existing certificate of that name
	Passphrase PassphraseFunc
}

// Issue signs req with the store's CA and records the certificate, key
// and chain under issued/NAME.
func (s *Store) Issue(req Request, opts IssueOptions) (*Entry, *Issued, error) {
	es, is, err := s.recordMany([]pending{{name: opts.Name, req: req, make: func(iss *Issuer) (*Issued, error) { return iss.Issue(req) }}}, opts, false)
	if err != nil {
		return nil, nil, err
	}
	return &es[0], is[0], nil
}

// IssueMany signs every request with the store's CA under one lock, in
// parallel, and records them with one index update: the way to mint
// hundreds of client identities for a load test. names[i] names reqs[i]
// (DefaultName when empty). Either all are recorded or none.
func (s *Store) IssueMany(reqs []Request, names []string, opts IssueOptions) ([]Entry, []*Issued, error) {
	if len(names) != len(reqs) {
		return nil, nil, fmt.Errorf("IssueMany: %d names for %d requests", len(names), len(reqs))
	}
	items := make([]pending, len(reqs))
	for i, r := range reqs {
		r := r
		items[i] = pending{name: names[i], req: r, make: func(iss *Issuer) (*Issued, error) { return iss.Issue(r) }}
	}
	return s.recordMany(items, opts, true)
}

// SignCSR certifies a CSR with the store's CA and records the certificate
// and chain (no key) under issued/NAME.
func (s *Store) SignCSR(csr *x509.CertificateRequest, req Request, opts IssueOptions) (*Entry, *Issued, error) {
	// The CSR's names are filled in (and checked) here too, so the default
	// store name can come from them.
	req, err := requestFromCSR(csr, req)
	if err != nil {
		return nil, nil, err
	}
	es, is, err := s.recordMany([]pending{{name: opts.Name, req: req, make: func(iss *Issuer) (*Issued, error) { return iss.SignCSR(csr, req) }}}, opts, false)
	if err != nil {
		return nil, nil, err
	}
	return &es[0], is[0], nil
}

// pending is one certificate to issue and record.
type pending struct {
	name string
	req  Request
	make func(*Issuer) (*Issued, error)
}

// syncEachBelow is the batch size up to which every file is fsynced on
// its own; larger batches flush the file system once (syncfs), which is
// what makes a thousand identities take milliseconds instead of seconds.
const syncEachBelow = 8

// recordMany issues items under one lock and records them with one index
// update: either all are recorded or none. With lint, zlint's findings go
// into the index with them (IssueMany: a batch pays zlint's one-time
// costs, about 15 ms a process, once for all); a single certificate is
// linted by the first audit instead (lint_cache.go).
func (s *Store) recordMany(items []pending, opts IssueOptions, lint bool) ([]Entry, []*Issued, error) {
	if err := s.checkBatch(items); err != nil {
		return nil, nil, err
	}
	var entries []Entry
	var issued []*Issued
	err := s.withLock(func(idx index, err error) error {
		if err != nil {
			return err
		}
		exists, err := s.checkTaken(idx, items, opts.Force)
		if err != nil {
			return err
		}
		iss, err := s.Issuer(opts.Passphrase)
		if err != nil {
			return err
		}
		iss.CRLURLs, iss.OCSPURLs = idx.CA.urls()
		if issued, err = signAll(items, iss, idx); err != nil {
			return err
		}
		now := time.Now().UTC()
		entries = make([]Entry, len(items))
		certs := make([]*x509.Certificate, len(items))
		for i, it := range items {
			entries[i] = leafEntry(it.name, it.req.Kind, issued[i], now)
			certs[i] = issued[i].Cert
		}
		// zlint runs while the files are written (CPU next to the file
		// system's waits); the new index, with the findings, is written
		// and synced with the files and renamed into place last.
		var linted <-chan linted
		if lint {
			linted = lintAsync(idx.LintSigners, iss.Cert.PublicKey, certs)
		}
		var idxFile *atomicFile
		prepare := func() error {
			next := idx
			if linted != nil {
				l := <-linted
				for i := range entries {
					entries[i].lint = l.recs[i]
				}
				next.LintSigners = l.signers(idx.LintSigners)
			}
			next.Entries = withEntries(idx.Entries, entries)
			var err error
			idxFile, err = s.prepareIndex(next)
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
		if err := s.writeLeaves(items, issued, tmps, prepare); err != nil {
			idxFile.discard()
			return err
		}
		crashPoint(crashIssueWritten)
		swaps := make([]swap, len(items))
		for i, it := range items {
			swaps[i] = swap{tmp: tmps[i], final: s.path(issuedDir, it.name), aside: s.path(asidePrefix + asideIssued + it.name), replace: exists[i]}
		}
		return s.commit(swaps, s.path(issuedDir), issuePoints, idxFile)
	})
	if err != nil {
		return nil, nil, err
	}
	return entries, issued, nil
}

// withEntries is entries with the leaves of the same names replaced by
// add.
func withEntries(entries, add []Entry) []Entry {
	names := make(map[string]bool, len(add))
	for _, e := range add {
		names[e.Name] = true
	}
	out := make([]Entry, 0, len(entries)+len(add))
	for _, e := range entries {
		if e.Kind.IsCA() || !names[e.Name] {
			out = append(out, e)
		}
	}
	return append(out, add...)
}

// checkBatch validates a batch before the store is touched: the kinds,
// the names (DefaultName fills in empty ones) and that no name repeats;
// and that the store has a CA.
func (s *Store) checkBatch(items []pending) error {
	seen := make(map[string]bool, len(items))
	for i := range items {
		it := &items[i]
		if it.req.Kind != KindServer && it.req.Kind != KindClient {
			return fmt.Errorf("the store issues server and client certificates, not %q", it.req.Kind)
		}
		if it.name == "" {
			it.name = DefaultName(it.req)
		}
		if err := CheckName(it.name); err != nil {
			return err
		}
		if seen[it.name] {
			return fmt.Errorf("name %q appears twice in one batch: give each certificate its own name", it.name)
		}
		seen[it.name] = true
	}
	if !s.HasCA() {
		return s.errNoCA()
	}
	return nil
}

// checkTaken refuses names already in use (indexed, or a directory under
// issued/) unless force is set, and reports which have a directory.
func (s *Store) checkTaken(idx index, items []pending, force bool) ([]bool, error) {
	exists := make([]bool, len(items))
	indexed := make(map[string]*Entry, len(idx.Entries))
	for i := range idx.Entries {
		if e := &idx.Entries[i]; !e.Kind.IsCA() {
			if _, dup := indexed[e.Name]; !dup {
				indexed[e.Name] = e
			}
		}
	}
	// A large batch reads issued/ once rather than looking each name up.
	var onDisk map[string]bool
	if len(items) > 64 {
		if d, err := os.Open(s.path(issuedDir)); err == nil {
			names, err := d.Readdirnames(-1)
			d.Close()
			if err == nil {
				onDisk = make(map[string]bool, len(names))
				for _, n := range names {
					onDisk[n] = true
				}
			}
		} else if errors.Is(err, fs.ErrNotExist) {
			onDisk = map[string]bool{}
		}
	}
	for i, it := range items {
		if onDisk != nil {
			exists[i] = onDisk[it.name]
		} else {
			_, statErr := os.Stat(s.path(issuedDir, it.name))
			exists[i] = statErr == nil
		}
		if prev := indexed[it.name]; (prev != nil || exists[i]) && !force {
			taken := &NameTakenError{Name: it.name}
			if prev != nil {
				taken.Issued = prev.Created
			}
			return nil, taken
		}
	}
	return exists, nil
}

// signAll signs every item in parallel, with serials unique in the index.
func signAll(items []pending, iss *Issuer, idx index) ([]*Issued, error) {
	issued := make([]*Issued, len(items))
	if err := forEachParallel(len(items), func(i int) (err error) {
		issued[i], err = items[i].make(iss)
		return err
	}); err != nil {
		return nil, err
	}
	serials := make(map[string]bool, len(idx.Entries)+len(items))
	for _, e := range idx.Entries {
		serials[e.Serial] = true
	}
	for i := range issued {
		for serials[serialHex(issued[i].Cert)] { // 2^-127: defensive
			var err error
			if issued[i], err = items[i].make(iss); err != nil {
				return nil, err
			}
		}
		serials[serialHex(issued[i].Cert)] = true
	}
	return issued, nil
}

// writeLeaves writes each certificate's files into a new temporary
// directory under issued/ (tmps[i], for the caller to remove), in
// parallel, synced file by file for small batches (all flushes at once)
// and with one file system flush for large ones. alongside (the new
// index) runs at the same time, and has finished when it returns.
func (s *Store) writeLeaves(items []pending, issued []*Issued, tmps []string, alongside func() error) error {
	if err := ensureDir(s.path(issuedDir)); err != nil {
		return err
	}
	syncEach := !haveSyncfs || len(items) < syncEachBelow
	var sideErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		sideErr = alongside()
	}()
	err := forEachParallel(len(items), func(i int) (err error) {
		it := items[i]
		if tmps[i], err = os.MkdirTemp(s.path(issuedDir), tmpPrefix+it.name+"-"); err != nil {
			return err
		}
		crashPoint(crashIssueTmpDir)
		return writeLeafFiles(tmps[i], issued[i], syncEach)
	})
	if err == nil && !syncEach {
		err = syncFileSystem(s.path(issuedDir))
	}
	<-done
	return errors.Join(err, sideErr)
}

// forEachParallel runs fn(0..n-1) on up to GOMAXPROCS goroutines and
// joins the errors. Signing is CPU work and creating files is kernel work
// on separate directories, so both spread over the cores.
func forEachParallel(n int, fn func(i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		var errs []error
		for i := 0; i < n; i++ {
			if err := fn(i); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				errs[i] = fn(i)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// writeLeafFiles writes key.pem (when the key is known), cert.pem and
// chain.pem into dir; with sync, it flushes them and dir at once.
func writeLeafFiles(dir string, issued *Issued, sync bool) error {
	files := &newFiles{}
	defer files.close()
	if issued.Key != nil {
		keyPEM, err := EncodeKeyPEM(issued.Key)
		if err != nil {
			return err
		}
		if err := files.write(filepath.Join(dir, leafKeyFile), keyPEM, keyFileMode); err != nil {
			return err
		}
		crashPoint(crashIssueKey)
	}
	if err := files.write(filepath.Join(dir, leafCertFile), EncodeCertsPEM(issued.Cert), pubFileMode); err != nil {
		return err
	}
	crashPoint(crashIssueCert)
	if len(issued.Chain) == 0 {
		// A leaf signed by the root has nothing to add: chain.pem is the
		// same bytes, and a hard link costs a tenth of a new file.
		if err := os.Link(filepath.Join(dir, leafCertFile), filepath.Join(dir, leafChainFile)); err != nil {
			return err
		}
	} else if err := files.write(filepath.Join(dir, leafChainFile), EncodeCertsPEM(issued.FullChain()...), pubFileMode); err != nil {
		return err
	}
	if sync {
		if err := syncAll(append(files.flushes(), func() error { return syncDir(dir) })...); err != nil {
			return err
		}
	}
	return files.close()
}

// leafEntry is the index entry of a leaf written by writeLeafFiles.
func leafEntry(name string, kind Kind, issued *Issued, now time.Time) Entry {
	rel := filepath.Join(issuedDir, name)
	keyRel := ""
	if issued.Key != nil {
		keyRel = filepath.Join(rel, leafKeyFile)
	}
	return entryFor(name, kind, issued.Cert, now, filepath.Join(rel, leafCertFile), keyRel, filepath.Join(rel, leafChainFile))
}

func entryFor(name string, kind Kind, c *x509.Certificate, created time.Time, cert, key, chain string) Entry {
	sum := sha256.Sum256(c.Raw)
	sans := SANsOf(c.DNSNames, c.IPAddresses, c.EmailAddresses, c.URIs).Strings()
	if sans == nil {
		sans = []string{}
	}
	return Entry{
		Name: name, Kind: kind, Serial: serialHex(c), CommonName: c.Subject.CommonName,
		SANs: sans, KeyType: KeyTypeOf(c.PublicKey), NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
		SHA256: hex.EncodeToString(sum[:]), Issuer: c.Issuer.CommonName, Created: created,
		Cert: cert, Key: key, Chain: chain,
	}
}

func serialHex(c *x509.Certificate) string { return hex.EncodeToString(c.SerialNumber.Bytes()) }

func (x *index) find(name string) *Entry {
	for i := range x.Entries {
		if x.Entries[i].Name == name && !x.Entries[i].Kind.IsCA() {
			return &x.Entries[i]
		}
	}
	return nil
}

func (x *index) remove(name string) {
	out := x.Entries[:0]
	for _, e := range x.Entries {
		if e.Name != name || e.Kind.IsCA() {
			out = append(out, e)
		}
	}
	x.Entries = out
}

func (s *Store) readIndex() (index, error) {
	data, err := readFileString(s.path(indexFile))
	if errors.Is(err, fs.ErrNotExist) {
		return index{Version: indexVersion}, nil
	}
	if err != nil {
		return index{}, err
	}
	return parseIndex(s.path(indexFile), data)
}

// readFileString reads a file into a string without a second copy (the
// index's strings are pieces of it).
func readFileString(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var b strings.Builder
	if fi, err := f.Stat(); err == nil {
		b.Grow(int(fi.Size()) + 1)
	}
	if _, err := io.Copy(&b, f); err != nil {
		return "", err
	}
	return b.String(), nil
}

// parseIndex decodes index.json (read from path) and checks what the
// store relies on: a known version, known kinds, valid names and file
// paths that stay inside the store. Its error is one line.
func parseIndex(path string, data string) (index, error) {
	idx, err := decodeIndex(data)
	if err != nil {
		return index{}, fmt.Errorf("index %s is damaged (%s): restore it from a backup", path, oneLine(err.Error()))
	}
	if idx.Version > indexVersion {
		return index{}, fmt.Errorf("index %s has version %d, newer than this mtlskit understands (%d): upgrade mtlskit", path, idx.Version, indexVersion)
	}
	for i := range idx.Entries {
		if bad := entryProblem(&idx.Entries[i]); bad != "" {
			return index{}, fmt.Errorf("index %s is damaged (entry %d: %s): restore it from a backup", path, i+1, bad)
		}
	}
	return idx, nil
}

// entryProblem says what is wrong with an index entry the store cannot
// rely on (an unknown kind, an invalid name, a file path outside the
// store), or "".
func entryProblem(e *Entry) string {
	switch {
	case e.Kind != KindRoot && e.Kind != KindIntermediate && e.Kind != KindServer && e.Kind != KindClient:
		return fmt.Sprintf("kind %.20q is unknown", string(e.Kind))
	case CheckName(e.Name) != nil:
		return fmt.Sprintf("name %.40q is not a valid certificate name", e.Name)
	case !localPath(e.Cert, false) || !localPath(e.Key, true) || !localPath(e.Chain, true):
		return "a file path is empty or points outside the store"
	}
	return ""
}

// localPath reports whether p is a relative path inside the store (or
// empty, when optional).
func localPath(p string, optional bool) bool {
	if p == "" {
		return optional
	}
	return filepath.IsLocal(p)
}

// oneLine folds a message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func (s *Store) writeIndex(idx index) error {
	f, err := s.prepareIndex(idx)
	if err != nil {
		return err
	}
	return f.commit()
}

// prepareIndex writes idx to a temporary file beside index.json and
// syncs it, for commit to rename: entries in list order (CAs first, then
// by name), one a line (index_codec.go).
func (s *Store) prepareIndex(idx index) (*atomicFile, error) {
	idx.Version = indexVersion
	entries := make([]Entry, len(idx.Entries))
	for i, e := range idx.Entries {
		e.Revoked = nil // kept in idx.Revoked only
		entries[i] = e
	}
	sortEntries(entries)
	idx.Entries = entries
	return prepareAtomic(s.path(indexFile), encodeIndex(&idx), pubFileMode)
}

// listRank orders kinds in a listing: root, intermediate, then leaves.
func listRank(k Kind) int {
	switch k {
	case KindRoot:
		return 0
	case KindIntermediate:
		return 1
	}
	return 2
}

func listLess(a, b *Entry) bool {
	if ra, rb := listRank(a.Kind), listRank(b.Kind); ra != rb {
		return ra < rb
	}
	return a.Name < b.Name
}

// sortEntries puts entries in list order, stably (the index is written
// that way, so reading it needs no sort).
func sortEntries(es []Entry) {
	for i := 1; i < len(es); i++ {
		if listLess(&es[i], &es[i-1]) {
			sort.SliceStable(es, func(i, j int) bool { return listLess(&es[i], &es[j]) })
			return
		}
	}
}

// List returns every entry of the index, CAs first, then by name.
func (s *Store) List() ([]Entry, error) {
	s.settle()
	if !s.HasCA() {
		return nil, s.errNoCA()
	}
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	return idx.listed(), nil
}

// listed returns the entries in list order with their revocations.
func (x *index) listed() []Entry {
	es := x.Entries
	if len(x.Revoked) > 0 {
		revoked := make(map[string]*Revocation, len(x.Revoked))
		for i := len(x.Revoked) - 1; i >= 0; i-- { // the first of a serial wins, as in revocation
			revoked[x.Revoked[i].Serial] = &x.Revoked[i]
		}
		for i := range es {
			es[i].Revoked = revoked[es[i].Serial]
		}
	}
	sortEntries(es)
	return es
}

// Get returns the index entry of an issued certificate. An index its
// writer stamped is scanned for the one entry (lookup, index_lookup.go);
// any other is read and checked whole.
func (s *Store) Get(name string) (*Entry, error) {
	s.settle()
	e, err := s.lookup(name)
	if errors.Is(err, errSlowPath) {
		e, err = s.getFull(name)
	}
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, detailf(ErrNotFound, "no certificate named %q in %s", name, s.Dir)
	}
	return e, nil
}

// getFull is Get through the whole index: the entry, or nil when there
// is none.
func (s *Store) getFull(name string) (*Entry, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	e := idx.find(name)
	if e != nil {
		e.Revoked = idx.revocation(e.Serial)
	}
	return e, nil
}

// Load reads an issued certificate with its key (when the store has it)
// and its intermediates.
func (s *Store) Load(name string) (*Issued, error) {
	e, err := s.Get(name)
	if err != nil {
		return nil, err
	}
	chainPEM, err := os.ReadFile(s.path(e.Chain))
	if err != nil {
		return nil, err
	}
	certs, err := ParseCerts(chainPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", s.path(e.Chain), err)
	}
	out := &Issued{Cert: certs[0], Chain: certs[1:]}
	if e.Key != "" {
		keyPEM, err := os.ReadFile(s.path(e.Key))
		if err != nil {
			return nil, err
		}
		if out.Key, err = ParseKey(keyPEM, nil); err != nil {
			return nil, fmt.Errorf("%s: %v", s.path(e.Key), err)
		}
	}
	return out, nil
}

// Path makes a path inside the store from an Entry's relative file name.
func (s *Store) Path(rel string) string { return s.path(rel) }
