package report

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/pki"
)

// WriteKeep writes, for every scenario of the report, a directory
// dir/NAME holding the encounter's certificates and keys and a repro.sh
// that replays its TLS layer with openssl s_server, openssl s_client and
// curl. Directories are 0700 and keys 0600.
func WriteKeep(dir string, rep *harness.Report) error {
	if rep.Materials == nil {
		return fmt.Errorf("the report has no materials to keep")
	}
	if err := mkdirPrivate(dir); err != nil {
		return err
	}
	for _, r := range rep.Results {
		if err := keepOne(filepath.Join(dir, r.Scenario.Name), r, r.Scenario.Setup(rep.Materials)); err != nil {
			return fmt.Errorf("keeping scenario %s: %w", r.Scenario.Name, err)
		}
	}
	return nil
}

func mkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}

func writeFile(path string, data []byte, mode os.FileMode) error {
	if err := os.WriteFile(path, data, mode); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}

func keepOne(dir string, r harness.Result, e harness.Encounter) error {
	if err := mkdirPrivate(dir); err != nil {
		return err
	}
	files := map[string][]byte{
		"ca.pem":          pki.EncodeCertsPEM(e.RootCAs...),
		"client-ca.pem":   pki.EncodeCertsPEM(e.ClientCAs...),
		"server-cert.pem": pki.EncodeCertsPEM(e.Server.Cert),
	}
	serverChain := e.Server.Chain
	if !e.ServerSendsChain {
		serverChain = nil
	}
	files["server-chain.pem"] = pki.EncodeCertsPEM(serverChain...)
	keys := map[string]*pki.Issued{"server.key": e.Server}
	if e.Client != nil {
		files["client-cert.pem"] = pki.EncodeCertsPEM(e.Client.Cert)
		clientChain := e.Client.Chain
		if !e.ClientSendsChain {
			clientChain = nil
		}
		files["client-chain.pem"] = pki.EncodeCertsPEM(clientChain...)
		files["client.pem"] = pki.EncodeCertsPEM(append([]*x509.Certificate{e.Client.Cert}, clientChain...)...)
		keys["client.key"] = e.Client
	}
	for name, data := range files {
		if err := writeFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	for name, iss := range keys {
		pemKey, err := pki.EncodeKeyPEM(iss.Key)
		if err != nil {
			return err
		}
		if err := writeFile(filepath.Join(dir, name), pemKey, 0o600); err != nil {
			return err
		}
	}
	return writeFile(filepath.Join(dir, "repro.sh"), []byte(reproScript(r, e)), 0o755)
}

// reproScript replays the encounter's TLS layer with OpenSSL and curl.
func reproScript(r harness.Result, e harness.Encounter) string {
	s := r.Scenario
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	p("#!/usr/bin/env bash")
	p("# Reproduces mtlskit harness scenario %q outside mtlskit.", s.Name)
	p("#   %s-side: %s", s.Side, s.Description)
	p("#   expected: %s; mtlskit observed: %s (%s)", s.Expect, r.Outcome, r.Reason.ID)
	p("#   %s", strings.ReplaceAll(r.Reason.Text, "\n", " "))
	p("#")
	if s.Side == harness.ServerSide {
		p("# The server is judged here. openssl s_server stands in for a strict server")
		p("# (-Verify 1 -verify_return_error: require and verify client certificates")
		p("# against client-ca.pem, -purpose sslclient: check the clientAuth usage).")
		p("# To judge your own server instead, start it with server-cert.pem,")
		p("# server.key and client-ca.pem and set PORT to its port with NO_SERVER=1;")
		p("# ('mtlskit harness echo' is a ws:// echo backend to put behind a TLS front.)")
	} else {
		p("# The client is judged here. openssl s_server plays the scenario's server;")
		p("# openssl s_client and curl are the strict clients under test. For a reject")
		p("# scenario both must refuse (s_client prints the verify error and exits 1,")
		p("# curl exits non-zero); for an accept scenario both must connect.")
	}
	for _, line := range s.ReproNote {
		p("# " + line)
	}
	p("# The TLS version follows OpenSSL's defaults (TLS 1.3 where both agree).")
	p("set -u")
	p(`cd "$(dirname "$0")"`)
	p(`PORT="${PORT:-18443}"`)
	p(`if [ -z "${NO_SERVER:-}" ]; then`)
	chain := ""
	if e.ServerSendsChain && len(e.Server.Chain) > 0 {
		chain = " -cert_chain server-chain.pem"
	}
	p(`  openssl s_server -quiet -accept "127.0.0.1:$PORT" -cert server-cert.pem -key server.key%s \`, chain)
	p(`    -CAfile client-ca.pem -Verify 1 -verify_return_error -purpose sslclient -www </dev/null &`)
	p(`  server=$!`)
	p(`  trap 'kill "$server" 2>/dev/null' EXIT`)
	p(`  sleep 1`)
	p(`fi`)
	host := e.Dial.Host()
	verifyName := "-servername localhost -verify_hostname localhost"
	url := `https://localhost:$PORT/`
	resolve := ` --resolve "localhost:$PORT:127.0.0.1"`
	if e.Dial == harness.DialByAddress {
		verifyName, url, resolve = "-verify_ip 127.0.0.1", `https://127.0.0.1:$PORT/`, ""
	}
	clientArgs, curlArgs := "", ""
	if e.Client != nil {
		clientArgs = " -cert client-cert.pem -key client.key"
		if e.ClientSendsChain && len(e.Client.Chain) > 0 {
			clientArgs += " -cert_chain client-chain.pem"
		}
		curlArgs = " --cert client.pem --key client.key"
	}
	p(`echo "== openssl s_client (dials %s) =="`, host)
	p(`echo Q | openssl s_client -connect "127.0.0.1:$PORT" %s -CAfile ca.pem -verify_return_error -purpose sslserver%s 2>&1 | grep -E "Verify return code|verify error|alert|CONNECTED|HTTP/" ; echo "s_client exit: ${PIPESTATUS[1]}"`, verifyName, clientArgs)
	p(`echo "== curl (dials %s) =="`, host)
	p(`curl --silent --show-error --max-time 5 --cacert ca.pem%s%s "%s" -o /dev/null -w "HTTP %%{http_code}\n"; echo "curl exit: $?"`, curlArgs, resolve, url)
	return b.String()
}
