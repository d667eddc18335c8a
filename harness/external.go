package harness

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mtlskit/mtlskit/internal/wire"
	"github.com/mtlskit/mtlskit/pki"
)

// ParseTarget checks a server's endpoint (wss://HOST[:PORT]/PATH, or
// HOST:PORT for the path /) and returns its wss:// URL and the host:port
// to dial. Its errors are *wire.EndpointError.
func ParseTarget(target string) (wssURL, addr string, err error) {
	e, err := wire.ParseEndpoint(target)
	if err != nil {
		return "", "", err
	}
	return e.URL(), e.Addr(), nil
}

// TargetServer is a server that is already running at a wss:// URL: the
// harness neither starts nor stops it and cannot see inside it, so its
// verdicts rest on what the reference client saw.
func TargetServer(target string) (ServerSubject, error) {
	url, addr, err := ParseTarget(target)
	if err != nil {
		return nil, err
	}
	return &targetServer{url: url, addr: addr, name: target,
		noCRL: "the server was started outside the harness, so it cannot be handed the run's CRL ({crl}): judge revocation with --server-cmd"}, nil
}

type targetServer struct {
	url, addr string
	// alive, when set, reports why the server cannot be reached (a
	// server command that has exited).
	alive func() error
	name  string
	// noCRL says why the server was not handed the run's CRL: a running
	// target cannot be, a command whose template lacks {crl} was not.
	noCRL string
	// proc is the server command the harness started (nil for a
	// target): server-cert-rotation rewrites its files.
	proc *ServerProcess
	// ocsp is the run's OCSP responder the server was pointed at
	// ({ocsp}), nil when it was not.
	ocsp *runOCSP
}

// ocspEvidence is what the server asked the run's OCSP responder about
// the revoked client; nil when it was given none.
func (t *targetServer) ocspEvidence() *RevocationLayer {
	if t.ocsp == nil {
		return nil
	}
	return t.ocsp.evidence()
}

// crlSkip says why revoked-client cannot be judged on this server; ""
// when the server was handed the CRL.
func (t *targetServer) crlSkip() string { return t.noCRL }

func (t *targetServer) Name() string {
	if t.name != "" {
		return t.name
	}
	return t.url
}

func (t *targetServer) Start(context.Context, ServerConfig) (RunningServer, error) {
	if t.alive != nil {
		if err := t.alive(); err != nil {
			return nil, err
		}
	}
	return runningTarget{t}, nil
}

type runningTarget struct{ t *targetServer }

func (r runningTarget) Addr() string                      { return r.t.addr }
func (r runningTarget) URL() string                       { return r.t.url }
func (r runningTarget) Close() error                      { return nil }
func (r runningTarget) Observations() []ServerObservation { return nil }

// SubjectFiles are the files written for a subject command: the CA it
// must trust, its certificate, key and chain (leaf then intermediates).
type SubjectFiles struct {
	Dir, CA, Cert, Key, Chain string
	// CRL holds the CRLs the subject checks its peer against, PEM.
	CRL string
}

// writeSubjectFiles writes ca.pem, cert.pem, key.pem (0600), chain.pem
// and crl.pem (the crls, PEM) into dir.
func writeSubjectFiles(dir string, roots []*pki.Issued, leaf *pki.Issued, crls [][]byte) (SubjectFiles, error) {
	f := SubjectFiles{Dir: dir, CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "cert.pem"),
		Key: filepath.Join(dir, "key.pem"), Chain: filepath.Join(dir, "chain.pem"), CRL: filepath.Join(dir, "crl.pem")}
	var crlPEM []byte
	for _, der := range crls {
		crlPEM = append(crlPEM, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})...)
	}
	var ca []byte
	for _, r := range roots {
		ca = append(ca, pki.EncodeCertsPEM(r.Cert)...)
	}
	key, err := pki.EncodeKeyPEM(leaf.Key)
	if err != nil {
		return f, err
	}
	for _, w := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{f.CA, ca, 0o644},
		{f.Cert, pki.EncodeCertsPEM(leaf.Cert), 0o644},
		{f.Chain, pki.EncodeCertsPEM(leaf.FullChain()...), 0o644},
		{f.Key, key, 0o600},
		{f.CRL, crlPEM, 0o644},
	} {
		if err := os.WriteFile(w.path, w.data, w.mode); err != nil {
			return f, err
		}
	}
	return f, nil
}

// values are the placeholder values of a subject's files.
func (f SubjectFiles) values() map[string]string {
	return map[string]string{"dir": f.Dir, "ca": f.CA, "cert": f.Cert, "key": f.Key, "chain": f.Chain, "crl": f.CRL}
}

