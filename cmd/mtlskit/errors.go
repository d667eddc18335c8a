package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
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

// failf reports a failed operation or check (exit 1).
func failf(format string, a ...any) error {
	return &cmdError{code: exitFailed, msg: fmt.Sprintf(format, a...)}
}

// usagef reports a usage error (exit 2).
func usagef(format string, a ...any) error {
	return &cmdError{code: exitUsage, msg: fmt.Sprintf(format, a...)}
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
	if msg := oneLine(err.Error()); msg != "" {
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
