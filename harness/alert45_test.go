package harness

import (
	"context"
	"crypto/tls"
	"os"
	"strings"
	"testing"
	"time"
)

// helperSkewedServer is helperServer with its clock ten years ahead
// (tls.Config.Time): it finds every client certificate expired, and
// says so with alert 45, as a server with a wrong clock does.
func helperSkewedServer(args []string) int {
	return serveHelper("helper skewed server", args, func(cfg *tls.Config) (*tls.Config, error) {
		cfg.Time = func() time.Time { return time.Now().AddDate(10, 0, 0) }
		return cfg, nil
	})
}

// TestAlert45SaysWhichDate: alert 45 certificate_expired is what Go and
// OpenSSL send for an expired and a not-yet-valid certificate alike; the
// verdict on an external server says which from the client
// certificate's own dates, and when by this machine's clock it is
// neither, that the server's clock is the suspect.
func TestAlert45SaysWhichDate(t *testing.T) {
	t.Parallel()
	m, err := NewMaterials()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode, scenario string
		id             ReasonID
		words          string
	}{
		{"server", "not-yet-valid-client", ReasonNotYetValid, " is not valid before "},
		{"server", "expired-client", ReasonExpired, "the certificate expired at "},
		{"skewed-server", "valid-client", ReasonExpired, "is the server's clock wrong?"},
	} {
		for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(tc.mode+"/"+tc.scenario+"/"+TLSVersionName(version), func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				cmd := `sh -c '` + helperEnv + `=` + tc.mode + ` exec "$0" "$@"' ` + quote(exe) + ` {port} {chain} {key} {ca}`
				tpl, err := ParseTemplate(cmd)
				if err != nil {
					t.Fatal(err)
				}
				p, err := StartServerCommand(ctx, ServerCommandConfig{Command: tpl, Materials: m, Dir: t.TempDir(), StopGrace: 2 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				defer p.Stop()
				s, err := Lookup(tc.scenario)
				if err != nil {
					t.Fatal(err)
				}
				r := RunScenario(ctx, s[0], m, Options{Materials: m, Server: p.Subject(cmd), Timeout: 2 * time.Second, TLSVersion: version})
				if r.Outcome != RejectedTLS || r.Reason.ID != tc.id || !strings.Contains(r.Reason.Text, tc.words) {
					t.Errorf("%s on the %s: %s [%s] %s, want [%s] with %q", tc.scenario, tc.mode, r.Outcome, r.Reason.ID, r.Reason.Text, tc.id, tc.words)
				}
			})
		}
	}
}
