package harness

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"time"

	"github.com/mtlskit/mtlskit/pki"
)

// ClientRotationScenario is the name of the scenario that rotates the
// reference server's certificate under a --client-cmd client.
const ClientRotationScenario = "server-cert-rotation-client"

// clientRotationScenario is server-cert-rotation-client's row of
// RotationScenarios.
func clientRotationScenario() Scenario {
	return Scenario{Name: ClientRotationScenario, Side: ClientSide, Expect: Accept, Importance: ImportanceHigh, Rotation: true,
		Description: "--client-cmd only: the client is run twice on one reference server port, first with the valid server certificate, then after the server rotated to its successor (same names and CA, new key and serial, new session-ticket keys): both runs accepted, the second after a full handshake with the new certificate (a client that pinned the old one or kept stale state in {dir} fails)",
		Setup:       clientSide}
}

// ClientRotationLayer is the evidence of server-cert-rotation-client:
// the two serials, and what the server saw of each run of the client.
type ClientRotationLayer struct {
	// Addr is the one loopback address both runs were served on: the
	// server's port stays bound between them, as a reloading server's
	// does.
	Addr      string `json:"addr"`
	OldSerial string `json:"old_serial"`
	// NewSerial is absent when the first run failed (no rotation then).
	NewSerial string `json:"new_serial,omitempty"`
	// Before is the run against the old certificate; After the run
	// after the rotation, absent when there was none.
	Before ClientRotationRun  `json:"before"`
	After  *ClientRotationRun `json:"after,omitempty"`
}

// ClientRotationRun is one run of the client command: the serial the
// server held, the run's verdict, and every connection the server saw.
type ClientRotationRun struct {
	Serial  string  `json:"serial"`
	Outcome Outcome `json:"outcome"`
	Reason  Reason  `json:"reason"`
	// Client is the command's exit status and last lines (the result's
	// own client field is the last run's).
	Client      *ClientProcess       `json:"client,omitempty"`
	Connections []RotationConnection `json:"connections"`
}

// RotationConnection is one connection the server saw in a run.
type RotationConnection struct {
	// Presented: the server sent the run's certificate on it (a full
	// handshake that completed, or that the client aborted after the
	// server's flight). A resumed handshake presents none.
	Presented bool   `json:"certificate_presented"`
	Resumed   bool   `json:"resumed,omitempty"`
	Version   string `json:"tls_version,omitempty"`
	// Handshake is "completed", or what ended it as the server saw it.
	Handshake string `json:"handshake"`
	Echoed    int    `json:"echoed,omitempty"`
}

// runClientRotation is server-cert-rotation-client: it needs a client
// command, which it runs twice.
func runClientRotation(ctx context.Context, s Scenario, m *Materials, opts Options) Result {
	cc, ok := opts.Client.(*ClientCommand)
	if !ok {
		return Result{Scenario: s, Pass: true, Verdict: Verdict{Outcome: Skipped, Reason: Reason{ID: ReasonNotApplicable,
			Text: "runs only for a client command (--client-cmd): it runs the client twice, before and after the reference server rotates its certificate, and the reference client keeps no state between connections"}}}
	}
	if !opts.Rotation.Run {
		return Result{Scenario: s, Pass: true, Verdict: Verdict{Outcome: Skipped, Reason: Reason{ID: ReasonNotApplicable,
			Text: "runs only when named (--scenario " + s.Name + "): it runs the client command twice"}}}
	}
	start := time.Now()
	res := rotateUnderClient(ctx, s, m, opts, cc)
	res.Duration = time.Since(start)
	return res
}

