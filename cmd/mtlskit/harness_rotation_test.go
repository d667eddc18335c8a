package main

import (
	"strings"
	"testing"
)

// TestNginxRotation: nginx with a master process reloads on SIGHUP (sent
// to the --server-cmd process, which run.sh execs into the nginx
// master): new connections get the new serial and the WebSocket opened
// before is kept, as its old worker drains. --reload-cmd does the same
// through $MTLSKIT_SERVER_PID. SIGHUP sent to the whole process group
// also reaches `harness echo`, the backend, which dies of it: the
// rotation is seen, then the new connection gets 502, and the verdict
// says so.
func TestNginxRotation(t *testing.T) {
	needNginx(t)
	const srv = "sh fixtures/subjects/nginx-reload/run.sh {dir} {port} {chain} {key} {ca}"
	base := []string{"--server-cmd", srv, "--target", "wss://localhost:{port}/echo", "--scenario", "server-cert-rotation", "--reload-timeout", "5s"}
	for _, tc := range []struct {
		name  string
		args  []string
		pass  bool
		words string
	}{
		{"sighup", []string{"--reload-signal", "HUP"}, true, ""},
		{"reload-cmd", []string{"--reload-cmd", `sh -c 'kill -HUP $MTLSKIT_SERVER_PID'`}, true, ""},
		{"group", []string{"--reload-signal", "HUP", "--reload-signal-group"}, false, "after the rotation ended"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, rows, r := runJSON(t, append(base, tc.args...)...)
			got, ok := rows["server-cert-rotation"]
			if !ok || len(rows) != 1 {
				t.Fatalf("rows %v\n%s", rows, r.stderr)
			}
			if got.Pass != tc.pass || !strings.Contains(got.Mismatch, tc.words) {
				t.Errorf("pass %v (%s), want %v with %q\n%s", got.Pass, got.Mismatch, tc.pass, tc.words, r.stdout)
			}
			if !strings.Contains(r.stdout, `"new_serial_after_ms"`) || (tc.pass && !strings.Contains(r.stdout, `"old_connection": "kept"`)) {
				t.Errorf("rotation evidence missing:\n%s", r.stdout)
			}
		})
	}
}

// TestRotationFlags: the rotation flags are checked, and the scenario
// is skipped (with the reason) for a server the harness did not start.
func TestRotationFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--reload-signal", "KILL"},
		{"--reload-signal", "HUP", "--reload-cmd", "true"},
		{"--reload-signal-group"},
		{"--rotation-keeps-old", "maybe"},
		{"--reload-timeout", "0s"},
	} {
		r := mtlskit(t, repoRoot(t), nil, append([]string{"harness", "run", "--scenario", "server-cert-rotation"}, args...)...)
		if r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)\n%s", args, r.code, r.stderr)
		}
	}
	if r := mtlskit(t, repoRoot(t), nil, "harness", "run", "--reload-signal", "HUP"); r.code != 2 || !strings.Contains(r.stderr, "add --scenario server-cert-rotation") {
		t.Errorf("--reload-signal without the scenario: exit %d %s", r.code, r.stderr)
	}
	code, rows, r := runJSON(t, "--scenario", "server-cert-rotation")
	if got := rows["server-cert-rotation"]; code != 0 || got.Outcome != "skipped" || !strings.Contains(got.Reason.Text, "--server-cmd") {
		t.Errorf("against the reference pair: exit %d %+v\n%s", code, got, r.stderr)
	}
}

// TestRotationScenariosOnRealStacks runs fixtures/subjects/rotation.yaml
// and pins what real stacks do when the certificates around them change
// (docs/rotation.md): nginx reloads its certificate, CA file and CRL on
// SIGHUP and keeps the WebSockets of a client that expired or was
// revoked (observed, not failed), unless worker_shutdown_timeout makes
// the retired workers close them; the Python websockets recipe reads its
// files once (it neither rotates nor takes a new CA bundle) and keeps an
// expired client's connection; the Go and Python client recipes accept
// the server's next certificate.
func TestRotationScenariosOnRealStacks(t *testing.T) {
	needNginx(t)
	needPythonWebsockets(t)
	r := mtlskit(t, repoRoot(t), nil, "harness", "run", "--subjects", "fixtures/subjects/rotation.yaml", "--format", "json")
	doc := decodeSubjects(t, r)
	if r.code != 1 {
		t.Errorf("exit %d, want 1 (python-server fails two scenarios)\n%s", r.code, r.stderr)
	}
	type cell struct{ mark, words string }
	want := map[string]cell{
		"nginx-reload/server-cert-rotation":                              {"PASS", ""},
		"nginx-reload/client-ca-rotation":                                {"PASS", ""},
		"nginx-reload/client-cert-expires-during-connection":             {"OBSERVED", "kept: "},
		"nginx-reload/client-revoked-during-connection":                  {"OBSERVED", "were refused"},
		"nginx-reload-shutdown-timeout/client-revoked-during-connection": {"PASS", "but so was the control connection"},
		"python-server/server-cert-rotation":                             {"FAIL", "did not rotate"},
		"python-server/client-ca-rotation":                               {"FAIL", "did not pick up the new CA bundle"},
		"python-server/client-cert-expires-during-connection":            {"OBSERVED", "kept: "},
		"go-client/server-cert-rotation-client":                          {"PASS", ""},
		"python-client/server-cert-rotation-client":                      {"PASS", ""},
	}
	got := map[string]verdictRow{}
	for _, s := range doc.Subjects {
		if s.SkippedBecause != "" {
			t.Errorf("%s skipped: %s", s.Subject, s.SkippedBecause)
		}
		for _, res := range s.Results {
			got[s.Subject+"/"+res.Name] = res
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d results, want %d: %v", len(got), len(want), doc.verdicts())
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || g.Mark != w.mark || !strings.Contains(g.Reason.Text+" "+g.Mismatch, w.words) {
			t.Errorf("%s: %s (%s | %s), want %s with %q", k, g.Mark, g.Reason.Text, g.Mismatch, w.mark, w.words)
		}
	}
}
