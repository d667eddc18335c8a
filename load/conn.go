package load

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/internal/wire"
)

// conn is one connection in progress: TCP, TLS, the upgrade, the
// messages, the hold and the close, each bounded by the timeout.
type conn struct {
	r       *runner
	id      *identity
	raw     net.Conn
	ws      *websocket.Conn
	open    bool // counted among the open connections
	tickets ticketWatch
	// requested: the server asked for a client certificate.
	requested atomic.Bool
}

// ticketWatch is a connection's tls.ClientSessionCache: it records
// whether the server sent a session ticket (what tells a refusal from a
// breakage when a TLS 1.3 server closes without an alert) and passes
// sessions to the identity's own cache when sessions are resumed.
type ticketWatch struct {
	inner tls.ClientSessionCache
	got   atomic.Bool
}

func (t *ticketWatch) Get(key string) (*tls.ClientSessionState, bool) {
	if t.inner == nil {
		return nil, false
	}
	return t.inner.Get(key)
}

func (t *ticketWatch) Put(key string, cs *tls.ClientSessionState) {
	if cs != nil {
		t.got.Store(true)
	}
	if t.inner != nil {
		t.inner.Put(key, cs)
	}
}

// connect runs the n-th connection attempt and records how it ended.
func (r *runner) connect(ctx context.Context, n uint64) {
	id := r.ids[n%uint64(len(r.ids))]
	c := &conn{r: r, id: id, tickets: ticketWatch{inner: id.sessions}}
	r.rec.attempt(id.index)
	v, unanswered := c.run(ctx)
	if c.raw != nil {
		_ = c.raw.Close()
	}
	switch {
	case v == nil:
		r.rec.completed(c.open, unanswered)
	case ctx.Err() != nil:
		r.rec.interrupted(c.open)
	default:
		r.rec.failed(*v, c.open)
	}
}

// run returns nil when every phase succeeded, else the verdict of the
// phase that failed; unanswered reports a close frame the server did not
// answer in time.
func (c *conn) run(ctx context.Context) (v *harness.Verdict, unanswered bool) {
	r := c.r
	timeout := r.cfg.Timeout

	start := time.Now()
	raw, _, _, err := wire.DialFirst(ctx, r.addr, timeout)
	if err != nil {
		return tcpVerdict(err, r.addr, timeout), false
	}
	c.raw = raw
	r.rec.tcp(time.Since(start))
	stop := context.AfterFunc(ctx, func() { _ = raw.Close() })
	defer stop()

	cfg := r.base.Clone()
	cfg.ClientSessionCache = &c.tickets
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		c.requested.Store(true)
		return &c.id.cert, nil
	}
	tc := tls.Client(raw, cfg)
	start = time.Now()
	hctx, cancel := context.WithTimeout(ctx, timeout)
	err = tc.HandshakeContext(hctx)
	cancel()
	hs := time.Since(start)
	st := tc.ConnectionState()
	if err != nil {
		return c.verdict(harness.Failure{Layer: harness.LayerTLS, Err: err, Version: st.Version, ClientCertRequested: c.requested.Load()}), false
	}

	start = time.Now()
	ws, resp, timedOut, err := wire.DialUpgrade(ctx, tc, r.url, timeout)
	up := time.Since(start)
	if err != nil {
		v := c.verdict(harness.Failure{Layer: harness.LayerHTTP, Err: err, Response: resp, TimedOut: timedOut,
			Version: st.Version, ClientCertRequested: c.requested.Load(), SessionTicket: c.tickets.got.Load()})
		if v.Layer != harness.LayerTLS {
			r.rec.handshake(hs, st.DidResume) // TLS was fine: the server answered above it
		}
		return v, false
	}
	c.ws = ws
	r.rec.handshake(hs, st.DidResume)
	r.rec.established(up)
	c.open = true
	_ = raw.SetDeadline(time.Time{})

	if v := c.messages(); v != nil {
		return v, false
	}
	return c.holdAndClose()
}

func (c *conn) verdict(f harness.Failure) *harness.Verdict {
	v := c.r.classify(f)
	return &v
}