// ServerCommandConfig starts a server command for a run.
type ServerCommandConfig struct {
	// Command is the server's command line; Target the wss:// URL the
	// reference client dials, where {port} and {host} are filled in.
	Command *Template
	Target  string
	// Materials are the run's certificates: the server presents
	// ServerViaIntermediate ({cert}, with {chain} adding the
	// intermediate) and trusts Root ({ca}) for client certificates.
	Materials *Materials
	// Dir is the scratch directory ({dir}); it must exist.
	Dir string
	// StartTimeout bounds the wait for the port to open (default 15 s);
	// StopGrace is how long SIGTERM has before SIGKILL (default 5 s).
	StartTimeout, StopGrace time.Duration
}

// ServerProcess is a running server command.
type ServerProcess struct {
	Files   SubjectFiles
	Port    int
	URL     string
	Argv    []string
	LogPath string
	// Addr is the loopback address where the port answered (127.0.0.1
	// or [::1]).
	Addr string

	cmd    *exec.Cmd
	log    *os.File
	exited chan struct{}
	grace  time.Duration
	// takesCRL: the command's template uses {crl}; ocsp is the run's
	// OCSP responder, started for a template that uses {ocsp}.
	takesCRL bool
	ocsp     *runOCSP
}

// StartServerCommand writes the server's files into cfg.Dir, picks a free
// loopback port, starts the command in its own process group with
// $MTLSKIT set, and waits (bounded) until the port accepts connections.
// A command that exits first or never opens its port is stopped and
// reported with the last lines of its output.
func StartServerCommand(ctx context.Context, cfg ServerCommandConfig) (*ServerProcess, error) {
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 15 * time.Second
	}
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = 5 * time.Second
	}
	m := cfg.Materials
	leaf := m.ServerViaIntermediate
	if leaf == nil {
		leaf = m.Server
	}
	files, err := writeSubjectFiles(cfg.Dir, []*pki.Issued{m.Root}, leaf, m.CRLs)
	if err != nil {
		return nil, fmt.Errorf("writing the server's files into %s: %v", cfg.Dir, err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	vals := files.values()
	vals["port"], vals["host"] = strconv.Itoa(port), "localhost"
	var responder *runOCSP
	if cfg.Command.Uses("ocsp") {
		if responder, err = startRunOCSP(m, cfg.StartTimeout); err != nil {
			return nil, err
		}
		vals["ocsp"] = responder.url
	}
	target := cfg.Target
	if target == "" {
		target = "wss://localhost:{port}/"
	}
	vals["url"] = ExpandString(target, vals)
	p := &ServerProcess{Files: files, Port: port, URL: vals["url"], Argv: cfg.Command.Expand(vals),
		LogPath: filepath.Join(cfg.Dir, "server-output.log"), exited: make(chan struct{}), grace: cfg.StopGrace, takesCRL: cfg.Command.Uses("crl"), ocsp: responder}
	if p.log, err = os.Create(p.LogPath); err != nil {
		responder.close()
		return nil, err
	}
	p.cmd = exec.Command(p.Argv[0], p.Argv[1:]...)
	p.cmd.Env = childEnv() // in our working directory, so relative paths in the template work
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		p.log.Close()
		responder.close()
		return nil, fmt.Errorf("the server command %q could not be started: %v", strings.Join(p.Argv, " "), err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	// An interrupted run (ctx cancelled by SIGINT/SIGTERM) stops the
	// group whatever the caller is doing.
	go func() {
		select {
		case <-ctx.Done():
			_ = p.Stop()
		case <-p.exited:
		}
	}()

	// Wait for the port (at the loopback addresses of both families),
	// the process's exit, the start timeout or ctx.
	deadline := time.NewTimer(cfg.StartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if a, ok := p.listening(); ok {
			p.Addr = a
			return p, nil
		}
		select {
		case <-p.exited:
			if a, ok := p.daemonized(); ok {
				_ = p.Stop()
				return nil, fmt.Errorf("the server command exited 0 and port %d stays open at %s: it daemonized, so the harness cannot stop it; run it in the foreground (e.g. nginx -g 'daemon off;')%s", port, a, p.tailText())
			}
			_ = p.Stop()
			return nil, fmt.Errorf("the server command exited (%s) before opening port %d%s", p.status(), port, p.tailText())
		case <-deadline.C:
			stopErr := p.Stop()
			msg := fmt.Sprintf("the server command did not open port %d within %s (it must listen on the {port} it is given)", port, cfg.StartTimeout)
			if stopErr != nil {
				msg += "; " + stopErr.Error()
			}
			return nil, errors.New(msg + p.tailText())
		case <-ctx.Done():
			_ = p.Stop()
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// listening reports the first loopback address, of 127.0.0.1 and ::1,
// where the port accepts a connection.
func (p *ServerProcess) listening() (string, bool) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		a := net.JoinHostPort(host, strconv.Itoa(p.Port))
		if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			c.Close()
			return a, true
		}
	}
	return "", false
}

// daemonized reports a command whose leader exited 0 while its port is
// open (now, or within half a second): a server that forked into the
// background.
func (p *ServerProcess) daemonized() (string, bool) {
	if p.cmd.ProcessState == nil || p.cmd.ProcessState.ExitCode() != 0 {
		return "", false
	}
	for end := time.Now().Add(500 * time.Millisecond); ; time.Sleep(50 * time.Millisecond) {
		if a, ok := p.listening(); ok {
			return a, true
		}
		if time.Now().After(end) {
			return "", false
		}
	}
}

// Subject is the ServerSubject the server-side scenarios judge: the
// running process, reached at its URL.
func (p *ServerProcess) Subject(name string) ServerSubject {
	addr := p.Addr
	if addr == "" {
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port))
	}
	noCRL := ""
	if !p.takesCRL && p.ocsp == nil {
		noCRL = "the server command does not take the run's CRL or OCSP responder: add {crl} (a PEM file of CRLs, the root's listing the revoked client) to --server-cmd and load it (nginx ssl_crl, Node crl, Python VERIFY_CRL_CHECK_LEAF), or {ocsp} (the URL of an OCSP responder for the run's CAs) and point the server at it (nginx ssl_ocsp leaf + ssl_ocsp_responder)"
	}
	return &targetServer{url: p.URL, addr: addr, name: name, noCRL: noCRL, proc: p, ocsp: p.ocsp, alive: func() error {
		select {
		case <-p.exited:
			if a, ok := p.daemonized(); ok {
				return fmt.Errorf("the server command exited 0 and port %d stays open at %s: it daemonized, so the harness cannot stop it; run it in the foreground (e.g. nginx -g 'daemon off;')%s", p.Port, a, p.tailText())
			}
			return fmt.Errorf("the server command exited (%s) during the run%s", p.status(), p.tailText())
		default:
			return nil
		}
	}}
}

