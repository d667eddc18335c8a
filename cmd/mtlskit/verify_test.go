package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/pki"
)

// verifyJSON is the part of verify's --json output the tests read.
type verifyJSON struct {
	SchemaVersion int    `json:"schema_version"`
	Mode          string `json:"mode"`
	Result        string `json:"result"`
	Checks        []struct {
		ID, Status, Subject, Summary, Fix string
		Evidence                          []string
	} `json:"checks"`
	Path     []string `json:"path"`
	Trusted  bool     `json:"trusted"`
	GoVerify string   `json:"go_verify"`
}

func (v verifyJSON) failed() []string {
	var out []string
	for _, c := range v.Checks {
		if c.Status == "fail" && !slices.Contains(out, c.ID) {
			out = append(out, c.ID)
		}
	}
	return out
}

func TestVerifyFiles(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init", "--intermediate")
	mustRun(t, dir, "issue", "server", "--san", "localhost")
	leaf := "pki/issued/localhost/"

	cases := []struct {
		name       string
		args       []string
		code       int
		failed     []string // failing check IDs (JSON runs only)
		stdout     string   // words the human output must say
		stderrWant string
	}{
		{name: "served chain with key and host passes", code: 0,
			args:   []string{"--cert", leaf + "chain.pem", "--key", leaf + "key.pem", "--host", "localhost"},
			stdout: "PASS: 0 failed"},
		{name: "cert.pem alone misses the intermediate, named with its key id", code: 1,
			args:   []string{"--cert", leaf + "cert.pem", "--host", "localhost"},
			stdout: `missing issuer "CN=mtlskit Intermediate CA`},
		{name: "IP dialled with only a DNS SAN", code: 1, failed: []string{"san-match"},
			args: []string{"--cert", leaf + "chain.pem", "--ip", "127.0.0.1", "--json"}},
		{name: "intermediate given with --chain", code: 0, failed: nil,
			args: []string{"--cert", leaf + "cert.pem", "--chain", "pki/ca/intermediate.pem", "--json"}},
		{name: "expired at --at", code: 1, failed: []string{"validity"},
			args: []string{"--cert", leaf + "chain.pem", "--at", time.Now().AddDate(2, 0, 0).Format(time.RFC3339), "--json"}},
		{name: "server certificate checked as a client's", code: 1, failed: []string{"purpose-eku"},
			args: []string{"--cert", leaf + "chain.pem", "--purpose", "client", "--json"}},
		{name: "private key passed as the certificate", code: 1,
			args: []string{"--cert", leaf + "key.pem"}, stdout: "holds a private key (PRIVATE KEY), not a certificate"},
		{name: "wrong key", code: 1, failed: []string{"key-match"},
			args: []string{"--cert", leaf + "chain.pem", "--key", "pki/ca/root-key.pem", "--json"}},
		{name: "host and ip together is a usage error", code: 2,
			args: []string{"--cert", leaf + "cert.pem", "--host", "a", "--ip", "127.0.0.1"}, stderrWant: "--host and --ip"},
		{name: "bad --at is a usage error", code: 2, args: []string{"--cert", leaf + "cert.pem", "--at", "tomorrow"}, stderrWant: "RFC 3339"},
		{name: "bad --purpose is a usage error", code: 2, args: []string{"--cert", leaf + "cert.pem", "--purpose", "both"}, stderrWant: "server or client"},
		{name: "--key without --cert is a usage error", code: 2, args: []string{"--key", leaf + "key.pem"}, stderrWant: "needs --cert"},
		{name: "unreadable --cert fails naming it", code: 1, args: []string{"--cert", "nope.pem"}, stderrWant: "--cert nope.pem cannot be read"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := mtlskit(t, dir, nil, append([]string{"verify"}, tc.args...)...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			if strings.Contains(r.stdout, "\x1b[") {
				t.Error("colour codes with NO_COLOR set and no terminal")
			}
			if !strings.Contains(r.stdout, tc.stdout) {
				t.Errorf("stdout does not say %q:\n%s", tc.stdout, r.stdout)
			}
			if !strings.Contains(r.stderr, tc.stderrWant) {
				t.Errorf("stderr does not say %q: %s", tc.stderrWant, r.stderr)
			}
			if slices.Contains(tc.args, "--json") {
				var v verifyJSON
				decodeJSON(t, r.stdout, &v)
				if v.SchemaVersion != 1 || v.Mode != "files" {
					t.Errorf("schema_version %d mode %q, want 1 files", v.SchemaVersion, v.Mode)
				}
				if got := v.failed(); !slices.Equal(got, tc.failed) {
					t.Errorf("failing checks %v, want %v", got, tc.failed)
				}
				if want := map[int]string{0: "pass", 1: "fail"}[tc.code]; v.Result != want {
					t.Errorf("result %q, want %q", v.Result, want)
				}
				for _, c := range v.Checks {
					if c.ID == "" || c.Summary == "" || (c.Status == "fail" && c.Fix == "") {
						t.Errorf("incomplete check %+v", c)
					}
				}
			}
		})
	}
}

