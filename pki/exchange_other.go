//go:build !linux

package pki

// exchangeDirs has no atomic exchange here: renewal falls back to moving
// the old directory aside and the new one in (docs/rotation.md).
func exchangeDirs(a, b string) error { return errExchangeUnsupported }
