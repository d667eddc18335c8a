package harness

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// helperRotatingServer is a mutual-TLS echo server (PORT CHAIN KEY CA)
// whose tls.Config.GetCertificate reloads CHAIN and KEY from disk when
// either changes, keeping the pair it has while the two do not match
// (caught between the renames of a rotation): the Go way to rotate
// without a restart.
func helperRotatingServer(args []string) int {
	// adjust runs once serveHelper has checked args.
	return serveHelper("helper rotating server", args, func(cfg *tls.Config) (*tls.Config, error) {
		chain, key := args[1], args[2]
		var mu sync.Mutex
		cur, stamp := &cfg.Certificates[0], ""
		stampOf := func() string {
			var b strings.Builder
			for _, f := range []string{chain, key} {
				if fi, err := os.Stat(f); err == nil {
					fmt.Fprintf(&b, "%d/%d;", fi.ModTime().UnixNano(), fi.Size())
				}
			}
			return b.String()
		}
		stamp = stampOf()
		cfg.Certificates = nil
		cfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			mu.Lock()
			defer mu.Unlock()
			if now := stampOf(); now != stamp {
				if pair, err := tls.LoadX509KeyPair(chain, key); err == nil {
					cur, stamp = &pair, now
				}
			}
			return cur, nil
		}
		return cfg, nil
	})
}

// TestServerCertRotation runs server-cert-rotation against a Go server
// whose GetCertificate reloads from disk (it rotates, without a trigger,
// and keeps the old connection), against the static helper server that
// loads its files once (it does not rotate: the verdict must say so,
// with the old serial seen on every new connection), and the Python
// websockets recipe, which loads its files once too.
func TestServerCertRotation(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMaterials()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Lookup(RotationScenario)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run := func(t *testing.T, cmd string, ro RotationOptions) Result {
		t.Helper()
		tpl, err := ParseTemplate(cmd)
		if err != nil {
			t.Fatal(err)
		}
		p, err := StartServerCommand(ctx, ServerCommandConfig{Command: tpl, Materials: m, Dir: t.TempDir(), StopGrace: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop()
		ro.Run = true
		rep, err := Run(ctx, s, Options{Materials: m, Server: p.Subject(cmd), Timeout: 2 * time.Second, Rotation: ro})
		if err != nil {
			t.Fatal(err)
		}
		r := rep.Results[0]
		t.Logf("%s: pass %v, %s; rotation %+v", cmd, r.Pass, r.Mismatch, *r.Rotation)
		return r
	}
	helper := func(mode string) string {
		return `sh -c '` + helperEnv + `=` + mode + ` exec "$0" "$@"' ` + quote(exe) + ` {port} {chain} {key} {ca}`
	}
	t.Run("go-getcertificate", func(t *testing.T) {
		r := run(t, helper("rotating-server"), RotationOptions{Timeout: 5 * time.Second})
		ev := r.Rotation
		if !r.Pass || ev.NewAfterMS == nil || ev.OldConnection != "kept" || r.Outcome != Accepted {
			t.Errorf("GetCertificate reloading from disk must rotate and keep the old connection: %s", r.Mismatch)
		}
		if ev.OldSerial == ev.NewSerial || len(ev.Files) != 3 {
			t.Errorf("evidence: %+v", ev)
		}
		// Expecting the old connection closed makes the same server fail.
		r = run(t, helper("rotating-server"), RotationOptions{Timeout: 5 * time.Second, KeepsOld: "false"})
		if r.Pass || !strings.Contains(r.Mismatch, "expected it to be closed") {
			t.Errorf("--rotation-keeps-old=false: pass %v, %s", r.Pass, r.Mismatch)
		}
	})
	t.Run("loads-once", func(t *testing.T) {
		r := run(t, helper("server"), RotationOptions{Timeout: 700 * time.Millisecond})
		ev := r.Rotation
		if r.Pass || ev.NewAfterMS != nil || !strings.Contains(r.Mismatch, "did not rotate") {
			t.Fatalf("a server that loads its files once passed or was misreported: %s", r.Mismatch)
		}
		for _, sg := range ev.Sightings {
			if sg.Saw != "old" || sg.Serial != ev.OldSerial {
				t.Errorf("sighting %+v: every new connection must have seen the old serial", sg)
			}
		}
		if ev.Probes < 2 {
			t.Errorf("only %d probes: new connections were not retried", ev.Probes)
		}
	})
	t.Run("python-websockets", func(t *testing.T) {
		if exec.Command("/usr/bin/python3", "-c", "import websockets").Run() != nil {
			t.Skip("Debian's python3-websockets is not installed (CI installs it)")
		}
		r := run(t, "/usr/bin/python3 ../fixtures/subjects/python-websockets/server.py {port} {ca} {chain} {key}", RotationOptions{Timeout: 700 * time.Millisecond})
		if r.Pass || r.Rotation.NewAfterMS != nil || !strings.Contains(r.Mismatch, "did not rotate") {
			t.Errorf("the Python recipe loads its files once; verdict: pass %v, %s", r.Pass, r.Mismatch)
		}
	})
	t.Run("not-asked-or-not-started", func(t *testing.T) {
		rep, err := Run(ctx, s, Options{Materials: m, Timeout: 2 * time.Second, Rotation: RotationOptions{Run: true}})
		if err != nil || rep.Results[0].Outcome != Skipped || !strings.Contains(rep.Results[0].Reason.Text, "--server-cmd") {
			t.Errorf("against the reference server: %+v, %v", rep.Results[0].Verdict, err)
		}
	})
}
