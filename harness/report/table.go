package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mtlskit/mtlskit/harness"
)

// TableOptions tune WriteTable.
type TableOptions struct {
	// Color adds ANSI colours to PASS/FAIL; callers set it only on a
	// terminal and never when NO_COLOR is set.
	Color bool
	// Verbose adds each layer's evidence under every row.
	Verbose bool
}

// plainReason is the "layer: reason" column.
func plainReason(r harness.Result) string {
	if r.Outcome == harness.Accepted {
		return "ws: " + r.Reason.Text
	}
	by := ""
	if r.RefusedBy != "" {
		by = "refused by " + string(r.RefusedBy) + ": "
	}
	if r.Layer == "" {
		// A skipped scenario reached no layer: it is the reason alone.
		return fmt.Sprintf("%s%s [%s]", by, r.Reason.Text, r.Reason.ID)
	}
	return fmt.Sprintf("%s: %s%s [%s]", r.Layer, by, r.Reason.Text, r.Reason.ID)
}

func paint(s string, code string, on bool) string {
	if !on {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// WriteTable writes one aligned row per result (PASS/FAIL, scenario,
// side, expected, observed, then the layer and reason, which is the long
// column and so comes last) and a summary line. For a
// negative-control run the verdict column says CAUGHT or MISSED.
func WriteTable(w io.Writer, rep *harness.Report, opt TableOptions) error {
	type row struct {
		cells []string
		mark  string
		good  bool
		res   harness.Result
	}
	var rows []row
	header := []string{"SCENARIO", "SIDE", "EXPECTED", "OBSERVED", "LAYER: REASON", "RESULT"}
	markWidth := len("RESULT")
	if rep.Kind == harness.KindControls {
		header = []string{"CONTROL / SCENARIO", "SIDE", "EXPECTED", "OBSERVED", "LAYER: REASON", "CONTROL"}
		markWidth = len("CAUGHT")
		for _, c := range rep.Controls {
			for _, r := range c.Results {
				mark, good := "MISSED", false
				if c.Caught {
					mark, good = "CAUGHT", true
				}
				rows = append(rows, row{[]string{c.Control.Name + "/" + r.Scenario.Name, string(r.Scenario.Side), string(r.Scenario.Expect), string(r.Outcome), plainReason(r)}, mark, good, r})
			}
		}
	} else {
		for _, r := range rep.Results {
			rows = append(rows, row{[]string{NameOf(r), string(r.Scenario.Side), string(r.Scenario.Expect), string(r.Outcome), plainReason(r)}, string(MarkOf(r)), r.Pass, r})
		}
	}
	for _, r := range rows {
		markWidth = max(markWidth, len(r.mark))
	}
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = len(h)
	}
	for _, r := range rows {
		for i, c := range r.cells {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	line := func(mark string, markLen int, cells []string) {
		b.WriteString(mark)
		b.WriteString(strings.Repeat(" ", markWidth-markLen+2))
		for i, c := range cells {
			b.WriteString(c)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(c))+2))
			}
		}
		b.WriteString("\n")
	}
	line(header[5], len(header[5]), header[:5])
	for _, r := range rows {
		code := "31"
		switch {
		case r.res.Observed:
			code = "36"
		case r.good:
			code = "32"
		}
		line(paint(r.mark, code, opt.Color), len(r.mark), r.cells)
		if !r.good && r.res.Mismatch != "" && rep.Kind != harness.KindControls {
			fmt.Fprintf(&b, "    why (%s): %s\n", r.res.Scenario.Importance, r.res.Mismatch)
		}
		if r.res.Above != "" && rep.Kind != harness.KindControls {
			fmt.Fprintf(&b, "    above: %s\n", r.res.Above)
		}
		if opt.Verbose {
			writeEvidence(&b, r.res)
		}
	}
	if rep.Kind == harness.KindControls {
		n := 0
		for _, c := range rep.Controls {
			if c.Caught {
				n++
			} else {
				fmt.Fprintf(&b, "missed: %s: %s\n", c.Control.Name, c.Why)
			}
		}
		fmt.Fprintf(&b, "%d of %d negative controls caught (%d encounters) in %s, timeout %s, TLS %s\n",
			n, len(rep.Controls), len(rep.Results), rep.Duration.Round(time.Millisecond), rep.Timeout, harness.TLSVersionName(rep.TLSVersion))
	} else {
		fmt.Fprintf(&b, "%s, in %s (server: %s, client: %s, timeout %s, TLS %s%s)\n",
			Counts(rep), rep.Duration.Round(time.Millisecond),
			rep.ServerSubject, rep.ClientSubject, rep.Timeout, harness.TLSVersionName(rep.TLSVersion), readyNote(rep))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeEvidence writes every layer of a result, indented.
func writeEvidence(b *strings.Builder, r harness.Result) {
	L := r.Layers
	layer := func(name string, l harness.Layer, extra string) {
		fmt.Fprintf(b, "    %-6s %-7s %s", name, l.Status, l.Detail)
		if extra != "" {
			fmt.Fprintf(b, " %s", extra)
		}
		if l.Error != "" && !strings.Contains(l.Detail, l.Error) {
			fmt.Fprintf(b, " (error: %s)", l.Error)
		}
		b.WriteString("\n")
	}
	layer("tcp", L.TCP.Layer, "")
	var tlsExtra []string
	if L.TLS.Alert != nil {
		tlsExtra = append(tlsExtra, "["+L.TLS.Alert.String()+"]")
	}
	tlsExtra = append(tlsExtra, fmt.Sprintf("[client cert requested=%v sent=%v]", L.TLS.ClientCertRequested, L.TLS.ClientCertSent))
	layer("tls", L.TLS.Layer, strings.Join(tlsExtra, " "))
	layer("http", L.HTTP.Layer, "")
	layer("ws", L.WS.Layer, "")
	layer("close", L.Close.Layer, "")
	if s := r.Server; s != nil {
		fmt.Fprintf(b, "    server %s: tls %s (client cert: %s)", s.Subject, s.TLS.Status, s.TLS.ClientCert)
		if s.TLS.Detail != "" {
			fmt.Fprintf(b, " %s", s.TLS.Detail)
		}
		fmt.Fprintf(b, "; http request=%v", s.HTTP.RequestReceived)
		if s.HTTP.StatusSent != 0 {
			fmt.Fprintf(b, " status=%d", s.HTTP.StatusSent)
		}
		fmt.Fprintf(b, "; ws handler=%v echoed=%d\n", s.WS.HandlerRan, s.WS.Echoed)
	}
}

// readyNote says how long the server took to become ready, when the run
// waited for it.
func readyNote(rep *harness.Report) string {
	if rep.ReadyTries == 0 {
		return ""
	}
	return fmt.Sprintf(", ready after %s and %d encounter(s)", rep.Ready.Round(time.Millisecond), rep.ReadyTries)
}
