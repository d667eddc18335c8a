package harness

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/mtlskit/mtlskit/internal/wire"

	"github.com/gorilla/websocket"
)

// maxObservations bounds the observations a running server keeps (the
// first ones); a long-running `harness serve` reports each connection
// through observe instead.
const maxObservations = 1024

// ServerConfig is what a server needs for one encounter.
type ServerConfig struct {
	// Encounter gives the server certificate (Server, ServerSendsChain)
	// and the CAs trusted for client certificates (ClientCAs).
	Encounter Encounter
	// TLSVersion pins the TLS version (tls.VersionTLS12 or VersionTLS13);
	// 0 lets the peers negotiate (TLS 1.3 between the reference pair).
	TLSVersion uint16
	// Timeout bounds each phase of each connection.
	Timeout time.Duration
}

// ServerSubject is a WebSocket server that can be started for an
// encounter: the server judged by server-side scenarios. Issue 4's
// external servers (a command, or a running target) implement it too.
type ServerSubject interface {
	// Name identifies the subject in reports.
	Name() string
	// Start makes the server listen on a loopback address.
	Start(ctx context.Context, cfg ServerConfig) (RunningServer, error)
}

// RunningServer is a started server.
type RunningServer interface {
	// Addr is the loopback host:port to dial.
	Addr() string
	// Close stops the server and waits for its connections to end.
	Close() error
	// Observations lists what the server saw, one per connection, once
	// Close has returned. A server that cannot see inside returns nil.
	Observations() []ServerObservation
}

// ServerObservation is what the server saw of one connection.
type ServerObservation struct {
	// Subject is the name of the server that observed.
	Subject string `json:"subject"`
	// Connections is how many connections the server accepted during
	// the encounter (the reference client makes one).
	Connections int        `json:"connections"`
	TLS         ServerTLS  `json:"tls"`
	HTTP        ServerHTTP `json:"http"`
	WS          ServerWS   `json:"ws"`
}

// ServerTLS is the server's view of the handshake.
type ServerTLS struct {
	Layer
	Version string `json:"version,omitempty"`
	// Negotiated is the version as a number, 0 when none was negotiated.
	Negotiated uint16 `json:"-"`
	// ClientCert says whether the client presented a certificate.
	ClientCert ClientCertState `json:"client_cert"`
	// ClientSubject is the subject CN of the client's certificate.
	ClientSubject string `json:"client_subject,omitempty"`
	// ClientChainLen is how many certificates the client sent.
	ClientChainLen int `json:"client_chain_len,omitempty"`
	// HelloReceived is true once the client's ClientHello arrived (a
	// connection without one is a TCP probe or not TLS at all).
	HelloReceived bool `json:"hello_received"`
	// ClosedWithoutAlert is true when the client closed the connection
	// during the handshake without sending an alert.
	ClosedWithoutAlert bool `json:"closed_without_alert,omitempty"`
	// AbortedAfterFlight is true when, in TLS 1.3, the client answered
	// the server's whole flight (ServerHello to Finished, with the
	// server certificate) with a record crypto/tls could not decrypt
	// ("bad record MAC") instead of its Certificate and Finished: it
	// aborted the handshake after seeing the server certificate.
	// AlertReceived holds its alert when that record was a plaintext
	// alert (OpenSSL sends its alert before it switches to its handshake
	// keys); otherwise the alert could not be read.
	AbortedAfterFlight bool `json:"aborted_after_flight,omitempty"`
	// Reason is why the server refused the client, from the typed error.
	Reason *Reason `json:"reason,omitempty"`
	// AlertSent is the alert crypto/tls sends for that error.
	AlertSent *Alert `json:"alert_sent,omitempty"`
	// AlertReceived is the alert the client aborted the handshake with.
	AlertReceived *Alert `json:"alert_received,omitempty"`
	// PeerBytesAfterFailure counts raw bytes the client still sent after
	// the handshake failed (a lower bound: some may have been buffered
	// by the TLS stack already).
	PeerBytesAfterFailure int64 `json:"peer_bytes_after_failure,omitempty"`
	// Resumed: the handshake resumed a session (a ticket this server
	// issued), so the server presented no certificate on it.
	Resumed bool `json:"resumed,omitempty"`
	// AlertAfterHandshake is an alert the client sent after the
	// handshake completed instead of a request (a client that checks
	// the server after the handshake, or a TLS 1.3 post-handshake
	// refusal).
	AlertAfterHandshake *Alert `json:"alert_after_handshake,omitempty"`
}

