package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mtlskit/mtlskit/pki"
)

// RotationOptions say how server-cert-rotation makes a started server
// pick up its new certificate, and what it expects of the connections
// opened before.
type RotationOptions struct {
	// Run: the scenario was asked for (`mtlskit harness run` sets it
	// when --scenario names it). Otherwise Run leaves it out and
	// RunScenario skips it: it rewrites the server's files, and a server
	// that needs a reload trigger would fail it for want of one.
	Run bool
	// Signal, when not 0, is sent after the files are replaced: to the
	// server command's process (the leader the template started; after
	// `exec` in a script, the server itself), or with SignalGroup to its
	// whole process group.
	Signal      syscall.Signal
	SignalGroup bool
	// Command, when set, is run instead (the server's placeholders, and
	// $MTLSKIT_SERVER_PID); it must exit 0 within the reload timeout.
	Command *Template
	// Timeout is how long new connections are tried for the new serial
	// (default 10 s).
	Timeout time.Duration
	// KeepsOld is the expectation for a connection opened before the
	// reload: "true" (or ""), it must still echo after the new serial
	// is seen; "false", it must have been closed; "any", only reported.
	KeepsOld string
	// ShortLifetime is how long after its WebSocket opens the client
	// certificate of client-cert-expires-during-connection expires
	// (default 3 s, at least 2 s).
	ShortLifetime time.Duration
	// ObserveFor is how long the during-connection scenarios watch the
	// open connection after the event (default 10 s).
	ObserveFor time.Duration
	// CloseWithin, when set, is the expectation of the during-connection
	// scenarios: the server must close the open connection within it
	// after the expiry or revocation. Unset, they only observe.
	CloseWithin time.Duration
}

// RotationScenario is the name of the scenario that rotates a started
// server's certificate.
const RotationScenario = "server-cert-rotation"

// RotationScenarios are the scenarios that change a started server's
// files. They are not among Scenarios: a run includes them only when
// they are named (Lookup finds them) and RotationOptions.Run is set, and
// they run after every other scenario, one at a time.
func RotationScenarios() []Scenario {
	return append([]Scenario{
		{Name: RotationScenario, Side: ServerSide, Expect: Accept, Importance: ImportanceHigh, Rotation: true,
			Description: "--server-cmd only (it replaces the server's {cert} {chain} {key} files): after the reload (--reload-signal, --reload-cmd, or none for a server that watches its files) NEW connections get the successor's serial within --reload-timeout, and a connection opened before is kept (--rotation-keeps-old)",
			Setup:       serverSide},
		{Name: CARotationScenario, Side: ServerSide, Expect: Accept, Importance: ImportanceHigh, Rotation: true,
			Description: "--server-cmd only (it rewrites the server's {ca} file): the file gains a second CA and after the reload a client of the new CA is accepted and one of the old CA still is; then the old CA is removed and after the reload its clients are refused; the file is put back after",
			Setup:       serverSide},
		clientRotationScenario(),
	}, sessionScenarios()...)
}

// RotationLayer is the evidence of server-cert-rotation: what was
// replaced, how the reload was triggered, which serial each new
// connection saw and when, and what became of the connection opened
// before.
type RotationLayer struct {
	OldSerial string   `json:"old_serial"`
	NewSerial string   `json:"new_serial"`
	Files     []string `json:"files_replaced"`
	Trigger   string   `json:"trigger"`
	// TriggerError says why the trigger failed (a signal that could not
	// be sent, a reload command that failed).
	TriggerError  string         `json:"trigger_error,omitempty"`
	ReloadCommand *ClientProcess `json:"reload_command,omitempty"`
	// Sightings are the new connections' observations, consecutive equal
	// ones merged: what each saw ("old", "new", "error: ...") from FirstMS
	// to LastMS after the trigger, Count times.
	Sightings []Sighting `json:"sightings"`
	Probes    int        `json:"probes"`
	// NewAfterMS is when the first new connection saw the new serial;
	// absent when none did within TimeoutMS.
	NewAfterMS *float64 `json:"new_serial_after_ms,omitempty"`
	TimeoutMS  float64  `json:"timeout_ms"`
	// OldConnection is kept, closed, unresponsive (open, but no echo
	// within the timeout) or not-opened; ExpectOldKept the
	// expectation (absent: only reported).
	OldConnection       string `json:"old_connection"`
	OldConnectionDetail string `json:"old_connection_detail,omitempty"`
	ExpectOldKept       *bool  `json:"expect_old_kept,omitempty"`
	// ServerExited says the server command exited after the trigger.
	ServerExited string `json:"server_exited,omitempty"`
}

