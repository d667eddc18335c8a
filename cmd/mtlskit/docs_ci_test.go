package main

import (
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"
)

// TestConformanceDocCIExamples keeps docs/conformance.md's CI examples
// true: every yaml block parses, and every mtlskit command in them names
// a command this mtlskit has, with flags it takes.
func TestConformanceDocCIExamples(t *testing.T) {
	data, err := os.ReadFile("../../docs/conformance.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(data), -1)
	if len(blocks) < 3 {
		t.Fatalf("%d yaml blocks, want the subjects file, GitHub Actions and GitLab examples", len(blocks))
	}
	app := newApp(strings.NewReader(""), io.Discard, io.Discard)
	commands := 0
	for i, b := range blocks {
		var doc any
		if err := yaml.Unmarshal([]byte(b[1]), &doc); err != nil {
			t.Errorf("yaml block %d does not parse: %v\n%s", i+1, err, b[1])
			continue
		}
		for _, line := range strings.Split(b[1], "\n") {
			at := strings.Index(line, "mtlskit ")
			if at < 0 || strings.Contains(line, "go install") || strings.Contains(line, "#") && strings.Index(line, "#") < at {
				continue
			}
			commands++
			checkDocCommand(t, app, strings.Fields(strings.TrimSuffix(line[at:], "\\"))[1:])
		}
	}
	if commands < 4 {
		t.Errorf("%d mtlskit commands in the yaml blocks, want the shard runs and merges", commands)
	}
}

// checkDocCommand walks args down the command tree and checks each flag.
func checkDocCommand(t *testing.T, app *cli.App, args []string) {
	t.Helper()
	cmds, flags := app.Commands, app.Flags
	path := "mtlskit"
	for _, a := range args {
		if strings.HasPrefix(a, "--") {
			name := strings.SplitN(strings.TrimPrefix(a, "--"), "=", 2)[0]
			if !hasFlag(flags, name) {
				t.Errorf("%s: no flag --%s", path, name)
			}
			continue
		}
		for _, c := range cmds {
			if c.Name == a {
				cmds, flags, path = c.Subcommands, c.Flags, path+" "+a
				break
			}
		}
	}
	if path == "mtlskit" {
		t.Errorf("%v: not an mtlskit command", args)
	}
}

func hasFlag(flags []cli.Flag, name string) bool {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return true
			}
		}
	}
	return false
}
