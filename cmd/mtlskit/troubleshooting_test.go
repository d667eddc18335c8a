package main

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// docs/troubleshooting.md quotes error messages. Every message it marks
// as produced here is produced by this test, by the named tool against
// the named harness scenario, and the test checks that the page quotes it
// verbatim: neither can drift from the other.

// quote is one message of the guide.
type quote struct {
	source  string // which run produced it (see TestTroubleshootingMessages)
	message string // the exact substring, as the guide quotes it
}

var troubleshootingQuotes = []quote{
	// Go (crypto/tls, crypto/x509), from `mtlskit harness run --format json`.
	{"go-tls13", "x509: certificate relies on legacy Common Name field, use SANs instead"},
	{"go-tls13", "x509: certificate signed by unknown authority"},
	{"go-tls13", "x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs"},
	{"go-tls13", "x509: certificate is valid for not-this-host.example, not localhost"},
	{"go-tls13", "x509: certificate has expired or is not yet valid"},
	{"go-tls13", "x509: certificate specifies an incompatible key usage"},
	{"go-nocert-tls13", "remote error: tls: certificate required"},
	{"go-tls13", "tls: client didn't provide a certificate"},
	{"go-tls12", "remote error: tls: handshake failure"},
	{"go-tls12", "remote error: tls: bad certificate"},
	{"go-tls12", "remote error: tls: unknown certificate authority"},
	{"go-tls12", "remote error: tls: expired certificate"},

	// openssl s_client (the openssl-s_client snippet).
	{"openssl:server-wrong-ca", "verify error:num=20:unable to get local issuer certificate"},
	{"openssl:server-missing-intermediate", "verify error:num=20:unable to get local issuer certificate"},
	{"openssl:server-client-eku", "verify error:num=26:unsuitable certificate purpose"},
	{"openssl:server-hostname-mismatch", "verify error:num=62:hostname mismatch"},
	{"openssl:server-self-signed", "verify error:num=18:self-signed certificate"},
	{"openssl:server-expired", "verify error:num=10:certificate has expired"},

	// curl (the curl snippet; without --cert for 35 and 56).
	{"curl:server-wrong-ca", "curl: (60) SSL certificate problem: unable to get local issuer certificate"},
	{"curl:server-hostname-mismatch", "curl: (60) SSL: no alternative certificate subject name matches target host name 'localhost'"},
	{"curl-nocert-tls12", "curl: (35) OpenSSL/"},
	{"curl-nocert-tls12", "sslv3 alert handshake failure"},
	{"curl-nocert-tls13", "curl: (56) OpenSSL SSL_read: OpenSSL/"},
	{"curl-nocert-tls13", "tlsv13 alert certificate required"},

	// nginx (the nginx snippet, judged by harness run; its error.log at info).
	{"nginx-json", "400 No required SSL certificate was sent"},
	{"nginx-json", "400 The SSL certificate error"},
	{"nginx-errorlog", "client sent no required SSL certificate while reading client request headers"},
	{"nginx-errorlog", "client SSL certificate verify error: (21:unable to verify the first certificate) while reading client request headers"},
	{"nginx-errorlog", "client SSL certificate verify error: (10:certificate has expired)"},
	{"nginx-errorlog", "client SSL certificate verify error: (26:unsuitable certificate purpose)"},

	// Python ssl + websockets (the python-client snippet; the fixture
	// client without a certificate for the TLS 1.3 refusal).
	{"python:server-wrong-ca", "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate"},
	{"python:server-self-signed", "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate"},
	{"python:server-expired", "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired"},
	{"python:server-missing-san", "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, certificate is not valid for 'localhost'."},
	{"python:server-ip-not-in-san", "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: IP address mismatch, certificate is not valid for '127.0.0.1'."},
	{"python:server-client-eku", "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unsuitable certificate purpose"},
	{"python-nocert", "did not receive a valid HTTP response"},

	// Node.js (the node-client snippet's TLS options).
	{"node:server-wrong-ca", "UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate"},
	{"node:server-missing-intermediate", "UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate"},
	{"node:server-hostname-mismatch", "ERR_TLS_CERT_ALTNAME_INVALID: Hostname/IP does not match certificate's altnames: Host: localhost. is not in the cert's altnames: DNS:not-this-host.example"},
	{"node:server-ip-not-in-san", "ERR_TLS_CERT_ALTNAME_INVALID: Hostname/IP does not match certificate's altnames: IP: 127.0.0.1 is not in the cert's list"},
	{"node:server-self-signed", "DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate"},
	{"node:server-expired", "CERT_HAS_EXPIRED: certificate has expired"},
	{"node:server-client-eku", "INVALID_PURPOSE: unsuitable certificate purpose"},

	// Java (HttpsURLConnection, a truststore made with keytool).
	{"java:server-wrong-ca", "javax.net.ssl.SSLHandshakeException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target"},
	{"java:server-hostname-mismatch", "javax.net.ssl.SSLHandshakeException: No subject alternative DNS name matching localhost found."},
}