// Sighting is a run of new connections that saw the same thing.
type Sighting struct {
	Saw     string  `json:"saw"`
	Serial  string  `json:"serial,omitempty"`
	FirstMS float64 `json:"first_ms"`
	LastMS  float64 `json:"last_ms"`
	Count   int     `json:"count"`
}

// runRotation is server-cert-rotation: it needs a server the harness
// started.
func runRotation(ctx context.Context, s Scenario, m *Materials, opts Options) Result {
	switch s.Name {
	case ExpiryScenario, RevokedDuringScenario:
		return runSession(ctx, s, m, opts)
	case CARotationScenario:
		return runCARotation(ctx, s, m, opts)
	case ClientRotationScenario:
		return runClientRotation(ctx, s, m, opts)
	}
	t, ok := opts.Server.(*targetServer)
	if !ok || t.proc == nil {
		return Result{Scenario: s, Pass: true, Verdict: Verdict{Outcome: Skipped, Reason: Reason{ID: ReasonNotApplicable,
			Text: "runs only when the harness started the server (--server-cmd): it replaces the server's certificate files and triggers its reload"}}}
	}
	if !opts.Rotation.Run {
		return Result{Scenario: s, Pass: true, Verdict: Verdict{Outcome: Skipped, Reason: Reason{ID: ReasonNotApplicable,
			Text: "runs only when named (--scenario " + s.Name + "): it rewrites the server's certificate files and needs to know how the server reloads"}}}
	}
	start := time.Now()
	res := rotate(ctx, s, m, opts, t.proc)
	res.Duration = time.Since(start)
	return res
}

func rotate(ctx context.Context, s Scenario, m *Materials, opts Options, p *ServerProcess) Result {
	ro := opts.Rotation
	if ro.Timeout <= 0 {
		ro.Timeout = 10 * time.Second
	}
	ev := &RotationLayer{TimeoutMS: ms(ro.Timeout)}
	if ro.KeepsOld != "any" {
		keep := ro.KeepsOld != "false"
		ev.ExpectOldKept = &keep
	}
	fail := func(why string) Result {
		return Result{Scenario: s, Verdict: Verdict{Outcome: ConnectFailed, Layer: LayerTCP, Reason: Reason{ID: ReasonUnclassified, Text: why}, Rotation: ev}, Mismatch: why}
	}
	cfg, err := probeConfig(m, m.Client, opts)
	if err != nil {
		return fail(err.Error())
	}
	addr := p.Addr
	if addr == "" {
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port))
	}
	ev.OldSerial, err = probeSerial(ctx, addr, cfg, opts.Timeout)
	if err != nil {
		return fail("before the rotation, a new connection failed: " + err.Error())
	}
	old, oldErr := openOld(ctx, addr, p.URL, cfg, opts.Timeout)
	var watch *connWatch
	if oldErr != nil {
		ev.OldConnection, ev.OldConnectionDetail = "not-opened", oldErr.Error()
	} else {
		defer closeWebSocket(old)
		// Pinged throughout, as a live client would use it: a close by
		// the server is seen when it happens and answered at once. A
		// connection left unread would hold a server that drains its old
		// connections (lighttpd's graceful restart) in its lingering
		// close for seconds, and the harness would delay the reload.
		watch = watchConn(old, sessionPingEvery, opts.Timeout)
	}
	succ, err := successor(m)
	if err != nil {
		return fail("minting the successor: " + err.Error())
	}
	ev.NewSerial = hex.EncodeToString(succ.Cert.SerialNumber.Bytes())
	if ev.Files, err = replaceServerFiles(p.Files, succ); err != nil {
		return fail("replacing the server's files: " + err.Error())
	}
	triggered := time.Now()
	ev.Trigger, ev.ReloadCommand, ev.TriggerError = trigger(ctx, ro, p)
	deadline := triggered.Add(ro.Timeout)
	probeUntilNew(ctx, addr, cfg, opts.Timeout, ev, p, triggered, deadline)
	if watch != nil {
		if ev.NewAfterMS != nil {
			// The old connection is judged over the whole reload window,
			// not at the moment the new serial showed: lighttpd's
			// graceful-restart-bg keeps it past the restart, and its old
			// generation cuts it server.graceful-shutdown-timeout (8 s)
			// later.
			sleepUntil(ctx, deadline)
			if p.Exited() {
				ev.ServerExited = p.ExitReport()
			}
		}
		ev.OldConnection, ev.OldConnectionDetail = oldAfterRotation(watch, old, triggered, opts.Timeout)
	}
	// One full encounter on a new connection: the rotated server must
	// still serve (upgrade and echo), not only present the serial.
	enc := s.Setup(m)
	v := ReferenceClient().Connect(ctx, ClientConfig{Encounter: enc, Scenario: s.Name, Addr: addr, Target: p.URL, TLSVersion: opts.TLSVersion, Timeout: opts.Timeout, AcceptOnUpgrade: opts.AcceptOnUpgrade, NoRenegotiation: opts.NoRenegotiation})
	v.Rotation = ev
	res := Result{Scenario: s, Verdict: v}
	res.Pass, res.Mismatch = judgeRotation(ev, v)
	return res
}