// ClientCertState is what the server knows of the client's certificate.
type ClientCertState string

// The client certificate states; their spelling is part of the JSON
// schema.
const (
	CertPresented ClientCertState = "presented"
	CertNone      ClientCertState = "none"
	// CertUnknown: the handshake ended before the client's certificate
	// could arrive.
	CertUnknown ClientCertState = "unknown"
)

// ServerHTTP is the server's view of the upgrade request.
type ServerHTTP struct {
	Layer
	RequestReceived bool   `json:"request_received"`
	Method          string `json:"method,omitempty"`
	Path            string `json:"path,omitempty"`
	// UpgradeRequested is true for a well-formed WebSocket upgrade.
	UpgradeRequested bool `json:"upgrade_requested"`
	// BytesReceived counts the application bytes read from the client
	// before the request was parsed or reading failed (non-zero: the
	// client sent application data).
	BytesReceived int64 `json:"bytes_received,omitempty"`
	// StatusSent is the status the server answered with, 0 for none.
	StatusSent int `json:"status_sent,omitempty"`
}

// ServerWS is the server's view of the message exchange.
type ServerWS struct {
	Layer
	// HandlerRan is true when the echo handler ran after the upgrade.
	HandlerRan  bool  `json:"handler_ran"`
	Echoed      int   `json:"echoed"`
	BytesEchoed int64 `json:"bytes_echoed"`
	// CloseCode is the close code the client sent, 0 for none.
	CloseCode int `json:"close_code,omitempty"`
}

// serverMode selects the reference server's behaviour; everything but
// modeStrict is a negative control (negative_controls.go).
type serverMode int

const (
	modeStrict    serverMode = iota // require and verify client certs, echo
	modeLax                         // request client certs, verify nothing, echo
	modeNoHandler                   // answer 101, never run the handler
	modeSilent                      // never answer the upgrade request
	modeStatus500                   // answer 500
	modeDenyAll                     // require client certs from no CA at all: refuse everyone
)

// referenceServer is a ServerSubject built on crypto/tls and gorilla.
type referenceServer struct {
	name string
	mode serverMode
	// observe, when set, is called with each connection's observation
	// as it ends (harness serve logs them).
	observe func(ServerObservation)
	// listenHost is the loopback address to listen on; "" is 127.0.0.1.
	listenHost string
	// ln, when set, is the listener Start serves on instead of a new
	// port: server-cert-rotation-client serves two certificates in turn
	// on one port (rotation_client.go).
	ln net.Listener
}

// ReferenceServer is the strict server: crypto/tls with
// RequireAndVerifyClientCert against the encounter's client CAs,
// gorilla/websocket echoing every text and binary message byte for byte,
// with a read limit of MaxMessageSize.
func ReferenceServer() ServerSubject { return &referenceServer{name: "reference", mode: modeStrict} }

func (s *referenceServer) Name() string { return s.name }

