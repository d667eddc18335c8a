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

// The plain ws:// echo backend's limits (mtlskit harness echo), the
// defaults of EchoOptions. docs/harness.md, "Hostile peers", says how each
// bounds a misbehaving client.
const (
	// EchoReadLimit is the largest message it accepts (larger ones close
	// the connection with 1009 before any of the payload is read).
	EchoReadLimit = MaxMessageSize
	// EchoHeaderTimeout bounds reading the upgrade request's headers.
	EchoHeaderTimeout = 10 * time.Second
	// EchoIdleTimeout closes a connection that sends nothing for this long.
	EchoIdleTimeout = 120 * time.Second
	// EchoWriteTimeout bounds writing one echo.
	EchoWriteTimeout = 10 * time.Second
	// EchoMaxHeaderBytes bounds the request headers.
	EchoMaxHeaderBytes = MaxHeaderBytes
	// EchoMaxConns bounds the connections open at once; one more is
	// closed as soon as it is accepted.
	EchoMaxConns = 1024
)

// EchoOptions are the echo backend's limits; a zero field takes the
// default constant of the same name (EchoReadLimit, ...).
type EchoOptions struct {
	ReadLimit      int64
	HeaderTimeout  time.Duration
	IdleTimeout    time.Duration
	WriteTimeout   time.Duration
	MaxHeaderBytes int
	MaxConns       int
	// Log, when set, gets one line per connection.
	Log io.Writer
}

func (o EchoOptions) withDefaults() EchoOptions {
	if o.ReadLimit <= 0 {
		o.ReadLimit = EchoReadLimit
	}
	if o.HeaderTimeout <= 0 {
		o.HeaderTimeout = EchoHeaderTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = EchoIdleTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = EchoWriteTimeout
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = EchoMaxHeaderBytes
	}
	if o.MaxConns <= 0 {
		o.MaxConns = EchoMaxConns
	}
	return o
}

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

// ServeEcho serves the plain ws:// echo backend on ln until ctx ends with
// the default limits (ServeEchoWith).
func ServeEcho(ctx context.Context, ln net.Listener, log io.Writer) error {
	return ServeEchoWith(ctx, ln, EchoOptions{Log: log})
}

// ServeEchoWith serves the plain ws:// echo backend on ln until ctx ends:
// any path upgrades to WebSocket and every text and binary message is
// sent back as it came. A request that is not an upgrade gets 426. The
// options bound what a client may cost.
func ServeEchoWith(ctx context.Context, ln net.Listener, opts EchoOptions) error {
	opts = opts.withDefaults()
	log := opts.Log
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
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }, HandshakeTimeout: opts.HeaderTimeout}
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
		ws.SetReadLimit(opts.ReadLimit)
		n := 0
		for {
			_ = ws.SetReadDeadline(time.Now().Add(opts.IdleTimeout))
			mt, data, err := ws.ReadMessage()
			if err != nil {
				logf("echo: %s %s (verify=%q dn=%q): echoed %d messages, then %v", r.RemoteAddr, r.URL.Path, r.Header.Get("X-Client-Verify"), r.Header.Get("X-Client-DN"), n, err)
				return // gorilla answers a close frame itself
			}
			_ = ws.SetWriteDeadline(time.Now().Add(opts.WriteTimeout))
			if err := ws.WriteMessage(mt, data); err != nil {
				return
			}
			n++
		}
	})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: opts.HeaderTimeout, MaxHeaderBytes: opts.MaxHeaderBytes, IdleTimeout: opts.IdleTimeout}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(newCapListener(ln, opts.MaxConns)) }()
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

// capListener closes a connection accepted while max are open, so a
// flood costs a bounded number of descriptors and goroutines.
type capListener struct {
	net.Listener
	mu   sync.Mutex
	open int
	max  int
}

func newCapListener(ln net.Listener, max int) net.Listener {
	return &capListener{Listener: ln, max: max}
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		if l.open >= l.max {
			l.mu.Unlock()
			_ = c.Close()
			continue
		}
		l.open++
		l.mu.Unlock()
		return &capConn{Conn: c, l: l}, nil
	}
}

// capConn gives its slot back when it is closed (once).
type capConn struct {
	net.Conn
	l    *capListener
	once sync.Once
}

func (c *capConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		c.l.mu.Unlock()
	})
	return err
}

// CloseWrite lets net/http half-close before it closes (so a 431 is read
// before the reset).
func (c *capConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
