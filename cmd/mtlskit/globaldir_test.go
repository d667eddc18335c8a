package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runDir runs mtlskit in-process, as main does, and returns the exit
// status and both outputs.
func runDir(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"mtlskit"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// listedDir is the store `list --json` (with args around it) reads.
func listedDir(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errb := runDir(t, args...)
	if code != 0 {
		t.Fatalf("mtlskit %s: exit %d: %s", strings.Join(args, " "), code, errb)
	}
	var doc struct{ Dir string }
	decodeJSON(t, out, &doc)
	return doc.Dir
}

// TestGlobalDir checks that the store directory can be given before the
// command (`mtlskit --dir DIR COMMAND`, like git -C) as well as after it,
// and the order of precedence: the --dir after the command, then the one
// before it, then $MTLSKIT_DIR, then ./pki.
func TestGlobalDir(t *testing.T) {
	base := t.TempDir()
	a, b, env := filepath.Join(base, "a"), filepath.Join(base, "b"), filepath.Join(base, "env")
	for _, args := range [][]string{
		{"--dir", a, "ca", "init"},                       // before the command
		{"ca", "init", "--dir", b},                       // after it
		{"--dir=" + env, "ca", "init", "--cn", "Env CA"}, // --dir=DIR form
		{"--dir", a, "issue", "client", "--cn", "alice"},
		{"issue", "client", "--dir", a, "--cn", "bob"},
	} {
		if code, _, errb := runDir(t, args...); code != 0 {
			t.Fatalf("mtlskit %s: exit %d: %s", strings.Join(args, " "), code, errb)
		}
	}
	for _, name := range []string{"alice", "bob"} {
		if _, err := os.Stat(filepath.Join(a, "issued", name, "cert.pem")); err != nil {
			t.Errorf("%s was not issued into %s: %v", name, a, err)
		}
	}
	if _, err := os.Stat(filepath.Join(b, "ca", "root.pem")); err != nil {
		t.Errorf("ca init --dir %s: %v", b, err)
	}
	// A positional argument with flags after it, behind a global --dir
	// (interspersed must step over the global flag).
	pw := filepath.Join(base, "pw")
	os.WriteFile(pw, []byte("pw\n"), 0o600)
	if code, _, errb := runDir(t, "--dir", a, "export", "p12", "alice", "--password-file", pw, "--out", filepath.Join(base, "alice.p12")); code != 0 {
		t.Fatalf("export with a global --dir: exit %d: %s", code, errb)
	}

	t.Setenv("MTLSKIT_DIR", env)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"only $MTLSKIT_DIR", []string{"list", "--json"}, env},
		{"--dir before the command wins over $MTLSKIT_DIR", []string{"--dir", a, "list", "--json"}, a},
		{"--dir after the command wins over $MTLSKIT_DIR", []string{"list", "--json", "--dir", a}, a},
		{"--dir after the command wins over the one before", []string{"--dir", b, "list", "--dir", a, "--json"}, a},
		{"--dir=DIR after the command wins too", []string{"--dir", b, "list", "--dir=" + a, "--json"}, a},
	} {
		if got := listedDir(t, c.args...); got != c.want {
			t.Errorf("%s: mtlskit %s lists %s, want %s", c.name, strings.Join(c.args, " "), got, c.want)
		}
	}
	os.Unsetenv("MTLSKIT_DIR") // t.Setenv restores it after the test
	if got := listedDir(t, "--dir", b, "list", "--json"); got != b {
		t.Errorf("--dir before list: lists %s, want %s", got, b)
	}
	// Nothing given: ./pki, relative to the working directory.
	code, _, errb := runDir(t, "list")
	if code != 1 || !strings.Contains(errb, "no CA in this store at pki:") {
		t.Errorf("list with no --dir: exit %d %q, want the default store pki", code, errb)
	}

	// --help says which one wins.
	_, top, _ := runDir(t, "--help")
	_, cmd, _ := runDir(t, "list", "--help")
	if !strings.Contains(top, "a --dir after the command wins") || !strings.Contains(top, "$MTLSKIT_DIR") {
		t.Errorf("mtlskit --help does not explain the global --dir:\n%s", top)
	}
	if !strings.Contains(cmd, "wins over a --dir given before the command") || !strings.Contains(cmd, "else $MTLSKIT_DIR, else pki") {
		t.Errorf("mtlskit list --help does not explain --dir:\n%s", cmd)
	}
}
