package pki

import (
	"os"

	"golang.org/x/sys/unix"
)

// haveSyncfs says batches may flush the file system once.
const haveSyncfs = true

// syncFileSystem flushes every written file of the file system holding
// dir to stable storage in one call (syncfs(2)).
func syncFileSystem(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Syncfs(int(d.Fd()))
}
