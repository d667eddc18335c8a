//go:build mtlskit_crashtest

package pki

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestIndexCrashHelper is the writer TestIndexSurvivesCrashMidWrite
// kills: it adds one leaf to the index of the store in
// $MTLSKIT_TEST_INDEX_DIR and writes it, dying at $MTLSKIT_TEST_CRASH_AT.
func TestIndexCrashHelper(t *testing.T) {
	dir := os.Getenv("MTLSKIT_TEST_INDEX_DIR")
	if dir == "" {
		t.Skip("run by TestIndexSurvivesCrashMidWrite")
	}
	s := OpenStore(dir)
	err := s.withLock(func(idx index, err error) error {
		if err != nil {
			return err
		}
		e := idx.Entries[1]
		e.Name = "zz-new"
		e.Cert, e.Key, e.Chain = "issued/zz-new/cert.pem", "", ""
		idx.Entries = append(idx.Entries, e)
		return s.writeIndex(idx)
	})
	t.Fatalf("the crash point was not reached (%v)", err)
}

// TestIndexSurvivesCrashMidWrite kills a writer of a 100,000-entry index
// half way through writing it, after writing it whole, and after its
// rename: the index read after each is the old one or the new one, whole,
// and the next writer removes the leftovers and writes again.
func TestIndexSurvivesCrashMidWrite(t *testing.T) {
	n := 100000
	if testing.Short() {
		n = 5000
	}
	for _, tc := range []struct {
		point   string
		wantNew bool
	}{{crashAtomicPartial, false}, {crashAtomicWritten, false}, {crashAtomicRenamed, true}} {
		t.Run(tc.point, func(t *testing.T) {
			s := OpenStore(t.TempDir())
			ensureDir(s.Dir)
			if err := s.writeIndex(bigIndex(n)); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(filepath.Join(s.Dir, indexFile))
			cmd := exec.Command(os.Args[0], "-test.run=^TestIndexCrashHelper$", "-test.count=1")
			cmd.Env = append(os.Environ(), "MTLSKIT_TEST_INDEX_DIR="+s.Dir, "MTLSKIT_TEST_CRASH_AT="+tc.point)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() {
				t.Fatalf("the writer was not killed at %s: %v\n%s", tc.point, err, out)
			}
			after, _ := os.ReadFile(filepath.Join(s.Dir, indexFile))
			if tc.wantNew == bytes.Equal(before, after) {
				t.Fatalf("after a crash at %s the index is %d bytes (was %d): want the %s one", tc.point, len(after), len(before),
					map[bool]string{true: "new", false: "old"}[tc.wantNew])
			}
			idx, err := s.readIndex()
			if err != nil {
				t.Fatalf("the index does not read after a crash at %s: %v", tc.point, err)
			}
			if want := n + 1 + map[bool]int{true: 1}[tc.wantNew]; len(idx.Entries) != want {
				t.Fatalf("%d entries, want %d", len(idx.Entries), want)
			}
			// The index left is whole, stamp included: the single-name
			// lookup serves it.
			if e, err := s.lookup("dev-000001"); err != nil || e == nil || e.Name != "dev-000001" {
				t.Fatalf("lookup after a crash at %s: %+v, %v", tc.point, e, err)
			}
			// The next writer removes the temporary file and writes.
			if err := s.withLock(func(idx index, err error) error {
				if err != nil {
					return err
				}
				return s.writeIndex(idx)
			}); err != nil {
				t.Fatal(err)
			}
			ents, _ := os.ReadDir(s.Dir)
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), tmpPrefix) {
					t.Errorf("%s left after the next writer", e.Name())
				}
			}
		})
	}
}
