package main

import (
	"fmt"
	"io"
	"time"
)

// progressFrom is the size of a job from which its progress is shown.
const progressFrom = 1000

// progress reports a long job on stderr: at most once a second, and once
// at the end, for jobs of progressFrom items or more. On a terminal the
// line is rewritten in place; elsewhere (a CI log) each report is a line.
type progress struct {
	w          io.Writer
	cmd, what  string
	start      time.Time
	last       time.Time
	tty, shown bool
}

func newProgress(w io.Writer, cmd, what string) *progress {
	now := time.Now()
	return &progress{w: w, cmd: cmd, what: what, start: now, last: now, tty: isTerminal(w)}
}

// update reports done of total.
func (p *progress) update(done, total int) {
	if total < progressFrom {
		return
	}
	now := time.Now()
	if done < total && now.Sub(p.last) < time.Second {
		return
	}
	p.last = now
	line := fmt.Sprintf("%s: %d/%d %s (%d%%), %.1f s", p.cmd, done, total, p.what, done*100/total, now.Sub(p.start).Seconds())
	switch {
	case p.tty && done < total:
		fmt.Fprintf(p.w, "\r%s", line)
	case p.tty:
		fmt.Fprintf(p.w, "\r%s\n", line)
	default:
		fmt.Fprintln(p.w, line)
	}
	p.shown = true
}
