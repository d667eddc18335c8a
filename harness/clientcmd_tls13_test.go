package harness

import (
	"context"
	"crypto/tls"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/internal/wire"
)

// pyBlocking is a WebSocket client on Python's blocking ssl module
// (OpenSSL, like Ruby's OpenSSL, curl and openssl s_client): unlike
// asyncio, it sends its alert when it refuses the server certificate. It
// speaks just enough RFC 6455 to send one text message and read it back.
const pyBlocking = `import base64, os, socket, ssl, struct, sys
from urllib.parse import urlparse
u = urlparse(sys.argv[1])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.hostname_checks_common_name = False
ctx.load_verify_locations(sys.argv[2].replace("cert.pem", "ca.pem"))
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
try:
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", u.port), timeout=5), server_hostname=u.hostname)
except ssl.SSLError as e:
    print(f"{type(e).__name__}: {e}")
    sys.exit(1)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(f"GET / HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
if not head.startswith(b"HTTP/1.1 101"):
    print("no upgrade:", head.split(b"\r\n")[0].decode())
    sys.exit(1)
msg = b"hello from blocking ssl"
mask = os.urandom(4)
s.sendall(bytes([0x81, 0x80 | len(msg)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(msg)))
hdr = s.recv(2)
data = b""
while len(data) < (hdr[1] & 0x7f):
    data += s.recv(64)
if data != msg:
    print("echo mismatch:", data)
    sys.exit(1)
s.sendall(bytes([0x88, 0x82]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(struct.pack("!H", 1000))))
print("echo ok")
`

// openSSLReasons is what an OpenSSL client's refusals come to: the alert
// it sends (42 bad_certificate for a host name or a not-yet-valid
// certificate, 43 for a wrong key usage) refined by its verify message.
var openSSLReasons = map[string]ReasonID{
	"server-missing-san": ReasonHostMismatch, "server-wrong-ca": ReasonUnknownCA,
	"server-self-signed": ReasonUnknownCA, "server-expired": ReasonExpired,
	"server-not-yet-valid": ReasonNotYetValid, "server-hostname-mismatch": ReasonHostMismatch,
	"server-ip-not-in-san": ReasonNoIPSAN, "server-client-eku": ReasonIncompatibleKeyUsage,
	"server-missing-intermediate": ReasonUnknownCA,
}

// In TLS 1.3 an OpenSSL client that refuses the server certificate sends
// its alert in plaintext (it switches to its handshake keys only to send
// its own flight); crypto/tls, expecting that flight encrypted, reports a
// bad record MAC. The harness reads the alert from the wire: the verdict
// is the same in both versions, and was "the server refused the client:
// local error: tls: bad record MAC" (a false FAIL) in TLS 1.3.
func TestOpenSSLClientRefusalReadInBothVersions(t *testing.T) {
	for _, v := range []struct {
		name string
		ver  uint16
	}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}} {
		t.Run(v.name, func(t *testing.T) {
			res := runClientCmd(t, pyClient(t, pyBlocking), OfSide(Scenarios(), ClientSide), v.ver)
			for _, name := range []string{"valid-server", "server-full-chain"} {
				if r := res[name]; !r.Pass || r.Outcome != Accepted {
					t.Errorf("%s: pass=%v %s/%s: %s", name, r.Pass, r.Outcome, r.Reason.ID, r.Reason.Text)
				}
			}
			for name, id := range openSSLReasons {
				r := res[name]
				if !r.Pass || r.Outcome != RejectedTLS || r.RefusedBy != PartyClient || r.Reason.ID != id || r.Server == nil || r.Server.TLS.AlertReceived == nil || !strings.Contains(r.Reason.Text, "the client aborted the handshake") {
					t.Errorf("%s: pass=%v %s by %q [%s] want [%s]: %s (%s)", name, r.Pass, r.Outcome, r.RefusedBy, r.Reason.ID, id, r.Reason.Text, r.Mismatch)
					continue
				}
				if v.ver == tls.VersionTLS13 && (!r.Server.TLS.AbortedAfterFlight || !strings.Contains(r.Server.TLS.Detail, "sent in plaintext") || !strings.Contains(r.Server.TLS.Error, "bad record MAC")) {
					t.Errorf("%s: server observation %+v", name, r.Server.TLS)
				}
			}
		})
	}
}