// judgeRotation: the new serial must have been seen on a new connection,
// the final encounter accepted, and the old connection as expected.
func judgeRotation(ev *RotationLayer, v Verdict) (bool, string) {
	trig := ev.Trigger
	if ev.TriggerError != "" {
		trig += " (" + ev.TriggerError + ")"
	}
	switch {
	case ev.ServerExited != "":
		return false, fmt.Sprintf("the server exited after %s: %s", trig, ev.ServerExited)
	case ev.NewAfterMS == nil && stoppedServing(ev):
		// The last probes completed no handshake: the server showed no
		// serial at the end, so "it loads its certificate once" would
		// be a guess.
		why := fmt.Sprintf("the server stopped serving new connections instead of rotating: after its files were replaced and %s, none of %d new connections over %.0f ms showed the successor's serial %s, and the last ones completed no TLS handshake (%s), so whether it loaded the new certificate was not seen (a reload that first waits for open connections to end, such as this scenario's old WebSocket, looks like this: Apache's SIGHUP restart waits for its children, its graceful SIGUSR1 needs a free ServerLimit slot while the old child drains; lighttpd's SIGUSR1 without server.graceful-restart-bg; a longer --reload-timeout shows whether it comes back)",
			trig, ev.Probes, ev.TimeoutMS, ev.NewSerial, sightingWords(ev))
		if v.Outcome == Accepted {
			why += "; a new connection after the observation window was accepted, so it came back later"
		}
		return false, why
	case ev.NewAfterMS == nil:
		return false, fmt.Sprintf("the server did not rotate: after its files were replaced and %s, %d new connections over %.0f ms were all shown %s, never the successor's serial %s (a server that loads its certificate once needs a restart; make it reload: nginx -s reload or SIGHUP, lighttpd's SIGUSR1 (with server.graceful-restart-bg), HAProxy's runtime API, Go's tls.Config.GetCertificate reading the files, Node's server.setSecureContext)",
			trig, ev.Probes, ev.TimeoutMS, sightingWords(ev), ev.NewSerial)
	case v.Outcome != Accepted:
		return false, fmt.Sprintf("the server presented the new serial, but a new connection after the rotation ended %s: %s", v.Outcome, v.Reason.Text)
	case ev.ExpectOldKept != nil && *ev.ExpectOldKept && ev.OldConnection != "kept":
		return false, fmt.Sprintf("the server rotated%s, but the connection opened before the reload was %s (%s); expected it to be kept (--rotation-keeps-old=false if closing it is intended)", outageWords(ev), ev.OldConnection, ev.OldConnectionDetail)
	case ev.ExpectOldKept != nil && !*ev.ExpectOldKept && ev.OldConnection != "closed":
		return false, fmt.Sprintf("the server rotated%s, but the connection opened before the reload was %s (%s); expected it to be closed (--rotation-keeps-old=false)", outageWords(ev), ev.OldConnection, ev.OldConnectionDetail)
	}
	return true, ""
}

// stoppedServing: no new connection after the trigger presented any
// certificate once the first one failed. Such a server was not seen
// keeping its old certificate, only failing: "did not rotate" and its
// advice to make the server reload would not be what was seen. The
// sightings before the first failure may show the old serial (the
// trigger not yet acted on).
func stoppedServing(ev *RotationLayer) bool {
	n := len(ev.Sightings)
	return n > 0 && strings.HasPrefix(ev.Sightings[n-1].Saw, "error: ")
}

