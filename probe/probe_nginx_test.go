package probe

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/pki"
)

// startNginx runs nginx in the foreground with a minimal TLS server on a
// free loopback port: the materials' server certificate, client
// certificates checked against their root with ssl_verify_client set to
// verify ("on" or "optional"), and `return 200` for every path. It is
// stopped at the end of the test. The test is skipped when nginx is not
// installed (.ci/run installs nginx-light).
func startNginx(t *testing.T, m *harness.Materials, verify string) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
			if _, e := os.Stat(p); e == nil {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		t.Skip("nginx is not installed (apt-get install nginx-light)")
	}
	dir := t.TempDir()
	key, err := pki.EncodeKeyPEM(m.Server.Key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cert := write("server.pem", pki.EncodeCertsPEM(m.Server.FullChain()...))
	keyPath := write("server.key", key)
	ca := write("ca.pem", pki.EncodeCertsPEM(m.Root.Cert))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  server {
    listen %[2]s ssl;
    server_name localhost;
    ssl_certificate %[3]s;
    ssl_certificate_key %[4]s;
    ssl_client_certificate %[5]s;
    ssl_verify_client %[6]s;
    location / { return 200 "ok\n"; }
  }
}
`, dir, addr, cert, keyPath, ca, verify)
	confPath := write("nginx.conf", []byte(conf))
	cmd := exec.Command(bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", confPath)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting nginx: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("nginx (pid %d) did not exit after SIGKILL", cmd.Process.Pid)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited (%v) before listening:\n%s\n%s", err, out.String(), log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not listen on %s within 10s:\n%s\n%s", addr, out.String(), log)
		}
	}
}

func TestProbeAgainstNginx(t *testing.T) {
	m := probeMaterials()
	cases := []struct {
		name, verify string
		client       *pki.Issued
		want         probeWant
	}{
		{"on/no-client-cert", "on", nil, probeWant{
			statuses:  statuses(pass, pass, pass, pass, pass, fail, fail, skip, pass),
			stoppedAt: LiveHTTPUpgrade,
			words: map[string][]string{
				LiveHTTPUpgrade: {"400 Bad Request", "No required SSL certificate was sent", "| <head><title>400 No required SSL certificate was sent</title></head>", "Server: nginx"},
				LiveLaxServer:   {"at the HTTP layer (400)"},
			}}},
		{"optional/no-client-cert", "optional", nil, probeWant{
			statuses:  statuses(pass, pass, pass, pass, pass, skip, fail, skip, fail),
			stoppedAt: LiveHTTPUpgrade,
			words: map[string][]string{
				LiveHTTPUpgrade: {"200 OK instead of 101", "| ok"},
				LiveLaxServer:   {"the server accepted a client without a certificate", "answered 200"},
			}}},
		{"on/valid-client", "on", m.Client, probeWant{
			statuses:  statuses(pass, pass, pass, pass, pass, pass, fail, skip, skip),
			stoppedAt: LiveHTTPUpgrade,
			words:     map[string][]string{LiveHTTPUpgrade: {"200 OK instead of 101"}}}},
		{"on/wrong-ca-client", "on", m.ClientOtherCA, probeWant{
			statuses:  statuses(pass, pass, pass, pass, warn, fail, fail, skip, skip),
			stoppedAt: LiveHTTPUpgrade,
			words: map[string][]string{
				LiveClientCertAccepted: {"at the HTTP layer", "The SSL certificate error"},
				LiveHTTPUpgrade:        {"400 Bad Request"},
			}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := startNginx(t, m, tc.verify)
			_, port, _ := net.SplitHostPort(addr)
			cfg := Config{Host: "localhost", Port: port, Roots: []*x509.Certificate{m.Root.Cert}, Echo: true, Timeout: 5 * time.Second}
			if tc.client != nil {
				c := tc.client.TLSCertificate(true)
				cfg.ClientCert = &c
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep := Probe(ctx, cfg)
			checkProbe(t, rep, tc.want)
			if rep.TLS == nil || (rep.TLS.Version != "TLS 1.3" && rep.TLS.Version != "TLS 1.2") {
				t.Errorf("TLS version not reported: %+v", rep.TLS)
			}
		})
	}
}

// lockedBuffer collects a process's output safely while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
