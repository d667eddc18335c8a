package harness

import (
	"bufio"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/pki"
)

// sServer is `openssl s_server` in its interactive mode, the one fake that
// renegotiates (crypto/tls servers cannot): a line "R" on its stdin makes
// it send a HelloRequest and ask for a client certificate in the
// renegotiation ("r": renegotiate without asking); anything else on stdin
// goes to the client as application data. Its stdout shows what the
// client sent.
type sServer struct {
	t     *testing.T
	addr  string
	stdin io.WriteCloser
	lines chan string
}

// startSServer runs s_server on a loopback port for the encounter's server
// certificate, in TLS 1.2, verifying client certificates against the
// encounter's client CAs and failing the handshake on a verify error, as
// Apache does.
func startSServer(t *testing.T, enc Encounter) *sServer {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed")
	}
	dir := t.TempDir()
	key, err := pki.EncodeKeyPEM(enc.Server.Key)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"cert.pem":  pki.EncodeCertsPEM(enc.Server.Cert),
		"chain.pem": pki.EncodeCertsPEM(enc.Server.Chain...),
		"key.pem":   key,
		"ca.pem":    pki.EncodeCertsPEM(enc.ClientCAs...),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	args := []string{"s_server", "-tls1_2", "-accept", "127.0.0.1:0", "-naccept", "1", "-no_ticket",
		"-cert", filepath.Join(dir, "cert.pem"), "-key", filepath.Join(dir, "key.pem"),
		"-CAfile", filepath.Join(dir, "ca.pem"), "-verify_return_error"}
	if enc.ServerSendsChain && len(enc.Server.Chain) > 0 {
		args = append(args, "-cert_chain", filepath.Join(dir, "chain.pem"))
	}
	cmd := exec.CommandContext(ctx, openssl, args...)
	cmd.WaitDelay = time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close(); cancel(); _ = cmd.Wait() })
	s := &sServer{t: t, stdin: stdin, lines: make(chan string, 256)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	port := s.waitFor(regexp.MustCompile(`^ACCEPT .*:(\d+)$`))
	s.addr = "127.0.0.1:" + port
	return s
}

// waitFor returns the first submatch of the next output line that matches,
// failing the test after 10 s or at the end of the output.
func (s *sServer) waitFor(re *regexp.Regexp) string {
	s.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				s.t.Fatalf("s_server ended before printing a line matching %s", re)
			}
			s.t.Log("s_server: " + l)
			if m := re.FindStringSubmatch(l); m != nil {
				return m[len(m)-1]
			}
		case <-deadline:
			s.t.Fatalf("s_server printed no line matching %s within 10s", re)
		}
	}
}

func (s *sServer) send(text string) {
	if _, err := io.WriteString(s.stdin, text); err != nil {
		s.t.Errorf("s_server stdin: %v", err)
	}
}

// connectRenegotiating runs the reference client for scenario against
// s_server; once the upgrade request has arrived, script plays the
// server's part (stdin commands) with the request's Sec-WebSocket-Key.
func connectRenegotiating(t *testing.T, scenario string, cfg ClientConfig, script func(s *sServer, key string)) Verdict {
	t.Helper()
	sc, err := Lookup(scenario)
	if err != nil {
		t.Fatal(err)
	}
	enc := sc[0].Setup(testMaterials())
	s := startSServer(t, enc)
	cfg.Encounter, cfg.Addr, cfg.TLSVersion = enc, s.addr, tls.VersionTLS12
	if cfg.Timeout == 0 {
		cfg.Timeout = 3 * time.Second
	}
	done := make(chan Verdict, 1)
	go func() { done <- ReferenceClient().Connect(context.Background(), cfg) }()
	key := s.waitFor(regexp.MustCompile(`(?i)^Sec-WebSocket-Key: (\S+)`))
	s.waitFor(regexp.MustCompile(`^\r?$`)) // the end of the request's headers
	script(s, key)
	select {
	case v := <-done:
		return v
	case <-time.After(4 * cfg.Timeout):
		t.Fatal("the reference client did not return")
	}
	return Verdict{}
}

// answer101 is the WebSocket handshake's answer to key, written to
// s_server's stdin, which sends it as it is.
func answer101(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(h[:]) + "\r\n\r\n"
}

