package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/pki"
)

// probeMaterials are minted once for the probe tests.
var probeMaterials = sync.OnceValue(func() *harness.Materials {
	m, err := harness.NewMaterials()
	if err != nil {
		panic(err)
	}
	return m
})

const (
	pass = pki.StatusPass
	fail = pki.StatusFail
	warn = pki.StatusWarn
	skip = pki.StatusSkip
)

// statuses lists the expected status of every live check, in report
// order: dns tcp tls chain request accepted upgrade echo lax.
func statuses(s ...pki.CheckStatus) map[string]pki.CheckStatus {
	ids := CheckIDs()
	if len(s) != len(ids) {
		panic("statuses: one per check")
	}
	out := map[string]pki.CheckStatus{}
	for i, id := range ids {
		out[id] = s[i]
	}
	return out
}

// startServer starts subject for the encounter and stops it at the end of
// the test.
func startServer(t *testing.T, subject harness.ServerSubject, e harness.Encounter, version uint16) string {
	t.Helper()
	srv, err := subject.Start(context.Background(), harness.ServerConfig{Encounter: e, TLSVersion: version, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv.Addr()
}

// probeEncounter probes a server started for e as the encounter's client.
func probeEncounter(t *testing.T, addr string, e harness.Encounter, version uint16) Report {
	t.Helper()
	_, port, _ := net.SplitHostPort(addr)
	cfg := Config{Host: e.Dial.Host(), Port: port, Path: "/echo", Roots: e.RootCAs, Echo: true, Timeout: 5 * time.Second, TLSVersion: version}
	if e.Client != nil {
		c := e.Client.TLSCertificate(e.ClientSendsChain)
		cfg.ClientCert = &c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return Probe(ctx, cfg)
}

type probeWant struct {
	statuses  map[string]pki.CheckStatus
	stoppedAt string
	// words each check's summary and evidence must contain.
	words map[string][]string
	// nested are the offline check IDs that must fail under
	// live-server-chain.
	nested []string
}

func TestProbeAgainstReferenceServer(t *testing.T) {
	m := probeMaterials()
	tls13 := map[string]probeWant{
		"valid-client": {statuses: statuses(pass, pass, pass, pass, pass, pass, pass, pass, skip),
			words: map[string][]string{LiveTLS: {"TLS 1.3"}, LiveClientCertRequest: {"acceptable CA: CN=mtlskit harness Root CA"}, LiveWSEcho: {"echoed byte-exact"}}},
		"no-client-cert": {statuses: statuses(pass, pass, pass, pass, pass, fail, skip, skip, pass), stoppedAt: LiveClientCertAccepted,
			words: map[string][]string{LiveClientCertAccepted: {"alert 116 certificate_required", "on the first read after the TLS 1.3 handshake", "requires a client certificate and mtlskit sent none"}}},
		"wrong-ca-client": {statuses: statuses(pass, pass, pass, pass, warn, fail, skip, skip, skip), stoppedAt: LiveClientCertAccepted,
			words: map[string][]string{LiveClientCertAccepted: {"alert 48 unknown_ca", "first read"}, LiveClientCertRequest: {"not among them"}}},
		"expired-client": {statuses: statuses(pass, pass, pass, pass, pass, fail, skip, skip, skip), stoppedAt: LiveClientCertAccepted,
			words: map[string][]string{LiveClientCertAccepted: {"alert 45 certificate_expired", "fail validity"}}},
		"valid-server": {statuses: statuses(pass, pass, pass, pass, pass, pass, pass, pass, skip)},
		"server-missing-san": {statuses: statuses(pass, pass, fail, fail, skip, skip, skip, skip, skip), stoppedAt: LiveServerChain,
			nested: []string{pki.CheckSANPresent}, words: map[string][]string{LiveServerChain: {"Common Name"}}},
		"server-wrong-ca": {statuses: statuses(pass, pass, fail, fail, skip, skip, skip, skip, skip), stoppedAt: LiveServerChain,
			nested: []string{pki.CheckChain}, words: map[string][]string{LiveServerChain: {"unrelated Root CA"}}},
		"server-expired": {statuses: statuses(pass, pass, fail, fail, skip, skip, skip, skip, skip), stoppedAt: LiveServerChain,
			nested: []string{pki.CheckValidity}},
		"server-hostname-mismatch": {statuses: statuses(pass, pass, fail, fail, skip, skip, skip, skip, skip), stoppedAt: LiveServerChain,
			nested: []string{pki.CheckSANMatch}, words: map[string][]string{LiveServerChain: {"not-this-host.example"}}},
		"server-ip-not-in-san": {statuses: statuses(skip, pass, fail, fail, skip, skip, skip, skip, skip), stoppedAt: LiveServerChain,
			nested: []string{pki.CheckSANMatch}, words: map[string][]string{LiveServerChain: {"127.0.0.1", "only DNS names"}, LiveTLS: {"no SNI"}}},
		"server-missing-intermediate": {statuses: statuses(pass, pass, fail, fail, skip, skip, skip, skip, skip), stoppedAt: LiveServerChain,
			nested: []string{pki.CheckChain}, words: map[string][]string{LiveServerChain: {"CN=mtlskit harness Intermediate CA", keyIDOf(m.Intermediate)}}},
		"server-full-chain": {statuses: statuses(pass, pass, pass, pass, pass, pass, pass, pass, skip)},
	}
	tls12 := map[string]probeWant{
		"no-client-cert": {statuses: statuses(pass, pass, fail, pass, pass, fail, skip, skip, pass), stoppedAt: LiveClientCertAccepted,
			words: map[string][]string{LiveClientCertAccepted: {"alert 40 handshake_failure", "during the handshake"}}},
		"wrong-ca-client": {statuses: statuses(pass, pass, fail, pass, warn, fail, skip, skip, skip), stoppedAt: LiveClientCertAccepted,
			words: map[string][]string{LiveClientCertAccepted: {"alert 48 unknown_ca"}}},
		"valid-client": {statuses: statuses(pass, pass, pass, pass, pass, pass, pass, pass, skip),
			words: map[string][]string{LiveTLS: {"TLS 1.2"}}},
	}
	for _, v := range []struct {
		name    string
		version uint16
		wants   map[string]probeWant
	}{{"1.3", tls.VersionTLS13, tls13}, {"1.2", tls.VersionTLS12, tls12}} {
		for _, s := range harness.Scenarios() {
			w, ok := v.wants[s.Name]
			if !ok {
				continue
			}
			t.Run(v.name+"/"+s.Name, func(t *testing.T) {
				e := s.Setup(m)
				addr := startServer(t, harness.ReferenceServer(), e, v.version)
				checkProbe(t, probeEncounter(t, addr, e, v.version), w)
			})
		}
	}
}

// keyIDOf is a CA's subject key id in colon hex, as Diagnose prints it.
func keyIDOf(i *pki.Issued) string {
	parts := make([]string, len(i.Cert.SubjectKeyId))
	for k, x := range i.Cert.SubjectKeyId {
		parts[k] = fmt.Sprintf("%02X", x)
	}
	return strings.Join(parts, ":")
}

func checkProbe(t *testing.T, rep Report, w probeWant) {
	t.Helper()
	got := rep.Statuses()
	if len(rep.Checks) != len(CheckIDs()) {
		t.Errorf("%d checks, want %d", len(rep.Checks), len(CheckIDs()))
	}
	for _, id := range CheckIDs() {
		if got[id] != w.statuses[id] {
			t.Errorf("%s: status %s, want %s", id, got[id], w.statuses[id])
		}
	}
	if rep.StoppedAt != w.stoppedAt {
		t.Errorf("stopped at %q, want %q", rep.StoppedAt, w.stoppedAt)
	}
	for id, words := range w.words {
		c, _ := rep.Check(id)
		text := c.Summary + "\n" + strings.Join(c.Evidence, "\n")
		for _, word := range words {
			if !strings.Contains(text, word) {
				t.Errorf("%s does not say %q:\n%s", id, word, text)
			}
		}
	}
	chain, _ := rep.Check(LiveServerChain)
	var nestedFailed []string
	for _, c := range chain.Checks {
		if c.Status == fail && !slices.Contains(nestedFailed, c.ID) {
			nestedFailed = append(nestedFailed, c.ID)
		}
	}
	for _, id := range w.nested {
		if !slices.Contains(nestedFailed, id) {
			t.Errorf("nested check %s did not fail; failed: %v", id, nestedFailed)
		}
	}
	if chain.Status == pass && len(nestedFailed) > 0 {
		t.Errorf("live-server-chain passes with failing offline checks %v", nestedFailed)
	}
	if t.Failed() {
		for _, c := range rep.Checks {
			t.Logf("%-4s %-26s %s", c.Status, c.ID, c.Summary)
			for _, e := range c.Evidence {
				t.Logf("       %s", e)
			}
			for _, n := range c.Checks {
				t.Logf("       %-4s %s %s: %s", n.Status, n.ID, n.Subject, n.Summary)
			}
		}
	}
}

func TestProbeFindsLaxServer(t *testing.T) {
	m := probeMaterials()
	e := validEncounter(m)
	e.Client = nil
	addr := startServer(t, harness.NegativeControlLaxServer(), e, 0)
	rep := probeEncounter(t, addr, e, 0)
	checkProbe(t, rep, probeWant{statuses: statuses(pass, pass, pass, pass, pass, skip, pass, pass, fail),
		words: map[string][]string{LiveLaxServer: {"the server accepted a client without a certificate"}}})
}

func TestProbeStopsAtTCPWhenNothingListens(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	rep := Probe(context.Background(), Config{Host: "127.0.0.1", Port: port, Timeout: 2 * time.Second})
	checkProbe(t, rep, probeWant{statuses: statuses(skip, fail, skip, skip, skip, skip, skip, skip, skip), stoppedAt: LiveTCP,
		words: map[string][]string{LiveTCP: {"connection refused"}}})
}

// validEncounter is the valid-client scenario's encounter: the reference
// client's certificate from the run's intermediate, trusted by the server.
func validEncounter(m *harness.Materials) harness.Encounter {
	s, err := harness.Lookup("valid-client")
	if err != nil {
		panic(err)
	}
	return s[0].Setup(m)
}
