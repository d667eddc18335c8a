package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/internal/wire"
)

// The fuzz targets below cover the harness's reading of outside input:
// the upgrade answer a server sends the reference client and the probe
// (FuzzReadUpgradeAnswer), the upgrade request a client sends the echo
// backend and the reference server (FuzzEchoUpgradeRequest,
// FuzzServerUpgradeRequest) and the WebSocket frames after a valid upgrade
// (FuzzEchoFrames, FuzzServerFrames). Each drives the real code over an
// in-memory connection (memConn) and checks properties of what comes out,
// not only that nothing panics: the answer is one the code may give, the
// byte caps hold, nothing hangs and memory stays bounded. Seeds are in
// testdata/fuzz/<FuzzName>/; `make fuzz` runs each for $(FUZZTIME).

// memConn is one side of a connection whose peer sends chunks[0] at once
// and each further chunk once the code under test has written something
// after the previous chunk was read (as a client waits for the 101 before
// sending frames). After the last chunk the peer closes (EOF), or with
// hold stays silent until a read deadline or Close. Deadlines work as on a
// socket; a read without a deadline may block for ever (the tests time
// that out as a hang).
type memConn struct {
	mu      sync.Mutex
	chunks  [][]byte
	hold    bool
	wrote   bool // written since the current chunk began
	read    int64
	out     []byte // the first outMax bytes written
	written int64
	rdl     time.Time
	wdl     time.Time
	closed  bool
	kick    chan struct{}
	done    chan struct{}
	// onRelease, when set, may rewrite a chunk when it is released,
	// given everything written so far.
	onRelease func(chunk, written []byte) []byte
}

const outMax = 1 << 20

func newMemConn(hold bool, chunks ...[]byte) *memConn {
	return &memConn{chunks: chunks, hold: hold, kick: make(chan struct{}, 1), done: make(chan struct{})}
}

func (c *memConn) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *memConn) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return 0, net.ErrClosed
		}
		if !c.rdl.IsZero() && !time.Now().Before(c.rdl) {
			c.mu.Unlock()
			return 0, os.ErrDeadlineExceeded
		}
		if len(c.chunks) > 0 && len(c.chunks[0]) > 0 {
			n := copy(p, c.chunks[0])
			c.chunks[0] = c.chunks[0][n:]
			c.read += int64(n)
			c.mu.Unlock()
			return n, nil
		}
		if len(c.chunks) > 1 && c.wrote {
			c.chunks, c.wrote = c.chunks[1:], false
			if c.onRelease != nil {
				c.chunks[0] = c.onRelease(c.chunks[0], c.out)
			}
			c.mu.Unlock()
			continue
		}
		if len(c.chunks) <= 1 && !c.hold {
			c.mu.Unlock()
			return 0, io.EOF
		}
		var timer *time.Timer
		var expired <-chan time.Time
		if !c.rdl.IsZero() {
			timer = time.NewTimer(time.Until(c.rdl))
			expired = timer.C
		}
		c.mu.Unlock()
		select {
		case <-c.kick:
		case <-c.done:
		case <-expired:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

func (c *memConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	if !c.wdl.IsZero() && !time.Now().Before(c.wdl) {
		return 0, os.ErrDeadlineExceeded
	}
	if room := outMax - len(c.out); room > 0 {
		c.out = append(c.out, p[:min(room, len(p))]...)
	}
	c.written += int64(len(p))
	if len(p) > 0 {
		c.wrote = true
	}
	c.poke()
	return len(p), nil
}

func (c *memConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.done)
	}
	return nil
}

func (c *memConn) output() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.out)
}

func (c *memConn) bytesRead() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.read
}

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "mem:1" }

func (c *memConn) LocalAddr() net.Addr  { return memAddr{} }
func (c *memConn) RemoteAddr() net.Addr { return memAddr{} }
func (c *memConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl, c.wdl = t, t
	c.mu.Unlock()
	c.poke()
	return nil
}
func (c *memConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl = t
	c.mu.Unlock()
	c.poke()
	return nil
}
func (c *memConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wdl = t
	c.mu.Unlock()
	return nil
}

// waitClosed fails the test when the code under test has not closed c
// within d: a hang.
func waitClosed(t *testing.T, c *memConn, d time.Duration, what string) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(d):
		t.Fatalf("%s: the connection was not closed within %s (a hang)", what, d)
	}
}

