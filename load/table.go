package load

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable writes the report for people: what ran, the counts and
// rates, the four latency distributions, every error class with its
// count and an example, and the memory per connection.
func WriteTable(w io.Writer, r *Report) error {
	b := &strings.Builder{}
	s := r.Settings
	fmt.Fprintf(b, "mtlskit load: %s (dialled %s)", r.Target, r.Dialled)
	if s.InProcessServer {
		b.WriteString(", reference server in this process")
	}
	b.WriteString("\n")
	fmt.Fprintf(b, "  %s\n", shapeLine(r))
	fmt.Fprintf(b, "  %s, %s", shardLine(r), r.Elapsed.Round(time.Millisecond))
	if r.Interrupted {
		b.WriteString(", INTERRUPTED")
	}
	b.WriteString("\n\n")

	c := r.Counts
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "attempted\ttcp\ttls\testablished\tcompleted\tfailed\tpeak open\tidentities used\t\n")
	fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", c.Attempted, c.TCPConnected, c.Handshakes, c.Established, c.Completed, c.Failed, c.PeakOpen, c.IdentitiesUsed)
	if err := tw.Flush(); err != nil {
		return err
	}
	rt := r.Rates
	fmt.Fprintf(b, "\nhandshakes/s %.1f   established/s %.1f   messages/s %.1f   bytes/s %s", rt.HandshakesPerSec, rt.EstablishedPerSec, rt.MessagesPerSec, bytesText(rt.BytesPerSec))
	if c.Resumed > 0 {
		fmt.Fprintf(b, "   resumed %d of %d handshakes", c.Resumed, c.Handshakes)
	}
	if c.CloseUnanswered > 0 {
		fmt.Fprintf(b, "   %d close frames unanswered", c.CloseUnanswered)
	}
	if c.Interrupted > 0 {
		fmt.Fprintf(b, "   %d interrupted", c.Interrupted)
	}
	b.WriteString("\n\n")

	tw = tabwriter.NewWriter(b, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-14s\tcount\tp50\tp90\tp99\tp99.9\tmax\t\n", "latency (ms)")
	for _, l := range []struct {
		name string
		h    *Histogram
	}{{"tcp connect", r.Latency.TCP}, {"tls handshake", r.Latency.TLS}, {"upgrade", r.Latency.Upgrade}, {"echo rtt", r.Latency.Echo}} {
		p := l.h.Percentiles()
		fmt.Fprintf(tw, "%-14s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", l.name, p.Count, msText(p.P50), msText(p.P90), msText(p.P99), msText(p.P999), msText(p.Max))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(r.Errors) == 0 {
		b.WriteString("\nerrors: none\n")
	} else {
		fmt.Fprintf(b, "\nerrors: %d of %d connections failed\n", c.Failed, c.Attempted)
		tw = tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
		for _, e := range r.Errors {
			fmt.Fprintf(tw, "  %d\t%s\t%s\n", e.Count, e.Layer, e.Summary())
			fmt.Fprintf(tw, "  \t\te.g. %s\n", e.Example)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if m := r.Memory; m != nil && m.PerConnectionBytes > 0 {
		who := "this process"
		if m.IncludesServer {
			who = "this process, generator and server together"
		}
		fmt.Fprintf(b, "\nmemory: %s per open connection (%s; heap and stacks at %d open, less the %s before the first)\n",
			bytesText(m.PerConnectionBytes), who, m.OpenAtPeak, bytesText(float64(m.BaselineBytes)))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// shapeLine sums up the settings in one line.
func shapeLine(r *Report) string {
	s := r.Settings
	parts := []string{fmt.Sprintf("%d connections", s.Connections)}
	if s.Rate > 0 {
		p := fmt.Sprintf("%g/s", s.Rate)
		if s.Ramp > 0 {
			p += " after a " + s.Ramp.String() + " ramp"
		}
		parts = append(parts, p)
	}
	msgs := "messages"
	if s.Messages == 1 {
		msgs = "message"
	}
	parts = append(parts, fmt.Sprintf("%d %s of %d bytes", s.Messages, msgs, s.MessageSize))
	if s.Hold > 0 {
		parts = append(parts, "held "+s.Hold.String())
	}
	if s.Duration > 0 {
		parts = append(parts, "for "+s.Duration.String())
	}
	if s.Reconnect {
		parts = append(parts, "reconnecting")
	}
	if s.Attempts > 0 {
		parts = append(parts, fmt.Sprintf("%d attempts", s.Attempts))
	}
	hs := "full handshakes"
	if s.Resume {
		hs = "sessions resumed"
	}
	parts = append(parts, fmt.Sprintf("%d identities", s.Identities), "TLS "+s.TLSVersion, hs)
	if len(s.CurvePreferences) > 0 {
		parts = append(parts, strings.Join(s.CurvePreferences, ","))
	}
	return strings.Join(parts, ", ")
}

func shardLine(r *Report) string {
	if len(r.Shards) > 1 || r.Shard.Index < 0 {
		return fmt.Sprintf("merged shards %v of %d", r.Shards, r.Shard.Count)
	}
	return "shard " + r.Shard.String()
}

// msText is microseconds as milliseconds, "-" for none.
func msText(us int64) string {
	if us == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(us)/1000)
}

// bytesText is a byte count in KiB or MiB.
func bytesText(n float64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", n/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", n/(1<<10))
	}
	return fmt.Sprintf("%.0f B", n)
}