// fromLog are the bug log's own messages, quoted by the guide as such
// (EventMachine, Faye and async are not installed here, so they are quoted, not reproduced).
var fromLog = []string{
	"Unable to verify the server certificate for 'localhost'",
	"TypeError: no implicit conversion of Puma::MiniSSL::Socket into Integer",
	"WebSocket::Driver::ConfigurationError - Unrecognized option: :socket",
	"certificate verify failed",
	"NoMethodError: undefined method 'websocket?'",
}

func TestTroubleshootingMessages(t *testing.T) {
	doc, err := os.ReadFile("../../docs/troubleshooting.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range troubleshootingQuotes {
		if !strings.Contains(string(doc), q.message) {
			t.Errorf("docs/troubleshooting.md does not quote %q (%s)", q.message, q.source)
		}
	}
	for _, m := range fromLog {
		if !strings.Contains(string(doc), m) {
			t.Errorf("docs/troubleshooting.md does not quote the log's %q", m)
		}
	}
	if seed, err := filepath.Glob("/work/shared/seed/*.txt"); err == nil && len(seed) > 0 {
		var log []byte
		for _, f := range seed {
			b, _ := os.ReadFile(f)
			log = append(log, b...)
		}
		for _, m := range fromLog {
			if !strings.Contains(string(log), m) {
				t.Errorf("the bug log does not contain %q, which the guide says it quotes", m)
			}
		}
	}

	l := newSnippetLab(t)
	l.serve(t)
	outputs := map[string]string{}
	need := map[string]bool{}
	for _, q := range troubleshootingQuotes {
		need[q.source] = true
	}
	tool := func(name string) bool { _, err := exec.LookPath(name); return err == nil }

	// Go: the reference pair, in TLS 1.3 and 1.2.
	for src, args := range map[string][]string{"go-tls13": {"--tls-version", "1.3"}, "go-tls12": {"--tls-version", "1.2"}} {
		r := mtlskit(t, l.dir, nil, append([]string{"harness", "run", "--format", "json"}, args...)...)
		outputs[src] = r.stdout
	}
	// Go's crypto/tls client without a certificate, TLS 1.3: the
	// handshake succeeds and the server's refusal arrives on the first read.
	outputs["go-nocert-tls13"] = goNoCertRead(t, l)
	// Client snippets against the scenario servers.
	py := ""
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(p); err == nil && exec.Command(path, "-c", "import websockets").Run() == nil {
			py = path
			break
		}
	}
	node, nodePath := "", ""
	if tool("node") {
		node, nodePath = nodeWS(t)
	}
	for src := range need {
		stack, scenario, ok := strings.Cut(src, ":")
		if !ok {
			continue
		}
		url := l.urls[scenario]
		switch stack {
		case "openssl":
			if tool("openssl") {
				outputs[src] = shellClient(l, "openssl-s_client")(t, url).output
			}
		case "curl":
			if tool("curl") {
				outputs[src] = shellClient(l, "curl")(t, url).output
			}
		case "python":
			if py != "" {
				outputs[src] = pythonClient(l, py)(t, url).output
			}
		case "node":
			switch {
			case node != "" && nodePath != "":
				outputs[src] = nodeClient(l, node, []string{"NODE_PATH=" + nodePath})(t, url).output
			case node != "":
				outputs[src] = nodeUpgradeClient(l, node)(t, url).output
			}
		case "java":
			if tool("java") && tool("keytool") {
				outputs[src] = javaClient(t, l, url)
			}
		}
	}
	// curl without a client certificate, refused by the server in TLS 1.2
	// (in the handshake: exit 35) and TLS 1.3 (after it: exit 56).
	if tool("curl") {
		https := strings.Replace(l.urls["valid-server"], "wss://", "https://", 1)
		ca := filepath.Join(l.store, "ca", "root.pem")
		for src, extra := range map[string][]string{"curl-nocert-tls12": {"--tls-max", "1.2"}, "curl-nocert-tls13": {"--tlsv1.3"}} {
			r := execTool(t, l.dir, nil, 30*time.Second, append(append([]string{"curl", "--http1.1", "-sS", "--cacert", ca, "-o", "/dev/null"}, extra...), https)...)
			want := map[string]int{"curl-nocert-tls12": 35, "curl-nocert-tls13": 56}[src]
			if r.code != want {
				t.Errorf("%s: curl exit %d, want %d:\n%s", src, r.code, want, r.output)
			}
			outputs[src] = r.output
		}
	}
	// Python's websockets without a client certificate, in TLS 1.3.
	if py != "" {
		client, err := filepath.Abs("../../fixtures/subjects/python-websockets/client.py")
		if err != nil {
			t.Fatal(err)
		}
		r := execTool(t, l.dir, nil, 30*time.Second, py, client,
			l.urls["valid-server"], filepath.Join(l.store, "ca", "root.pem"), "-", "-")
		outputs["python-nocert"] = r.output
	}
	// nginx: the snippet judged by the harness, and its error log.
	if tool("nginx") {
		port, run, out := startNginxSnippet(t, l)
		outputs["nginx-json"] = judgeServerSnippet(t, l, port, out)
		waitFor(t, "nginx did not log the refusals", 5*time.Second, out, func() bool {
			b, _ := os.ReadFile(filepath.Join(run, "error.log"))
			outputs["nginx-errorlog"] = string(b)
			return strings.Contains(string(b), "client SSL certificate verify error")
		})
	}

	for _, q := range troubleshootingQuotes {
		out, ok := outputs[q.source]
		if !ok {
			t.Logf("not produced (tool missing): %s %q", q.source, q.message)
			continue
		}
		if !strings.Contains(out, q.message) {
			t.Errorf("%s did not produce %q; it printed:\n%s", q.source, q.message, clip(out))
		}
	}
}

