//go:build mtlskit_crashtest

package pki

import "os"

// This file exists only in a build with -tags mtlskit_crashtest, which
// the crash tests make (cmd/mtlskit/crash_on_test.go; `make test` sets
// the tag). The product is never built with it.

// crashAt is $MTLSKIT_TEST_CRASH_AT, read once: a point between the write
// and rename steps of Init, Issue, IssueMany and SignCSR (docs/store.md
// lists them) at which the process kills itself with SIGKILL, so tests
// can prove a crash at any step leaves a usable store.
var crashAt = os.Getenv("MTLSKIT_TEST_CRASH_AT")

// crashPoint kills the process when point is the one in crashAt.
func crashPoint(point string) {
	if crashAt == "" || crashAt != point {
		return
	}
	p, _ := os.FindProcess(os.Getpid())
	_ = p.Kill() // SIGKILL on Unix: no deferred function runs
	select {}
}

// CrashPoints lists the test-only crash points, for tests that drive the
// binary. It exists only with -tags mtlskit_crashtest.
func CrashPoints() []string {
	return []string{crashLocked, crashIssueTmpDir, crashIssueKey, crashIssueCert, crashIssueWritten,
		crashIssueAside, crashIssueRenamed, crashAtomicPartial, crashAtomicWritten, crashAtomicRenamed, crashIssueIndexed,
		crashInitWritten, crashInitAside, crashInitSwapped, crashInitIndexed,
		crashRenewStaged, crashRenewSwapped, crashRenewIndexed}
}