func (s *referenceServer) Start(_ context.Context, cfg ServerConfig) (RunningServer, error) {
	if cfg.Encounter.Server == nil {
		return nil, errors.New("the encounter has no server certificate")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	tcfg := &tls.Config{
		Certificates: []tls.Certificate{cfg.Encounter.Server.TLSCertificate(cfg.Encounter.ServerSendsChain)},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    wire.CertPool(cfg.Encounter.ClientCAs),
		NextProtos:   []string{"http/1.1"},
	}
	switch s.mode {
	case modeLax:
		tcfg.ClientAuth = tls.RequestClientCert
	case modeDenyAll:
		tcfg.ClientCAs = x509.NewCertPool()
	default:
		if crls := cfg.Encounter.ClientCRLs; len(crls) > 0 {
			tcfg.VerifyPeerCertificate = checkChainCRLs(crls, "the run's CRL")
		}
	}
	wire.PinVersion(tcfg, cfg.TLSVersion)
	// One session ticket key for all the server's connections: serve
	// clones this configuration per connection, and each clone would
	// otherwise make its own key, so no session could ever be resumed
	// (mtlskit load --resume resumes them).
	var ticketKey [32]byte
	if _, err := rand.Read(ticketKey[:]); err != nil {
		return nil, err
	}
	tcfg.SetSessionTicketKeys([][32]byte{ticketKey})
	host := s.listenHost
	if host == "" {
		host = "127.0.0.1"
	}
	ln := s.ln
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", net.JoinHostPort(host, "0")); err != nil {
			return nil, fmt.Errorf("listening on %s: %w", host, err)
		}
	}
	r := &runningServer{subject: s, ln: ln, tls: tcfg, timeout: cfg.Timeout, conns: map[net.Conn]bool{}, acceptDone: make(chan struct{})}
	r.wg.Add(1)
	go r.accept()
	return r, nil
}

// checkChainCRLs is a VerifyPeerCertificate that looks every certificate
// of the verified chain but the root up in the CRLs its issuer signed
// (what OpenSSL's CRL_CHECK_ALL does; a CA without a CRL among them is
// passed over).
func checkChainCRLs(crls [][]byte, source string) func([][]byte, [][]*x509.Certificate) error {
	return func(_ [][]byte, chains [][]*x509.Certificate) error {
		if len(chains) == 0 {
			return nil
		}
		chain := chains[0]
		for i := 0; i+1 < len(chain); i++ {
			if err := wire.CheckCRLs(chain[i], chain[i+1], crls, source); err != nil {
				return err
			}
		}
		return nil
	}
}

type runningServer struct {
	subject *referenceServer
	ln      net.Listener
	tls     *tls.Config
	timeout time.Duration

	wg sync.WaitGroup
	// acceptDone is closed when the accept loop has returned.
	acceptDone chan struct{}
	mu         sync.Mutex
	conns      map[net.Conn]bool
	closed     bool
	obs        []ServerObservation
	// seen counts the connections; obs keeps at most maxObservations.
	seen int
}

func (r *runningServer) Addr() string { return r.ln.Addr().String() }

// Close stops accepting, lets open connections finish what they were
// doing (reading the client's last alert, say) for up to one second, then
// closes whatever is left and waits for it.
func (r *runningServer) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	err := r.ln.Close()
	finished := make(chan struct{})
	go func() { r.wg.Wait(); close(finished) }()
	select {
	case <-finished:
		return err
	case <-time.After(min(r.timeout, time.Second)):
	}
	r.mu.Lock()
	for c := range r.conns {
		_ = c.Close()
	}
	r.mu.Unlock()
	<-finished
	return err
}

// backlogDrain is how long drainBacklog lets the accept loop take what
// the kernel has queued.
const backlogDrain = 50 * time.Millisecond

// drainBacklog accepts the connections the kernel completed but Accept
// has not returned yet, then stops accepting: without it, a client that
// connects and exits at once (a readiness probe, a client that gives up)
// can be gone before its connection is accepted, and closing the
// listener would discard it unseen, so the verdict would say the client
// never connected. Called before Close once an external client has
// exited; a no-op for a listener without deadlines.
func (r *runningServer) drainBacklog() {
	d, ok := r.ln.(interface{ SetDeadline(time.Time) error })
	if !ok || d.SetDeadline(time.Now().Add(backlogDrain)) != nil {
		return
	}
	<-r.acceptDone // the loop returns on the deadline
}