// memListener hands out one connection, then blocks until closed.
type memListener struct {
	c    chan net.Conn
	once sync.Once
	shut chan struct{}
}

func newMemListener(c net.Conn) *memListener {
	l := &memListener{c: make(chan net.Conn, 1), shut: make(chan struct{})}
	l.c <- c
	return l
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.c:
		return c, nil
	case <-l.shut:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error   { l.once.Do(func() { close(l.shut) }); return nil }
func (l *memListener) Addr() net.Addr { return memAddr{} }

// fuzzEchoOptions keeps the echo backend's timeouts short so a silent
// peer costs milliseconds, and its read limit small so a bound shows.
var fuzzEchoOptions = EchoOptions{
	ReadLimit:     64 << 10,
	HeaderTimeout: 100 * time.Millisecond,
	IdleTimeout:   100 * time.Millisecond,
	WriteTimeout:  100 * time.Millisecond,
	MaxConns:      4,
}

// runEcho serves conn with the echo backend and returns once the backend
// closed it and stopped.
func runEcho(t *testing.T, conn *memConn) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- ServeEchoWith(ctx, newMemListener(conn), fuzzEchoOptions) }()
	waitClosed(t, conn, 5*time.Second, "echo backend")
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("ServeEchoWith: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeEchoWith did not return within 5s of its context ending")
	}
}

// runServer serves conn as the reference server does after the TLS
// handshake, and returns its observation.
func runServer(t *testing.T, conn *memConn) ServerObservation {
	t.Helper()
	r := &runningServer{subject: &referenceServer{name: "fuzz", mode: modeStrict}, timeout: 100 * time.Millisecond}
	o := ServerObservation{Subject: "fuzz"}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.serveUpgrade(&o, conn, conn)
		_ = conn.Close()
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the reference server did not finish with the connection within 5s (a hang)")
	}
	return o
}

// headerEnd is the length of the request or answer head (through the
// blank line), -1 when it does not end.
func headerEnd(b []byte) int {
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	return -1
}

// answers reads the HTTP answers in out, up to and including a 101.
func answers(out []byte) (codes []int, rest []byte, err error) {
	br := bufio.NewReader(bytes.NewReader(out))
	for {
		if _, err := br.Peek(1); err != nil {
			return codes, nil, nil
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return codes, nil, fmt.Errorf("answer %d does not parse: %v", len(codes)+1, err)
		}
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == http.StatusSwitchingProtocols {
			rest, _ := io.ReadAll(br)
			return codes, rest, nil
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return codes, nil, fmt.Errorf("answer %d's body does not read: %v", len(codes), err)
		}
	}
}

const fuzzKey = "dGhlIHNhbXBsZSBub25jZQ=="