// A server that asks for the client certificate only in a renegotiation
// after the request (Apache's per-<Location> SSLVerifyClient): the
// reference client answers it with the encounter's certificate. One from
// an unknown CA is refused in the renegotiation handshake: a TLS refusal
// by the server, with the alert's reason, not an HTTP or upgrade failure.
func TestRenegotiationRefusalIsATLSRefusal(t *testing.T) {
	t.Parallel()
	v := connectRenegotiating(t, "wrong-ca-client", ClientConfig{}, func(s *sServer, _ string) { s.send("R\n") })
	L := v.Layers.TLS
	if v.Outcome != RejectedTLS || v.Layer != LayerTLS || v.RefusedBy != PartyServer || v.Reason.ID != ReasonUnknownCA ||
		!strings.Contains(v.Reason.Text, "in a renegotiation after the request, and refused it there") {
		t.Errorf("%s at %s by %q [%s] %s", v.Outcome, v.Layer, v.RefusedBy, v.Reason.ID, v.Reason.Text)
	}
	if !L.Renegotiated || L.ClientCertRequest != RequestRenegotiation || !L.ClientCertSent || L.Alert == nil || *L.Alert != 48 {
		t.Errorf("tls layer: renegotiated=%v request=%q sent=%v alert=%v", L.Renegotiated, L.ClientCertRequest, L.ClientCertSent, L.Alert)
	}
	if v.Layers.HTTP.Status != LayerSkipped {
		t.Errorf("http layer %s: %s", v.Layers.HTTP.Status, v.Layers.HTTP.Detail)
	}
}

// The same request with a valid certificate: the renegotiation completes
// and the server's 101 gets through (--accept-on upgrade: s_server does
// not echo), the verdict saying the certificate was asked for only there.
func TestRenegotiationWithAValidCertificateUpgrades(t *testing.T) {
	t.Parallel()
	v := connectRenegotiating(t, "valid-client", ClientConfig{AcceptOnUpgrade: true}, func(s *sServer, key string) {
		s.send("R\n")
		// s_server prints this once the renegotiation has finished (its
		// socket blocks), so the answer is a read of stdin of its own.
		s.waitFor(regexp.MustCompile(`^SSL_do_handshake -> 1$`))
		s.send(answer101(key))
	})
	L := v.Layers.TLS
	if v.Outcome != Accepted || !strings.Contains(v.Reason.Text, "clients that do not renegotiate") {
		t.Errorf("%s [%s] %s (%+v)", v.Outcome, v.Reason.ID, v.Reason.Text, v.Layers.HTTP)
	}
	if !L.Renegotiated || L.ClientCertRequest != RequestRenegotiation || !L.ClientCertSent {
		t.Errorf("tls layer: renegotiated=%v request=%q sent=%v", L.Renegotiated, L.ClientCertRequest, L.ClientCertSent)
	}
}

// --no-renegotiation, and a server asking a second time: the client
// refuses, and the verdict says the server asked to renegotiate
// (renegotiation-requested), in words that fit each case.
func TestRefusedRenegotiationIsRenegotiationRequested(t *testing.T) {
	t.Parallel()
	v := connectRenegotiating(t, "valid-client", ClientConfig{NoRenegotiation: true, Timeout: time.Second}, func(s *sServer, _ string) { s.send("R\n") })
	if v.Outcome != NoUpgrade || v.Reason.ID != ReasonRenegotiation || !strings.Contains(v.Reason.Text, "(--no-renegotiation)") || v.Layers.TLS.Renegotiated {
		t.Errorf("--no-renegotiation: %s [%s] %s, renegotiated=%v", v.Outcome, v.Reason.ID, v.Reason.Text, v.Layers.TLS.Renegotiated)
	}
	v = connectRenegotiating(t, "valid-client", ClientConfig{Timeout: time.Second}, func(s *sServer, _ string) {
		s.send("r\n")
		s.waitFor(regexp.MustCompile(`^SSL_do_handshake -> 1$`))
		s.send("r\n")
	})
	L := v.Layers.TLS
	if v.Outcome != NoUpgrade || v.Reason.ID != ReasonRenegotiation || !strings.Contains(v.Reason.Text, "refused the second one") {
		t.Errorf("second renegotiation: %s [%s] %s", v.Outcome, v.Reason.ID, v.Reason.Text)
	}
	// "r" asks for no certificate: the renegotiation is seen by its new
	// tls-unique alone.
	if !L.Renegotiated || L.ClientCertRequest != RequestNotSent {
		t.Errorf("tls layer: renegotiated=%v request=%q", L.Renegotiated, L.ClientCertRequest)
	}
}
