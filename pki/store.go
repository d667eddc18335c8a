package pki

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
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
		if err := writeCAFiles(tmp, root, rootCertFile, rootKeyFile, opts.Passphrase); err != nil {
			return err
		}
		if inter != nil {
			if err := writeCAFiles(tmp, inter, interCertFile, interKeyFile, opts.Passphrase); err != nil {
				return err
			}
		}
		if err := syncDir(tmp); err != nil {
			return err
		}
		crashPoint(crashInitWritten)
		// ca/ always exists here (ensureDir), so it always goes aside.
		swap := []swap{{tmp: tmp, final: s.path(caDir), aside: s.path(asidePrefix + caDir), replace: true}}
		return s.commit(swap, s.Dir, initPoints, func() error {
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
			return s.writeIndex(idx)
		})
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
// SignCSR), once the new directories are written: it marks the store
// pending, renames each swap into place (moving the old one aside first,
// and back if the rename fails), syncs parent (the directory that holds
// the finals), runs writeIndex, and only then removes the directories
// moved aside. A writer killed between any two steps leaves the pending
// mark or a directory aside, which the next writer repairs under the
// lock (recoverLocked, reconcile); docs/store.md walks through the cases.
func (s *Store) commit(swaps []swap, parent string, at commitPoints, writeIndex func() error) error {
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
	if err := writeIndex(); err != nil {
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

func writeCAFiles(dir string, ca *Issued, certName, keyName string, passphrase []byte) error {
	keyPEM, err := encodeKey(ca, passphrase)
	if err != nil {
		return err
	}
	if err := writeNewFile(filepath.Join(dir, keyName), keyPEM, keyFileMode, true); err != nil {
		return err
	}
	return writeNewFile(filepath.Join(dir, certName), EncodeCertsPEM(ca.Cert), pubFileMode, true)
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

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]*$`)

// CheckName validates a certificate name used as a directory name.
func CheckName(name string) error {
	switch {
	case name == "":
		return ErrNameEmpty
	case len(name) > maxNameLength:
		return detailf(ErrNameTooLong, "name %.20q... is %d characters long, over the limit of %d", name, len(name), maxNameLength)
	case !nameRE.MatchString(name) || strings.Contains(name, ".."):
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
	es, is, err := s.recordMany([]pending{{name: opts.Name, req: req, make: func(iss *Issuer) (*Issued, error) { return iss.Issue(req) }}}, opts)
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
	return s.recordMany(items, opts)
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
	es, is, err := s.recordMany([]pending{{name: opts.Name, req: req, make: func(iss *Issuer) (*Issued, error) { return iss.SignCSR(csr, req) }}}, opts)
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
// update: either all are recorded or none.
func (s *Store) recordMany(items []pending, opts IssueOptions) ([]Entry, []*Issued, error) {
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
		tmps := make([]string, len(items))
		defer func() {
			for _, t := range tmps {
				if t != "" {
					os.RemoveAll(t)
				}
			}
		}()
		if entries, err = s.writeLeaves(items, issued, tmps); err != nil {
			return err
		}
		crashPoint(crashIssueWritten)
		swaps := make([]swap, len(items))
		for i, it := range items {
			swaps[i] = swap{tmp: tmps[i], final: s.path(issuedDir, it.name), aside: s.path(asidePrefix + asideIssued + it.name), replace: exists[i]}
		}
		return s.commit(swaps, s.path(issuedDir), issuePoints, func() error {
			for i, it := range items {
				idx.remove(it.name)
				idx.Entries = append(idx.Entries, entries[i])
			}
			return s.writeIndex(idx)
		})
	})
	if err != nil {
		return nil, nil, err
	}
	return entries, issued, nil
}

// checkBatch validates a batch before the store is touched: the kinds,
// the names (DefaultName fills in empty ones) and that no name repeats;
// and that the store has a CA.
func (s *Store) checkBatch(items []pending) error {
	seen := map[string]bool{}
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
	for i, it := range items {
		_, statErr := os.Stat(s.path(issuedDir, it.name))
		exists[i] = statErr == nil
		if prev := idx.find(it.name); (prev != nil || exists[i]) && !force {
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
	serials := map[string]bool{}
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
// parallel, synced file by file for small batches and with one file
// system flush for large ones. It returns the index entries.
func (s *Store) writeLeaves(items []pending, issued []*Issued, tmps []string) ([]Entry, error) {
	if err := ensureDir(s.path(issuedDir)); err != nil {
		return nil, err
	}
	syncEach := !haveSyncfs || len(items) < syncEachBelow
	entries := make([]Entry, len(items))
	now := time.Now().UTC()
	if err := forEachParallel(len(items), func(i int) (err error) {
		it := items[i]
		if tmps[i], err = os.MkdirTemp(s.path(issuedDir), tmpPrefix+it.name+"-"); err != nil {
			return err
		}
		crashPoint(crashIssueTmpDir)
		entries[i], err = writeLeafFiles(tmps[i], it.name, it.req.Kind, issued[i], now, syncEach)
		return err
	}); err != nil {
		return nil, err
	}
	if !syncEach {
		if err := syncFileSystem(s.path(issuedDir)); err != nil {
			return nil, err
		}
	}
	return entries, nil
}

// forEachParallel runs fn(0..n-1) on up to GOMAXPROCS goroutines and
// joins the errors. Signing is CPU work and creating files is kernel work
// on separate directories, so both spread over the cores.
func forEachParallel(n int, fn func(i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = fn(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// writeLeafFiles writes key.pem (when the key is known), cert.pem and
// chain.pem into dir and returns the index entry for them.
func writeLeafFiles(dir, name string, kind Kind, issued *Issued, now time.Time, sync bool) (Entry, error) {
	rel := filepath.Join(issuedDir, name)
	keyRel := ""
	if issued.Key != nil {
		keyPEM, err := EncodeKeyPEM(issued.Key)
		if err != nil {
			return Entry{}, err
		}
		if err := writeNewFile(filepath.Join(dir, leafKeyFile), keyPEM, keyFileMode, sync); err != nil {
			return Entry{}, err
		}
		crashPoint(crashIssueKey)
		keyRel = filepath.Join(rel, leafKeyFile)
	}
	if err := writeNewFile(filepath.Join(dir, leafCertFile), EncodeCertsPEM(issued.Cert), pubFileMode, sync); err != nil {
		return Entry{}, err
	}
	crashPoint(crashIssueCert)
	if len(issued.Chain) == 0 {
		// A leaf signed by the root has nothing to add: chain.pem is the
		// same bytes, and a hard link costs a tenth of a new file.
		if err := os.Link(filepath.Join(dir, leafCertFile), filepath.Join(dir, leafChainFile)); err != nil {
			return Entry{}, err
		}
	} else if err := writeNewFile(filepath.Join(dir, leafChainFile), EncodeCertsPEM(issued.FullChain()...), pubFileMode, sync); err != nil {
		return Entry{}, err
	}
	if sync {
		if err := syncDir(dir); err != nil {
			return Entry{}, err
		}
	}
	return entryFor(name, kind, issued.Cert, now, filepath.Join(rel, leafCertFile), keyRel, filepath.Join(rel, leafChainFile)), nil
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
	data, err := os.ReadFile(s.path(indexFile))
	if errors.Is(err, fs.ErrNotExist) {
		return index{Version: indexVersion}, nil
	}
	if err != nil {
		return index{}, err
	}
	return parseIndex(s.path(indexFile), data)
}

// parseIndex decodes index.json (read from path) and checks what the
// store relies on: a known version, known kinds, valid names and file
// paths that stay inside the store. Its error is one line.
func parseIndex(path string, data []byte) (index, error) {
	var idx index
	if err := json.Unmarshal(data, &idx); err != nil {
		return index{}, fmt.Errorf("index %s is damaged (%s): restore it from a backup", path, oneLine(err.Error()))
	}
	if idx.Version > indexVersion {
		return index{}, fmt.Errorf("index %s has version %d, newer than this mtlskit understands (%d): upgrade mtlskit", path, idx.Version, indexVersion)
	}
	for i, e := range idx.Entries {
		bad := ""
		switch {
		case e.Kind != KindRoot && e.Kind != KindIntermediate && e.Kind != KindServer && e.Kind != KindClient:
			bad = fmt.Sprintf("kind %.20q is unknown", string(e.Kind))
		case CheckName(e.Name) != nil:
			bad = fmt.Sprintf("name %.40q is not a valid certificate name", e.Name)
		case !localPath(e.Cert, false) || !localPath(e.Key, true) || !localPath(e.Chain, true):
			bad = "a file path is empty or points outside the store"
		}
		if bad != "" {
			return index{}, fmt.Errorf("index %s is damaged (entry %d: %s): restore it from a backup", path, i+1, bad)
		}
	}
	return idx, nil
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
	idx.Version = indexVersion
	entries := make([]Entry, len(idx.Entries))
	for i, e := range idx.Entries {
		e.Revoked = nil // kept in idx.Revoked only
		entries[i] = e
	}
	idx.Entries = entries
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(s.path(indexFile), append(data, '\n'), pubFileMode)
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
	es := idx.Entries
	for i := range es {
		es[i].Revoked = idx.revocation(es[i].Serial)
	}
	rank := map[Kind]int{KindRoot: 0, KindIntermediate: 1}
	sort.SliceStable(es, func(i, j int) bool {
		ri, iok := rank[es[i].Kind]
		rj, jok := rank[es[j].Kind]
		if !iok {
			ri = 2
		}
		if !jok {
			rj = 2
		}
		if ri != rj {
			return ri < rj
		}
		return es[i].Name < es[j].Name
	})
	return es, nil
}

// Get returns the index entry of an issued certificate.
func (s *Store) Get(name string) (*Entry, error) {
	s.settle()
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	e := idx.find(name)
	if e == nil {
		return nil, detailf(ErrNotFound, "no certificate named %q in %s", name, s.Dir)
	}
	e.Revoked = idx.revocation(e.Serial)
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