// outageWords says, for a server that rotated, that new connections
// failed between the trigger and the new serial, when they did: a
// server that stops serving while it reloads has an outage the verdict
// should not leave out.
func outageWords(ev *RotationLayer) string {
	var failed []string
	n, last := 0, 0.0
	for _, s := range ev.Sightings {
		if strings.HasPrefix(s.Saw, "error: ") {
			failed, n, last = append(failed, strings.TrimPrefix(s.Saw, "error: ")), n+s.Count, s.LastMS
		}
	}
	if n == 0 || ev.NewAfterMS == nil {
		return ""
	}
	// Sightings are dated when the probe ended: a probe that timed out
	// began one --timeout earlier.
	return fmt.Sprintf(" after %.0f ms, and did not serve while it reloaded (%d new connection(s) after the trigger failed, the last ending %.0f ms after it: %s)", *ev.NewAfterMS, n, last, strings.Join(failed, "; "))
}

func sightingWords(ev *RotationLayer) string {
	var parts []string
	for _, s := range ev.Sightings {
		w := s.Saw
		if s.Saw == "old" {
			w = "the old serial " + ev.OldSerial
		}
		parts = append(parts, fmt.Sprintf("%s (%d×, %.0f-%.0f ms)", w, s.Count, s.FirstMS, s.LastMS))
	}
	return strings.Join(parts, ", then ")
}

// probeConfig is the reference client's TLS configuration for the
// rotation probes: the client certificate (the run's valid one, or a
// scenario's own), trust in the run's
// root (and intermediate), the name localhost, and no session cache, so
// every probe is a full handshake in which the server presents its
// certificate (a resumed session would show the one it was made with).
func probeConfig(m *Materials, client *pki.Issued, opts Options) (*tls.Config, error) {
	roots := x509.NewCertPool()
	roots.AddCert(m.Root.Cert)
	if m.Intermediate != nil {
		roots.AddCert(m.Intermediate.Cert)
	}
	if client == nil || client.Key == nil {
		return nil, errors.New("the client certificate has no key")
	}
	chain := [][]byte{client.Cert.Raw}
	for _, c := range client.Chain {
		chain = append(chain, c.Raw)
	}
	cfg := &tls.Config{RootCAs: roots, ServerName: "localhost", Certificates: []tls.Certificate{{Certificate: chain, PrivateKey: client.Key, Leaf: client.Cert}}}
	if opts.TLSVersion != 0 {
		cfg.MinVersion, cfg.MaxVersion = opts.TLSVersion, opts.TLSVersion
	}
	return cfg, nil
}

// probeSerial opens a new TCP connection, completes a full handshake and
// returns the serial of the leaf the server presented.
func probeSerial(ctx context.Context, addr string, cfg *tls.Config, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := tls.Dialer{Config: cfg.Clone()}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	st := c.(*tls.Conn).ConnectionState()
	if len(st.PeerCertificates) == 0 {
		return "", errors.New("the server presented no certificate")
	}
	return hex.EncodeToString(st.PeerCertificates[0].SerialNumber.Bytes()), nil
}

// openOld opens the WebSocket that must outlive the reload, and checks
// it echoes.
func openOld(ctx context.Context, addr, url string, cfg *tls.Config, timeout time.Duration) (*websocket.Conn, error) {
	d := websocket.Dialer{TLSClientConfig: cfg.Clone(), HandshakeTimeout: timeout,
		NetDialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: timeout}).DialContext(ctx, network, addr)
		}}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, resp, err := d.DialContext(ctx, url, http.Header{})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	if _, detail := oldStillEchoes(c, timeout); detail != "" {
		c.Close()
		return nil, errors.New(detail)
	}
	return c, nil
}

// closeWebSocket ends a connection the way a client does: a close frame,
// a moment for the server's answer, then the TCP connection. A bare TCP
// close can leave a proxying server's tunnel waiting on its backend
// (Apache's event MPM then took over 5 s to stop on SIGTERM, in 1 of 3
// runs).
func closeWebSocket(c *websocket.Conn) {
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	if c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)) == nil {
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				break // the server's close frame, or the deadline
			}
		}
	}
	_ = c.Close()
}

