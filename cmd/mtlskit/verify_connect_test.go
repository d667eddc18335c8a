package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/pki"
)

// connectJSON is the part of verify --connect --json the tests read.
type connectJSON struct {
	SchemaVersion int    `json:"schema_version"`
	Mode          string `json:"mode"`
	Result        string `json:"result"`
	URL           string `json:"url"`
	StoppedAt     string `json:"stopped_at"`
	Input         struct {
		Host, Port, Path, Trust string
		Echo                    bool
	} `json:"input"`
	TLS *struct {
		Version     string `json:"version"`
		CipherSuite string `json:"cipher_suite"`
	} `json:"tls"`
	ServerChain *struct {
		Sent       []string `json:"sent"`
		GoVerified bool     `json:"go_verified"`
	} `json:"server_chain"`
	ClientAuth *struct {
		Requested     bool     `json:"requested"`
		AcceptableCAs []string `json:"acceptable_cas"`
	} `json:"client_auth"`
	Checks []struct {
		ID, Status, Summary string
		Evidence            []string
		Checks              []struct{ ID, Status string }
	} `json:"checks"`
	Counts statusCounts `json:"counts"`
}

func (c connectJSON) statuses() string {
	var out []string
	for _, ch := range c.Checks {
		out = append(out, ch.ID+"="+ch.Status)
	}
	return strings.Join(out, " ")
}

var cliMaterials = sync.OnceValue(func() *harness.Materials {
	m, err := harness.NewMaterials()
	if err != nil {
		panic(err)
	}
	return m
})