// curl and openssl s_client are OpenSSL too; neither speaks WebSocket
// (their valid-server control fails, so their refusals are inconclusive),
// but their refusals are read the same way in both versions.
func TestCurlAndSClientRefusalsInBothVersions(t *testing.T) {
	for _, c := range []struct{ tool, cmd string }{
		{"curl", "curl -sS --cacert {ca} --cert {cert} --key {key} https://{host}:{port}/"},
		{"openssl", "sh -c 'openssl s_client -connect 127.0.0.1:$0 -servername $1 -CAfile $2 -cert $3 -key $4 -brief -verify_return_error -verify_hostname $1 </dev/null' {port} {host} {ca} {cert} {key}"},
	} {
		if _, err := exec.LookPath(c.tool); err != nil {
			t.Logf("%s is not installed", c.tool)
			continue
		}
		tpl, err := ParseTemplate(c.cmd)
		if err != nil {
			t.Fatal(err)
		}
		for _, ver := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			var scenarios []Scenario
			for _, name := range []string{"server-wrong-ca", "server-expired", "server-hostname-mismatch"} {
				s, _ := Lookup(name)
				scenarios = append(scenarios, s...)
			}
			res := runClientCmd(t, tpl, scenarios, ver)
			for _, s := range scenarios {
				r := res[s.Name]
				// curl checks the host name itself after the handshake and
				// hangs up: the reason comes from its message.
				postHandshake := c.tool == "curl" && s.Name == "server-hostname-mismatch"
				if r.Outcome != RejectedTLS || r.RefusedBy != PartyClient || r.Reason.ID != openSSLReasons[s.Name] || r.Server == nil || (r.Server.TLS.AlertReceived == nil) != postHandshake {
					t.Errorf("%s %s %s: %s by %q [%s]: %s", c.tool, tls.VersionName(ver), s.Name, r.Outcome, r.RefusedBy, r.Reason.ID, r.Reason.Text)
				}
			}
		}
	}
}

// corruptAfterHello corrupts every write after the first (the
// ClientHello): the client's second flight reaches the server as records
// it cannot decrypt.
type corruptAfterHello struct {
	net.Conn
	writes int
}

func (c *corruptAfterHello) Write(p []byte) (int, error) {
	c.writes++
	if c.writes > 1 && len(p) > 12 {
		q := append([]byte(nil), p...)
		for i := 12; i < len(q); i++ {
			q[i] ^= 0x55
		}
		p = q
	}
	return c.Conn.Write(p)
}

// A TLS 1.3 client that answers the server's flight with a record that is
// not a readable alert aborted after seeing the certificate; the server
// says so, and that its alert could not be read.
func TestServerRecordsAnUnreadableAbortAfterItsFlight(t *testing.T) {
	m := testMaterials()
	e := standard(m)
	srv, err := ReferenceServer().Start(context.Background(), ServerConfig{Encounter: e, TLSVersion: tls.VersionTLS13, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{ServerName: "localhost", RootCAs: wire.CertPool(e.RootCAs), Certificates: []tls.Certificate{e.Client.TLSCertificate(true)}, MinVersion: tls.VersionTLS13}
	tc := tls.Client(&corruptAfterHello{Conn: raw}, cfg)
	_ = tc.SetDeadline(time.Now().Add(3 * time.Second))
	_ = tc.Handshake()
	_, _ = tc.Read(make([]byte, 1))
	tc.Close()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	obs := srv.Observations()
	if len(obs) != 1 {
		t.Fatalf("%d observations", len(obs))
	}
	o := obs[0].TLS
	if !o.AbortedAfterFlight || o.AlertReceived != nil || o.Reason != nil || !strings.Contains(o.Detail, "its alert could not be read (it arrived as: local error: tls: bad record MAC)") {
		t.Errorf("%+v", o)
	}
}

// The verdict of such an abort: a refusal by the client (it never
// finished the handshake and sent no data), whose reason comes from its
// output or is not readable.
func TestUnreadableAbortVerdict(t *testing.T) {
	obs := ServerObservation{Subject: "reference"}
	obs.TLS.Status, obs.TLS.Version, obs.TLS.Negotiated, obs.TLS.HelloReceived, obs.TLS.AbortedAfterFlight = LayerFailed, "TLS 1.3", tls.VersionTLS13, true, true
	obs.TLS.Error = "local error: tls: bad record MAC"
	for _, tc := range []struct {
		out  string
		id   ReasonID
		text string
	}{
		{"Error: certificate verify failed: certificate has expired", ReasonExpired, "its output names a certificate verification error"},
		{"connection failed", ReasonHandshakeAborted, "the client aborted the handshake after receiving the server certificate; reason not readable"},
	} {
		v := Verdict{Client: &ClientProcess{ExitCode: 1, Output: []string{tc.out}}}
		(&ClientCommand{}).combine(&v, []ServerObservation{obs})
		s, _ := Lookup("server-expired")
		pass, why := judge(s[0], v, false)
		if v.Outcome != RejectedTLS || v.RefusedBy != PartyClient || v.Reason.ID != tc.id || !strings.Contains(v.Reason.Text, tc.text) || !pass {
			t.Errorf("%q: %s by %q [%s] pass=%v (%s): %s", tc.out, v.Outcome, v.RefusedBy, v.Reason.ID, pass, why, v.Reason.Text)
		}
	}
}
