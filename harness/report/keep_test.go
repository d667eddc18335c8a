package report

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeepWritesPrivateKeysAndAReproPerScenario(t *testing.T) {
	rep := sampleReport(t)
	dir := filepath.Join(t.TempDir(), "keep")
	if err := WriteKeep(dir, rep); err != nil {
		t.Fatal(err)
	}
	mode := func(p string) os.FileMode {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	if m := mode(dir); m != 0o700 {
		t.Errorf("keep dir mode %o", m)
	}
	for _, name := range []string{"valid-client", "no-client-cert", "server-missing-san"} {
		sd := filepath.Join(dir, name)
		if m := mode(sd); m != 0o700 {
			t.Errorf("%s: dir mode %o", name, m)
		}
		if m := mode(filepath.Join(sd, "server.key")); m != 0o600 {
			t.Errorf("%s: server.key mode %o", name, m)
		}
		script, err := os.ReadFile(filepath.Join(sd, "repro.sh"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"openssl s_server", "-Verify 1 -verify_return_error", "openssl s_client", "curl", name} {
			if !strings.Contains(string(script), want) {
				t.Errorf("%s/repro.sh lacks %q", name, want)
			}
		}
		if bash, err := exec.LookPath("bash"); err == nil {
			if out, err := exec.Command(bash, "-n", filepath.Join(sd, "repro.sh")).CombinedOutput(); err != nil {
				t.Errorf("%s/repro.sh: %v %s", name, err, out)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "no-client-cert", "client.key")); !os.IsNotExist(err) {
		t.Errorf("no-client-cert has a client key: %v", err)
	}
	if m := mode(filepath.Join(dir, "valid-client", "client.key")); m != 0o600 {
		t.Errorf("client.key mode %o", m)
	}
}