// tcpVerdict names a failed dial as the reference client's dial does.
func tcpVerdict(err error, addr string, timeout time.Duration) *harness.Verdict {
	why := harness.Reason{ID: harness.ReasonUnclassified, Text: err.Error()}
	switch {
	case wire.IsRefused(err):
		why = harness.Reason{ID: harness.ReasonConnectRefused, Text: fmt.Sprintf("nothing listens on %s (connection refused)", addr)}
	case wire.IsTimeout(err):
		why = harness.Reason{ID: harness.ReasonConnectTimeout, Text: fmt.Sprintf("no TCP connection to %s within %s", addr, timeout)}
	}
	return &harness.Verdict{Outcome: harness.ConnectFailed, Layer: harness.LayerTCP, Reason: why}
}

// messages sends each message and waits for its echo, one at a time,
// checking it byte for byte and timing the round trip.
func (c *conn) messages() *harness.Verdict {
	r, ws := c.r, c.ws
	total := r.cfg.Messages
	if total == 0 {
		return nil
	}
	ws.SetReadLimit(wire.MaxMessageSize)
	bp := r.bufs.Get().(*[]byte)
	defer r.bufs.Put(bp)
	buf := *bp
	size := r.cfg.MessageSize
	for i := range total {
		msg := r.message(i)
		start := time.Now()
		deadline := start.Add(r.cfg.Timeout)
		_ = ws.SetWriteDeadline(deadline)
		if err := ws.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			return c.verdict(harness.Failure{Layer: harness.LayerWS, Err: err, Echoed: i, Messages: total})
		}
		r.rec.sent(size)
		_ = ws.SetReadDeadline(deadline)
		mt, rd, err := ws.NextReader()
		if err != nil {
			return c.verdict(harness.Failure{Layer: harness.LayerWS, Err: err, Echoed: i, Messages: total})
		}
		n, err := io.ReadFull(rd, buf[:size])
		if err == nil {
			var extra int
			extra, err = io.ReadFull(rd, buf[size:size+1])
			n += extra
			if errors.Is(err, io.EOF) {
				err = nil
			} else if err == nil {
				err = io.ErrShortBuffer // longer than sent
			}
		}
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrShortBuffer):
			return mismatch(i, msg, mt, n)
		case err != nil:
			return c.verdict(harness.Failure{Layer: harness.LayerWS, Err: err, Echoed: i, Messages: total})
		case mt != websocket.BinaryMessage || string(buf[:size]) != string(msg):
			return mismatch(i, msg, mt, n)
		}
		r.rec.echoed(time.Since(start), size)
	}
	return nil
}

// mismatch is an echo that came back different, in the reference
// client's words.
func mismatch(i int, sent []byte, mt, n int) *harness.Verdict {
	kind := "text"
	if mt == websocket.BinaryMessage {
		kind = "binary"
	}
	why := harness.Reason{ID: harness.ReasonEchoMismatch, Text: fmt.Sprintf("message %d came back different: sent %s, got %s of %d bytes", i+1, wire.DescribeMessage(true, sent), kind, n)}
	return &harness.Verdict{Outcome: harness.NoEcho, Layer: harness.LayerWS, Reason: why}
}

// holdAndClose keeps the connection open for the hold (cut short at the
// end of the run's duration), watching for the server ending it, then
// sends the close frame and waits for the server's.
func (c *conn) holdAndClose() (*harness.Verdict, bool) {
	r, ws, raw := c.r, c.ws, c.raw
	timeout := r.cfg.Timeout
	var sent atomic.Bool
	sendClose := func() {
		if sent.Swap(true) {
			return
		}
		deadline := time.Now().Add(timeout)
		_ = raw.SetReadDeadline(deadline)
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"), deadline)
	}
	if hold := r.cfg.Hold; hold > 0 && r.stop.Err() == nil {
		_ = raw.SetReadDeadline(time.Now().Add(hold + timeout))
		t := time.AfterFunc(hold, sendClose)
		defer t.Stop()
		defer context.AfterFunc(r.stop, sendClose)()
	} else {
		sendClose()
	}
	for {
		_, rd, err := ws.NextReader()
		if err == nil {
			_, _ = io.Copy(io.Discard, rd) // the server may talk; only the end matters
			continue
		}
		if !sent.Load() {
			// The server ended the connection during the hold.
			n := r.cfg.Messages
			return c.verdict(harness.Failure{Layer: harness.LayerWS, Err: err, Echoed: n, Messages: n}), false
		}
		var ce *websocket.CloseError
		return nil, !errors.As(err, &ce)
	}
}