// validUpgradeRequest is a valid upgrade request.
var validUpgradeRequest = []byte("GET /echo HTTP/1.1\r\nHost: localhost:8443\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + fuzzKey + "\r\nSec-WebSocket-Version: 13\r\n\r\n")

var fuzzAcceptPlaceholder = []byte("{accept}")

var keyHeader = regexp.MustCompile(`(?i)\r\nSec-WebSocket-Key: ([^\r]*)\r\n`)

// FuzzReadUpgradeAnswer feeds a server's answer to the upgrade request to
// dialUpgrade, as the reference client and the probe read it, with
// {accept} in the answer replaced by the right Sec-WebSocket-Accept for
// the key the client sent (so a valid 101 can be reached).
func FuzzReadUpgradeAnswer(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"HTTP/1.1 400 Bad Request\r\nContent-Length: 12\r\n\r\nBad Request\n",
		"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
		"HTTP/1.1 101\r\nX: " + string(bytes.Repeat([]byte("a"), MaxHeaderBytes+5000)),
		"", "garbage\x00\xff", "HTTP/1.1 999 Odd\r\n\r\n", "HTTP/1.1 101 Switching Protocols\r\n",
	} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"), true)
	f.Fuzz(func(t *testing.T, answer []byte, hold bool) {
		type result struct {
			kind   wire.UpgradeAnswer
			status int
			body   string
		}
		read := func() result {
			c := newMemConn(hold, nil, bytes.Clone(answer))
			c.onRelease = func(chunk, written []byte) []byte {
				m := keyHeader.FindSubmatch(written)
				if m == nil {
					t.Fatalf("the upgrade request has no Sec-WebSocket-Key: %q", written)
				}
				return bytes.ReplaceAll(chunk, fuzzAcceptPlaceholder, []byte(acceptKey(string(m[1]))))
			}
			timeout := 50 * time.Millisecond
			start := time.Now()
			ws, resp, timedOut, err := wire.DialUpgrade(context.Background(), c, "wss://127.0.0.1:8443/echo", timeout)
			if took := time.Since(start); took > timeout+2*time.Second {
				t.Fatalf("dialUpgrade took %s with a %s timeout", took, timeout)
			}
			if n := c.bytesRead(); n > wire.UpgradeReadCap {
				t.Fatalf("read %d bytes of the answer, more than the cap %d", n, wire.UpgradeReadCap)
			}
			kind := wire.ClassifyUpgrade(resp, timedOut, err)
			if (err == nil) != (ws != nil) || (err == nil) != (kind == wire.AnswerUpgraded) {
				t.Fatalf("ws %v, err %v, kind %s", ws != nil, err, kind)
			}
			if ws != nil {
				_ = ws.Close()
			} else {
				_ = c.Close()
			}
			res := result{kind: kind}
			if resp != nil {
				res.status = resp.StatusCode
				if resp.Body != nil {
					b, _ := io.ReadAll(resp.Body)
					if len(b) > 1024 {
						t.Fatalf("kept %d bytes of the body", len(b))
					}
					res.body = string(b)
				}
			}
			return res
		}
		r := read()
		switch r.kind {
		case wire.AnswerAlert:
			t.Fatalf("a TLS alert without TLS")
		case wire.AnswerTimeout:
			if !hold {
				t.Fatalf("a timeout although the server closed after its answer")
			}
		case wire.AnswerTooLarge:
			if len(answer) <= MaxHeaderBytes {
				t.Fatalf("too large with an answer of %d bytes", len(answer))
			}
		case wire.AnswerUpgraded, wire.AnswerBad101:
			if r.status != http.StatusSwitchingProtocols || !bytes.HasPrefix(answer, []byte("HTTP/")) {
				t.Fatalf("%s: status %d, answer %q", r.kind, r.status, wire.Prefix(answer, 64))
			}
		case wire.AnswerStatus:
			// net/http takes any three digits, "000" too
			if r.status == http.StatusSwitchingProtocols || r.status < 0 || r.status > 999 {
				t.Fatalf("status kind with status %d", r.status)
			}
		}
		if e := headerEnd(answer); e >= 0 && e <= MaxHeaderBytes && r.kind == wire.AnswerTooLarge {
			t.Fatalf("the headers end at %d bytes, yet too large", e)
		}
		if again := read(); again != r {
			t.Fatalf("the same answer read twice: %+v, then %+v", r, again)
		}
	})
}

// echoStatuses are the answers the echo backend may give to a request:
// 101, gorilla's refusals (400, 405), net/http's (400, 417, 431, 501,
// 505) and the backend's 426 to a request that is not an upgrade.
var echoStatuses = map[int]bool{101: true, 400: true, 405: true, 417: true, 426: true, 431: true, 501: true, 505: true}

// FuzzEchoUpgradeRequest sends a request to the echo backend (then closes,
// or with hold stays silent): it answers only with one of echoStatuses
// (or closes), within its timeouts, and 431 only beyond MaxHeaderBytes.
func FuzzEchoUpgradeRequest(f *testing.F) {
	addRequestSeeds(f)
	f.Fuzz(func(t *testing.T, req []byte, hold bool) {
		c := newMemConn(hold, bytes.Clone(req))
		runEcho(t, c)
		codes, _, err := answers(c.output())
		if err != nil {
			t.Fatalf("%v: %q", err, wire.Prefix(c.output(), 200))
		}
		for _, code := range codes {
			if !echoStatuses[code] {
				t.Fatalf("answered %d", code)
			}
		}
		if len(codes) > 0 && codes[0] == 431 {
			if e := headerEnd(req); e >= 0 && e <= MaxHeaderBytes {
				t.Fatalf("431 for a request whose headers end at %d bytes", e)
			}
		}
	})
}

// serverStatuses are the answers the reference server may give: 101,
// gorilla's refusals (400, 405) and its own 431.
var serverStatuses = map[int]bool{101: true, 400: true, 405: true, 431: true}

