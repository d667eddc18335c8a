package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mtlskit/mtlskit/pki"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	programName = "mtlskit"
)

// cmdError carries an exit status with a one-line message.
type cmdError struct {
	code int
	msg  string
}

func (e *cmdError) Error() string { return e.msg }

// failf reports a failed operation or check (exit 1). An error among
// the arguments is printed with its hint (withHints).
func failf(format string, a ...any) error {
	return &cmdError{code: exitFailed, msg: fmt.Sprintf(format, hinted(a)...)}
}

// usagef reports a usage error (exit 2), with hints as failf.
func usagef(format string, a ...any) error {
	return &cmdError{code: exitUsage, msg: fmt.Sprintf(format, hinted(a)...)}
}

func hinted(a []any) []any {
	for i, v := range a {
		if err, ok := v.(error); ok {
			a[i] = withHints(err)
		}
	}
	return a
}

// silentFailure ends with status 1 without a message: the command has
// already printed its report (a failed check, say).
var silentFailure = &cmdError{code: exitFailed}

// exitCode prints err as one line on stderr and maps it to a status.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	code := exitFailed
	var ce *cmdError
	if errors.As(err, &ce) {
		code = ce.code
	} else if isUsageError(err) {
		code = exitUsage
	}
	if msg := oneLine(withHints(err)); msg != "" {
		fmt.Fprintf(stderr, "%s: %s\n", programName, msg)
	}
	return code
}

// isUsageError recognises the errors urfave/cli returns for bad flags and
// arguments.
func isUsageError(err error) bool {
	s := err.Error()
	for _, p := range []string{"flag provided but not defined", "Required flag", "Required flags", "invalid value", "flag needs an argument", "No help topic", "command not found"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// A hint is what a person at the command line can do about one of the
// libraries' errors: the flag to pass, the command to run. The libraries
// word the problem (pki's messages name no flag); the hint is added after
// it, so the line reads "problem: what to type".
type hint struct {
	owns  func(err error) bool   // err is this error itself, not one wrapping it
	words func(err error) string // "" for no hint
}

// hints holds every library error the command line adds words to.
var hints = []hint{
	is(pki.ErrServerNeedsSAN, "add --san localhost,127.0.0.1 or the names clients dial"),
	is(pki.ErrNeedsName, "add --cn NAME"),
	is(pki.ErrCommonNameTooLong, "use a shorter --cn"),
	is(pki.ErrNameEmpty, "pass --name"),
	is(pki.ErrNameTooLong, "pass a shorter --name"),
	is(pki.ErrNameInvalid, "pass --name with such a name"),
	is(pki.ErrNoCA, "run `mtlskit ca init` first (or pass --dir)"),
	is(pki.ErrStoreNotDir, "pass --dir with a directory"),
	is(pki.ErrNotFound, "see `mtlskit list`"),
	is(pki.ErrAlreadyRevoked, "nothing to do; `mtlskit crl` publishes it"),
	is(pki.ErrUnknownReason, "pass --reason with one of those"),
	is(pki.ErrBadRevocationURL, "use a URL such as http://127.0.0.1:8080/crl.der"),
	as(func(*pki.CAExistsError) string {
		return "use it, pick another --dir, or pass --force to replace it (certificates it issued will no longer verify)"
	}),
	as(func(*pki.NameTakenError) string { return "pick another with --name, or pass --force to replace it" }),
	as(func(e *pki.OutlivesIssuerError) string {
		switch {
		case e.Remaining <= 0:
			return "" // the library's message says to renew the CA
		case e.Remaining < pki.Day:
			return fmt.Sprintf("use --validity %s or less, or renew the CA", e.Remaining.Truncate(time.Hour))
		}
		return fmt.Sprintf("use --validity %s or less", pki.FormatValidity(e.Remaining.Truncate(pki.Day)))
	}),
	as(func(e *pki.IntermediateValidityError) string {
		return fmt.Sprintf("use --intermediate-validity %s or less", pki.FormatValidity(e.Max()))
	}),
	as(func(e *pki.CAKeyError) string {
		switch {
		case errors.Is(e.Err, pki.ErrCAKeyUnreadable):
			return "restore it or run `mtlskit ca init --force`"
		case errors.Is(e.Err, pki.ErrWrongPassphrase):
			return "check $MTLSKIT_CA_PASSPHRASE or --passphrase-file"
		case errors.Is(e.Err, pki.ErrPassphraseNeeded):
			return "set $MTLSKIT_CA_PASSPHRASE or pass --passphrase-file"
		}
		return ""
	}),
}

// is makes the hint of a sentinel error. It owns the sentinel itself, and
// an error that wraps the sentinel directly and adds its own detail
// ("no CA in this store at DIR"), not one that wraps such an error.
func is(sentinel error, words string) hint {
	return hint{
		owns: func(err error) bool {
			if err == sentinel {
				return true
			}
			kids := unwrapped(err)
			for _, k := range kids {
				if k == sentinel {
					return true
				}
			}
			return false
		},
		words: func(error) string { return words },
	}
}

// as makes the hint of an error type T, worded from its fields.
func as[T error](words func(T) string) hint {
	return hint{
		owns: func(err error) bool {
			_, ok := err.(T)
			return ok
		},
		words: func(err error) string { return words(err.(T)) },
	}
}

// withHints is err's message with the hint after each library error in
// it. It walks the wrapped errors: an error that embeds the message of
// one it wraps (fmt.Errorf with %w, errors.Join) gets the hinted message
// in its place. Text from an error it does not know is left as it is.
func withHints(err error) string {
	text := err.Error()
	for _, h := range hints {
		if h.owns(err) {
			if w := h.words(err); w != "" {
				return text + ": " + w
			}
			return text
		}
	}
	kids := unwrapped(err)
	if len(kids) > 1 && text == joined(kids) {
		parts := make([]string, len(kids))
		for i, k := range kids {
			parts[i] = withHints(k)
		}
		return strings.Join(parts, "\n")
	}
	for _, k := range kids {
		plain, rich := k.Error(), withHints(k)
		if rich == plain {
			continue
		}
		if i := strings.LastIndex(text, plain); i >= 0 {
			text = text[:i] + rich + text[i+len(plain):]
		}
	}
	return text
}

// unwrapped is what err wraps, with either form of Unwrap.
func unwrapped(err error) []error {
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		if k := u.Unwrap(); k != nil {
			return []error{k}
		}
	case interface{ Unwrap() []error }:
		return u.Unwrap()
	}
	return nil
}

// joined is the message errors.Join gives errs.
func joined(errs []error) string {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}
