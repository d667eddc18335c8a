package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pinnedGoClient is a deployment that pins its server: on its first run
// it saves the certificate the server presented (openssl s_client) as
// the only certificate it trusts, then runs the Go client recipe with it
// as its CA file. Go accepts a trusted leaf as a chain of its own, so
// the first run passes; after a rotation the saved leaf no longer
// matches. (Python's ssl and Node refuse a leaf as trust anchor without
// X509_V_FLAG_PARTIAL_CHAIN, so they would fail the first run already.)
const pinnedGoClient = `dir=$1 port=$2 url=$3 ca=$4 cert=$5 key=$6
[ -f "$dir/pinned.pem" ] || openssl s_client -connect "127.0.0.1:$port" -servername localhost -CAfile "$ca" -cert "$cert" -key "$key" -verify_return_error </dev/null 2>/dev/null | openssl x509 >"$dir/pinned.pem" || exit 1
exec sh fixtures/subjects/go/run.sh client "$url" "$dir/pinned.pem" "$cert" "$key"
`

// TestServerCertRotationClientRealClients runs server-cert-rotation-
// client through the binary against the client recipes of
// fixtures/subjects: Python websockets, Go and Node keep nothing between
// runs and pass, after a full handshake with the new certificate; the Go
// client pinned to the first certificate it saw fails with the pinning
// words.
func TestServerCertRotationClientRealClients(t *testing.T) {
	t.Parallel()
	const scenario = "server-cert-rotation-client"
	type rotationRow struct {
		Mark           string `json:"mark"`
		Mismatch       string `json:"mismatch"`
		ClientRotation *struct {
			OldSerial string `json:"old_serial"`
			NewSerial string `json:"new_serial"`
			After     *struct {
				Outcome     string `json:"outcome"`
				Connections []struct {
					Presented bool   `json:"certificate_presented"`
					Resumed   bool   `json:"resumed"`
					Handshake string `json:"handshake"`
				} `json:"connections"`
			} `json:"after"`
		} `json:"client_rotation"`
	}
	run := func(t *testing.T, client string) (rotationRow, result) {
		t.Helper()
		r := mtlskit(t, repoRoot(t), nil, "harness", "run", "--client-cmd", client, "--scenario", scenario, "--format", "json")
		var doc struct {
			Results []rotationRow `json:"results"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Results) != 1 || doc.Results[0].ClientRotation == nil {
			t.Fatalf("exit %d, not one result with client_rotation (%v):\n%s\n%s", r.code, err, r.stdout, r.stderr)
		}
		return doc.Results[0], r
	}
	for _, tc := range []struct {
		name, client string
		need         func(t *testing.T)
	}{
		{"python", "/usr/bin/python3 fixtures/subjects/python-websockets/client.py {url} {ca} {cert} {key} {crl}", needPythonWebsockets},
		{"go", "sh fixtures/subjects/go/run.sh client {url} {ca} {cert} {key} {crl}", func(t *testing.T) { needPackage(t, "go", "golang") }},
		{"node", "sh fixtures/subjects/node/run.sh client {url} {ca} {cert} {key} {crl}", func(t *testing.T) {
			if _, path := nodeWS(t); path == "" {
				t.Skip("Node's ws is not installed (.ci/run installs node-ws)")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.need(t)
			got, r := run(t, tc.client)
			ev := got.ClientRotation
			if got.Mark != "PASS" || r.code != 0 || ev.After == nil || ev.OldSerial == ev.NewSerial {
				t.Fatalf("%s: %s exit %d: %s\n%s", tc.name, got.Mark, r.code, got.Mismatch, r.stdout)
			}
			full := false
			for _, c := range ev.After.Connections {
				full = full || c.Presented && !c.Resumed && c.Handshake == "completed"
			}
			if !full {
				t.Errorf("no full handshake with the new certificate after the rotation: %+v", ev.After.Connections)
			}
		})
	}
	t.Run("go-pinned", func(t *testing.T) {
		needPackage(t, "go", "golang")
		needPackage(t, "openssl", "openssl")
		script := filepath.Join(t.TempDir(), "pinned.sh")
		if err := os.WriteFile(script, []byte(pinnedGoClient), 0o644); err != nil {
			t.Fatal(err)
		}
		got, r := run(t, "sh "+script+" {dir} {port} {url} {ca} {cert} {key}")
		if got.Mark != "FAIL" || r.code != 1 || got.ClientRotation.After == nil || got.ClientRotation.After.Outcome != "rejected-tls" {
			t.Fatalf("a client pinned to the old certificate: %s exit %d: %s\n%s", got.Mark, r.code, got.Mismatch, r.stdout)
		}
		for _, w := range []string{"refused the rotated server certificate", "pinned the old certificate", got.ClientRotation.NewSerial, "certificate signed by unknown authority"} {
			if !strings.Contains(got.Mismatch, w) {
				t.Errorf("mismatch lacks %q: %s", w, got.Mismatch)
			}
		}
	})
}

// TestRotationClientIsListedAndNamed: harness list shows the scenario
// among those run only when named, and naming it with the reference
// client skips it, saying it needs --client-cmd.
func TestRotationClientIsListedAndNamed(t *testing.T) {
	t.Parallel()
	r := mtlskit(t, repoRoot(t), nil, "harness", "list", "--json")
	var doc struct {
		WhenNamed []struct{ Name, Side string } `json:"run_when_named"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("harness list --json: %v\n%s", err, r.stdout)
	}
	found := false
	for _, s := range doc.WhenNamed {
		found = found || s.Name == "server-cert-rotation-client" && s.Side == "client"
	}
	if !found {
		t.Errorf("run_when_named lacks server-cert-rotation-client: %+v", doc.WhenNamed)
	}
	if r := mtlskit(t, repoRoot(t), nil, "harness", "list"); !strings.Contains(r.stdout, "server-cert-rotation-client") || !strings.Contains(r.stdout, "--client-cmd") {
		t.Errorf("harness list:\n%s", r.stdout)
	}
	code, rows, r := runJSON(t, "--scenario", "server-cert-rotation-client")
	if got := rows["server-cert-rotation-client"]; code != 0 || got.Outcome != "skipped" || !strings.Contains(got.Reason.Text, "--client-cmd") {
		t.Errorf("with the reference client: exit %d %+v\n%s", code, got, r.stderr)
	}
	// The --reload-* flags configure server-cert-rotation, not this one.
	if r := mtlskit(t, repoRoot(t), nil, "harness", "run", "--scenario", "server-cert-rotation-client", "--reload-signal", "HUP"); r.code != 2 || !strings.Contains(r.stderr, "add --scenario server-cert-rotation") {
		t.Errorf("--reload-signal with only the client scenario: exit %d %s", r.code, r.stderr)
	}
}
