package harness

// client-ca-rotation: the CA that issues client certificates changes
// while the server runs. The safe order is add, move the clients, then
// remove: the server's trusted-CA file first gains the new CA (both
// CAs' clients must be accepted after the reload), then loses the old
// one (its clients must be refused). A server that reads its CA bundle
// once at start fails the first step, which is what users report of
// many servers ("a new CA bundle is ignored until restart").

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"

	"github.com/mtlskit/mtlskit/pki"
)

// CARotationScenario is the name of the scenario that rotates the CA a
// started server trusts for client certificates.
const CARotationScenario = "client-ca-rotation"

// CARotationLayer is the evidence of client-ca-rotation: each step's
// CA file, trigger, and what the clients of each CA got.
type CARotationLayer struct {
	OldCA string   `json:"old_ca"`
	NewCA string   `json:"new_ca"`
	Steps []CAStep `json:"steps"`
	// Restored says the server's CA file (and CRL file) were put back
	// and the reload triggered again after the scenario.
	Restored string `json:"restored,omitempty"`
	// ServerExited says the server command exited during the scenario
	// (a server that dies of the reload signal).
	ServerExited string `json:"server_exited,omitempty"`
}

// CAStep is one step of client-ca-rotation.
type CAStep struct {
	// Name is "before", "add-new-ca" or "remove-old-ca"; CAFile lists
	// the CAs the {ca} file held.
	Name         string         `json:"name"`
	CAFile       []string       `json:"ca_file"`
	Trigger      string         `json:"trigger,omitempty"`
	TriggerError string         `json:"trigger_error,omitempty"`
	Reload       *ClientProcess `json:"reload_command,omitempty"`
	Checks       []CACheck      `json:"checks"`
}

// CACheck is what new connections of one CA's client got in a step:
// Want "accepted" or "refused", Got the last outcome and why, AfterMS
// when it first matched (after the trigger), Probes how many tries.
type CACheck struct {
	Client  string   `json:"client"`
	Want    string   `json:"want"`
	Got     string   `json:"got"`
	Reason  string   `json:"reason"`
	Probes  int      `json:"probes"`
	AfterMS *float64 `json:"after_ms,omitempty"`
}

// caRotation is client-ca-rotation as it runs.
type caRotation struct {
	ctx        context.Context
	s          Scenario
	m          *Materials
	opts       Options
	ro         RotationOptions
	p          *ServerProcess
	addr, url  string
	ev         *CARotationLayer
	newRoot    *pki.Issued
	oldClient  *pki.Issued
	newClient  *pki.Issued
	origCA     []byte
	origCRL    []byte
	newRootCRL []byte
}

// runCARotation needs a server the harness started: it rewrites {ca}.
func runCARotation(ctx context.Context, s Scenario, m *Materials, opts Options) Result {
	start := time.Now()
	skip := func(why string) Result {
		return Result{Scenario: s, Pass: true, Verdict: Verdict{Outcome: Skipped, Reason: Reason{ID: ReasonNotApplicable, Text: why}}}
	}
	t, ok := opts.Server.(*targetServer)
	switch {
	case !opts.Rotation.Run:
		return skip("runs only when named (--scenario " + s.Name + "): it rewrites the server's {ca} file and needs to know how the server reloads")
	case !ok || t.proc == nil:
		return skip("runs only when the harness started the server (--server-cmd): it rewrites the server's {ca} file and triggers its reload")
	case t.proc.ocsp != nil && !t.proc.takesCRL:
		return skip("the server checks clients with the run's OCSP responder ({ocsp}), which answers only for the run's CAs: a client of the new CA would be refused for that; run it with {crl} or neither")
	case m.Client == nil || m.Client.Key == nil:
		return skip("the run's materials have no valid client certificate with its key")
	}
	ro := opts.Rotation
	if ro.Timeout <= 0 {
		ro.Timeout = 10 * time.Second
	}
	r := &caRotation{ctx: ctx, s: s, m: m, opts: opts, ro: ro, p: t.proc, addr: t.addr, url: t.url, oldClient: m.Client, ev: &CARotationLayer{}}
	res := r.run()
	res.Duration = time.Since(start)
	return res
}

// run mints the new CA and its client, then runs the steps, and puts
// the server's files back whatever happened.
func (r *caRotation) run() Result {
	if err := r.mint(); err != nil {
		return r.broken("minting the new CA: " + err.Error())
	}
	var err error
	if r.origCA, err = os.ReadFile(r.p.Files.CA); err != nil {
		return r.broken("reading the server's {ca} file: " + err.Error())
	}
	if r.p.takesCRL {
		if r.origCRL, err = os.ReadFile(r.p.Files.CRL); err != nil {
			return r.broken("reading the server's {crl} file: " + err.Error())
		}
	}
	defer r.restore()
	oldName, newName := "old-CA client", "new-CA client"
	before := r.step("before", nil, false, []probeWant{{newName, r.newClient, false}, {oldName, r.oldClient, true}})
	if !before.ok {
		return r.judged(before, "before the rotation")
	}
	add := r.step("add-new-ca", [][]byte{r.origCA, pki.EncodeCertsPEM(r.newRoot.Cert)}, true, []probeWant{{newName, r.newClient, true}, {oldName, r.oldClient, true}})
	if !add.ok {
		return r.judged(add, "after the new CA was added to {ca} and "+add.trigger)
	}
	remove := r.step("remove-old-ca", [][]byte{pki.EncodeCertsPEM(r.newRoot.Cert)}, true, []probeWant{{oldName, r.oldClient, false}, {newName, r.newClient, true}})
	return r.judged(remove, "after the old CA was removed from {ca} and "+remove.trigger)
}

