package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestNginxOCSPRefusesTheRevokedClient: nginx pointed at the run's OCSP
// responder ({ocsp}: ssl_ocsp leaf, ssl_ocsp_responder), with no CRL,
// refuses the revoked client with its 400 and accepts the others (the
// intermediate's leaf too: the one URL answers for both CAs); the verdict
// carries what the responder saw asked about the revoked certificate. The
// same nginx handed {ocsp} but not told to use it accepts the revoked
// client, and the verdict says the server never asked.
func TestNginxOCSPRefusesTheRevokedClient(t *testing.T) {
	t.Parallel()
	needNginx(t)
	scenarios := []string{"--scenario", "revoked-client", "--scenario", "client-via-intermediate", "--scenario", "valid-client"}
	run := func(cmd string) (int, map[string]ocspRow, result) {
		r := mtlskit(t, repoRoot(t), nil, append([]string{"harness", "run", "--server-cmd", cmd, "--target", "wss://localhost:{port}/echo", "--format", "json"}, scenarios...)...)
		var doc struct{ Results []ocspRow }
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("exit %d, not JSON (%v):\n%s\n%s", r.code, err, r.stdout, r.stderr)
		}
		rows := map[string]ocspRow{}
		for _, v := range doc.Results {
			rows[v.Name] = v
		}
		return r.code, rows, r
	}

	code, rows, r := run(nginxCmd + "on '' {ocsp}")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, r.stdout, r.stderr)
	}
	rev := rows["revoked-client"]
	if !rev.Pass || rev.Outcome != "rejected-http" || rev.Layers.HTTP.StatusCode != 400 || rev.Revocation == nil ||
		rev.Revocation.OCSPRequests < 1 || !strings.HasPrefix(rev.Revocation.OCSPURL, "http://127.0.0.1:") {
		t.Errorf("revoked-client: %+v (revocation %+v)", rev.verdictRow, rev.Revocation)
	}
	for _, name := range []string{"valid-client", "client-via-intermediate"} {
		if v := rows[name]; !v.Pass || v.Outcome != "accepted" {
			t.Errorf("%s: %s pass=%v (%s)", name, v.Outcome, v.Pass, v.Mismatch)
		}
	}

	// {ocsp} given to run.sh in a place it ignores: nginx never asks.
	code, rows, _ = run(nginxCmd + "on '' '' {ocsp}")
	rev = rows["revoked-client"]
	if code != 1 || rev.Pass || rev.Outcome != "accepted" || rev.Revocation == nil || rev.Revocation.OCSPRequests != 0 ||
		!strings.Contains(rev.Mismatch, "never asked the OCSP responder") || !strings.Contains(rev.Mismatch, "this server does not check revocation") {
		t.Errorf("ignored {ocsp}: exit %d, %+v", code, rev.verdictRow)
	}
}

// ocspRow is a result row with its revocation evidence.
type ocspRow struct {
	verdictRow
	Revocation *struct {
		OCSPURL      string `json:"ocsp_url"`
		OCSPRequests int    `json:"ocsp_requests"`
	} `json:"revocation"`
}
