package harness

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/internal/wire"
	"github.com/mtlskit/mtlskit/probe"

	"github.com/gorilla/websocket"
)

// Hostile peers (issue 6): a misbehaving client against the reference
// server and the echo backend, a misbehaving server against the reference
// client and the probe. Each must end within its documented limit, cost
// bounded memory, and leave other connections working.

// heapBound is how much the heap may grow during one attack: generous,
// yet far below the gigabyte a trusted length header would cost.
const heapBound = 128 << 20

// heapWatch samples HeapInuse until stopped and reports the peak above the
// baseline taken at the start.
type heapWatch struct {
	base, peak atomic.Uint64
	stop       chan struct{}
	done       chan struct{}
}

func heapInuse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func watchHeap() *heapWatch {
	runtime.GC()
	w := &heapWatch{stop: make(chan struct{}), done: make(chan struct{})}
	b := heapInuse()
	w.base.Store(b)
	w.peak.Store(b)
	go func() {
		defer close(w.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
				if h := heapInuse(); h > w.peak.Load() {
					w.peak.Store(h)
				}
			}
		}
	}()
	return w
}

// check stops the watch and fails when the heap grew past heapBound at
// any sample, or is still more than heapBound/4 above the baseline
// after a GC.
func (w *heapWatch) check(t *testing.T, what string) {
	t.Helper()
	close(w.stop)
	<-w.done
	if h := heapInuse(); h > w.peak.Load() {
		w.peak.Store(h)
	}
	runtime.GC()
	after := heapInuse()
	base, peak := w.base.Load(), w.peak.Load()
	if peak > base+heapBound {
		t.Errorf("%s: heap in use peaked at %d MiB, %d MiB above the %d MiB baseline (bound %d MiB)", what, peak>>20, (peak-base)>>20, base>>20, heapBound>>20)
	}
	if after > base+heapBound/4 {
		t.Errorf("%s: heap in use still %d MiB above the baseline after GC", what, (after-base)>>20)
	}
}

// target is a server under attack: how to reach its upgrade layer (TLS
// with a valid client certificate for the reference server, plain TCP for
// the echo backend) and how a valid client proves it still works.
type target struct {
	name string
	addr string
	// upgradeConn is a connection ready for HTTP.
	upgradeConn func(t *testing.T) net.Conn
	// valid runs one valid client and returns an error unless it got its
	// echo.
	valid func() error
	// limit is how long a silent or trickling peer may be kept open.
	limit time.Duration
}

// referenceTarget starts the reference server with a 1 s phase timeout.
func referenceTarget(t *testing.T) target {
	t.Helper()
	m := testMaterials()
	enc := standard(m)
	srv, err := ReferenceServer().Start(context.Background(), ServerConfig{Encounter: enc, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	addr := srv.Addr()
	cert := m.Client.TLSCertificate(true)
	return target{
		name: "reference", addr: addr,
		// handshake timeout (1 s) + the drain after a failed handshake
		// (1 s) + slack for a loaded 2-core CI machine under -race: the
		// property is "bounded", a hang would never close.
		limit: 5 * time.Second,
		upgradeConn: func(t *testing.T) net.Conn {
			t.Helper()
			d := &net.Dialer{Timeout: 2 * time.Second}
			c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: "localhost", RootCAs: wire.CertPool(enc.RootCAs), Certificates: []tls.Certificate{cert}})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		valid: func() error {
			v := ReferenceClient().Connect(context.Background(), ClientConfig{Encounter: enc, Addr: addr, Timeout: 2 * time.Second})
			if v.Outcome != Accepted {
				return fmt.Errorf("valid client: %s/%s: %s", v.Outcome, v.Reason.ID, v.Reason.Text)
			}
			return nil
		},
	}
}

// echoTarget starts the echo backend with short limits.
func echoTarget(t *testing.T, opts EchoOptions) target {
	t.Helper()
	ln, err := ListenEcho("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeEchoWith(ctx, ln, opts) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("the echo backend did not stop within 5s")
		}
	})
	addr := ln.Addr().String()
	return target{
		name: "echo", addr: addr,
		limit: 4 * time.Second, // 500 ms timeouts + slack for a loaded CI machine
		upgradeConn: func(t *testing.T) net.Conn {
			t.Helper()
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		valid: func() error { return echoOnce(addr) },
	}
}

