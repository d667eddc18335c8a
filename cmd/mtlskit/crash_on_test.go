//go:build mtlskit_crashtest

package main

// The crash points (pki.CrashPoints, $MTLSKIT_TEST_CRASH_AT) exist only in
// a build with -tags mtlskit_crashtest, and so does this file. `make
// test` runs the tests with that tag; a plain `go test` runs the stub in
// crash_off_test.go, which skips. TestCrashAtEveryPoint drives a binary
// it builds with the tag (crashBinary); every other test drives the
// binary TestMain builds without it, as shipped.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/pki"
)

var crashBin struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// crashBinary builds mtlskit with -tags mtlskit_crashtest once, next to
// TestMain's binary (so TestMain removes it), and returns its path.
func crashBinary(t *testing.T) string {
	t.Helper()
	crashBin.once.Do(func() {
		crashBin.path = filepath.Join(filepath.Dir(binPath), "mtlskit-crashtest")
		build := exec.Command("go", "build", "-tags", "mtlskit_crashtest,"+productTags, "-o", crashBin.path, ".")
		crashBin.out, crashBin.err = build.CombinedOutput()
	})
	if crashBin.err != nil {
		t.Fatalf("building mtlskit with -tags mtlskit_crashtest: %v\n%s", crashBin.err, crashBin.out)
	}
	return crashBin.path
}

// crashRun runs the crash-test build of mtlskit (crashBinary) with the
// test-only crash point set and reports whether the process died of
// SIGKILL.
func crashRun(t *testing.T, dir, point string, args ...string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, crashBinary(t), args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), "MTLSKIT_TEST_CRASH_AT="+point)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
	}
	t.Logf("mtlskit %v with crash point %s: not killed (%v) %s", args, point, err, errb.String())
	return false
}

// TestCrashAtEveryPoint kills `mtlskit issue` and `mtlskit ca init
// --force` at every test-only crash point (MTLSKIT_TEST_CRASH_AT) and
// checks the store is consistent, that the next writer succeeds and
// leaves nothing stray, and that nothing committed was lost.
func TestCrashAtEveryPoint(t *testing.T) {
	base := t.TempDir()
	mustRun(t, base, "ca", "init", "--intermediate")
	mustRun(t, base, "issue", "client", "--cn", "alice")
	aliceBefore, _ := os.ReadFile(filepath.Join(base, "pki/issued/alice/cert.pem"))
	type run struct {
		name string
		args []string
	}
	issueBob := run{"issue", []string{"issue", "client", "--cn", "bob"}}
	forceAlice := run{"issue-force", []string{"issue", "client", "--cn", "alice", "--force"}}
	batch := run{"issue-batch", []string{"issue", "client", "--count", "10", "--cn-prefix", "load-"}}
	signCSR := run{"sign", []string{"sign", "--csr", "req.pem", "--profile", "server", "--name", "csr1"}}
	initForce := run{"init", []string{"ca", "init", "--force"}}
	renewAlice := run{"renew", []string{"renew", "alice"}}
	rekeyAlice := run{"renew-rekey", []string{"renew", "alice", "--rekey"}}
	for _, point := range pki.CrashPoints() {
		var runs []run
		switch {
		case point == "issue-aside":
			runs = []run{forceAlice}
		case strings.HasPrefix(point, "renew-"):
			runs = []run{renewAlice, rekeyAlice}
		case point == "issue-tmpdir" || point == "issue-key" || point == "issue-cert" || point == "issue-written":
			runs = []run{issueBob, forceAlice, batch, signCSR, rekeyAlice}
		case strings.HasPrefix(point, "issue-"):
			runs = []run{issueBob, forceAlice, batch, signCSR}
		case strings.HasPrefix(point, "init-"):
			runs = []run{initForce}
		default:
			runs = []run{issueBob, initForce, renewAlice}
		}
		for _, r := range runs {
			if point == "issue-key" && r.name == "sign" {
				continue // a signed CSR has no key file
			}
			t.Run(point+"/"+r.name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				copyTree(t, filepath.Join(base, "pki"), filepath.Join(dir, "pki"))
				writeCSR(t, filepath.Join(dir, "req.pem"))
				if !crashRun(t, dir, point, r.args...) {
					t.Fatalf("crash point %s was not reached by %v", point, r.args)
				}
				names := checkStore(t, dir, "pki", false)
				if r.name != "init" {
					if _, ok := names["client/alice"]; !ok {
						t.Errorf("alice was lost from the index")
					}
				}
				// The next writer repairs and succeeds.
				mustRun(t, dir, "issue", "client", "--cn", "carol")
				names = checkStore(t, dir, "pki", true)
				if _, err := os.Stat(filepath.Join(dir, "pki/issued/alice/cert.pem")); err != nil {
					t.Errorf("alice's files were lost: %v", err)
				}
				if _, ok := names["client/alice"]; !ok {
					t.Errorf("alice is not indexed")
				}
				// A renewal's swap comes before its index update: up to
				// renew-staged alice must be the old one.
				renewedBefore := strings.HasPrefix(r.name, "renew") && (point == "locked" || point == "renew-staged" || strings.HasPrefix(point, "issue-"))
				if (r.name == "issue-force" && (point == "issue-aside" || point == "issue-tmpdir" || point == "locked")) || renewedBefore {
					if now, _ := os.ReadFile(filepath.Join(dir, "pki/issued/alice/cert.pem")); !bytes.Equal(now, aliceBefore) {
						t.Errorf("a crash before the swap replaced alice (%s)", r.name)
					}
				}
				for _, want := range []string{"bob", "csr1", "load-0001"} {
					_, onDisk := os.Stat(filepath.Join(dir, "pki/issued", want))
					_, indexed := names["client/"+want]
					if !indexed {
						_, indexed = names["server/"+want]
					}
					if (onDisk == nil) != indexed {
						t.Errorf("%s: on disk %v, indexed %v", want, onDisk == nil, indexed)
					}
				}
			})
		}
	}
}
