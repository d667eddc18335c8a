package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Placeholders are the names a command template may use, each written
// {name}: see docs/conformance.md.
var Placeholders = []string{"dir", "ca", "cert", "key", "chain", "crl", "ocsp", "port", "host", "url"}

// ErrTemplate marks a template that cannot be used (an unknown
// placeholder, an unterminated quote): a usage error.
var ErrTemplate = errors.New("bad command template")

var placeholderRE = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_-]*)\}`)

// Template is a command line with placeholders. It is split into words
// the way a POSIX shell splits a simple command (blanks separate words;
// 'single quotes' keep everything; "double quotes" keep everything but
// \" \\ \$ \`; a backslash outside quotes escapes the next character),
// but no shell runs it: there is no expansion of variables, globs,
// pipes or redirections. Placeholders are filled in after the split, so
// a value with spaces stays one argument. For shell features, call a
// script and pass the placeholders as its arguments.
type Template struct {
	Raw   string
	words []string
	used  map[string]bool
}

// ParseTemplate splits and checks a template. Errors wrap ErrTemplate.
func ParseTemplate(s string) (*Template, error) {
	words, err := splitWords(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTemplate, err)
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("%w: the command is empty", ErrTemplate)
	}
	t := &Template{Raw: s, words: words, used: map[string]bool{}}
	known := map[string]bool{}
	for _, p := range Placeholders {
		known[p] = true
	}
	for _, w := range words {
		for _, m := range placeholderRE.FindAllStringSubmatch(w, -1) {
			if !known[m[1]] {
				return nil, fmt.Errorf("%w: unknown placeholder {%s} in %q: use %s", ErrTemplate, m[1], s, placeholderList())
			}
			t.used[m[1]] = true
		}
	}
	return t, nil
}

func placeholderList() string {
	var b []string
	for _, p := range Placeholders {
		b = append(b, "{"+p+"}")
	}
	return strings.Join(b, " ")
}

// Uses reports whether the template names the placeholder.
func (t *Template) Uses(name string) bool { return t.used[name] }

// Expand fills in the placeholders; a placeholder with no value is left
// as it is.
func (t *Template) Expand(vals map[string]string) []string {
	out := make([]string, len(t.words))
	for i, w := range t.words {
		out[i] = ExpandString(w, vals)
	}
	return out
}

// ExpandString fills the placeholders of one string (a --target URL).
func ExpandString(s string, vals map[string]string) string {
	return placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := vals[m[1:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// CheckPlaceholders fails on a placeholder outside allowed (the --target
// URL may use {port} and {host} only).
func CheckPlaceholders(s string, allowed ...string) error {
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		if !ok[m[1]] {
			sort.Strings(allowed)
			return fmt.Errorf("%w: placeholder {%s} is not allowed in %q (allowed: {%s})", ErrTemplate, m[1], s, strings.Join(allowed, "} {"))
		}
	}
	return nil
}

// splitWords splits s like a POSIX shell splits a simple command.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\\':
			inWord = true
			if i+1 < len(s) {
				i++
				if s[i] != '\n' {
					cur.WriteByte(s[i])
				}
			}
		case c == '\'':
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			inWord = true
			closed := false
			for i++; i < len(s); i++ {
				if s[i] == '"' {
					closed = true
					break
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if !closed {
				return nil, fmt.Errorf("unterminated double quote in %q", s)
			}
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// tailBuffer keeps the last bytes written to it (a command's output).
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) lines(n int) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return lastLines(t.buf, n)
}

// lastLines is the last n non-empty lines of b.
func lastLines(b []byte, n int) []string {
	var out []string
	for _, l := range bytes.Split(bytes.TrimRight(b, "\r\n"), []byte("\n")) {
		if l := strings.TrimRight(string(l), "\r"); strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

// childEnv is the environment of a started command: ours, plus $MTLSKIT
// naming the running mtlskit binary so recipes can start
// `"$MTLSKIT" harness echo`.
func childEnv() []string {
	env := os.Environ()
	if exe, err := os.Executable(); err == nil {
		env = append(env, "MTLSKIT="+exe)
	}
	return env
}

// runCommand runs argv in its own process group in dir, with a time
// limit after which the whole group is killed, and returns what it did.
func runCommand(ctx context.Context, argv []string, limit time.Duration) ClientProcess {
	p := ClientProcess{Argv: argv}
	start := time.Now()
	out := &tailBuffer{max: 64 << 10}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = childEnv() // in our working directory, so relative paths in the template work
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A grandchild that keeps the output pipe open must not hold us up.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		p.ExitCode, p.Error = -1, err.Error()
		return p
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	var err error
	select {
	case err = <-done:
	case <-timer.C:
		p.TimedOut = true
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = <-done
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = <-done
		p.Error = "interrupted: " + ctx.Err().Error()
	}
	// Whatever the leader did, leave nothing of the group behind.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	p.ExitCode = cmd.ProcessState.ExitCode()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) && !errors.Is(err, exec.ErrWaitDelay) && p.Error == "" {
		p.Error = err.Error()
	}
	p.Output = out.lines(8)
	p.Millis = ms(time.Since(start))
	return p
}
