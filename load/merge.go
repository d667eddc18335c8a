package load

import (
	"fmt"
	"slices"
	"strings"
)

// Merge adds up the reports of the shards of one run (`--shard I/N` on N
// machines, each with the same flags): counts are summed, histograms
// merged bucket by bucket (exact: the merged p99 is the p99 of every
// connection of every shard, not an average of p99s), error classes added
// by class, and the timelines added second by second (by the Unix second
// each shard's second started in). Elapsed runs from the first shard's
// start to the last one's end, so the rates are the fleet's.
//
// The reports must be shards of one run: the same shard count, the same
// settings, and no shard twice. A missing shard is not an error (a run
// of 3 of 4 shards is merged as such; Shards says which are in).
func Merge(reps ...*Report) (*Report, error) {
	if len(reps) == 0 {
		return nil, fmt.Errorf("nothing to merge")
	}
	first := reps[0]
	out := &Report{
		SchemaVersion: SchemaVersion, Kind: ReportKind, Target: first.Target, Dialled: first.Dialled,
		Settings: first.Settings, Shard: Shard{Index: -1, Count: first.Shard.Count},
		Started: first.Started, Ended: first.Ended, Latency: newLatency(),
	}
	seen := map[int]bool{}
	dialled := []string{first.Dialled}
	errs := map[errorKey]*ErrorClass{}
	var order []errorKey
	secs := map[int64]*Second{}
	for i, r := range reps {
		if r.Shard.Count != first.Shard.Count {
			return nil, fmt.Errorf("report %d is shard %d of %d, report 1 of %d: not shards of one run", i+1, r.Shard.Index, r.Shard.Count, first.Shard.Count)
		}
		if r.Target != first.Target {
			return nil, fmt.Errorf("report %d loaded %s, report 1 %s: not shards of one run", i+1, r.Target, first.Target)
		}
		if d := settingsDiff(first.Settings, r.Settings); d != "" {
			return nil, fmt.Errorf("report %d was run with other settings than report 1 (%s): not shards of one run", i+1, d)
		}
		for _, s := range r.Shards {
			if seen[s] {
				return nil, fmt.Errorf("shard %d of %d is in more than one report: merge each shard once", s, r.Shard.Count)
			}
			seen[s] = true
			out.Shards = append(out.Shards, s)
		}
		if !slices.Contains(dialled, r.Dialled) {
			dialled = append(dialled, r.Dialled)
		}
		if r.Started.Before(out.Started) {
			out.Started = r.Started
		}
		if r.Ended.After(out.Ended) {
			out.Ended = r.Ended
		}
		out.Interrupted = out.Interrupted || r.Interrupted
		addCounts(&out.Counts, r.Counts)
		out.Latency.TCP.Merge(r.Latency.TCP)
		out.Latency.TLS.Merge(r.Latency.TLS)
		out.Latency.Upgrade.Merge(r.Latency.Upgrade)
		out.Latency.Echo.Merge(r.Latency.Echo)
		for _, e := range r.Errors {
			k := e.key()
			if have, ok := errs[k]; ok {
				have.Count += e.Count
				continue
			}
			c := e
			errs[k] = &c
			order = append(order, k)
		}
		for _, s := range r.Timeline {
			sec := s.At / 1000
			m, ok := secs[sec]
			if !ok {
				m = &Second{At: sec * 1000, TLS: newHistogram(secDigits), Echo: newHistogram(secDigits)}
				secs[sec] = m
			}
			m.Attempted += s.Attempted
			m.Handshakes += s.Handshakes
			m.Established += s.Established
			m.Failed += s.Failed
			m.Messages += s.Messages
			m.Bytes += s.Bytes
			m.Open += s.Open
			m.TLS.Merge(s.TLS)
			m.Echo.Merge(s.Echo)
		}
	}
	slices.Sort(out.Shards)
	out.Dialled = strings.Join(dialled, ", ")
	out.Elapsed = out.Ended.Sub(out.Started)
	for _, k := range order {
		out.Errors = append(out.Errors, *errs[k])
	}
	sortErrors(out.Errors)
	keys := make([]int64, 0, len(secs))
	for k := range secs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		out.Timeline = append(out.Timeline, *secs[k])
	}
	if len(reps) == 1 {
		out.Memory = first.Memory
	}
	out.computeRates()
	return out, nil
}

func addCounts(a *Counts, b Counts) {
	a.Attempted += b.Attempted
	a.TCPConnected += b.TCPConnected
	a.Handshakes += b.Handshakes
	a.Resumed += b.Resumed
	a.Established += b.Established
	a.Completed += b.Completed
	a.Failed += b.Failed
	a.Interrupted += b.Interrupted
	a.CloseUnanswered += b.CloseUnanswered
	a.MessagesSent += b.MessagesSent
	a.MessagesEchoed += b.MessagesEchoed
	a.BytesSent += b.BytesSent
	a.BytesEchoed += b.BytesEchoed
	a.PeakOpen += b.PeakOpen
	a.IdentitiesUsed += b.IdentitiesUsed
}

// settingsDiff names the first setting that differs between two shards'
// runs, "" when none does. The identity source may differ (each shard
// reads its own share).
func settingsDiff(a, b Settings) string {
	a.IdentitySource, b.IdentitySource = "", ""
	a.TicketBaseline, b.TicketBaseline = false, false
	switch {
	case a.Connections != b.Connections:
		return fmt.Sprintf("--connections %d and %d", a.Connections, b.Connections)
	case a.Identities != b.Identities:
		return fmt.Sprintf("%d and %d identities", a.Identities, b.Identities)
	case a.Rate != b.Rate:
		return fmt.Sprintf("--rate %g and %g", a.Rate, b.Rate)
	case a.Messages != b.Messages || a.MessageSize != b.MessageSize:
		return fmt.Sprintf("--messages %d x %d bytes and %d x %d bytes", a.Messages, a.MessageSize, b.Messages, b.MessageSize)
	case a.Hold != b.Hold || a.Duration != b.Duration || a.Ramp != b.Ramp || a.Attempts != b.Attempts:
		return "--hold, --duration, --ramp or --attempts"
	case a.Reconnect != b.Reconnect || a.Resume != b.Resume:
		return "--reconnect or --resume"
	case a.TLSVersion != b.TLSVersion || a.Timeout != b.Timeout:
		return "--tls-version or --timeout"
	}
	return ""
}
