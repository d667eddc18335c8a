package pki

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// asidePrefix names a directory a writer moved out of the way, to the
// top of the store, to swap in its replacement: .tmp~old-ca for `ca init
// --force`, .tmp~old-issued-NAME for issue --force. It cannot be
// mistaken for a temporary directory (.tmp-NAME-*), since names never
// hold '~'. pendingName marks a writer between its first rename and its
// index update. Both sit at the top of the store so that a reader sees a
// writer's traces with one directory read (settle).
const (
	asidePrefix = ".tmp~old-"
	asideIssued = "issued-"
	pendingName = ".tmp-pending"
)

// recoverLocked repairs what a writer that died left behind; it runs
// with the lock held, so no writer is live. A swap cut in half (the old
// directory moved aside, the new one not in place) is rolled back; every
// other temporary file or directory is removed. It returns the names of
// issued certificates whose directory was replaced, whose index entry
// must be checked against the files.
func (s *Store) recoverLocked() map[string]bool {
	recheck := map[string]bool{}
	restore := func(aside, final string) bool {
		if _, err := os.Lstat(final); errors.Is(err, fs.ErrNotExist) {
			return os.Rename(aside, final) == nil
		}
		return false
	}
	restore(s.path(asidePrefix+caDir), s.path(caDir))
	if ents, err := os.ReadDir(s.Dir); err == nil {
		for _, e := range ents {
			if name, ok := strings.CutPrefix(e.Name(), asidePrefix+asideIssued); ok {
				if !restore(s.path(e.Name()), s.path(issuedDir, name)) {
					recheck[name] = true
				}
			}
		}
	}
	for _, dir := range []string{s.Dir, s.path(caDir), s.path(issuedDir)} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), tmpPrefix) || strings.HasPrefix(e.Name(), asidePrefix) {
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
	}
	return recheck
}

// settle lets a reader see the store as the next writer would leave it:
// when the top of the store holds a writer's traces (a temporary file, a
// directory moved aside, the pending mark), it waits for the lock and
// repairs the store as a writer would, so a reader never reports a
// store cut in half by a crash. On a store it cannot write (read-only),
// it leaves the store as it is.
func (s *Store) settle() {
	ents, err := os.ReadDir(s.Dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp") {
			_ = s.withLock(func(index, error) error { return nil })
			return
		}
	}
}

// reconcile brings the index in line with certificates whose files
// landed but whose index update did not (a writer killed between its
// renames): the CA entries are rebuilt when ca/root.pem is not the one
// indexed, and a directory under issued/ with no entry, or listed in
// recheck, gets an entry read from its files. It reports whether idx
// changed.
func (s *Store) reconcile(idx *index, recheck map[string]bool) bool {
	changed := false
	if root, t, err := readCertAt(s.RootCertPath()); err == nil {
		var have *Entry
		for i := range idx.Entries {
			if idx.Entries[i].Kind == KindRoot {
				have = &idx.Entries[i]
			}
		}
		if have == nil || have.SHA256 != certSum(root) {
			idx.Entries = withoutCA(idx.Entries)
			idx.Entries = append(idx.Entries, entryFor("root", KindRoot, root, t, filepath.Join(caDir, rootCertFile), filepath.Join(caDir, rootKeyFile), ""))
			if inter, t, err := readCertAt(s.path(caDir, interCertFile)); err == nil {
				idx.Entries = append(idx.Entries, entryFor("intermediate", KindIntermediate, inter, t, filepath.Join(caDir, interCertFile), filepath.Join(caDir, interKeyFile), filepath.Join(caDir, interCertFile)))
			}
			changed = true
		}
	}
	ents, err := os.ReadDir(s.path(issuedDir))
	if err != nil {
		return changed
	}
	indexed := map[string]string{}
	for _, e := range idx.Entries {
		if !e.Kind.IsCA() {
			indexed[e.Name] = e.SHA256
		}
	}
	for _, d := range ents {
		name := d.Name()
		sum, ok := indexed[name]
		if !d.IsDir() || CheckName(name) != nil || (ok && !recheck[name]) {
			continue
		}
		rel := filepath.Join(issuedDir, name)
		cert, t, err := readCertAt(s.path(rel, leafCertFile))
		if err != nil || (ok && sum == certSum(cert)) {
			continue
		}
		kind := KindClient
		for _, u := range cert.ExtKeyUsage {
			if u == x509.ExtKeyUsageServerAuth {
				kind = KindServer
			}
		}
		keyRel := ""
		if _, err := os.Stat(s.path(rel, leafKeyFile)); err == nil {
			keyRel = filepath.Join(rel, leafKeyFile)
		}
		idx.remove(name)
		idx.Entries = append(idx.Entries, entryFor(name, kind, cert, t, filepath.Join(rel, leafCertFile), keyRel, filepath.Join(rel, leafChainFile)))
		changed = true
	}
	return changed
}

// readCertAt reads the first certificate of a PEM file and the file's
// modification time (the creation time of a reconciled entry).
func readCertAt(path string) (*x509.Certificate, time.Time, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, time.Time{}, err
	}
	certs, err := ParseCerts(data)
	if err != nil {
		return nil, time.Time{}, err
	}
	var t time.Time
	if fi, err := os.Stat(path); err == nil {
		t = fi.ModTime().UTC()
	}
	return certs[0], t, nil
}

func certSum(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// The test-only crash points, roughly in the order a writer passes them.
// Issue, IssueMany and SignCSR pass the issue-* points (issue-aside only
// with --force over an existing name), Init the init-* points; both pass
// locked and the atomic-* points of the index update. Issue and Init
// write and sync the index's temporary file while the certificate files
// are synced (atomic-partial and atomic-written may come before
// issue-written or init-written), and rename it only after every
// directory is in place (atomic-renamed). Only a build with
// -tags mtlskit_crashtest stops at them (crash_on.go); in every other
// build crashPoint is an empty function (crash_off.go).
const (
	crashLocked        = "locked"         // lock held, store repaired, nothing written
	crashIssueTmpDir   = "issue-tmpdir"   // issued/.tmp-NAME-* created, empty
	crashIssueKey      = "issue-key"      // key.pem written in the temporary directory
	crashIssueCert     = "issue-cert"     // cert.pem written too (chain.pem not yet)
	crashIssueWritten  = "issue-written"  // every file written and synced
	crashIssueAside    = "issue-aside"    // --force: old issued/NAME moved aside, new not in place
	crashIssueRenamed  = "issue-renamed"  // issued/NAME in place, index not updated
	crashAtomicPartial = "atomic-partial" // half of index.json's temporary file written
	crashAtomicWritten = "atomic-written" // index.json's temporary file written and synced
	crashAtomicRenamed = "atomic-renamed" // index.json replaced, directory not synced
	crashIssueIndexed  = "issue-indexed"  // index written; replaced directory not yet removed
	crashInitWritten   = "init-written"   // new CA files written in .tmp-ca-*
	crashInitAside     = "init-aside"     // old ca/ moved aside, new not in place
	crashInitSwapped   = "init-swapped"   // new ca/ in place, index not updated
	crashInitIndexed   = "init-indexed"   // index written; old CA not yet removed
)