// echoOnce is a valid ws:// client: one text message must come back.
func echoOnce(addr string) error {
	d := websocket.Dialer{HandshakeTimeout: 2 * time.Second}
	ws, _, err := d.Dial("ws://"+addr+"/", nil)
	if err != nil {
		return fmt.Errorf("valid client: %v", err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(2 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, []byte("still here")); err != nil {
		return fmt.Errorf("valid client: %v", err)
	}
	_, data, err := ws.ReadMessage()
	if err != nil || string(data) != "still here" {
		return fmt.Errorf("valid client: got %q, %v", data, err)
	}
	return nil
}

// hostileEcho are the echo backend's limits in these tests.
var hostileEcho = EchoOptions{HeaderTimeout: 500 * time.Millisecond, IdleTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond}

func targets(t *testing.T) []func(*testing.T) target {
	return []func(*testing.T) target{
		referenceTarget,
		func(t *testing.T) target { return echoTarget(t, hostileEcho) },
	}
}

// closedWithin reads (and discards) until the peer closes c, and fails
// when that takes longer than limit.
func closedWithin(t *testing.T, c net.Conn, limit time.Duration) {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(limit + 2*time.Second))
	n, err := io.Copy(io.Discard, io.LimitReader(c, 1<<20))
	took := time.Since(start)
	if wire.IsTimeout(err) || took > limit {
		t.Fatalf("the server kept the connection open for %s (limit %s; %d bytes, %v)", took.Round(time.Millisecond), limit, n, err)
	}
}

// clientHello is a real ClientHello record, as crypto/tls writes it.
func clientHello(t *testing.T) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		_ = tls.Client(a, &tls.Config{ServerName: "localhost", RootCAs: wire.CertPool([]*x509.Certificate{testMaterials().Root.Cert})}).Handshake()
	}()
	_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(b, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint16(hdr[3:]))
	if _, err := io.ReadFull(b, body); err != nil {
		t.Fatal(err)
	}
	return append(hdr, body...)
}