// auditJSON is the part of the store audit's --json output the tests read.
type auditJSON struct {
	SchemaVersion int    `json:"schema_version"`
	Mode          string `json:"mode"`
	Result        string `json:"result"`
	Certificates  []struct {
		Name, Kind, Result string
		Checks             []struct{ ID, Status, Summary string }
	} `json:"certificates"`
}

func (a auditJSON) results() string {
	var out []string
	for _, c := range a.Certificates {
		out = append(out, c.Name+":"+c.Result)
	}
	return strings.Join(out, " ")
}

func TestVerifyAuditsStore(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init")
	mustRun(t, dir, "issue", "server", "--san", "localhost,127.0.0.1")
	mustRun(t, dir, "issue", "client", "--cn", "alice")

	var a auditJSON
	decodeJSON(t, mustRun(t, dir, "verify", "--json").stdout, &a)
	if a.SchemaVersion != 1 || a.Mode != "store" || a.Result != "pass" {
		t.Errorf("clean store: schema %d mode %q result %q", a.SchemaVersion, a.Mode, a.Result)
	}
	if got, want := a.results(), "root:pass alice:pass localhost:pass"; got != want {
		t.Errorf("clean store audit = %s, want %s", got, want)
	}

	// Expiring within --warn-within warns but does not fail.
	r := mtlskit(t, dir, nil, "verify", "--warn-within", "400d", "--json")
	decodeJSON(t, r.stdout, &a)
	if r.code != 0 || a.results() != "root:pass alice:warn localhost:warn" {
		t.Errorf("--warn-within 400d: exit %d, %s; want 0 and leaves warned", r.code, a.results())
	}

	// An expired certificate, added through the library.
	store := pki.OpenStore(filepath.Join(dir, "pki"))
	if _, _, err := store.Issue(pki.Request{Kind: pki.KindClient, CommonName: "old", NotBefore: time.Now().Add(-3 * pki.Day), Validity: pki.Day},
		pki.IssueOptions{}); err != nil {
		t.Fatal(err)
	}
	r = mtlskit(t, dir, nil, "verify")
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL  old") || !strings.Contains(r.stdout, "expired") {
		t.Errorf("audit with an expired certificate: exit %d\n%s", r.code, r.stdout)
	}
	decodeJSON(t, mtlskit(t, dir, nil, "verify", "--json").stdout, &a)
	if got, want := a.results(), "root:pass alice:pass localhost:pass old:fail"; got != want {
		t.Errorf("audit = %s, want %s", got, want)
	}
	for _, c := range a.Certificates[3].Checks {
		if c.Status == "fail" && c.ID != "validity" {
			t.Errorf("expired certificate also fails %s: %s", c.ID, c.Summary)
		}
	}

	// A CA replaced under the same name leaves its leaves unchained.
	mustRun(t, dir, "ca", "init", "--force")
	decodeJSON(t, mtlskit(t, dir, nil, "verify", "--json").stdout, &a)
	if got, want := a.results(), "root:pass alice:fail localhost:fail old:fail"; got != want {
		t.Errorf("after ca init --force: audit = %s, want %s", got, want)
	}

	if r := mtlskit(t, t.TempDir(), nil, "verify"); r.code != 1 || !strings.Contains(r.stderr, "ca init") {
		t.Errorf("no store: exit %d, stderr %s", r.code, r.stderr)
	}
}

func TestLintCommand(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "ca", "init")
	mustRun(t, dir, "issue", "server", "--san", "localhost")
	if r := mustRun(t, dir, "lint", "localhost"); !strings.Contains(r.stdout, "no findings") {
		t.Errorf("lint localhost:\n%s", r.stdout)
	}
	var out struct {
		SchemaVersion int    `json:"schema_version"`
		Result        string `json:"result"`
		Certificates  []struct {
			Subject  string
			Findings []struct{ ID, Status string }
		}
	}
	decodeJSON(t, mustRun(t, dir, "lint", "pki/ca/root.pem", "--json").stdout, &out)
	if out.SchemaVersion != 1 || out.Result != "pass" || len(out.Certificates) != 1 || !strings.Contains(out.Certificates[0].Subject, "Root CA") {
		t.Errorf("lint root.pem --json = %+v", out)
	}
	if r := mtlskit(t, dir, nil, "lint", "nosuch"); r.code != 1 || !strings.Contains(r.stderr, "nosuch") {
		t.Errorf("lint nosuch: exit %d, stderr %s", r.code, r.stderr)
	}
	if r := mtlskit(t, dir, nil, "lint"); r.code != 2 {
		t.Errorf("lint without argument: exit %d, want 2", r.code)
	}
	if r := mtlskit(t, dir, nil, "lint", "pki/issued/localhost/key.pem"); r.code != 1 || !strings.Contains(r.stderr, "private key") {
		t.Errorf("lint of a key file: exit %d, stderr %s", r.code, r.stderr)
	}
}
