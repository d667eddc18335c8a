package pki

import (
	"fmt"
	"os"
	"path/filepath"
)

// Directory and file modes of the store.
const (
	dirMode     = 0o700
	keyFileMode = 0o600
	pubFileMode = 0o644
)

// writeFileAtomic replaces path with data so that a reader or a crash sees
// either the old file or the whole new one: it writes a temporary file in
// the same directory, fsyncs it, renames it over path and fsyncs the
// directory.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	a, err := prepareAtomic(path, data, perm)
	if err != nil {
		return err
	}
	return a.commit()
}

// writeNewFile writes data to a file that must not exist yet, fsyncing it
// when sync is set (a batch writer flushes the file system once instead).
func writeNewFile(path string, data []byte, perm os.FileMode, sync bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// ensureDir creates dir with mode 0700 if it is missing and checks that it
// is a directory.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// WriteSecretFile atomically writes a file that holds key material, mode
// 0600, creating its directory with mode 0700 if needed.
func WriteSecretFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		return err
	}
	return writeFileAtomic(path, data, keyFileMode)
}