// attack runs fn against every target while a valid client keeps
// connecting, and checks the heap.
func attack(t *testing.T, fn func(t *testing.T, tg target)) {
	for _, mk := range targets(t) {
		tg := mk(t)
		t.Run(tg.name, func(t *testing.T) {
			w := watchHeap()
			stop := make(chan struct{})
			validErr := make(chan error, 1)
			go func() {
				var err error
				for {
					if e := tg.valid(); e != nil && err == nil {
						err = e
					}
					select {
					case <-stop:
						validErr <- err
						return
					case <-time.After(50 * time.Millisecond):
					}
				}
			}()
			fn(t, tg)
			close(stop)
			select {
			case err := <-validErr:
				if err != nil {
					t.Errorf("during the attack: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("the valid client hung during the attack")
			}
			w.check(t, tg.name)
			// and after it
			if err := tg.valid(); err != nil {
				t.Errorf("after the attack: %v", err)
			}
		})
	}
}

func TestHostileSilentClientIsClosed(t *testing.T) {
	attack(t, func(t *testing.T, tg target) {
		c, err := net.Dial("tcp", tg.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		closedWithin(t, c, tg.limit)
	})
}

func TestHostilePartialClientHelloIsClosed(t *testing.T) {
	hello := clientHello(t)
	attack(t, func(t *testing.T, tg target) {
		c, err := net.Dial("tcp", tg.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(hello[:len(hello)/2]); err != nil {
			t.Fatal(err)
		}
		closedWithin(t, c, tg.limit)
	})
}

func TestHostileGarbageClientHelloIsRefused(t *testing.T) {
	garbage := []byte("\x16\x03\x01\x02\x00" + strings.Repeat("\xde\xad\xbe\xef", 128))
	attack(t, func(t *testing.T, tg target) {
		c, err := net.Dial("tcp", tg.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(garbage); err != nil {
			t.Fatal(err)
		}
		closedWithin(t, c, tg.limit)
	})
}

// upgradeRequest is a valid upgrade request with extra header lines, or
// without the named header.
func upgradeRequest(without string, extra ...string) string {
	h := []string{"GET /echo HTTP/1.1", "Host: localhost", "Upgrade: websocket", "Connection: Upgrade",
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"}
	var b strings.Builder
	for _, l := range h {
		if without != "" && strings.HasPrefix(l, without+":") {
			continue
		}
		b.WriteString(l + "\r\n")
	}
	for _, l := range extra {
		b.WriteString(l + "\r\n")
	}
	return b.String() + "\r\n"
}

// sendRequest writes req (in the background: the server may stop reading
// it) and returns the status of the answer, 0 when the server closed
// without one.
func sendRequest(t *testing.T, c net.Conn, req string, limit time.Duration) int {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(limit + 2*time.Second))
	go func() { _, _ = io.WriteString(c, req) }()
	start := time.Now()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if took := time.Since(start); took > limit || wire.IsTimeout(err) {
		t.Fatalf("no answer or close within %s (took %s, %v)", limit, took.Round(time.Millisecond), err)
	}
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestHostileUpgradeHeadersAreRefused(t *testing.T) {
	many := make([]string, 5000)
	for i := range many {
		many[i] = fmt.Sprintf("X-Many-%d: v", i)
	}
	cases := []struct {
		name string
		req  string
		// want lists the acceptable statuses; 0 is a close without one.
		want []int
	}{
		{"missing-key", upgradeRequest("Sec-WebSocket-Key"), []int{400}},
		{"wrong-version", strings.Replace(upgradeRequest(""), "Version: 13", "Version: 8", 1), []int{400}},
		{"huge-header-line", upgradeRequest("", "X-Huge: "+strings.Repeat("a", 8<<20)), []int{431, 0}},
		{"too-many-headers", upgradeRequest("", many...), []int{431, 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			attack(t, func(t *testing.T, tg target) {
				c := tg.upgradeConn(t)
				defer c.Close()
				got := sendRequest(t, c, tc.req, tg.limit)
				ok := false
				for _, w := range tc.want {
					ok = ok || got == w
				}
				if !ok {
					t.Fatalf("answered %d, want one of %v", got, tc.want)
				}
			})
		})
	}
}

// upgraded sends a valid upgrade request and reads the 101.
func upgraded(t *testing.T, tg target) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := tg.upgradeConn(t)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, upgradeRequest("")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("no 101: %v %v", resp, err)
	}
	return c, br
}

// closeCode reads the server's frames until its close frame and returns
// the close code, 0 when the connection ended without one.
func closeCode(br *bufio.Reader) int {
	for {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return 0
		}
		n := int64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(br, b[:]); err != nil {
				return 0
			}
			n = int64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(br, b[:]); err != nil {
				return 0
			}
			n = int64(binary.BigEndian.Uint64(b[:]))
		}
		payload := make([]byte, min(n, 1<<16))
		if _, err := io.ReadFull(br, payload); err != nil {
			return 0
		}
		if h[0]&0x0f == websocket.CloseMessage {
			if len(payload) < 2 {
				return websocket.CloseNoStatusReceived
			}
			return int(binary.BigEndian.Uint16(payload))
		}
	}
}

func TestHostileFramesAreClosedWithTheRightCode(t *testing.T) {
	mask := []byte{1, 2, 3, 4}
	giga := append([]byte{0x82, 0x80 | 127}, binary.BigEndian.AppendUint64(nil, 1<<30)...)
	cases := []struct {
		name  string
		frame []byte
		code  int
	}{
		{"1GB-length-header", append(giga, mask...), websocket.CloseMessageTooBig},
		{"reserved-bits", append([]byte{0xc1, 0x80}, mask...), websocket.CloseProtocolError},
		{"bad-opcode", append([]byte{0x83, 0x80}, mask...), websocket.CloseProtocolError},
		{"unmasked-client-frame", []byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}, websocket.CloseProtocolError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			attack(t, func(t *testing.T, tg target) {
				c, br := upgraded(t, tg)
				defer c.Close()
				if _, err := c.Write(tc.frame); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				if got := closeCode(br); got != tc.code {
					t.Fatalf("closed with %d, want %d", got, tc.code)
				}
				closedWithin(t, c, tg.limit-time.Since(start))
			})
		})
	}
}

func TestHostileIdleUpgradedClientIsClosed(t *testing.T) {
	attack(t, func(t *testing.T, tg target) {
		c, br := upgraded(t, tg)
		defer c.Close()
		start := time.Now()
		_ = c.SetReadDeadline(start.Add(tg.limit + 2*time.Second))
		_, _ = io.Copy(io.Discard, br)
		if took := time.Since(start); took > tg.limit {
			t.Fatalf("an idle WebSocket stayed open %s (limit %s)", took.Round(time.Millisecond), tg.limit)
		}
	})
}

