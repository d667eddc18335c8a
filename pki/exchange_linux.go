package pki

import (
	"errors"

	"golang.org/x/sys/unix"
)

// exchangeDirs swaps two paths in one step (renameat2(2) with
// RENAME_EXCHANGE): there is no moment at which either is missing. It
// returns errExchangeUnsupported on a file system or kernel without it.
func exchangeDirs(a, b string) error {
	err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) {
		return errExchangeUnsupported
	}
	return err
}
