//go:build !urfave_cli_no_docs

package main

import (
	"io"
	"os"
	"strings"
	"testing"
)

// TestManPageIsUpToDate: docs/mtlskit.1 is what the man page generator
// (man.go, `make man`) makes of today's command definitions.
func TestManPageIsUpToDate(t *testing.T) {
	man, err := manPage(newApp(strings.NewReader(""), io.Discard, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".TH", "issue", "harness"} {
		if !strings.Contains(man, want) {
			t.Errorf("man page lacks %q", want)
		}
	}
	if committed, err := os.ReadFile("../../docs/mtlskit.1"); err != nil || string(committed) != man {
		t.Errorf("docs/mtlskit.1 is out of date with the command definitions (err %v): run `make man`", err)
	}
}