// TestHostileFloodOf1000Connections opens 1,000 silent connections at
// once; a valid client must still get its echo, and the server must close
// them all within its limit.
func TestHostileFloodOf1000Connections(t *testing.T) {
	const n = 1000
	attack(t, func(t *testing.T, tg target) {
		start := time.Now()
		conns := make([]net.Conn, n)
		dialled := make([]time.Time, n)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		var dialErr atomic.Value
		for i := range conns {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				c, err := net.DialTimeout("tcp", tg.addr, 2*time.Second)
				if err != nil {
					dialErr.Store(err)
					return
				}
				conns[i], dialled[i] = c, time.Now()
			}()
		}
		wg.Wait()
		defer func() {
			for _, c := range conns {
				if c != nil {
					c.Close()
				}
			}
		}()
		dialledIn := time.Since(start)
		if err := dialErr.Load(); err != nil {
			t.Fatalf("dialling the flood: %v", err)
		}
		if err := tg.valid(); err != nil {
			t.Fatalf("with %d silent connections open: %v", n, err)
		}
		// Every flood connection is closed by the server within its limit
		// (plus 3 s: 2,000 sockets on a shared machine under -race).
		var open atomic.Int32
		for i, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = c.SetReadDeadline(dialled[i].Add(tg.limit + 3*time.Second))
				if _, err := io.Copy(io.Discard, c); wire.IsTimeout(err) {
					open.Add(1)
				}
			}()
		}
		wg.Wait()
		if o := open.Load(); o > 0 {
			t.Fatalf("%d of %d flood connections still open %s after they were dialled (dialling took %s)", o, n, tg.limit+3*time.Second, dialledIn.Round(time.Millisecond))
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Logf("the flood took %s (dialling %s)", took.Round(time.Millisecond), dialledIn.Round(time.Millisecond))
		}
	})
}

// TestEchoMaxConnsClosesTheExcess: past MaxConns a connection is closed
// at once, and the slots come back when the holders go.
func TestEchoMaxConnsClosesTheExcess(t *testing.T) {
	tg := echoTarget(t, EchoOptions{MaxConns: 4, HeaderTimeout: 5 * time.Second})
	var held []net.Conn
	for range 4 {
		c, err := net.Dial("tcp", tg.addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	// The held connections are accepted before the next one is.
	time.Sleep(100 * time.Millisecond)
	extra, err := net.Dial("tcp", tg.addr)
	if err != nil {
		t.Fatal(err)
	}
	closedWithin(t, extra, time.Second)
	extra.Close()
	for _, c := range held {
		c.Close()
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		err := echoOnce(tg.addr)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slots did not come back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hostileServer listens on 127.0.0.1 and hands each connection to fn
// (after wrapping it in TLS with the valid server certificate when
// useTLS); fn must return once done is closed or a write fails.
func hostileServer(t *testing.T, useTLS bool, fn func(c net.Conn, done <-chan struct{})) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := testMaterials()
	cfg := &tls.Config{Certificates: []tls.Certificate{m.Server.TLSCertificate(true)}, ClientAuth: tls.RequestClientCert, NextProtos: []string{"http/1.1"}}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				if useTLS {
					c = tls.Server(c, cfg)
				}
				fn(c, done)
			}()
		}
	}()
	t.Cleanup(func() {
		close(done)
		ln.Close()
		finished := make(chan struct{})
		go func() { wg.Wait(); close(finished) }()
		select {
		case <-finished:
		case <-time.After(5 * time.Second):
			t.Error("the hostile server's connections did not end")
		}
	})
	return ln.Addr().String()
}