// oldStillEchoes sends one message on the old connection and waits for
// its echo: "kept"; "closed" when writing failed or the read ended in a
// close or EOF; "unresponsive" when the echo did not come within timeout
// on a connection still open (a stall is not a close). Messages the
// server sends of its own accord are skipped (up to 16).
func oldStillEchoes(c *websocket.Conn, timeout time.Duration) (string, string) {
	msg := []byte("opened before the reload " + time.Now().Format(time.RFC3339Nano))
	_ = c.SetWriteDeadline(time.Now().Add(timeout))
	if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
		return "closed", "writing on it failed: " + err.Error()
	}
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	for range 16 {
		_, got, err := c.ReadMessage()
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			return "unresponsive", fmt.Sprintf("no echo within %s, and no close", timeout)
		case err != nil:
			return "closed", "no echo: " + err.Error()
		case string(got) == string(msg):
			return "kept", ""
		}
	}
	return "unresponsive", "16 messages came back, none of them the echo"
}

// probeUntilNew opens new connections with backoff (50 ms doubling to
// 250 ms) until one presents the new serial, the server exits or the
// deadline passes, and records what each saw in ev.Sightings.
func probeUntilNew(ctx context.Context, addr string, cfg *tls.Config, timeout time.Duration, ev *RotationLayer, p *ServerProcess, triggered, deadline time.Time) {
	wait := 50 * time.Millisecond
	for {
		serial, err := probeSerial(ctx, addr, cfg, timeout)
		at := ms(time.Since(triggered))
		saw := "other"
		switch {
		case err != nil:
			saw, serial = "error: "+err.Error(), ""
		case serial == ev.OldSerial:
			saw = "old"
		case serial == ev.NewSerial:
			saw = "new"
		}
		ev.Probes++
		if n := len(ev.Sightings); n > 0 && ev.Sightings[n-1].Saw == saw && ev.Sightings[n-1].Serial == serial {
			ev.Sightings[n-1].LastMS, ev.Sightings[n-1].Count = at, ev.Sightings[n-1].Count+1
		} else {
			ev.Sightings = append(ev.Sightings, Sighting{Saw: saw, Serial: serial, FirstMS: at, LastMS: at, Count: 1})
		}
		if saw == "new" {
			ev.NewAfterMS = &at
			return
		}
		if p.Exited() {
			ev.ServerExited = p.ExitReport()
			return
		}
		if time.Now().Add(wait).After(deadline) || ctx.Err() != nil {
			return
		}
		time.Sleep(wait)
		wait = min(2*wait, 250*time.Millisecond)
	}
}

// oldAfterRotation ends the watch of the old connection and says what
// became of it: closed or unresponsive when a ping found it so (with
// when, after the trigger), else what one more echo shows.
func oldAfterRotation(w *connWatch, old *websocket.Conn, triggered time.Time, timeout time.Duration) (string, string) {
	res := w.stop()
	if res.state == "" {
		return oldStillEchoes(old, timeout)
	}
	return res.state, fmt.Sprintf("%s (found by the ping sent %.0f ms after the trigger)", res.detail, ms(res.at.Sub(triggered)))
}

// successor mints the next certificate of the server's leaf: the same
// names and issuer, a new key and serial.
func successor(m *Materials) (*pki.Issued, error) {
	old, iss := m.ServerViaIntermediate, (*pki.Issuer)(nil)
	if old != nil && m.Intermediate != nil && m.Intermediate.Key != nil {
		var err error
		if iss, err = m.Intermediate.Issuer(); err != nil {
			return nil, err
		}
	} else {
		old, iss = m.Server, m.leafIssuer
	}
	if old == nil || iss == nil {
		return nil, errors.New("the run's materials have no issuer for the server's certificate")
	}
	c := old.Cert
	return iss.Issue(pki.Request{Kind: pki.KindServer, CommonName: c.Subject.CommonName,
		SANs: pki.SANsOf(c.DNSNames, c.IPAddresses, c.EmailAddresses, c.URIs), KeyType: pki.KeyTypeOf(c.PublicKey),
		Validity: min(c.NotAfter.Sub(c.NotBefore), time.Until(iss.Cert.NotAfter)-time.Minute)})
}

