package main

import (
	"os"
	"strings"
	"testing"
)

// lighttpd (Debian's lighttpd 1.4.69 with lighttpd-mod-openssl) in
// front of `mtlskit harness echo`: fixtures/subjects/lighttpd/README.md
// has the table these tests pin.

const lighttpdCmd = "sh fixtures/subjects/lighttpd/run.sh {dir} {port} {chain} {key} {ca} "

func needLighttpd(t *testing.T) {
	t.Helper()
	needPackage(t, "lighttpd", "lighttpd")
	if _, err := os.Stat("/usr/lib/lighttpd/mod_openssl.so"); err != nil {
		t.Skip("lighttpd has no mod_openssl (.ci/run installs lighttpd-mod-openssl)")
	}
}

// Each mode in TLS 1.2 and 1.3, handed the run's CRL. enforce refuses in
// the handshake, and each alert is read for what it says (lighttpd is
// OpenSSL: 40 in TLS 1.2 for a missing certificate, 42 for a
// not-yet-valid one, 43 for the serverAuth-only one, 44 for the revoked
// one); optional lets everyone in (it checks, but a proxied backend
// never sees the result); auth (mod_auth "extern" on the verified CN)
// answers 401, which the valid-client control attributes to the
// certificate.
func TestLighttpdMatrix(t *testing.T) {
	t.Parallel()
	needLighttpd(t)
	refused := func(reason string) want { return want{outcome: "rejected-tls", reason: reason, pass: true} }
	http401 := want{outcome: "rejected-http", reason: "http-status", status: 401, pass: true}
	good := map[string]want{"valid-client": accepted, "server-sends-chain": accepted, "client-via-intermediate": accepted, "large-message": accepted}
	rows := func(bad map[string]want) map[string]want {
		all := map[string]want{}
		for k, v := range good {
			all[k] = v
		}
		for k, v := range bad {
			all[k] = v
		}
		return all
	}
	for _, v := range tlsVersions {
		for _, tc := range []struct {
			mode string
			code int
			bad  map[string]want
		}{
			{"enforce", 0, map[string]want{"no-client-cert": refused("certificate-required"), "wrong-ca-client": refused("unknown-ca"), "self-signed-client": refused("unknown-ca"),
				"expired-client": refused("expired"), "not-yet-valid-client": refused("not-yet-valid"), "server-eku-as-client": refused("incompatible-key-usage"),
				"revoked-client": refused("certificate-revoked")}},
			{"optional", 1, map[string]want{"no-client-cert": wronglyOK, "wrong-ca-client": wronglyOK, "self-signed-client": wronglyOK,
				"expired-client": wronglyOK, "not-yet-valid-client": wronglyOK, "server-eku-as-client": wronglyOK, "revoked-client": wronglyOK}},
			{"auth", 0, map[string]want{"no-client-cert": http401, "wrong-ca-client": http401, "self-signed-client": http401,
				"expired-client": http401, "not-yet-valid-client": http401, "server-eku-as-client": http401, "revoked-client": http401}},
		} {
			t.Run(tc.mode+"/TLS"+v, func(t *testing.T) {
				t.Parallel()
				code, got, r := runJSON(t, "--tls-version", v, "--server-cmd", lighttpdCmd+tc.mode+" {crl}")
				if code != tc.code {
					t.Errorf("exit %d, want %d\n%s", code, tc.code, r.stderr)
				}
				checkRows(t, got, rows(tc.bad))
			})
		}
	}
}

// server-cert-rotation with lighttpd's graceful restart (SIGUSR1), each
// way it can be set up. Without server.graceful-restart-bg lighttpd stops
// accepting, waits server.graceful-shutdown-timeout for the open
// WebSocket, cuts it and restarts; with it the restart is at once, and
// the old generation still cuts the old WebSocket at that timeout unless
// it is 0. A restart that outlasts --reload-timeout is "stopped serving",
// never "did not rotate" (which would advise a reload that was sent).
func TestLighttpdServerCertRotation(t *testing.T) {
	t.Parallel()
	needLighttpd(t)
	for _, tc := range []struct {
		name, args string
		opts       []string
		pass       bool
		words      string
	}{
		{"restart-cuts-old", "enforce '' '' 1", []string{"--reload-timeout", "4s"}, false, "the server rotated, but the connection opened before the reload was closed"},
		{"bg-cuts-old-later", "enforce '' bg 1", []string{"--reload-timeout", "4s"}, false, "the server rotated, but the connection opened before the reload was closed"},
		{"bg-keeps-old", "enforce '' bg 0", []string{"--reload-timeout", "3s"}, true, ""},
		{"restart-outlasts-window", "enforce", []string{"--reload-timeout", "2s", "--timeout", "1s", "--stop-grace", "1s"}, false, "the server stopped serving new connections instead of rotating"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"--server-cmd", lighttpdCmd + tc.args, "--scenario", "server-cert-rotation", "--reload-signal", "USR1"}, tc.opts...)
			_, rows, r := runJSON(t, args...)
			got := rows["server-cert-rotation"]
			if got.Pass != tc.pass || !strings.Contains(got.Mismatch, tc.words) || strings.Contains(got.Mismatch, "did not rotate") {
				t.Errorf("pass %v (%s), want %v with %q\n%s", got.Pass, got.Mismatch, tc.pass, tc.words, r.stderr)
			}
		})
	}
}

// The CA-bundle and during-connection scenarios, with the graceful
// restart that keeps old connections (bg, shutdown timeout 0): lighttpd
// re-reads ssl.ca-file and ssl.ca-crl-file on SIGUSR1 and keeps the
// WebSockets of an expired or revoked client. Without a trigger it reads
// them once.
func TestLighttpdCARotationAndSessions(t *testing.T) {
	t.Parallel()
	needLighttpd(t)
	opts := []string{"--scenario", "client-ca-rotation", "--scenario", "client-cert-expires-during-connection", "--scenario", "client-revoked-during-connection",
		"--reload-timeout", "2s", "--short-cert-lifetime", "2s", "--observe-for", "2s"}
	type cell struct{ mark, words string }
	for _, tc := range []struct {
		name, args string
		trigger    []string
		want       map[string]cell
	}{
		{"sigusr1-bg", "enforce {crl} bg 0", []string{"--reload-signal", "USR1"}, map[string]cell{
			"client-ca-rotation":                    {"PASS", ""},
			"client-cert-expires-during-connection": {"OBSERVED", "kept: "},
			"client-revoked-during-connection":      {"OBSERVED", "(alert 44 certificate_revoked)"},
		}},
		{"no-trigger", "enforce {crl}", nil, map[string]cell{
			"client-ca-rotation":                    {"FAIL", "did not pick up the new CA bundle"},
			"client-cert-expires-during-connection": {"OBSERVED", "kept: "},
			"client-revoked-during-connection":      {"INCONCLUSIVE", "did not pick up the revocation"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, rows, r := runJSON(t, append(append([]string{"--server-cmd", lighttpdCmd + tc.args}, opts...), tc.trigger...)...)
			for name, w := range tc.want {
				g := rows[name]
				if g.Mark != w.mark || !strings.Contains(g.Reason.Text+" "+g.Mismatch, w.words) {
					t.Errorf("%s: %s (%s | %s), want %s with %q\n%s", name, g.Mark, g.Reason.Text, g.Mismatch, w.mark, w.words, r.stderr)
				}
			}
		})
	}
}