// trickle writes b one byte every 100 ms, then repeats tail, until a
// write fails or done.
func trickle(c net.Conn, done <-chan struct{}, b, tail string) {
	for i := 0; ; i++ {
		var ch byte
		if i < len(b) {
			ch = b[i]
		} else {
			ch = tail[(i-len(b))%len(tail)]
		}
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte{ch}); err != nil {
			return
		}
		select {
		case <-done:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// flood writes chunk after chunk until a write fails or done.
func flood(c net.Conn, done <-chan struct{}, chunk []byte) {
	for {
		select {
		case <-done:
			return
		default:
		}
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := c.Write(chunk); err != nil {
			return
		}
	}
}

// readUpgrade reads the client's upgrade request (TLS handshake first).
func readUpgrade(c net.Conn) (*http.Request, bool) {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	req, err := http.ReadRequest(bufio.NewReader(c))
	_ = c.SetReadDeadline(time.Time{})
	return req, err == nil
}

func switching(req *http.Request) string {
	return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(req.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"
}

// hostileServers are the servers the reference client and the probe meet,
// with the verdict and the probe check each must end at.
var hostileServers = []struct {
	name    string
	tls     bool
	serve   func(c net.Conn, done <-chan struct{})
	outcome Outcome
	reason  ReasonID
	stopped string
}{
	{"accepts-and-never-answers", false, func(_ net.Conn, done <-chan struct{}) { <-done },
		ConnectFailed, ReasonHandshakeTimeout, probe.LiveTLS},
	{"trickles-a-tls-record", false, func(c net.Conn, done <-chan struct{}) {
		trickle(c, done, "\x16\x03\x03\x40\x00", "\x02")
	}, ConnectFailed, ReasonHandshakeTimeout, probe.LiveTLS},
	{"trickles-the-http-answer", true, func(c net.Conn, done <-chan struct{}) {
		if _, ok := readUpgrade(c); ok {
			trickle(c, done, "HTTP/1.1 101 Switching Protocols\r\n", "X-Slow: y\r\n")
		}
	}, NoUpgrade, ReasonUpgradeTimeout, probe.LiveHTTPUpgrade},
	{"endless-header-line", true, func(c net.Conn, done <-chan struct{}) {
		if _, ok := readUpgrade(c); ok {
			_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nX-Endless: ")
			flood(c, done, []byte(strings.Repeat("a", 32<<10)))
		}
	}, NoUpgrade, ReasonBadUpgrade, probe.LiveHTTPUpgrade},
	{"endless-header-lines", true, func(c net.Conn, done <-chan struct{}) {
		if _, ok := readUpgrade(c); ok {
			_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\n")
			flood(c, done, []byte(strings.Repeat("X-More: aaaaaaaa\r\n", 2000)))
		}
	}, NoUpgrade, ReasonBadUpgrade, probe.LiveHTTPUpgrade},
	{"1GB-frame-after-101", true, func(c net.Conn, done <-chan struct{}) {
		if req, ok := readUpgrade(c); ok {
			_, _ = io.WriteString(c, switching(req))
			_, _ = c.Write(append([]byte{0x82, 127}, binary.BigEndian.AppendUint64(nil, 1<<30)...))
			flood(c, done, make([]byte, 32<<10))
		}
	}, NoEcho, ReasonEchoMismatch, probe.LiveWSEcho},
}

// TestHostileServersGetAVerdictNotAHang: the reference client and the
// probe end each encounter with a hostile server within a few timeouts,
// with the right outcome and bounded memory.
func TestHostileServersGetAVerdictNotAHang(t *testing.T) {
	const timeout = 500 * time.Millisecond
	const bound = 3*timeout + time.Second
	m := testMaterials()
	for _, hs := range hostileServers {
		t.Run(hs.name, func(t *testing.T) {
			addr := hostileServer(t, hs.tls, hs.serve)
			w := watchHeap()
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			v := ReferenceClient().Connect(ctx, ClientConfig{Encounter: standard(m), Addr: addr, Timeout: timeout})
			if took := time.Since(start); took > bound {
				t.Errorf("client: took %s (timeout %s)", took.Round(time.Millisecond), timeout)
			}
			if v.Outcome != hs.outcome || v.Reason.ID != hs.reason {
				t.Errorf("client: got %s/%s (%s), want %s/%s", v.Outcome, v.Reason.ID, v.Reason.Text, hs.outcome, hs.reason)
			}

			start = time.Now()
			_, port, _ := net.SplitHostPort(addr)
			cert := m.Client.TLSCertificate(true)
			rep := probe.Probe(ctx, probe.Config{Host: "127.0.0.1", Port: port, Path: "/echo", Roots: []*x509.Certificate{m.Root.Cert},
				ClientCert: &cert, Echo: true, Timeout: timeout, NoLint: true})
			if took := time.Since(start); took > bound {
				t.Errorf("probe: took %s (timeout %s)", took.Round(time.Millisecond), timeout)
			}
			if rep.StoppedAt != hs.stopped {
				c, _ := rep.Check(rep.StoppedAt)
				t.Errorf("probe: stopped at %q (%s), want %q", rep.StoppedAt, c.Summary, hs.stopped)
			}
			w.check(t, hs.name)
		})
	}
}

// TestServerKeepsBoundedObservations: a server (harness serve runs for
// days) keeps the observations of its first maxObservations connections
// only, and still counts them all.
func TestServerKeepsBoundedObservations(t *testing.T) {
	srv, err := ReferenceServer().Start(context.Background(), ServerConfig{Encounter: standard(testMaterials()), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const n = maxObservations + 50
	for range n {
		c, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		// Half-close, then wait for the server to close: it has then
		// recorded the connection.
		_ = c.(*net.TCPConn).CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	obs := srv.Observations()
	if len(obs) != maxObservations || obs[0].Connections != n {
		t.Fatalf("kept %d observations counting %d connections, want %d counting %d", len(obs), obs[0].Connections, maxObservations, n)
	}
}