func (r *runningServer) Observations() []ServerObservation {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]ServerObservation, len(r.obs))
	copy(out, r.obs)
	for i := range out {
		out[i].Connections = r.seen
	}
	return out
}

func (r *runningServer) accept() {
	defer r.wg.Done()
	defer close(r.acceptDone)
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			_ = c.Close()
			return
		}
		r.conns[c] = true
		r.wg.Add(1)
		r.mu.Unlock()
		go func() {
			defer r.wg.Done()
			o := r.serve(c)
			_ = c.Close()
			r.mu.Lock()
			delete(r.conns, c)
			r.seen++
			if len(r.obs) < maxObservations {
				r.obs = append(r.obs, o)
			}
			r.mu.Unlock()
			if r.subject.observe != nil {
				r.subject.observe(o)
			}
		}()
	}
}

// serve runs one connection and returns what it saw.
func (r *runningServer) serve(raw net.Conn) ServerObservation {
	o := ServerObservation{Subject: r.subject.name}
	o.TLS.Status, o.HTTP.Status, o.WS.Status = LayerSkipped, LayerSkipped, LayerSkipped
	o.TLS.ClientCert = CertUnknown

	start := time.Now()
	_ = raw.SetDeadline(start.Add(r.timeout))
	cfg := r.tls.Clone()
	cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		o.TLS.HelloReceived = true
		return nil, nil
	}
	watch := &recordWatch{Conn: raw}
	tc := tls.Server(watch, cfg)
	err := tc.Handshake()
	watch.off = true
	st := tc.ConnectionState()
	o.TLS.Millis = ms(time.Since(start))
	if st.Version != 0 {
		o.TLS.Version, o.TLS.Negotiated = tls.VersionName(st.Version), st.Version
	}
	if err != nil {
		r.handshakeFailed(&o, raw, err, st.Version, watch)
		return o
	}
	o.TLS.Status, o.TLS.Resumed = LayerOK, st.DidResume
	if n := len(st.PeerCertificates); n > 0 {
		o.TLS.ClientCert, o.TLS.ClientSubject, o.TLS.ClientChainLen = CertPresented, st.PeerCertificates[0].Subject.CommonName, n
	} else {
		o.TLS.ClientCert = CertNone
	}
	switch {
	case r.subject.mode == modeLax && len(st.VerifiedChains) == 0:
		o.TLS.Detail = fmt.Sprintf("handshake completed without verifying the client certificate (client cert: %s)", o.TLS.ClientCert)
	default:
		o.TLS.Detail = fmt.Sprintf("handshake completed, client certificate %q verified", o.TLS.ClientSubject)
	}

	r.serveUpgrade(&o, raw, tc)
	return o
}

