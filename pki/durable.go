package pki

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
)

// atomicFile is a file written and synced under a temporary name beside
// path, waiting to be renamed over it. Preparing it apart from the rename
// lets a writer flush it together with the other files of its
// transaction (syncAll) and rename it only when they are in place: the
// index never names a file before that file is durable.
type atomicFile struct{ tmp, path string }

// prepareAtomic writes data to a new temporary file beside path and
// fsyncs it. Only commit makes it path.
func prepareAtomic(path string, data []byte, perm os.FileMode) (_ *atomicFile, err error) {
	f, err := os.CreateTemp(filepath.Dir(path), tmpPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return nil, err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return nil, err
	}
	// Written in two halves, so that the crash tests can stop a writer in
	// the middle of a (large) index (crashAtomicPartial).
	half := len(data) / 2
	if _, err = f.Write(data[:half]); err != nil {
		return nil, err
	}
	crashPoint(crashAtomicPartial)
	if _, err = f.Write(data[half:]); err != nil {
		return nil, err
	}
	if err = f.Sync(); err != nil {
		return nil, err
	}
	if err = f.Close(); err != nil {
		return nil, err
	}
	crashPoint(crashAtomicWritten)
	return &atomicFile{tmp: tmp, path: path}, nil
}

// commit renames the file over its path and fsyncs the directory.
func (a *atomicFile) commit() error {
	if err := os.Rename(a.tmp, a.path); err != nil {
		os.Remove(a.tmp)
		return err
	}
	crashPoint(crashAtomicRenamed)
	return syncDir(filepath.Dir(a.path))
}

// discard removes a file that will not be committed.
func (a *atomicFile) discard() {
	if a != nil {
		os.Remove(a.tmp)
	}
}

// syncAll runs every flush at once and joins their errors: the disk
// serves them together instead of one after the other, which is most of
// a single `issue`'s time on a slow disk. Every one has finished when it
// returns.
func syncAll(flushes ...func() error) error {
	if len(flushes) == 1 {
		return flushes[0]()
	}
	errs := make([]error, len(flushes))
	var wg sync.WaitGroup
	for i, fl := range flushes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fl()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// newFiles writes files that must not exist yet and keeps them open for
// one flush of them all (flush), which also syncs the directories given
// to it; close closes them.
type newFiles struct{ files []*os.File }

func (n *newFiles) write(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	n.files = append(n.files, f)
	_, err = f.Write(data)
	return err
}

// flushes are the fsyncs that make the files durable.
func (n *newFiles) flushes() []func() error {
	var out []func() error
	for _, f := range n.files {
		out = append(out, f.Sync)
	}
	return out
}

func (n *newFiles) close() error {
	var errs []error
	for _, f := range n.files {
		errs = append(errs, f.Close())
	}
	n.files = nil
	return errors.Join(errs...)
}
