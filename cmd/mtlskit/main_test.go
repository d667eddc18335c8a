package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// binPath is the mtlskit binary built once for the tests that drive it
// as a user would.
var binPath string

// productTags are the build tags of the product (Makefile: build), which
// the binary the tests drive is built with.
const productTags = "urfave_cli_no_docs"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mtlskit-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "mtlskit")
	build := exec.Command("go", "build", "-tags", productTags, "-o", binPath, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building mtlskit:", err)
		os.Exit(1)
	}
	// mtlskit lints through mtlskit-lint, found next to it (and so do
	// the tests that lint in this process, through MTLSKIT_LINT).
	helper := filepath.Join(dir, "mtlskit-lint")
	os.Setenv("MTLSKIT_LINT", helper)
	build = exec.Command("go", "build", "-o", helper, "../mtlskit-lint")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building mtlskit-lint:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// mtlskit runs the built binary with args in dir, with a timeout.
func mtlskit(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	r, err := mtlskitAsync(dir, env, args...)
	if err != nil {
		t.Fatalf("running mtlskit %v: %v", args, err)
	}
	return r
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MTLSKIT_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "NO_COLOR=1")
}

// mustRun runs mtlskit and fails the test unless it exits 0.
func mustRun(t *testing.T, dir string, args ...string) result {
	t.Helper()
	r := mtlskit(t, dir, nil, args...)
	if r.code != 0 {
		t.Fatalf("mtlskit %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// treeHash hashes every path, mode and content under dir, so a test can
// prove a failed command changed nothing.
func treeHash(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	var paths []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			paths = append(paths, p)
		}
		return nil
	})
	sort.Strings(paths)
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s %v\n", rel, fi.Mode())
		if fi.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			h.Write(data)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, s)
	}
}
