package load

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/internal/wire"
)

// TestLoadHistogramMergeExact: three shards' histograms, merged (also
// through their JSON), are the histogram of all their values: every
// percentile the same, to the microsecond, and the exact extremes.
func TestLoadHistogramMergeExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	all := NewHistogram()
	var parts []*Histogram
	for range 3 {
		h := NewHistogram()
		for range 5000 {
			d := time.Duration(rng.ExpFloat64()*2e6) + 50*time.Microsecond
			h.Record(d)
			all.Record(d)
		}
		parts = append(parts, h)
	}
	merged := NewHistogram()
	for _, h := range parts {
		b, err := h.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var back Histogram
		if err := back.UnmarshalJSON(b); err != nil {
			t.Fatal(err)
		}
		merged.Merge(&back)
	}
	if merged.Percentiles() != all.Percentiles() {
		t.Fatalf("merged %+v\n   all %+v", merged.Percentiles(), all.Percentiles())
	}
	for _, q := range []float64{1, 25, 50, 75, 90, 99, 99.9, 99.99, 100} {
		if merged.Quantile(q) != all.Quantile(q) {
			t.Errorf("p%g: merged %d, all %d", q, merged.Quantile(q), all.Quantile(q))
		}
	}
	// The average of the shards' p99s is not the p99 of the whole.
	if all.Count() != 15000 || all.Max() < all.Quantile(99.9) {
		t.Errorf("count %d max %d p99.9 %d", all.Count(), all.Max(), all.Quantile(99.9))
	}
}

func shardReport(index, count int, counts Counts, errs []ErrorClass, at time.Time) *Report {
	r := &Report{SchemaVersion: SchemaVersion, Kind: ReportKind, Target: "wss://t/", Dialled: "127.0.0.1:1",
		Settings: Settings{Connections: 10, Messages: 1, MessageSize: 32, Timeout: time.Second, TLSVersion: "negotiated"},
		Shard:    Shard{index, count}, Shards: []int{index}, Started: at, Ended: at.Add(2 * time.Second), Elapsed: 2 * time.Second,
		Counts: counts, Latency: newLatency(), Errors: errs}
	for i := range 2 {
		s := Second{At: at.Add(time.Duration(i) * time.Second).UnixMilli(), Attempted: 1, TLS: newHistogram(secDigits), Echo: newHistogram(secDigits)}
		s.TLS.Record(time.Millisecond)
		r.Timeline = append(r.Timeline, s)
	}
	r.Latency.TLS.Record(time.Duration(index+1) * time.Millisecond)
	return r
}

func TestLoadMerge(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	unknownCA := ErrorClass{Layer: harness.LayerTLS, Outcome: harness.RejectedTLS, RefusedBy: harness.PartyServer, Reason: harness.ReasonUnknownCA, Alert: wire.NewAlert(wire.AlertUnknownCA), Count: 2, Example: "a"}
	s503 := ErrorClass{Layer: harness.LayerHTTP, Outcome: harness.RejectedHTTP, Reason: harness.ReasonHTTPStatus, Status: 503, Count: 1, Example: "b"}
	a := shardReport(0, 2, Counts{Attempted: 5, Established: 3, Completed: 3, Failed: 2, MessagesEchoed: 3, PeakOpen: 2}, []ErrorClass{unknownCA}, at)
	b := shardReport(1, 2, Counts{Attempted: 5, Established: 2, Completed: 2, Failed: 3, MessagesEchoed: 2, PeakOpen: 1}, []ErrorClass{s503, unknownCA}, at.Add(500*time.Millisecond))
	// Through JSON, as `mtlskit load merge` reads them.
	var reps []*Report
	for _, r := range []*Report{a, b} {
		var buf bytes.Buffer
		if err := WriteJSON(&buf, r); err != nil {
			t.Fatal(err)
		}
		back, err := ReadJSON(&buf)
		if err != nil {
			t.Fatal(err)
		}
		reps = append(reps, back)
	}
	m, err := Merge(reps...)
	if err != nil {
		t.Fatal(err)
	}
	if m.Counts.Attempted != 10 || m.Counts.Failed != 5 || m.Counts.Established != 5 || m.Counts.PeakOpen != 3 {
		t.Errorf("merged counts %+v", m.Counts)
	}
	if len(m.Errors) != 2 || m.Errors[0].Reason != harness.ReasonUnknownCA || m.Errors[0].Count != 4 || m.Errors[1].Status != 503 || m.Errors[1].Count != 1 {
		t.Errorf("merged errors %+v", m.Errors)
	}
	if m.Elapsed != 2500*time.Millisecond || len(m.Shards) != 2 {
		t.Errorf("elapsed %s, shards %v", m.Elapsed, m.Shards)
	}
	// Seconds 0, 1 of a and 0.5, 1.5 of b fall in Unix seconds 0, 1, 1, 2... by their start.
	var total int64
	for _, s := range m.Timeline {
		total += s.Attempted
	}
	if total != 4 || len(m.Timeline) != 2 || m.Timeline[0].TLS.Count() != 2 {
		t.Errorf("merged timeline %d seconds holding %d starts, first second's TLS %d", len(m.Timeline), total, m.Timeline[0].TLS.Count())
	}
	if m.Latency.TLS.Count() != 2 || m.Latency.TLS.Max() != 2000 || m.Latency.TLS.Min() != 1000 {
		t.Errorf("merged TLS histogram %+v", m.Latency.TLS.Percentiles())
	}
	// The same shard twice, or shards of other runs, are refused.
	if _, err := Merge(reps[0], reps[0]); err == nil || !strings.Contains(err.Error(), "more than one report") {
		t.Errorf("a shard merged twice: %v", err)
	}
	other := shardReport(1, 2, Counts{}, nil, at)
	other.Settings.Connections = 11
	if _, err := Merge(a, other); err == nil || !strings.Contains(err.Error(), "--connections") {
		t.Errorf("shards of different runs merged: %v", err)
	}
}
