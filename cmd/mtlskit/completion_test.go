package main

import (
	"os"
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

func TestManPageAndVersion(t *testing.T) {
	dir := t.TempDir()
	man := mustRun(t, dir, "man").stdout
	for _, want := range []string{".TH", "issue", "harness"} {
		if !strings.Contains(man, want) {
			t.Errorf("man page lacks %q", want)
		}
	}
	// docs/mtlskit.1 is generated (make man): it must match the commands.
	if committed, err := os.ReadFile("../../docs/mtlskit.1"); err != nil || string(committed) != man {
		t.Errorf("docs/mtlskit.1 is out of date with the command definitions (err %v): run `make man`", err)
	}
	v := mustRun(t, dir, "--version").stdout
	if !strings.HasPrefix(v, "mtlskit ") || !strings.Contains(v, "go1.") {
		t.Errorf("--version = %q, want mtlskit VERSION with the Go version", v)
	}
}
