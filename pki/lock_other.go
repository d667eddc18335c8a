//go:build !unix

package pki

import "os"

// lockFile is a no-op where flock is not available: concurrent writers on
// such systems are not serialised.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) error { return nil }
