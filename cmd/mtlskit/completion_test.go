package main

import (
	"os/exec"
	"strings"
	"testing"
)

func TestCompletionScriptsAndCandidatesFollowTheCommands(t *testing.T) {
	dir := t.TempDir()
	for _, sh := range []string{"bash", "zsh", "fish"} {
		out := mustRun(t, dir, "completion", sh).stdout
		if !strings.Contains(out, "mtlskit") {
			t.Errorf("%s script does not mention mtlskit:\n%s", sh, out)
		}
	}
	if fish := mustRun(t, dir, "completion", "fish").stdout; !strings.Contains(fish, "issue") || !strings.Contains(fish, "harness") {
		t.Errorf("fish completion lacks the commands:\n%s", fish)
	}
	top := mustRun(t, dir, "--generate-bash-completion").stdout
	for _, want := range []string{"ca", "issue", "list", "inspect", "harness"} {
		if !strings.Contains(top, want+"\n") && !strings.Contains(top, want+":") {
			t.Errorf("top-level candidates lack %q:\n%s", want, top)
		}
	}
	sub := mustRun(t, dir, "issue", "--generate-bash-completion").stdout
	if !strings.Contains(sub, "server") || !strings.Contains(sub, "client") {
		t.Errorf("issue candidates = %q, want server and client", sub)
	}
	if r := mtlskit(t, dir, nil, "completion", "tcsh"); r.code != 2 {
		t.Errorf("unknown shell: exit %d, want 2", r.code)
	}
}

func TestVersion(t *testing.T) {
	v := mustRun(t, t.TempDir(), "--version").stdout
	if !strings.HasPrefix(v, "mtlskit ") || !strings.Contains(v, "go1.") {
		t.Errorf("--version = %q, want mtlskit VERSION with the Go version", v)
	}
}

// TestProductLinksNoManGenerator: the binary the tests drive is built as
// the product is (-tags urfave_cli_no_docs, see man.go), so it has no man
// command and links neither go-md2man nor blackfriday; nor zlint, zcrypto
// or the public suffix list, which mtlskit-lint runs (pki/lint_proc.go).
// Each costs process start-up in package initialisation.
func TestProductLinksNoManGenerator(t *testing.T) {
	out, err := exec.Command("go", "version", "-m", binPath).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	for _, mod := range []string{"github.com/cpuguy83/go-md2man", "github.com/russross/blackfriday",
		"github.com/zmap/zlint", "github.com/zmap/zcrypto", "github.com/weppos/publicsuffix-go"} {
		if strings.Contains(string(out), mod) {
			t.Errorf("the product links %s:\n%s", mod, out)
		}
	}
	if r := mtlskit(t, t.TempDir(), nil, "man"); r.code == 0 {
		t.Errorf("the product has a man command: %s", r.stdout)
	}
}

// TestLintWithoutHelper: without mtlskit-lint, what lints says so and
// fails (the audit too: strict, never a pass), and what does not lint
// works as ever.
func TestLintWithoutHelper(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init")
	mustRun(t, dir, "issue", "client", "--cn", "alice")
	none := []string{"MTLSKIT_LINT=" + dir + "/no-such-mtlskit-lint"}
	if r := mtlskit(t, dir, none, "lint", "alice"); r.code != 1 || !strings.Contains(r.stdout+r.stderr, "zlint_unavailable") {
		t.Errorf("lint without the helper: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := mtlskit(t, dir, none, "verify"); r.code != 1 || !strings.Contains(r.stdout, "zlint_unavailable") {
		t.Errorf("verify without the helper: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := mtlskit(t, dir, none, "list"); r.code != 0 {
		t.Errorf("list without the helper: exit %d %s", r.code, r.stderr)
	}
	// With it, the audit passes and keeps the findings.
	mustRun(t, dir, "verify")
}
