package main

import (
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestHarnessEchoLimitFlags runs `harness echo --max-message 1024`: a
// 512-byte message comes back, a 2 KiB one closes the WebSocket with 1009.
// It also checks that --help shows each limit's default and that a limit
// that is not positive is a usage error.
func TestHarnessEchoLimitFlags(t *testing.T) {
	t.Parallel()
	help := mtlskit(t, "", nil, "harness", "echo", "--help")
	for _, want := range []string{"--max-message BYTES", "(default: 4194304)", "--max-header-bytes BYTES", "(default: 16384)",
		"--header-timeout", "(default: 10s)", "--idle-timeout", "(default: 2m0s)", "--write-timeout", "--max-conns", "(default: 1024)"} {
		if !strings.Contains(help.stdout, want) {
			t.Errorf("harness echo --help lacks %q:\n%s", want, help.stdout)
		}
	}
	for _, bad := range [][]string{{"--max-message", "0"}, {"--idle-timeout", "-1s"}, {"--max-conns", "-3"}} {
		r := mtlskit(t, "", nil, append([]string{"harness", "echo", "--listen", "127.0.0.1:0"}, bad...)...)
		if r.code != 2 || !strings.Contains(r.stderr, bad[0]) || !strings.Contains(r.stderr, "must be positive") {
			t.Errorf("%v: exit %d, stderr %q", bad, r.code, r.stderr)
		}
	}

	sock := filepath.Join(t.TempDir(), "echo.sock")
	cmd := exec.Command(binPath, "harness", "echo", "--quiet", "--listen", "unix:"+sock, "--max-message", "1024")
	cmd.Env = cleanEnv()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("harness echo did not exit after SIGKILL")
		}
	}()
	d := websocket.Dialer{NetDial: func(string, string) (net.Conn, error) { return net.Dial("unix", sock) }, HandshakeTimeout: 5 * time.Second}
	var ws *websocket.Conn
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ws, _, err = d.Dial("ws://backend/echo", nil); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_ = ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	small := strings.Repeat("s", 512)
	if err := ws.WriteMessage(websocket.TextMessage, []byte(small)); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := ws.ReadMessage(); err != nil || string(msg) != small {
		t.Fatalf("512-byte message: got %d bytes, %v", len(msg), err)
	}
	if err := ws.WriteMessage(websocket.BinaryMessage, make([]byte, 2048)); err != nil {
		t.Fatal(err)
	}
	_, msg, err := ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("2 KiB message with --max-message 1024: got %d bytes, %v; want close 1009", len(msg), err)
	}
}
