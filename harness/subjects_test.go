package harness

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestParseSubjects pins what a subjects file may say: each row is a
// file and the problem its error must name ("" for a file that parses).
func TestParseSubjects(t *testing.T) {
	tests := []struct {
		name, file, problem string
	}{
		{"server and client", "subjects:\n  - name: a\n    server: srv {port} {ca} {chain} {key}\n  - name: b\n    client: cli {url} {ca} {cert} {key}\n    timeout: 2s\n", ""},
		{"no subjects", "subjects: []\n", "no subjects"},
		{"not YAML", "subjects: [\n", "did not find expected"},
		{"unknown key is not ignored", "subjects:\n  - name: a\n    server: srv {port}\n    tls: 1.3\n", "field tls not found"},
		{"name missing", "subjects:\n  - server: srv {port}\n", "subject 1: give it a name"},
		{"name with a slash", "subjects:\n  - name: a/b\n    server: srv {port}\n", "without spaces or slashes"},
		{"name twice", "subjects:\n  - name: a\n    server: srv {port}\n  - name: a\n    client: cli {url}\n", `subject "a": the name is used twice`},
		{"no command", "subjects:\n  - name: a\n    needs: [nginx]\n", "give a server or a client command"},
		{"target without server", "subjects:\n  - name: a\n    client: cli {url}\n    target: wss://localhost:{port}/\n", "add server"},
		{"tls version", "subjects:\n  - name: a\n    server: srv {port}\n    tls_version: \"1.1\"\n", `tls_version "1.1": use 1.2 or 1.3`},
		{"accept_on", "subjects:\n  - name: a\n    server: srv {port}\n    accept_on: tls\n", `accept_on "tls"`},
		{"unknown placeholder", "subjects:\n  - name: a\n    server: srv {prot}\n", "{prot}"},
		{"target placeholder", "subjects:\n  - name: a\n    server: srv {port}\n    target: wss://localhost:{url}/\n", "target:"},
		{"unknown scenario", "subjects:\n  - name: a\n    server: srv {port}\n    scenarios: [valid-clinet]\n", "valid-clinet"},
		{"bad duration", "subjects:\n  - name: a\n    server: srv {port}\n    timeout: 5 seconds\n", "not a duration"},
		{"rotation without a rotation scenario", "subjects:\n  - name: a\n    server: srv {port}\n    rotation: {reload_signal: HUP}\n", "rotation: configures the rotation scenarios"},
		{"rotation signal", "subjects:\n  - name: a\n    server: srv {port}\n    scenarios: [client-ca-rotation]\n    rotation: {reload_signal: KILL}\n", `reload signal "KILL"`},
		{"rotation signal and command", "subjects:\n  - name: a\n    server: srv {port}\n    scenarios: [client-ca-rotation]\n    rotation: {reload_signal: HUP, reload_cmd: kill}\n", "pick one"},
		{"rotation lifetime", "subjects:\n  - name: a\n    server: srv {port}\n    scenarios: [client-cert-expires-during-connection]\n    rotation: {short_cert_lifetime: 1s}\n", "whole seconds"},
		{"rotation close after the window", "subjects:\n  - name: a\n    server: srv {port}\n    scenarios: [client-revoked-during-connection]\n    rotation: {observe_for: 2s, expect_close_within: 3s}\n", "longer than observe_for"},
		{"rotation option of another scenario", "subjects:\n  - name: a\n    server: srv {port}\n    scenarios: [server-cert-rotation]\n    rotation: {expect_close_within: 3s}\n", "expect_close_within configures client-cert-expires-during-connection or client-revoked-during-connection"},
		{"rotation unknown key", "subjects:\n  - name: a\n    server: srv {port}\n    scenarios: [client-ca-rotation]\n    rotation: {reload: HUP}\n", "field reload not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			specs, err := ParseSubjects("s.yaml", []byte(tt.file))
			if tt.problem == "" {
				if err != nil || len(specs) != 2 || time.Duration(specs[1].Timeout) != 2*time.Second {
					t.Fatalf("got %+v, %v", specs, err)
				}
				return
			}
			var se *SubjectsError
			if !errors.As(err, &se) || se.File != "s.yaml" || !strings.Contains(se.Problem, tt.problem) {
				t.Fatalf("error %v, want a *SubjectsError on s.yaml naming %q", err, tt.problem)
			}
		})
	}
}

// TestRunSubjectSkipsAMissingProgram: a subject whose program is not
// installed is skipped, says which, and its run counts as OK; it never
// starts the command.
func TestRunSubjectSkipsAMissingProgram(t *testing.T) {
	specs, err := ParseSubjects("s.yaml", []byte("subjects:\n  - name: gone\n    server: /no/such/server {port}\n    needs: [mtlskit-no-such-program]\n"))
	if err != nil {
		t.Fatal(err)
	}
	reps := RunSubjects(context.Background(), specs, Options{Timeout: time.Second}, 1, nil)
	r := reps[0]
	if r.Subject != "gone" || !strings.Contains(r.SkippedBecause, "mtlskit-no-such-program") || len(r.Results) != 0 || !r.OK() {
		t.Fatalf("got subject %q skipped %q results %d ok %v", r.Subject, r.SkippedBecause, len(r.Results), r.OK())
	}
}

// TestRunSubjectCommandThatExitsIsARunError: a server command that exits
// at once is the subject's run error, not a column of failed verdicts,
// and the other subjects still run.
func TestRunSubjectCommandThatExitsIsARunError(t *testing.T) {
	specs, err := ParseSubjects("s.yaml", []byte("subjects:\n  - name: exits\n    server: /bin/false {port}\n    start_timeout: 3s\n  - name: gone\n    server: srv {port}\n    needs: [mtlskit-no-such-program]\n"))
	if err != nil {
		t.Fatal(err)
	}
	reps := RunSubjects(context.Background(), specs, Options{Timeout: time.Second}, 2, nil)
	if len(reps) != 2 || reps[0].Subject != "exits" || reps[1].Subject != "gone" {
		t.Fatalf("reports not in the file's order: %v", reps)
	}
	if reps[0].OK() || reps[0].RunError == "" && len(reps[0].SubjectErrors) == 0 {
		t.Fatalf("exits: ok=%v run error %q subject errors %v", reps[0].OK(), reps[0].RunError, reps[0].SubjectErrors)
	}
	if !reps[1].OK() {
		t.Fatalf("gone: not OK after its neighbour failed")
	}
}

// A subjects file names each stack and how to start it; ParseSubjects
// checks every template and option before anything runs.
func ExampleParseSubjects() {
	specs, err := ParseSubjects("stacks.yaml", []byte(`subjects:
  - name: nginx
    server: sh run.sh {dir} {port} {chain} {key} {ca}
    target: wss://localhost:{port}/ws
    needs: [nginx]
  - name: python-client
    client: python3 client.py {url} {ca} {cert} {key}
    tls_version: "1.2"
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range specs {
		fmt.Println(s.Name, s.Server != "", s.Client != "", s.TLSVersion != "")
	}
	_, err = ParseSubjects("stacks.yaml", []byte("subjects:\n  - name: nginx\n    server: run.sh {prot}\n"))
	fmt.Println(err != nil)
	// Output:
	// nginx true false false
	// python-client false true true
	// true
}