// serveUpgrade reads one upgrade request from tc (the TLS connection over
// raw, which takes the deadlines), answers it and, once upgraded, echoes.
func (r *runningServer) serveUpgrade(o *ServerObservation, raw, tc net.Conn) {
	// HTTP: one upgrade request.
	start := time.Now()
	o.HTTP.Status = LayerFailed
	_ = raw.SetDeadline(start.Add(r.timeout))
	counted := &countingReader{r: tc, limit: MaxHeaderBytes + 4096} // the slack is one bufio read
	br := bufio.NewReader(counted)
	req, err := http.ReadRequest(br)
	counted.limit = 0 // the WebSocket frames are read through br too
	o.HTTP.Millis = ms(time.Since(start))
	o.HTTP.BytesReceived = counted.n
	if err != nil {
		o.HTTP.Error = err.Error()
		switch a := wire.RemoteAlert(err); {
		case errors.Is(err, wire.ErrTooLarge):
			o.HTTP.Detail = fmt.Sprintf("the request's headers exceeded %d bytes: answered 431", MaxHeaderBytes)
			o.HTTP.StatusSent = http.StatusRequestHeaderFieldsTooLarge
			_ = raw.SetWriteDeadline(time.Now().Add(min(r.timeout, time.Second)))
			fmt.Fprintf(tc, "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		case a != nil:
			o.TLS.AlertAfterHandshake = a
			o.HTTP.Detail = fmt.Sprintf("the client sent %s after the handshake instead of a request", a)
		case wire.IsTimeout(err):
			o.HTTP.Detail = "no HTTP request arrived before the timeout"
		case wire.IsClosed(err):
			o.HTTP.Detail = "the client closed the connection without sending an HTTP request"
		default:
			o.HTTP.Detail = "the request could not be read"
		}
		return
	}
	o.HTTP.RequestReceived, o.HTTP.Method, o.HTTP.Path = true, req.Method, req.URL.Path
	o.HTTP.UpgradeRequested = websocket.IsWebSocketUpgrade(req)

	switch r.subject.mode {
	case modeSilent:
		o.HTTP.Detail = "request received and deliberately never answered (broken server)"
		_ = raw.SetDeadline(time.Now().Add(2 * r.timeout))
		_, _ = io.Copy(io.Discard, tc)
		return
	case modeStatus500:
		body := "internal error: the WebSocket handler is not available\n"
		fmt.Fprintf(tc, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
		o.HTTP.StatusSent = 500
		o.HTTP.Detail = "answered 500 instead of upgrading (broken server)"
		return
	case modeNoHandler:
		key := req.Header.Get("Sec-WebSocket-Key")
		fmt.Fprintf(tc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acceptKey(key))
		o.HTTP.Status, o.HTTP.StatusSent = LayerOK, 101
		o.HTTP.Detail = "answered 101 Switching Protocols"
		o.WS.Status = LayerFailed
		o.WS.Detail = "the handler never ran: the connection was dropped after the 101 (broken server, as in the log's async stack)"
		return
	}

	w := &hijackWriter{conn: tc, rw: bufio.NewReadWriter(br, bufio.NewWriter(tc)), header: http.Header{}}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	ws, err := up.Upgrade(w, req, nil)
	o.HTTP.StatusSent = w.status
	if err != nil {
		o.HTTP.Error = err.Error()
		if w.hijacked {
			// gorilla took the connection and dropped it unanswered (a
			// client that sent frames before the 101, say).
			o.HTTP.Detail = "closed the connection without answering: " + err.Error()
			return
		}
		o.HTTP.Detail = fmt.Sprintf("refused the upgrade with status %d", w.status)
		_ = w.rw.Flush()
		return
	}
	o.HTTP.Status, o.HTTP.StatusSent = LayerOK, 101
	o.HTTP.Detail = "answered 101 Switching Protocols"
	r.echo(o, ws)
}

// handshakeFailed records a failed handshake, then reads what the client
// still sends until it closes, so the alert is not lost to a reset.
func (r *runningServer) handshakeFailed(o *ServerObservation, raw net.Conn, err error, version uint16, watch *recordWatch) {
	o.TLS.Status = LayerFailed
	o.TLS.Error = err.Error()
	var cve *tls.CertificateVerificationError
	var revoked *wire.RevokedError
	switch a := wire.RemoteAlert(err); {
	case a != nil:
		o.TLS.AlertReceived = a
		o.TLS.Detail = fmt.Sprintf("the client aborted the handshake with %s", a)
	case err.Error() == wire.ErrNoClientCert:
		o.TLS.ClientCert = CertNone
		o.TLS.Reason = &Reason{ID: ReasonCertificateRequired, Text: "no client certificate was sent and the server requires one"}
	case errors.As(err, &revoked):
		// Our own VerifyPeerCertificate found it in the run's CRL;
		// crypto/tls sends bad_certificate for a callback's error.
		o.TLS.ClientCert, o.TLS.ClientSubject = CertPresented, revoked.Cert.Subject.CommonName
		reason, _ := wire.VerifyReason(err)
		o.TLS.Reason = &reason
	case errors.As(err, &cve):
		if len(cve.UnverifiedCertificates) > 0 {
			o.TLS.ClientCert = CertPresented
			o.TLS.ClientSubject = cve.UnverifiedCertificates[0].Subject.CommonName
			o.TLS.ClientChainLen = len(cve.UnverifiedCertificates)
		}
		if reason, ok := wire.VerifyReason(err); ok {
			o.TLS.Reason = &reason
		} else {
			o.TLS.Reason = &Reason{ID: ReasonUnclassified, Text: err.Error()}
		}
	case version == tls.VersionTLS13 && wire.IsBadRecordMAC(err):
		// crypto/tls reads the client's second flight only once it has
		// sent its own whole flight, and by then it expects records under
		// the client's handshake keys. A client that refuses our
		// certificate before it switched to those keys (OpenSSL: Python,
		// Ruby, curl, s_client) sends its alert in plaintext; crypto/tls
		// tries to decrypt those two bytes and reports a bad record MAC.
		o.TLS.AbortedAfterFlight = true
		if a := watch.plaintextAlert(); a != nil {
			o.TLS.AlertReceived = a
			o.TLS.Detail = fmt.Sprintf("the client aborted the handshake after our certificate with %s, sent in plaintext before it switched to its handshake keys (crypto/tls expected an encrypted record and reported %q)", a, err.Error())
		} else {
			o.TLS.Detail = fmt.Sprintf("the client aborted the handshake after our certificate; its alert could not be read (it arrived as: %s)", err.Error())
		}
	case wire.IsTimeout(err):
		o.TLS.Reason = &Reason{ID: ReasonHandshakeTimeout, Text: "the client did not finish the handshake before the timeout"}
	case wire.IsClosed(err) && !o.TLS.HelloReceived:
		o.TLS.ClosedWithoutAlert = true
		o.TLS.Detail = "the client closed the connection before sending a ClientHello"
	case wire.IsClosed(err):
		o.TLS.ClosedWithoutAlert = true
		o.TLS.Detail = "the client closed the connection during the handshake without an alert"
	default:
		o.TLS.Reason = &Reason{ID: ReasonUnclassified, Text: err.Error()}
	}
	if o.TLS.Reason != nil {
		o.TLS.AlertSent = wire.AlertGoSends(err, true, version)
		if revoked != nil {
			o.TLS.AlertSent = wire.NewAlert(wire.AlertBadCertificate)
		}
		o.TLS.Detail = "the server refused the client: " + o.TLS.Reason.Text
		if o.TLS.AlertSent != nil {
			o.TLS.Detail += fmt.Sprintf(" (sent %s)", o.TLS.AlertSent)
		}
	}
	drain := min(r.timeout, time.Second)
	_ = raw.SetReadDeadline(time.Now().Add(drain))
	o.TLS.PeerBytesAfterFailure, _ = io.Copy(io.Discard, raw)
}

// echo sends every message back with its type until the client closes.
func (r *runningServer) echo(o *ServerObservation, ws *websocket.Conn) {
	start := time.Now()
	o.WS.HandlerRan = true
	o.WS.Status = LayerFailed
	defer func() { o.WS.Millis = ms(time.Since(start)) }()
	ws.SetReadLimit(MaxMessageSize)
	for {
		_ = ws.SetReadDeadline(time.Now().Add(r.timeout))
		mt, data, err := ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				o.WS.CloseCode = ce.Code
				if ce.Code == websocket.CloseNormalClosure {
					o.WS.Status = LayerOK
				}
				o.WS.Detail = fmt.Sprintf("echoed %d messages, then the client closed with %d", o.WS.Echoed, ce.Code)
				return
			}
			o.WS.Error = err.Error()
			o.WS.Detail = fmt.Sprintf("echoed %d messages, then reading failed", o.WS.Echoed)
			return
		}
		_ = ws.SetWriteDeadline(time.Now().Add(r.timeout))
		if err := ws.WriteMessage(mt, data); err != nil {
			o.WS.Error = err.Error()
			o.WS.Detail = fmt.Sprintf("echoed %d messages, then writing failed", o.WS.Echoed)
			return
		}
		o.WS.Echoed++
		o.WS.BytesEchoed += int64(len(data))
	}
}

