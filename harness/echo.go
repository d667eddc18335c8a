package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// The plain ws:// echo backend's limits (mtlskit harness echo).
const (
	// EchoReadLimit is the largest message it accepts (larger ones close
	// the connection with 1009).
	EchoReadLimit = MaxMessageSize
	// EchoHeaderTimeout bounds reading the upgrade request's headers.
	EchoHeaderTimeout = 10 * time.Second
	// EchoIdleTimeout closes a connection that sends nothing for this long.
	EchoIdleTimeout = 120 * time.Second
	// EchoWriteTimeout bounds writing one echo.
	EchoWriteTimeout = 10 * time.Second
	// EchoMaxHeaderBytes bounds the request headers.
	EchoMaxHeaderBytes = 16 << 10
)

// ListenEcho listens where the echo backend serves: "unix:/path.sock"
// (a stale socket file is replaced) or a loopback host:port. The backend
// speaks plain ws://, so it never listens beyond the loopback.
func ListenEcho(listen string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(listen, "unix:"); ok {
		if path == "" {
			return nil, errors.New("--listen unix: needs a path, such as unix:/run/echo.sock")
		}
		if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			_ = os.Remove(path)
		}
		return net.Listen("unix", path)
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: use 127.0.0.1:PORT, [::1]:PORT or unix:/path.sock", listen)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("--listen %q: the echo backend speaks plain ws:// and listens on the loopback only (127.0.0.1, [::1]) or a unix socket", listen)
	}
	return net.Listen("tcp", listen)
}

// ServeEcho serves the plain ws:// echo backend on ln until ctx ends: any
// path upgrades to WebSocket and every text and binary message is sent
// back as it came. A request that is not an upgrade gets 426. Limits:
// EchoReadLimit, EchoHeaderTimeout, EchoIdleTimeout, EchoWriteTimeout,
// EchoMaxHeaderBytes. When log is set, one line per connection.
func ServeEcho(ctx context.Context, ln net.Listener, log io.Writer) error {
	var mu sync.Mutex
	conns := map[*websocket.Conn]bool{}
	var wg sync.WaitGroup
	logf := func(format string, a ...any) {
		if log != nil {
			mu.Lock()
			fmt.Fprintf(log, format+"\n", a...)
			mu.Unlock()
		}
	}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }, HandshakeTimeout: EchoHeaderTimeout}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !websocket.IsWebSocketUpgrade(r) {
			http.Error(w, "mtlskit echo: WebSocket upgrade required", http.StatusUpgradeRequired)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		mu.Lock()
		conns[ws] = true
		wg.Add(1)
		mu.Unlock()
		defer func() {
			mu.Lock()
			delete(conns, ws)
			mu.Unlock()
			ws.Close()
			wg.Done()
		}()
		ws.SetReadLimit(EchoReadLimit)
		n := 0
		for {
			_ = ws.SetReadDeadline(time.Now().Add(EchoIdleTimeout))
			mt, data, err := ws.ReadMessage()
			if err != nil {
				logf("echo: %s %s (verify=%q dn=%q): echoed %d messages, then %v", r.RemoteAddr, r.URL.Path, r.Header.Get("X-Client-Verify"), r.Header.Get("X-Client-DN"), n, err)
				return // gorilla answers a close frame itself
			}
			_ = ws.SetWriteDeadline(time.Now().Add(EchoWriteTimeout))
			if err := ws.WriteMessage(mt, data); err != nil {
				return
			}
			n++
		}
	})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: EchoHeaderTimeout, MaxHeaderBytes: EchoMaxHeaderBytes, IdleTimeout: EchoIdleTimeout}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	mu.Lock()
	for c := range conns {
		_ = c.Close() // hijacked: Shutdown does not close them
	}
	mu.Unlock()
	wg.Wait()
	return nil
}