func (r *caRotation) mint() error {
	var err error
	if r.newRoot, err = pki.NewRootCA(pki.Request{CommonName: "mtlskit harness Root CA (rotated in)", KeyType: pki.ECDSAP256, Validity: pki.Day}); err != nil {
		return err
	}
	iss, err := r.newRoot.Issuer()
	if err != nil {
		return err
	}
	if r.newClient, err = iss.Issue(pki.Request{Kind: pki.KindClient, CommonName: "mtlskit harness client of the rotated-in CA", KeyType: pki.ECDSAP256, Validity: pki.Day}); err != nil {
		return err
	}
	now := time.Now()
	r.newRootCRL, _, err = pki.MakeCRL(iss, nil, 1, now.Add(-pki.Backdate), now.Add(pki.Day))
	r.ev.OldCA, r.ev.NewCA = r.m.Root.Cert.Subject.CommonName, r.newRoot.Cert.Subject.CommonName
	return err
}

// probeWant is one client and what it must get in a step.
type probeWant struct {
	name   string
	leaf   *pki.Issued
	accept bool
}

// stepResult is a step's outcome: ok, or the check that failed and the
// verdict of its last connection.
type stepResult struct {
	ok      bool
	failed  *CACheck
	v       Verdict
	trigger string
}

func (s stepResult) why(when string) string {
	c := s.failed
	return fmt.Sprintf("%s, the %s was %s on %d new connection(s) (%s), want %s", when, c.Client, c.Got, c.Probes, c.Reason, c.Want)
}

// step writes caFile into {ca} (nil: leave it), triggers the reload when
// reload is set, and checks each client in order: the first is retried
// until it gets what it wants or the reload timeout passes (the server
// may take a moment to reload), the others are checked once after.
func (r *caRotation) step(name string, caFile [][]byte, reload bool, wants []probeWant) stepResult {
	st := CAStep{Name: name}
	if caFile != nil {
		var data []byte
		for _, b := range caFile {
			data = append(data, b...)
		}
		if err := replaceFile(r.p.Files.CA, data, 0o644); err != nil {
			return r.failStep(st, name, "writing {ca}: "+err.Error())
		}
		if r.p.takesCRL {
			crls := append(append([]byte(nil), r.origCRL...), pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: r.newRootCRL})...)
			if err := replaceFile(r.p.Files.CRL, crls, 0o644); err != nil {
				return r.failStep(st, name, "writing {crl}: "+err.Error())
			}
		}
	}
	st.CAFile = r.caNames(caFile)
	res := stepResult{ok: true}
	since := time.Now()
	if reload {
		st.Trigger, st.Reload, st.TriggerError = trigger(r.ctx, r.ro, r.p)
		res.trigger = st.Trigger
		if st.TriggerError != "" {
			res.trigger += " (" + st.TriggerError + ")"
		}
	}
	for i, w := range wants {
		deadline := time.Now()
		if i == 0 && reload {
			deadline = since.Add(r.ro.Timeout)
		}
		c, v := r.check(w, since, deadline)
		st.Checks = append(st.Checks, c)
		res.v = v
		if c.AfterMS == nil {
			res.ok, res.failed = false, &st.Checks[len(st.Checks)-1]
			break
		}
	}
	r.ev.Steps = append(r.ev.Steps, st)
	return res
}

func (r *caRotation) failStep(st CAStep, name, why string) stepResult {
	st.Checks = append(st.Checks, CACheck{Client: "the harness", Want: "to write the file", Got: "an error", Reason: why})
	r.ev.Steps = append(r.ev.Steps, st)
	return stepResult{failed: &st.Checks[len(st.Checks)-1], v: Verdict{Outcome: ConnectFailed, Layer: LayerTCP, Reason: Reason{ID: ReasonUnclassified, Text: why}}}
}

// caNames names the CAs of a {ca} file written in a step.
func (r *caRotation) caNames(caFile [][]byte) []string {
	if caFile == nil {
		return []string{"(as the server was started)"}
	}
	var out []string
	for _, b := range caFile {
		for {
			var blk *pem.Block
			if blk, b = pem.Decode(b); blk == nil {
				break
			}
			if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
				out = append(out, c.Subject.CommonName)
			}
		}
	}
	return out
}