// acceptKey is the Sec-WebSocket-Accept value for a client key (RFC 6455).
func acceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// hijackWriter is the http.ResponseWriter (and http.Hijacker) the
// upgrader needs to answer one request on a connection we own.
type hijackWriter struct {
	conn   net.Conn
	rw     *bufio.ReadWriter
	header http.Header
	status int
	// hijacked: the upgrader took the connection; it writes the 101
	// itself, so status stays 0 until the caller records it.
	hijacked bool
}

func (w *hijackWriter) Header() http.Header { return w.header }

func (w *hijackWriter) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	fmt.Fprintf(w.rw, "HTTP/1.1 %d %s\r\n", code, http.StatusText(code))
	w.header.Set("Connection", "close")
	_ = w.header.Write(w.rw)
	_, _ = w.rw.WriteString("\r\n")
}

func (w *hijackWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.rw.Write(p)
}

func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	return w.conn, w.rw, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// countingReader counts the bytes read through it and, while limit is
// positive, fails with wire.ErrTooLarge once limit bytes have been read.
type countingReader struct {
	r     io.Reader
	n     int64
	limit int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.limit > 0 {
		if c.n >= c.limit {
			return 0, wire.ErrTooLarge
		}
		if left := c.limit - c.n; int64(len(p)) > left {
			p = p[:left]
		}
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// recordWatch passes a connection through to crypto/tls during the
// handshake and keeps the outline of the first TLS records the client
// sent: type, length and, for a two-byte record, its body. A record
// crypto/tls could not decrypt can then still be told apart: a plaintext
// alert (a TLS 1.3 record under any keys is type 23 and at least 17
// bytes long) is readable from its two bytes.
type recordWatch struct {
	net.Conn
	// off stops the watching once the handshake has ended.
	off  bool
	hdr  [5]byte
	nhdr int
	// left is how many bytes of the current record's body are unread.
	left int
	recs []wireRecord
	// lost is set once more records came than are kept.
	lost bool
}

// wireRecord is the outline of one record.
type wireRecord struct {
	typ    uint8
	length int
	body   [2]byte
	nbody  int
}

// maxWatchedRecords bounds the records a recordWatch keeps: a client's
// handshake records until the failure are far fewer.
const maxWatchedRecords = 32

func (w *recordWatch) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	if !w.off {
		w.feed(p[:n])
	}
	return n, err
}

func (w *recordWatch) feed(b []byte) {
	for len(b) > 0 {
		if w.left == 0 {
			k := copy(w.hdr[w.nhdr:], b)
			w.nhdr += k
			b = b[k:]
			if w.nhdr < len(w.hdr) {
				return
			}
			w.nhdr = 0
			w.left = int(w.hdr[3])<<8 | int(w.hdr[4])
			if len(w.recs) < maxWatchedRecords {
				w.recs = append(w.recs, wireRecord{typ: w.hdr[0], length: w.left})
			} else {
				w.lost = true
			}
			continue
		}
		k := min(w.left, len(b))
		if !w.lost {
			r := &w.recs[len(w.recs)-1]
			r.nbody += copy(r.body[r.nbody:], b[:k])
		}
		w.left -= k
		b = b[k:]
	}
}

// plaintextAlert is the alert the client sent in plaintext as its first
// record after its ClientHello (and a second one after a
// HelloRetryRequest, and change_cipher_spec records, which TLS 1.3 sends
// unprotected and ignores), or nil when that record is something else.
func (w *recordWatch) plaintextAlert() *Alert {
	if w == nil {
		return nil
	}
	for _, r := range w.recs {
		switch r.typ {
		case 22, 20: // handshake (the hellos), change_cipher_spec
			continue
		case 21:
			if r.length == 2 && r.nbody == 2 && (r.body[0] == 1 || r.body[0] == 2) {
				return wire.NewAlert(Alert(r.body[1]))
			}
		}
		return nil
	}
	return nil
}