// serveScenario starts the reference server for a scenario and writes the
// scenario's client files (ca.pem, cert.pem, key.pem) into dir.
func serveScenario(t *testing.T, dir, name string) string {
	t.Helper()
	m := cliMaterials()
	ss, err := harness.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	e := ss[0].Setup(m)
	srv, err := harness.ReferenceServer().Start(context.Background(), harness.ServerConfig{Encounter: e, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", pki.EncodeCertsPEM(e.RootCAs...))
	if e.Client != nil {
		key, err := pki.EncodeKeyPEM(e.Client.Key)
		if err != nil {
			t.Fatal(err)
		}
		write("cert.pem", pki.EncodeCertsPEM(e.Client.FullChain()...))
		write("key.pem", key)
	}
	_, port, _ := net.SplitHostPort(srv.Addr())
	return port
}

func TestVerifyConnectThroughTheBinary(t *testing.T) {
	dir := t.TempDir()
	client := []string{"--ca", "ca.pem", "--cert", "cert.pem", "--key", "key.pem"}

	t.Run("valid endpoint passes every layer and exits 0", func(t *testing.T) {
		d := filepath.Join(dir, "valid")
		os.MkdirAll(d, 0o700)
		port := serveScenario(t, d, "valid-client")
		r := mtlskit(t, d, nil, append([]string{"verify", "--connect", "wss://localhost:" + port + "/echo"}, client...)...)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		for _, w := range []string{"PASS  live-ws-echo", "TLS 1.3", "acceptable CA: CN=mtlskit harness Root CA", "PASS: every layer passed; 0 failed"} {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("output does not say %q:\n%s", w, r.stdout)
			}
		}

		r = mtlskit(t, d, nil, append([]string{"verify", "--connect", "localhost:" + port, "--path", "/echo", "--json", "--no-echo"}, client...)...)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		var out connectJSON
		decodeJSON(t, r.stdout, &out)
		want := "live-dns=pass live-tcp=pass live-tls=pass live-server-chain=pass live-client-cert-request=pass " +
			"live-client-cert-accepted=pass live-http-upgrade=pass live-ws-echo=skip live-lax-server=skip"
		if got := out.statuses(); got != want {
			t.Errorf("checks:\n got %s\nwant %s", got, want)
		}
		if out.SchemaVersion != 1 || out.Mode != "connect" || out.Result != "pass" || out.StoppedAt != "" ||
			out.URL != "wss://localhost:"+port+"/echo" || out.Input.Path != "/echo" || out.Input.Trust != "ca" || out.Input.Echo {
			t.Errorf("header fields wrong: %+v", out)
		}
		if out.TLS == nil || out.TLS.Version != "TLS 1.3" || out.TLS.CipherSuite == "" {
			t.Errorf("tls: %+v", out.TLS)
		}
		if out.ServerChain == nil || !out.ServerChain.GoVerified || len(out.ServerChain.Sent) != 1 {
			t.Errorf("server_chain: %+v", out.ServerChain)
		}
		if out.ClientAuth == nil || !out.ClientAuth.Requested || len(out.ClientAuth.AcceptableCAs) != 1 {
			t.Errorf("client_auth: %+v", out.ClientAuth)
		}
		if len(out.Checks[3].Checks) == 0 {
			t.Errorf("live-server-chain carries no offline checks")
		}
		if out.Counts.Pass != 7 || out.Counts.Skip != 2 {
			t.Errorf("counts %+v", out.Counts)
		}
	})

	t.Run("no client certificate: refused on the first read, exit 1", func(t *testing.T) {
		d := filepath.Join(dir, "nocert")
		os.MkdirAll(d, 0o700)
		port := serveScenario(t, d, "valid-client")
		r := mtlskit(t, d, nil, "verify", "--connect", "localhost:"+port, "--path", "/echo", "--ca", "ca.pem", "--json")
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
		}
		var out connectJSON
		decodeJSON(t, r.stdout, &out)
		if out.Result != "fail" || out.StoppedAt != "live-client-cert-accepted" {
			t.Errorf("result %s, stopped at %s", out.Result, out.StoppedAt)
		}
		want := "live-dns=pass live-tcp=pass live-tls=pass live-server-chain=pass live-client-cert-request=pass " +
			"live-client-cert-accepted=fail live-http-upgrade=skip live-ws-echo=skip live-lax-server=pass"
		if got := out.statuses(); got != want {
			t.Errorf("checks:\n got %s\nwant %s", got, want)
		}
		if !strings.Contains(out.Checks[5].Summary, "alert 116 certificate_required") {
			t.Errorf("the refusal is not named: %s", out.Checks[5].Summary)
		}
	})

	t.Run("CN-only server: stops at the chain with the offline checks, exit 1", func(t *testing.T) {
		d := filepath.Join(dir, "cnonly")
		os.MkdirAll(d, 0o700)
		port := serveScenario(t, d, "server-missing-san")
		r := mtlskit(t, d, nil, append([]string{"verify", "--connect", "localhost:" + port}, client...)...)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
		}
		for _, w := range []string{"FAIL  live-server-chain", "FAIL  san-present", "Common Name", "fix: mtlskit issue server --san localhost", "FAIL: stopped at live-server-chain"} {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("output does not say %q:\n%s", w, r.stdout)
			}
		}
	})

	t.Run("usage errors exit 2", func(t *testing.T) {
		for _, args := range [][]string{
			{"--connect", "localhost:8443", "--cert", "cert.pem"},
			{"--connect", "localhost:8443", "--key", "key.pem"},
			{"--connect", "localhost"},
			{"--connect", "ws://localhost:8443/"},
			{"--connect", "ftp://localhost:8443/"},
			{"--connect", "localhost:99999"},
			{"--connect", "wss://localhost:8443/a", "--path", "/b"},
			{"--connect", "localhost:8443", "--path", "ws"},
			{"--connect", "localhost:8443", "--host", "localhost"},
			{"--connect", "localhost:8443", "--timeout", "0s"},
			{"--no-echo"},
			{"--path", "/ws"},
		} {
			r := mtlskit(t, dir, nil, append([]string{"verify"}, args...)...)
			if r.code != 2 || r.stderr == "" || r.stdout != "" {
				t.Errorf("verify %v: exit %d, want 2 with a message\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
			}
		}
	})

	t.Run("nothing listening: stops at tcp, exit 1", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		r := mtlskit(t, dir, nil, "verify", "--connect", addr, "--timeout", "2s")
		if r.code != 1 || !strings.Contains(r.stdout, "FAIL  live-tcp") || !strings.Contains(r.stdout, "connection refused") {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
}