// FuzzServerUpgradeRequest sends a request to the reference server (its
// part after the TLS handshake): it answers one of serverStatuses or
// nothing, within its timeout, reads at most the header cap, and its
// observation records the status it actually sent.
func FuzzServerUpgradeRequest(f *testing.F) {
	addRequestSeeds(f)
	f.Fuzz(func(t *testing.T, req []byte, hold bool) {
		c := newMemConn(hold, bytes.Clone(req))
		o := runServer(t, c)
		codes, _, err := answers(c.output())
		if err != nil {
			t.Fatalf("%v: %q", err, wire.Prefix(c.output(), 200))
		}
		if len(codes) > 1 {
			t.Fatalf("answered %d times: %v", len(codes), codes)
		}
		sent := 0
		if len(codes) == 1 {
			sent = codes[0]
		}
		if sent != 0 && !serverStatuses[sent] {
			t.Fatalf("answered %d", sent)
		}
		if o.HTTP.StatusSent != sent {
			t.Fatalf("observation says status %d was sent, the wire says %d (%s)", o.HTTP.StatusSent, sent, o.HTTP.Detail)
		}
		if o.HTTP.BytesReceived > MaxHeaderBytes+4096 {
			t.Fatalf("read %d bytes of the request, more than the cap", o.HTTP.BytesReceived)
		}
		if sent == 431 {
			if e := headerEnd(req); e >= 0 && e <= MaxHeaderBytes {
				t.Fatalf("431 for a request whose headers end at %d bytes", e)
			}
		}
	})
}