// rotateUnderClient runs the client against the valid server
// certificate, rotates the server to its successor and runs the client
// again on the same port with the same files and {dir}.
//
// The "rotation" is a fresh reference server on the same listener: a
// new certificate and new session-ticket keys, as a restarted or
// reloaded real server has, so a ticket from the first run cannot be
// resumed and the second run must see the new certificate; and each run
// has its own server, so its observations are exactly its own.
func rotateUnderClient(ctx context.Context, s Scenario, m *Materials, opts Options, cc *ClientCommand) Result {
	fail := func(ev *ClientRotationLayer, why string) Result {
		// The harness could not set the scenario up: nothing was seen
		// of the client.
		return Result{Scenario: s, Verdict: Verdict{Outcome: ConnectFailed, Layer: LayerTCP, Reason: Reason{ID: ReasonUnclassified, Text: why}, ClientRotation: ev}, Inconclusive: true, Mismatch: "inconclusive: " + why}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(nil, "listening on 127.0.0.1: "+err.Error())
	}
	defer ln.Close()
	enc := s.Setup(m)
	ev := &ClientRotationLayer{Addr: ln.Addr().String(), OldSerial: serialOf(enc.Server)}
	before, obs := clientRotationRun(ctx, s, enc, opts, cc, ln)
	ev.Before = runEvidence(ev.OldSerial, before, obs)
	if before.Outcome != Accepted {
		why := fmt.Sprintf("inconclusive: before any rotation, the client was not accepted with the valid server certificate (serial %s): %s: %s; a client that fails the plain case says nothing about rotation (see valid-server)", ev.OldSerial, before.Outcome, before.Reason.Text)
		before.ClientRotation = ev
		return Result{Scenario: s, Verdict: before, Inconclusive: true, Mismatch: why}
	}
	// successor renews the intermediate's leaf when there is one (what a
	// --server-cmd is handed); this scenario rotates valid-server's
	// certificate, the one the client was just judged with: Server from
	// leafIssuer.
	direct := *m
	direct.ServerViaIntermediate = nil
	succ, err := successor(&direct)
	if err != nil {
		return fail(ev, "minting the successor: "+err.Error())
	}
	enc.Server = succ
	ev.NewSerial = serialOf(succ)
	after, obs := clientRotationRun(ctx, s, enc, opts, cc, ln)
	run := runEvidence(ev.NewSerial, after, obs)
	ev.After = &run
	after.ClientRotation = ev
	res := Result{Scenario: s, Verdict: after}
	res.Pass, res.Inconclusive, res.Mismatch = judgeClientRotation(ev, after)
	if res.Pass {
		// The reason is the second run's; say what was rotated, for a
		// reader of the table.
		res.Reason.Text += fmt.Sprintf(" [accepted before the rotation (serial %s) and after it (serial %s, presented in a full handshake)]", ev.OldSerial, ev.NewSerial)
	}
	return res
}

// clientRotationRun starts a reference server for enc on ln, runs the
// client command once and builds its verdict from what the server saw
// (connect's steps, on a given listener); the observations are every
// connection the server saw.
func clientRotationRun(ctx context.Context, s Scenario, enc Encounter, opts Options, cc *ClientCommand, ln net.Listener) (Verdict, []ServerObservation) {
	tl := ln.(*net.TCPListener)
	_ = tl.SetDeadline(time.Time{}) // the previous run's server stopped accepting by setting one
	server := &referenceServer{name: "reference", mode: modeStrict, ln: handoffListener{tl}}
	srv, err := server.Start(ctx, ServerConfig{Encounter: enc, TLSVersion: opts.TLSVersion, Timeout: opts.Timeout})
	if err != nil {
		return Verdict{Outcome: ConnectFailed, Layer: LayerTCP, Reason: Reason{ID: ReasonUnclassified, Text: "the reference server did not start: " + err.Error()}}, nil
	}
	v := cc.Connect(ctx, ClientConfig{Encounter: enc, Scenario: s.Name, Addr: srv.Addr(), TLSVersion: opts.TLSVersion, Timeout: opts.Timeout, AcceptOnUpgrade: opts.AcceptOnUpgrade})
	if d, ok := srv.(interface{ drainBacklog() }); ok {
		d.drainBacklog()
	}
	_ = srv.Close()
	obs := srv.Observations()
	cc.combine(&v, obs)
	return v, obs
}

// handoffListener lets one listener serve several reference servers in
// turn: Close only makes the pending Accept return (the server's accept
// loop ends on its error), and the port stays bound for the next one.
type handoffListener struct{ *net.TCPListener }

