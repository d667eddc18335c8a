package pki

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// The default Linter: mtlskit-lint (cmd/mtlskit-lint), pki/zlinter
// behind a pipe. Linking zlint, zcrypto and the public suffix list costs
// every process about 2 ms of package initialisation before main (Go runs
// the init of every linked package; zlint registers some 400 lints in
// its init, the public suffix list builds its table), so the mtlskit
// command does not link them, and commands that lint start mtlskit-lint,
// once, when they first need it: up to GOMAXPROCS of them for a batch.
//
// Protocol (version 1), one line each way: mtlskit-lint first says
// "mtlskit-lint 1 KEY" (zlinter.Key); then each request is "C 0 BASE64"
// (a DER certificate; "C 1": without the signer lints) or "R BASE64" (a
// DER CRL), and each answer a JSON array of findings.

// LintHelper is the file name of the lint helper.
const LintHelper = "mtlskit-lint"

const lintProtocol = "mtlskit-lint 1 "

// ErrNoLintHelper is returned (as the detail of a zlint_unavailable
// finding) when mtlskit-lint cannot be found or started.
var ErrNoLintHelper = errors.New("zlint is not available")

// FindLintHelper locates mtlskit-lint: $MTLSKIT_LINT when set, else next
// to the running executable, else on $PATH.
func FindLintHelper() (string, error) {
	if p := os.Getenv("MTLSKIT_LINT"); p != "" {
		return p, nil
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err := filepath.EvalSymlinks(exe); err == nil {
			name := LintHelper
			if runtime.GOOS == "windows" {
				name += ".exe"
			}
			p := filepath.Join(filepath.Dir(exe), name)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				return p, nil
			}
		}
	}
	if p, err := exec.LookPath(LintHelper); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w: %s is neither next to this program nor on $PATH (install it with `go install github.com/mtlskit/mtlskit/cmd/%s`, or `make build`, or set MTLSKIT_LINT)",
		ErrNoLintHelper, LintHelper, LintHelper)
}

type procLinter struct {
	mu      sync.Mutex
	cond    *sync.Cond
	started int
	max     int
	free    []*lintProc
	key     string
	err     error // a helper failed to start: every later call fails alike
}

func newProcLinter() *procLinter {
	p := &procLinter{max: max(1, runtime.GOMAXPROCS(0))}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// lintProc is one running mtlskit-lint.
type lintProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	w   *bufio.Writer
	r   *bufio.Reader
}

// get returns an idle helper, starting one when all are busy and fewer
// than max run, or waiting for one.
func (p *procLinter) get() (*lintProc, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		switch {
		case p.err != nil:
			return nil, p.err
		case len(p.free) > 0:
			h := p.free[len(p.free)-1]
			p.free = p.free[:len(p.free)-1]
			return h, nil
		case p.started < p.max:
			p.started++
			p.mu.Unlock()
			h, key, err := startLintProc()
			p.mu.Lock()
			if err != nil {
				p.started--
				p.err = err
				p.cond.Broadcast()
				return nil, err
			}
			p.key = key
			return h, nil
		}
		p.cond.Wait()
	}
}

// put returns a helper to the idle ones.
func (p *procLinter) put(h *lintProc) {
	p.mu.Lock()
	p.free = append(p.free, h)
	p.cond.Signal()
	p.mu.Unlock()
}

// drop closes a helper that failed; another may start in its place.
func (p *procLinter) drop(h *lintProc) {
	h.close()
	p.mu.Lock()
	p.started--
	p.cond.Signal()
	p.mu.Unlock()
}

func startLintProc() (*lintProc, string, error) {
	path, err := FindLintHelper()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(path)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, "", err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("%w: starting %s: %v", ErrNoLintHelper, path, err)
	}
	h := &lintProc{cmd: cmd, in: in, w: bufio.NewWriterSize(in, 8192), r: bufio.NewReaderSize(out, 8192)}
	hello, err := h.r.ReadString('\n')
	key, ok := strings.CutPrefix(strings.TrimSuffix(hello, "\n"), lintProtocol)
	if err != nil || !ok || key == "" {
		h.close()
		return nil, "", fmt.Errorf("%w: %s does not speak protocol 1 (said %q): install the mtlskit-lint of this mtlskit", ErrNoLintHelper, path, strings.TrimSpace(hello))
	}
	return h, key, nil
}

func (h *lintProc) close() {
	h.in.Close()
	_ = h.cmd.Wait()
}

// ask sends one request and reads its answer. A helper that fails is
// closed and not reused.
func (p *procLinter) ask(op string, der []byte) ([]LintFinding, error) {
	h, err := p.get()
	if err != nil {
		return nil, err
	}
	h.w.WriteString(op)
	h.w.WriteByte(' ')
	enc := base64.NewEncoder(base64.StdEncoding, h.w)
	enc.Write(der)
	enc.Close()
	h.w.WriteByte('\n')
	var answer []byte
	if err = h.w.Flush(); err == nil {
		answer, err = h.r.ReadBytes('\n')
	}
	var fs []struct {
		ID      string `json:"id"`
		Status  string `json:"status"`
		Source  string `json:"source"`
		Details string `json:"details"`
	}
	if err == nil {
		err = json.Unmarshal(answer, &fs)
	}
	if err != nil {
		p.drop(h)
		return nil, fmt.Errorf("%w: %s failed: %v", ErrNoLintHelper, LintHelper, err)
	}
	p.put(h)
	var out []LintFinding
	for _, f := range fs {
		out = append(out, LintFinding{ID: f.ID, Status: f.Status, Source: f.Source, Details: f.Details})
	}
	return out, nil
}

func (p *procLinter) LintKey() (string, error) {
	h, err := p.get()
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	key := p.key
	p.mu.Unlock()
	p.put(h)
	return key, nil
}

func (p *procLinter) LintCert(der []byte, withoutSignerLints bool) ([]LintFinding, error) {
	op := "C 0"
	if withoutSignerLints {
		op = "C 1"
	}
	return p.ask(op, der)
}

func (p *procLinter) LintCRL(der []byte) ([]LintFinding, error) { return p.ask("R", der) }
