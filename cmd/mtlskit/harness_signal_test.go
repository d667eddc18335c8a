package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHarnessRunInterruptedKillsTheSubjectGroups sends SIGTERM to a
// running `harness run` whose subject (a server command whose port never
// answers TLS, or a client command that sleeps) writes its process group
// ID to a file: mtlskit must exit and the group must be gone within a few
// seconds.
func TestHarnessRunInterruptedKillsTheSubjectGroups(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3 for the silent server")
	}
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pgid")
	server := filepath.Join(dir, "server.sh")
	client := filepath.Join(dir, "client.sh")
	silent := `import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16); time.sleep(120)`
	if err := os.WriteFile(server, []byte("echo $$ > "+pidFile+"\n/usr/bin/python3 -c '"+silent+"' \"$1\" &\nsleep 120\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(client, []byte("echo $$ > "+pidFile+"\nsleep 120\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"server command": {"--server-cmd", "sh " + server + " {port}", "--scenario", "valid-client", "--timeout", "30s", "--stop-grace", "1s"},
		"client command": {"--client-cmd", "sh " + client + " {url}", "--scenario", "valid-server", "--timeout", "30s", "--command-timeout", "60s"},
	} {
		t.Run(name, func(t *testing.T) {
			_ = os.Remove(pidFile)
			cmd := exec.Command(binPath, append([]string{"harness", "run"}, args...)...)
			cmd.Env = cleanEnv()
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			defer func() { _ = cmd.Process.Kill() }()
			var pgid int
			for deadline := time.Now().Add(20 * time.Second); pgid == 0; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the subject never wrote its pid; stderr: %s", stderr.String())
				}
				if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
					pgid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
				}
			}
			time.Sleep(700 * time.Millisecond) // well into the encounter
			if err := syscall.Kill(pgid, 0); err != nil {
				t.Fatalf("the subject is not running before the signal: %v", err)
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "interrupted") {
					t.Errorf("exit %v, stderr %q", err, stderr.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatal("mtlskit did not exit within 10s of SIGTERM")
			}
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
					break
				}
				if time.Now().After(deadline) {
					_ = syscall.Kill(-pgid, syscall.SIGKILL)
					t.Fatalf("process group %d still alive 5s after mtlskit exited", pgid)
				}
			}
		})
	}
}

// TestServerCommandThatDaemonizesIsNamed: a leader that exits 0 while its
// port stays open forked into the background; the error says so.
func TestServerCommandThatDaemonizesIsNamed(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("no setsid")
	}
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "daemon.pid")
	script := filepath.Join(dir, "daemon.sh")
	// The daemon leaves the group (setsid), as nginx does, so the test
	// stops it itself.
	body := "setsid sh -c 'echo $$ > " + pidFile + "; exec \"$MTLSKIT\" harness echo --quiet --listen 127.0.0.1:'\"$1\" </dev/null >/dev/null 2>&1 &\n" +
		"for i in $(seq 50); do [ -s " + pidFile + " ] && exit 0; sleep 0.1; done; exit 0\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}()
	r := mtlskit(t, repoRoot(t), nil, "harness", "run", "--server-cmd", "sh "+script+" {port}", "--scenario", "valid-client", "--timeout", "2s")
	if r.code != 1 || !strings.Contains(r.stderr+r.stdout, "daemonized") || !strings.Contains(r.stderr+r.stdout, "daemon off;") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