func (h handoffListener) Close() error { return h.SetDeadline(time.Now()) }

// runEvidence is what one run showed: its verdict in short, and every
// connection the server saw.
func runEvidence(serial string, v Verdict, obs []ServerObservation) ClientRotationRun {
	r := ClientRotationRun{Serial: serial, Outcome: v.Outcome, Reason: v.Reason, Client: v.Client, Connections: []RotationConnection{}}
	for _, o := range obs {
		c := RotationConnection{Resumed: o.TLS.Resumed, Version: o.TLS.Version, Echoed: o.WS.Echoed, Handshake: "completed"}
		if o.TLS.Status != LayerOK {
			c.Handshake = o.TLS.Detail
			if c.Handshake == "" {
				c.Handshake = o.TLS.Error
			}
		}
		// The server's flight, certificate included, went out on a full
		// handshake that completed, or that the client ended after
		// reading it (its alert after the flight, or a certificate
		// alert, which only follows the certificate).
		full := o.TLS.Status == LayerOK && !o.TLS.Resumed
		read := o.TLS.AbortedAfterFlight || o.TLS.AlertReceived != nil && o.TLS.AlertReceived.IsCertificateAlert()
		c.Presented = full || read
		r.Connections = append(r.Connections, c)
	}
	return r
}

// judgeClientRotation: the run after the rotation must be accepted, and
// the server must have presented the new certificate in a handshake the
// client completed; otherwise the words say what was seen.
func judgeClientRotation(ev *ClientRotationLayer, v Verdict) (pass, inconclusive bool, mismatch string) {
	completed, presented, resumed := 0, 0, 0
	for _, c := range ev.After.Connections {
		if c.Presented {
			presented++
		}
		if c.Presented && c.Handshake == "completed" {
			completed++
		}
		if c.Resumed {
			resumed++
		}
	}
	seen := fmt.Sprintf("after the rotation the server saw %d connection(s) and presented serial %s on %d", len(ev.After.Connections), ev.NewSerial, presented)
	if resumed > 0 {
		seen += fmt.Sprintf("; %d resumed a session", resumed)
	}
	// The reason already quotes the client's last line; its exit status
	// is added (the whole output is in the client field).
	exit := ""
	if v.Client != nil {
		exit = " (client: " + newCmdVerdict(&Verdict{Client: v.Client}).exit + ")"
	}
	switch {
	case v.Outcome == Accepted && completed > 0:
		return true, false, ""
	case v.Outcome == Accepted:
		return false, true, fmt.Sprintf("inconclusive: the client was accepted after the rotation, but the server never presented it the new certificate (serial %s) in a full handshake (%s), so whether it accepts the rotated certificate was not seen", ev.NewSerial, seen)
	case presented == 0 && len(ev.After.Connections) == 0 && v.Client == nil:
		// The second reference server did not start: the client was
		// never put to the test.
		return false, true, fmt.Sprintf("inconclusive: after the rotation the reference server did not serve (%s), so the client was not tried on the new certificate", v.Reason.Text)
	case v.Outcome == RejectedTLS && v.RefusedBy == PartyClient:
		return false, false, fmt.Sprintf("the client refused the rotated server certificate (serial %s: the same names and CA as serial %s, which it accepted on the run before): it pinned the old certificate or kept stale state from the first run (a file under {dir}, a cached session); %s%s", ev.NewSerial, ev.OldSerial, v.Reason.Text, exit)
	}
	return false, false, fmt.Sprintf("the client was accepted before the rotation (serial %s) and not after it (serial %s, the same names and CA): %s at the %s layer: %s; %s%s", ev.OldSerial, ev.NewSerial, v.Outcome, v.Layer, v.Reason.Text, seen, exit)
}

// serialOf is a certificate's serial in hex, as the rotation evidence
// spells it.
func serialOf(c *pki.Issued) string {
	if c == nil || c.Cert == nil {
		return ""
	}
	return hex.EncodeToString(c.Cert.SerialNumber.Bytes())
}
