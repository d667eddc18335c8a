package wire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// cappedConn fails reads with ErrTooLarge once limit bytes have been read,
// until lift is called: the WebSocket handshake reads the server's answer
// through it, so an endless header costs at most limit bytes.
//
// It also records a read that hit the deadline: bufio hands back a partial
// line without the error, so a server trickling its answer past the
// deadline makes http.ReadResponse report a malformed answer instead.
type cappedConn struct {
	net.Conn
	left     atomic.Int64 // -1: lifted
	deadline atomic.Bool
}

func newCappedConn(c net.Conn, limit int64) *cappedConn {
	cc := &cappedConn{Conn: c}
	cc.left.Store(limit)
	return cc
}

func (c *cappedConn) lift() { c.left.Store(-1) }

func (c *cappedConn) Read(p []byte) (int, error) {
	left := c.left.Load()
	if left < 0 {
		return c.Conn.Read(p)
	}
	if left == 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := c.Conn.Read(p)
	c.left.Add(-int64(n))
	if err != nil && IsTimeout(err) {
		c.deadline.Store(true)
	}
	return n, err
}

// UpgradeReadCap is the most DialUpgrade reads before the answer's
// headers end: MaxHeaderBytes plus one bufio read of slack.
const UpgradeReadCap = MaxHeaderBytes + 4096

// DialUpgrade sends the WebSocket upgrade request for url over conn (the
// TLS handshake already done) and reads the server's answer, within
// timeout, reading at most UpgradeReadCap bytes before the headers end
// (more fails with ErrTooLarge). timedOut reports a read that hit the
// deadline. The reference client and the probe both read answers here.
func DialUpgrade(ctx context.Context, conn net.Conn, url string, timeout time.Duration) (ws *websocket.Conn, resp *http.Response, timedOut bool, err error) {
	_ = conn.SetDeadline(time.Now().Add(timeout))
	capped := newCappedConn(conn, UpgradeReadCap)
	dialer := websocket.Dialer{
		NetDialTLSContext: func(context.Context, string, string) (net.Conn, error) { return capped, nil },
		HandshakeTimeout:  timeout,
	}
	ws, resp, err = dialer.DialContext(ctx, url, nil)
	capped.lift()
	return ws, resp, capped.deadline.Load(), err
}

// UpgradeAnswer is what became of an upgrade request (ClassifyUpgrade).
type UpgradeAnswer int

// The answers.
const (
	AnswerUpgraded UpgradeAnswer = iota // a valid 101: the WebSocket is open
	AnswerStatus                        // an HTTP answer other than 101
	AnswerBad101                        // 101 without valid Upgrade, Connection and Sec-WebSocket-Accept
	AnswerAlert                         // a TLS alert instead of an answer
	AnswerTooLarge                      // the headers did not end within MaxHeaderBytes
	AnswerTimeout                       // no complete answer within the timeout
	AnswerClosed                        // the server closed without a complete answer
	AnswerOther                         // anything else (the error says what)
)

var answerNames = [...]string{"upgraded", "status", "bad-101", "alert", "too-large", "timeout", "closed", "other"}

func (a UpgradeAnswer) String() string { return answerNames[a] }

// ClassifyUpgrade sorts DialUpgrade's results; the reference client and
// the probe report each kind in their own words.
func ClassifyUpgrade(resp *http.Response, timedOut bool, err error) UpgradeAnswer {
	switch {
	case err == nil:
		return AnswerUpgraded
	case RemoteAlert(err) != nil:
		return AnswerAlert
	case errors.Is(err, ErrTooLarge):
		return AnswerTooLarge
	case errors.Is(err, websocket.ErrBadHandshake) && resp != nil:
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return AnswerBad101
		}
		return AnswerStatus
	case IsTimeout(err) || timedOut:
		return AnswerTimeout
	case IsClosed(err):
		return AnswerClosed
	}
	return AnswerOther
}

// HTMLTitle is the <title> of an HTML error page (nginx's "400 No
// required SSL certificate was sent"), "" when there is none.
func HTMLTitle(b []byte) string {
	lower := bytes.ToLower(b)
	i := bytes.Index(lower, []byte("<title>"))
	if i < 0 {
		return ""
	}
	rest := b[i+len("<title>"):]
	j := bytes.Index(bytes.ToLower(rest), []byte("</title>"))
	if j < 0 {
		return ""
	}
	return strings.TrimSpace(string(rest[:j]))
}

// Prefix is b cut to at most n bytes.
func Prefix(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// DescribeMessage is a WebSocket message in a few words, for a mismatch.
func DescribeMessage(binary bool, data []byte) string {
	kind := "text"
	if binary {
		kind = "binary"
	}
	return fmt.Sprintf("%s of %d bytes starting %q", kind, len(data), Prefix(data, 16))
}

// CertRefusal reports an HTTP answer that refuses the client over its
// certificate: nginx's 400 "No required SSL certificate was sent" and
// "The SSL certificate error", its 495/496, or a 401/403 that speaks of
// a certificate.
func CertRefusal(status int, body []byte) bool {
	if status == 495 || status == 496 {
		return true
	}
	if status != http.StatusBadRequest && status != http.StatusUnauthorized && status != http.StatusForbidden {
		return false
	}
	return bytes.Contains(bytes.ToLower(body), []byte("certificate"))
}