// ExitReport says how a command that exited on its own during the run
// ended: daemonized (exit 0, port still open) or its exit status, with
// the last lines of its output.
func (p *ServerProcess) ExitReport() string {
	if a, ok := p.daemonized(); ok {
		return fmt.Sprintf("the server command exited 0 and port %d stays open at %s: it daemonized, so the harness cannot stop it; run it in the foreground (e.g. nginx -g 'daemon off;')%s", p.Port, a, p.tailText())
	}
	return fmt.Sprintf("the server command exited on its own (%s) during the run%s", p.status(), p.tailText())
}

// Exited reports whether the command has exited on its own.
func (p *ServerProcess) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM to the process group, SIGKILL after the grace
// period, and reaps the process. It reports a command that had to be
// killed. Safe to call more than once.
func (p *ServerProcess) Stop() error {
	pgid := p.cmd.Process.Pid
	defer p.log.Close()
	defer p.ocsp.close()
	select {
	case <-p.exited:
		_ = syscall.Kill(-pgid, syscall.SIGKILL) // stragglers of the group
		return p.stillListening()
	default:
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.exited:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return p.stillListening()
	case <-time.After(p.grace):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.exited
	return fmt.Errorf("the server command did not exit within %s of SIGTERM and was killed with SIGKILL%s", p.grace, p.tailText())
}

// stillListening reports a port that stays open once the command's
// process group is gone: the server left the group (daemonized).
func (p *ServerProcess) stillListening() error {
	if p.Addr == "" {
		return nil // it never listened
	}
	time.Sleep(50 * time.Millisecond) // let the kernel close the group's sockets
	if a, ok := p.listening(); ok {
		return fmt.Errorf("port %d is still open at %s after the server command's process group was stopped: it daemonized (left the group), so the harness cannot stop it; run it in the foreground (e.g. nginx -g 'daemon off;')", p.Port, a)
	}
	return nil
}

// Tail is the last n lines of the command's output.
func (p *ServerProcess) Tail(n int) []string {
	data, _ := os.ReadFile(p.LogPath)
	return lastLines(data, n)
}

func (p *ServerProcess) tailText() string {
	lines := p.Tail(10)
	if len(lines) == 0 {
		return " (it printed nothing)"
	}
	return "; last lines of its output:\n  " + strings.Join(lines, "\n  ")
}

func (p *ServerProcess) status() string {
	if p.cmd.ProcessState == nil {
		return "still running"
	}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return fmt.Sprintf("exit status %d", p.cmd.ProcessState.ExitCode())
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free loopback port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
