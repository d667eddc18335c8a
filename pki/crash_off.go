//go:build !mtlskit_crashtest

package pki

// crashPoint does nothing: the crash points stop a writer only in a build
// with -tags mtlskit_crashtest (crash_on.go), which the crash tests use.
func crashPoint(string) {}