// replaceServerFiles writes the successor over {cert}, {chain} and
// {key}, each through a temporary file renamed over it (a reader sees
// the old file or the new one, never half of one). The key is written
// last: a server that reloads on the first change it sees may read a
// new certificate with the old key, and should retry.
func replaceServerFiles(f SubjectFiles, succ *pki.Issued) ([]string, error) {
	key, err := pki.EncodeKeyPEM(succ.Key)
	if err != nil {
		return nil, err
	}
	var done []string
	for _, w := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{f.Chain, pki.EncodeCertsPEM(succ.FullChain()...), 0o644},
		{f.Cert, pki.EncodeCertsPEM(succ.Cert), 0o644},
		{f.Key, key, 0o600},
	} {
		tmp := filepath.Join(filepath.Dir(w.path), ".rotate-"+filepath.Base(w.path))
		if err := os.WriteFile(tmp, w.data, w.mode); err != nil {
			return done, err
		}
		if err := os.Rename(tmp, w.path); err != nil {
			return done, err
		}
		done = append(done, w.path)
	}
	return done, nil
}

// trigger makes the server reload: a signal, a command, or nothing.
func trigger(ctx context.Context, ro RotationOptions, p *ServerProcess) (string, *ClientProcess, string) {
	pid := p.cmd.Process.Pid
	switch {
	case ro.Command != nil:
		vals := p.Files.values()
		vals["port"], vals["host"], vals["url"] = strconv.Itoa(p.Port), "localhost", p.URL
		cp := runReloadCommand(ctx, ro.Command.Expand(vals), pid, ro.Timeout)
		what := "the reload command " + strings.Join(cp.Argv, " ") + " ran"
		switch {
		case cp.Error != "":
			return what, &cp, cp.Error
		case cp.TimedOut:
			return what, &cp, "it did not exit within the reload timeout"
		case cp.ExitCode != 0:
			return what, &cp, fmt.Sprintf("it exited %d", cp.ExitCode)
		}
		return what, &cp, ""
	case ro.Signal != 0:
		target, what := pid, fmt.Sprintf("%s was sent to the server command's process %d", signalName(ro.Signal), pid)
		if ro.SignalGroup {
			target, what = -pid, fmt.Sprintf("%s was sent to the server command's process group %d", signalName(ro.Signal), pid)
		}
		if err := syscall.Kill(target, ro.Signal); err != nil {
			return what, nil, err.Error()
		}
		return what, nil, ""
	}
	return "nothing was sent (the server is expected to watch its files)", nil, ""
}

// runReloadCommand runs a reload command in its own process group with
// $MTLSKIT_SERVER_PID, killed (the group) at the limit.
func runReloadCommand(ctx context.Context, argv []string, pid int, limit time.Duration) ClientProcess {
	cp := ClientProcess{Argv: argv}
	start := time.Now()
	out := &tailBuffer{max: 16 << 10}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(childEnv(), "MTLSKIT_SERVER_PID="+strconv.Itoa(pid))
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		cp.ExitCode, cp.Error = -1, err.Error()
		return cp
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		cp.TimedOut = true
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		cp.Error = "interrupted"
	}
	cp.ExitCode = cmd.ProcessState.ExitCode()
	cp.Output = out.lines(8)
	cp.Millis = ms(time.Since(start))
	return cp
}

var signalNames = map[string]syscall.Signal{"HUP": syscall.SIGHUP, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "WINCH": syscall.SIGWINCH, "ALRM": syscall.SIGALRM}

// ParseReloadSignal reads HUP, USR1, USR2, WINCH or ALRM (with or without
// SIG); "" and "none" are no signal.
func ParseReloadSignal(s string) (syscall.Signal, error) {
	u := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if u == "" || u == "NONE" {
		return 0, nil
	}
	if sig, ok := signalNames[u]; ok {
		return sig, nil
	}
	return 0, fmt.Errorf("reload signal %q is not one of HUP, USR1, USR2, WINCH, ALRM or none", s)
}

func signalName(sig syscall.Signal) string {
	for n, s := range signalNames {
		if s == sig {
			return "SIG" + n
		}
	}
	return sig.String()
}

// askedRotations drops the rotation scenarios from a run that did not
// ask for them (RotationOptions.Run): they rewrite the server's files.
func askedRotations(scenarios []Scenario, ro RotationOptions) []Scenario {
	if ro.Run {
		return scenarios
	}
	var out []Scenario
	for _, s := range scenarios {
		if !s.Rotation {
			out = append(out, s)
		}
	}
	return out
}