func clip(s string) string {
	if len(s) > 3000 {
		return s[:3000] + "..."
	}
	return s
}

// javaClient runs a tiny HttpsURLConnection program (the source-file
// launcher, no build step) against url, trusting only the store's CA
// through a PKCS#12 truststore made with keytool.
func javaClient(t *testing.T, l *snippetLab, url string) string {
	t.Helper()
	dir := filepath.Join(l.dir, "java")
	trust := filepath.Join(dir, "trust.p12")
	if _, err := os.Stat(trust); err != nil {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		r := execTool(t, dir, nil, 60*time.Second, "keytool", "-importcert", "-noprompt", "-alias", "root",
			"-file", filepath.Join(l.store, "ca", "root.pem"), "-keystore", trust, "-storetype", "PKCS12", "-storepass", "changeit")
		if r.code != 0 {
			t.Fatalf("keytool: %s", r.output)
		}
		src := `import java.net.URL;
import javax.net.ssl.HttpsURLConnection;

public class Probe {
    public static void main(String[] args) throws Exception {
        HttpsURLConnection c = (HttpsURLConnection) new URL(args[0]).openConnection();
        c.setConnectTimeout(10000);
        c.setReadTimeout(10000);
        try {
            System.out.println("HTTP " + c.getResponseCode());
        } catch (Exception e) {
            System.out.println(e);
            System.exit(1);
        }
    }
}
`
		if err := os.WriteFile(filepath.Join(dir, "Probe.java"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	https := regexp.MustCompile(`^wss://`).ReplaceAllString(url, "https://")
	r := execTool(t, dir, nil, 90*time.Second, "java", "-Xshare:auto", "-XX:TieredStopAtLevel=1",
		"-Djavax.net.ssl.trustStore="+trust, "-Djavax.net.ssl.trustStorePassword=changeit", "-Djavax.net.ssl.trustStoreType=PKCS12",
		"Probe.java", https)
	if r.code == 0 {
		t.Errorf("java accepted %s:\n%s", url, r.output)
	}
	return r.output
}

// goNoCertRead dials valid-server with Go's crypto/tls, trusting the
// store's CA and presenting no certificate, and returns the error of the
// first read.
func goNoCertRead(t *testing.T, l *snippetLab) string {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(l.store, "ca", "root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	u, err := neturl.Parse(l.urls["valid-server"])
	if err != nil {
		t.Fatal(err)
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", u.Host, &tls.Config{RootCAs: roots, ServerName: u.Hostname(), MinVersion: tls.VersionTLS13})
	if err != nil {
		return err.Error()
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")); err != nil {
		return err.Error()
	}
	_, err = conn.Read(make([]byte, 1))
	if err == nil {
		t.Fatal("the server answered a client without a certificate")
	}
	return err.Error()
}
