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

// TestRotationScenariosOnRealStacks pins what two real servers do when
// the certificates around a running server change (docs/rotation.md):
// nginx re-reads ssl_client_certificate and ssl_crl on SIGHUP, so
// client-ca-rotation passes and a revocation reaches new connections,
// and it keeps the open WebSocket of a client that was revoked or whose
// certificate expired (observed, not failed). The Python websockets
// recipe reads its CA file once: client-ca-rotation fails at its first
// step; it keeps an expired client's connection too. nginx with
// worker_shutdown_timeout closes the revoked client's connection once the
// reload's old workers time out.
func TestRotationScenariosOnRealStacks(t *testing.T) {
	short := []string{"--short-cert-lifetime", "2s", "--observe-for", "2s", "--reload-timeout", "3s"}
	observedKept := func(t *testing.T, got verdictRow, ok bool) {
		t.Helper()
		if !ok || got.Mark != "OBSERVED" || got.Reason.ID != "connection-kept" || !got.Pass {
			t.Errorf("want OBSERVED connection-kept: %+v", got)
		}
	}
	t.Run("nginx", func(t *testing.T) {
		needNginx(t)
		t.Parallel()
		code, rows, r := runJSON(t, append([]string{"--server-cmd", "sh fixtures/subjects/nginx-reload/run.sh {dir} {port} {chain} {key} {ca} {crl}",
			"--target", "wss://localhost:{port}/echo", "--reload-signal", "HUP",
			"--scenario", "client-ca-rotation", "--scenario", "client-revoked-during-connection", "--scenario", "client-cert-expires-during-connection"}, short...)...)
		if code != 0 || len(rows) != 3 {
			t.Fatalf("exit %d, %d rows\n%s\n%s", code, len(rows), r.stdout, r.stderr)
		}
		if got := rows["client-ca-rotation"]; !got.Pass || got.Mark != "PASS" {
			t.Errorf("nginx reloads its client CA file on SIGHUP: %+v", got)
		}
		got, ok := rows["client-revoked-during-connection"]
		observedKept(t, got, ok)
		if !strings.Contains(got.Reason.Text, "refused") {
			t.Errorf("the revocation must have reached new connections: %s", got.Reason.Text)
		}
		got, ok = rows["client-cert-expires-during-connection"]
		observedKept(t, got, ok)
	})
	t.Run("nginx-worker-shutdown-timeout", func(t *testing.T) {
		// worker_shutdown_timeout 1s: the workers SIGHUP retired close what
		// they hold after 1 s, the revoked client's WebSocket with it.
		needNginx(t)
		t.Parallel()
		code, rows, r := runJSON(t, "--server-cmd", "sh fixtures/subjects/nginx-reload/run.sh {dir} {port} {chain} {key} {ca} {crl} 1s",
			"--target", "wss://localhost:{port}/echo", "--reload-signal", "HUP", "--scenario", "client-revoked-during-connection",
			"--observe-for", "4s", "--expect-close-within", "3s")
		got := rows["client-revoked-during-connection"]
		if code != 0 || !got.Pass || got.Mark != "PASS" || got.Reason.ID != "connection-closed" {
			t.Errorf("exit %d: %+v\n%s", code, got, r.stderr)
		}
	})
	t.Run("python-websockets", func(t *testing.T) {
		needPythonWebsockets(t)
		t.Parallel()
		code, rows, r := runJSON(t, append([]string{"--server-cmd", "/usr/bin/python3 fixtures/subjects/python-websockets/server.py {port} {ca} {chain} {key}",
			"--scenario", "client-ca-rotation", "--scenario", "client-cert-expires-during-connection"}, short...)...)
		if code != 1 || len(rows) != 2 {
			t.Fatalf("exit %d (want 1: client-ca-rotation fails), %d rows\n%s\n%s", code, len(rows), r.stdout, r.stderr)
		}
		if got := rows["client-ca-rotation"]; got.Pass || !strings.Contains(got.Mismatch, "did not pick up the new CA bundle") {
			t.Errorf("Python reads its CA file once: %+v", got)
		}
		got, ok := rows["client-cert-expires-during-connection"]
		observedKept(t, got, ok)
	})
}