func addRequestSeeds(f *testing.F) {
	big := bytes.Repeat([]byte("a"), MaxHeaderBytes+5000)
	for _, s := range [][]byte{
		validUpgradeRequest,
		[]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
		[]byte("GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"),
		[]byte("GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + fuzzKey + "\r\nSec-WebSocket-Version: 8\r\n\r\n"),
		[]byte("POST /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + fuzzKey + "\r\nSec-WebSocket-Version: 13\r\n\r\n"),
		append(append([]byte("GET /echo HTTP/1.1\r\nHost: localhost\r\nX-Big: "), big...), "\r\n\r\n"...),
		append(bytes.Clone(validUpgradeRequest), 0x81, 0x85, 1, 2, 3, 4, 'h', 'e', 'l', 'l', 'o'),
		[]byte("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage"),
		[]byte("GET /echo HTTP/2.0\r\n\r\n"), []byte(""), []byte("GET"),
	} {
		f.Add(s, false)
	}
	f.Add([]byte("GET /echo HTTP/1.1\r\nHost: loc"), true)
}

// wsFrame is one parsed WebSocket frame.
type wsFrame struct {
	op      byte
	fin     bool
	payload []byte
}

// parseFrames reads frames (masked or not) until b ends or one does not
// parse; complete reports whether all of b was whole frames.
func parseFrames(b []byte) (frames []wsFrame, complete bool) {
	for len(b) > 0 {
		if len(b) < 2 {
			return frames, false
		}
		f := wsFrame{op: b[0] & 0x0f, fin: b[0]&0x80 != 0}
		masked := b[1]&0x80 != 0
		n := uint64(b[1] & 0x7f)
		b = b[2:]
		switch n {
		case 126:
			if len(b) < 2 {
				return frames, false
			}
			n, b = uint64(binary.BigEndian.Uint16(b)), b[2:]
		case 127:
			if len(b) < 8 {
				return frames, false
			}
			n, b = binary.BigEndian.Uint64(b), b[8:]
		}
		var key []byte
		if masked {
			if len(b) < 4 {
				return frames, false
			}
			key, b = b[:4], b[4:]
		}
		if n > uint64(len(b)) {
			return frames, false
		}
		f.payload = bytes.Clone(b[:n])
		for i := range f.payload {
			if key != nil {
				f.payload[i] ^= key[i%4]
			}
		}
		b = b[n:]
		frames = append(frames, f)
	}
	return frames, true
}

func frameCloseCode(f wsFrame) int {
	if len(f.payload) < 2 {
		return 0
	}
	return int(binary.BigEndian.Uint16(f.payload))
}

// checkFrames checks what a server sent after its 101: whole unmasked
// frames of known opcodes, close codes 1002 or 1009 or the client's own.
func checkFrames(t *testing.T, out, sent []byte) {
	t.Helper()
	codes, rest, err := answers(out)
	if err != nil || len(codes) != 1 || codes[0] != 101 {
		t.Fatalf("a valid upgrade request got %v (%v): %q", codes, err, wire.Prefix(out, 200))
	}
	if len(out) >= outMax {
		return // the output was cut: the last frame may be partial
	}
	frames, complete := parseFrames(rest)
	if !complete {
		t.Fatalf("the server sent a partial frame: %q", wire.Prefix(rest, 64))
	}
	clientCodes := map[int]bool{}
	in, _ := parseFrames(sent)
	for _, f := range in {
		if f.op == 8 {
			clientCodes[frameCloseCode(f)] = true
		}
	}
	for _, f := range frames {
		switch f.op {
		case 0, 1, 2, 10:
		case 8:
			if c := frameCloseCode(f); c != 1002 && c != 1009 && !(c == 0 && clientCodes[0]) && !clientCodes[c] {
				t.Fatalf("closed with %d (client sent close codes %v)", c, clientCodes)
			}
		default:
			t.Fatalf("the server sent a frame with opcode %d", f.op)
		}
	}
}

// boundedAlloc fails when running fn allocates far more than its input
// can explain (a trusted length header would allocate what it claims).
func boundedAlloc(t *testing.T, input int, limit int64, fn func()) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	bound := 16*uint64(input) + 4*uint64(limit) + 8<<20
	if got := after.TotalAlloc - before.TotalAlloc; got > bound {
		t.Fatalf("allocated %d bytes for %d bytes of input (bound %d)", got, input, bound)
	}
}

func frameSeeds(f *testing.F, hold bool) {
	mask := func(op byte, payload []byte) []byte {
		b := []byte{0x80 | op}
		switch n := len(payload); {
		case n < 126:
			b = append(b, 0x80|byte(n))
		case n < 1<<16:
			b = append(b, 0x80|126, byte(n>>8), byte(n))
		default:
			b = append(b, 0x80|127)
			b = binary.BigEndian.AppendUint64(b, uint64(n))
		}
		key := []byte{0x12, 0x34, 0x56, 0x78}
		b = append(b, key...)
		for i, c := range payload {
			b = append(b, c^key[i%4])
		}
		return b
	}
	closeMsg := func(code int, text string) []byte {
		return append(binary.BigEndian.AppendUint16(nil, uint16(code)), text...)
	}
	seeds := [][]byte{
		append(mask(1, []byte("hello")), mask(8, closeMsg(1000, "done"))...),
		append(mask(2, bytes.Repeat([]byte{7}, 300)), mask(9, []byte("ping"))...),
		{0x82, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4}, // claims 1 GB
		{0xc1, 0x80, 1, 2, 3, 4},                            // RSV1 without an extension
		{0x83, 0x80, 1, 2, 3, 4},                            // opcode 3
		{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'},               // unmasked
		append(mask(1, []byte("x"))[:1:1], 0x80|1, 1, 2, 3), // truncated
		mask(8, closeMsg(1005, "")),
		mask(8, closeMsg(4000, "app")),
		mask(8, []byte{3, 0xe8, 0xff}),
		append([]byte{0x01, 0x83, 1, 2, 3, 4, 'a', 'b', 'c'}, mask(0, []byte("def"))...),
		mask(2, bytes.Repeat([]byte("z"), 70<<10)),
		{},
	}
	for _, s := range seeds {
		f.Add(s, false)
	}
	if hold {
		f.Add(mask(1, []byte("then silence")), true)
	}
}

// FuzzEchoFrames sends a valid upgrade request, then (after the 101) the
// fuzzed bytes as frames, to the echo backend.
func FuzzEchoFrames(f *testing.F) {
	frameSeeds(f, true)
	f.Fuzz(func(t *testing.T, frames []byte, hold bool) {
		c := newMemConn(hold, bytes.Clone(validUpgradeRequest), bytes.Clone(frames))
		boundedAlloc(t, len(frames), fuzzEchoOptions.ReadLimit, func() { runEcho(t, c) })
		checkFrames(t, c.output(), frames)
	})
}

// FuzzServerFrames does the same against the reference server.
func FuzzServerFrames(f *testing.F) {
	frameSeeds(f, true)
	f.Fuzz(func(t *testing.T, frames []byte, hold bool) {
		c := newMemConn(hold, bytes.Clone(validUpgradeRequest), bytes.Clone(frames))
		var o ServerObservation
		boundedAlloc(t, len(frames), MaxMessageSize, func() { o = runServer(t, c) })
		checkFrames(t, c.output(), frames)
		if !o.WS.HandlerRan {
			t.Fatalf("the echo handler did not run: %s", o.HTTP.Detail)
		}
	})
}