// check connects as w.leaf until the outcome is what w wants or the
// deadline passes (at least once).
func (r *caRotation) check(w probeWant, since, deadline time.Time) (CACheck, Verdict) {
	c := CACheck{Client: w.name, Want: map[bool]string{true: "accepted", false: "refused"}[w.accept]}
	enc := serverSide(r.m)
	enc.Client = w.leaf
	want := func(v Verdict) bool { return gotOf(v) == c.Want }
	v, n, ok := probeUntil(r.ctx, enc, r.s.Name, r.addr, r.url, r.opts, deadline, want, r.p.Exited)
	c.Probes, c.Got, c.Reason = n, gotOf(v), fmt.Sprintf("%s: %s", v.Outcome, v.Reason.Text)
	if r.p.Exited() {
		r.ev.ServerExited = r.p.ExitReport()
	} else if ok {
		at := ms(time.Since(since))
		c.AfterMS = &at
	}
	return c, v
}

// restore puts the server's {ca} (and {crl}) back and triggers the
// reload, so what runs after sees the server as it started.
func (r *caRotation) restore() {
	if r.origCA == nil {
		return
	}
	if r.p.Exited() {
		r.ev.Restored = "not put back: the server had exited"
		return
	}
	err := replaceFile(r.p.Files.CA, r.origCA, 0o644)
	if err == nil && r.origCRL != nil {
		err = replaceFile(r.p.Files.CRL, r.origCRL, 0o644)
	}
	if err != nil {
		r.ev.Restored = "putting {ca} back failed: " + err.Error()
		return
	}
	since := time.Now()
	what, _, terr := trigger(r.ctx, r.ro, r.p)
	r.ev.Restored = "{ca} put back, then " + what
	if terr != "" {
		r.ev.Restored += " (" + terr + ")"
	}
	// Wait for the reload to take: the scenario after this one needs
	// the server to trust the run's CA again.
	c, _ := r.check(probeWant{"old-CA client", r.oldClient, true}, since, since.Add(r.ro.Timeout))
	if c.AfterMS != nil {
		r.ev.Restored += fmt.Sprintf("; the old CA's client was accepted again after %.0f ms", *c.AfterMS)
	} else {
		r.ev.Restored += fmt.Sprintf("; the old CA's client was still %s after %d tries (%s): what runs after sees the rotated server", c.Got, c.Probes, c.Reason)
	}
}

func (r *caRotation) broken(why string) Result {
	return Result{Scenario: r.s, Inconclusive: true, Mismatch: "inconclusive: " + why,
		Verdict: Verdict{Outcome: ConnectFailed, Layer: LayerTCP, Reason: Reason{ID: ReasonUnclassified, Text: why}, CARotation: r.ev}}
}

// judged is the result of the last step run: a pass, or the failed
// check in words, with what it means.
func (r *caRotation) judged(st stepResult, when string) Result {
	v := st.v
	v.CARotation = r.ev
	res := Result{Scenario: r.s, Verdict: v, Pass: st.ok}
	if st.ok {
		return res
	}
	why := st.why(when)
	step := r.ev.Steps[len(r.ev.Steps)-1].Name
	newCA := st.failed.Client == "new-CA client"
	switch {
	case r.ev.ServerExited != "" && step == "before":
		res.Inconclusive, res.Mismatch = true, fmt.Sprintf("inconclusive: the server exited before anything was changed (%s)", r.ev.ServerExited)
	case r.ev.ServerExited != "":
		res.Mismatch = fmt.Sprintf("%s: the server exited (%s), so it does not reload this way: give --reload-signal the signal it reloads on, or --reload-cmd", when, r.ev.ServerExited)
	case st.failed.Got == "unreachable" || st.failed.Got == "failed":
		// Neither accepted nor refused by the server: the check was
		// not answered.
		res.Inconclusive, res.Mismatch = true, "inconclusive: "+why+": the connection "+st.failed.Got+" without the server accepting or refusing it, so what the server trusts was not seen"
	case step == "before":
		// Without the controls the steps mean nothing.
		res.Inconclusive, res.Mismatch = true, "inconclusive: "+why+": the server must refuse a CA it does not trust and accept the run's client before a rotation can be judged (valid-client and client-other-ca say more)"
	case st.failed.Client == "the harness":
		res.Inconclusive, res.Mismatch = true, "inconclusive: "+why
	case step == "add-new-ca" && newCA:
		res.Mismatch = why + ": the server did not pick up the new CA bundle (a server that reads its client CA file once needs a restart; make the reload re-read it: nginx reads ssl_client_certificate on reload, Go needs tls.Config.GetConfigForClient to build ClientCAs from the file, Node server.setSecureContext)"
	case step == "add-new-ca":
		res.Mismatch = why + ": once the new CA was added the old CA's clients were refused, so moving clients to the new CA cannot be gradual (does the server read only the first certificate of its CA file?)"
	case !newCA:
		res.Mismatch = why + ": the server kept trusting the CA it was told to drop, so certificates of a retired (or compromised) CA still get in"
	default:
		res.Mismatch = why + ": with only the new CA in {ca}, its client was refused"
	}
	return res
}
