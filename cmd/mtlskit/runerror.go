package main

import (
	"fmt"
	"os"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/harness/report"
	"github.com/urfave/cli/v2"
)

// exitRunError is harness run's status for a run that never reached its
// subject (a server that never became ready, a --target where nothing
// listens): no verdict was made, so neither 0 nor 1 fits.
const exitRunError = 3

// notReadyError reports a server that never became ready: one line on
// stderr, exit 3, and for the machine formats a report that holds the
// run error and no results (so a CI reader sees why there are none).
func notReadyError(c *cli.Context, format string, e *harness.NotReadyError, ext *external) error {
	msg := e.Error()
	if ext.process != nil {
		if tail := ext.process.Tail(5); len(tail) > 0 {
			msg += fmt.Sprintf("; the server's last output: %q", tail[len(tail)-1])
		}
	}
	if format != "table" {
		rep := &harness.Report{Kind: harness.KindScenarios, Started: ext.started, ServerSubject: e.Subject, RunError: msg}
		buf, err := renderReport(format, rep, report.TableOptions{})
		if err == nil {
			if out := c.String("out"); out != "" {
				err = os.WriteFile(out, buf, 0o644)
			} else {
				_, err = c.App.Writer.Write(buf)
			}
		}
		if err != nil {
			return failf("harness run: writing the %s report: %v", format, err)
		}
	}
	return &cmdError{code: exitRunError, msg: "harness run: " + msg + ": no scenario ran (fix the server, or raise --start-timeout)"}
}
