package load

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/internal/wire"
)

// SchemaVersion is the version of the JSON report (docs/load.md).
const SchemaVersion = 1

// ReportKind is the JSON report's "kind".
const ReportKind = "mtlskit-load"

// Report is what a run (or the merge of the runs of several shards) did.
// Every count is exact; rates are counts over Elapsed.
type Report struct {
	SchemaVersion int    `json:"schema_version"`
	Kind          string `json:"kind"`
	// Target is the wss:// URL requested; Dialled the address every
	// connection went to.
	Target  string `json:"target"`
	Dialled string `json:"dialled"`
	// Settings are the run's shape (for a merged report, the first
	// shard's; Connections and Rate are the totals over the shards).
	Settings Settings `json:"settings"`
	// Shards lists the shard indexes a merged report holds (one entry
	// for a single run) out of Shard.Count.
	Shard  Shard `json:"shard"`
	Shards []int `json:"shards"`
	// Started and Ended bound the run; Elapsed is their difference, the
	// denominator of the rates.
	Started time.Time     `json:"started"`
	Ended   time.Time     `json:"ended"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// Interrupted: the run was cancelled before it finished.
	Interrupted bool `json:"interrupted,omitempty"`

	Counts Counts `json:"counts"`
	Rates  Rates  `json:"rates"`
	// Latency holds the four phases' histograms.
	Latency Latency `json:"latency"`
	// Errors are the failed connections by class, most frequent first.
	// Their counts add up to Counts.Failed.
	Errors []ErrorClass `json:"errors"`
	// Timeline has one entry per second of the run.
	Timeline []Second `json:"timeline"`
	// Memory is the generator's own memory per connection (nil for a
	// merged report of several processes, whose memories do not add up
	// to anything one machine used).
	Memory *Memory `json:"memory,omitempty"`
}

// Settings are the shape of a run, as given.
type Settings struct {
	Connections      int           `json:"connections"`
	Rate             float64       `json:"rate,omitempty"`
	Ramp             time.Duration `json:"ramp_ns,omitempty"`
	Duration         time.Duration `json:"duration_ns,omitempty"`
	Attempts         int           `json:"attempts,omitempty"`
	Messages         int           `json:"messages"`
	MessageSize      int           `json:"message_size"`
	Hold             time.Duration `json:"hold_ns,omitempty"`
	Reconnect        bool          `json:"reconnect,omitempty"`
	Resume           bool          `json:"resume,omitempty"`
	Timeout          time.Duration `json:"timeout_ns"`
	TLSVersion       string        `json:"tls_version"`
	Identities       int           `json:"identities"`
	IdentitySource   string        `json:"identity_source,omitempty"`
	InProcessServer  bool          `json:"in_process_server,omitempty"`
	TicketBaseline   bool          `json:"ticket_baseline,omitempty"`
	CurvePreferences []string      `json:"curves,omitempty"`
}

// Counts are the run's totals.
type Counts struct {
	// Attempted connections; each ends Completed or Failed (or was
	// Interrupted), so Attempted = Completed + Failed + Interrupted.
	Attempted int64 `json:"attempted"`
	// TCPConnected, Handshakes (TLS handshakes the server accepted:
	// the connection got past TLS) and Established (upgraded: 101) count
	// how far connections got.
	TCPConnected int64 `json:"tcp_connected"`
	Handshakes   int64 `json:"handshakes"`
	// Resumed counts the handshakes that resumed a session (--resume).
	Resumed     int64 `json:"resumed"`
	Established int64 `json:"established"`
	// Completed connections did every message, the hold and the close.
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
	// Interrupted connections were cut by the run's cancellation.
	Interrupted int64 `json:"interrupted,omitempty"`
	// CloseUnanswered counts completed connections whose server did not
	// answer the close frame in time (not a failure, as in the harness:
	// every message had come back).
	CloseUnanswered int64 `json:"close_unanswered"`
	MessagesSent    int64 `json:"messages_sent"`
	MessagesEchoed  int64 `json:"messages_echoed"`
	BytesSent       int64 `json:"bytes_sent"`
	BytesEchoed     int64 `json:"bytes_echoed"`
	// PeakOpen is the most connections open (upgraded, not yet closed)
	// at once; for a merged report the sum of the shards' peaks.
	PeakOpen int64 `json:"peak_open"`
	// IdentitiesUsed is how many distinct identities connected.
	IdentitiesUsed int64 `json:"identities_used"`
}

// Rates are Counts over the run's Elapsed time.
type Rates struct {
	AttemptsPerSec    float64 `json:"attempts_per_s"`
	HandshakesPerSec  float64 `json:"handshakes_per_s"`
	EstablishedPerSec float64 `json:"established_per_s"`
	MessagesPerSec    float64 `json:"messages_per_s"`
	// BytesPerSec is message payload echoed per second (each direction
	// carries as much).
	BytesPerSec float64 `json:"bytes_per_s"`
}

// Latency are the phases' histograms: TCP connect, TLS handshake (of the
// handshakes the server accepted), the upgrade (request to 101) and each
// message's echo round trip.
type Latency struct {
	TCP     *Histogram `json:"tcp_connect"`
	TLS     *Histogram `json:"tls_handshake"`
	Upgrade *Histogram `json:"upgrade"`
	Echo    *Histogram `json:"echo_rtt"`
}

func newLatency() Latency {
	return Latency{TCP: NewHistogram(), TLS: NewHistogram(), Upgrade: NewHistogram(), Echo: NewHistogram()}
}

// ErrorClass is the failed connections that ended alike: at the same
// layer, with the same outcome, refused by the same side for the same
// reason (and, when there was one, the same alert or HTTP status), named
// as the harness names an encounter's ending (docs/harness.md).
type ErrorClass struct {
	Layer     harness.LayerName `json:"layer"`
	Outcome   harness.Outcome   `json:"outcome"`
	RefusedBy harness.Party     `json:"refused_by,omitempty"`
	Reason    harness.ReasonID  `json:"reason"`
	Alert     *wire.Alert       `json:"alert,omitempty"`
	Status    int               `json:"status,omitempty"`
	Count     int64             `json:"count"`
	// Example is the words of the first connection of the class.
	Example string `json:"example"`
}

type errorKey struct {
	layer   harness.LayerName
	outcome harness.Outcome
	by      harness.Party
	reason  harness.ReasonID
	alert   int // -1: none
	status  int
}

func (e ErrorClass) key() errorKey {
	k := errorKey{e.Layer, e.Outcome, e.RefusedBy, e.Reason, -1, e.Status}
	if e.Alert != nil {
		k.alert = int(*e.Alert)
	}
	return k
}

// Summary says in a few words how the class ended: "refused in TLS by the
// server: unknown-ca (alert 48 unknown_ca)", "upgrade answered 503",
// "closed after 101: echo-closed".
func (e ErrorClass) Summary() string {
	alert := ""
	if e.Alert != nil {
		alert = fmt.Sprintf(" (%s)", e.Alert)
	}
	switch {
	case e.Outcome == harness.RejectedTLS:
		return fmt.Sprintf("refused in TLS by the %s: %s%s", e.RefusedBy, e.Reason, alert)
	case e.Outcome == harness.RejectedHTTP:
		return fmt.Sprintf("upgrade answered %d", e.Status)
	case e.Layer == harness.LayerTCP:
		return fmt.Sprintf("no TCP connection: %s", e.Reason)
	case e.Layer == harness.LayerTLS:
		return fmt.Sprintf("TLS failed: %s%s", e.Reason, alert)
	case e.Layer == harness.LayerHTTP:
		return fmt.Sprintf("no upgrade: %s%s", e.Reason, alert)
	case e.Reason == harness.ReasonEchoClosed:
		return "closed after 101: " + string(e.Reason)
	}
	return fmt.Sprintf("after 101: %s%s", e.Reason, alert)
}

// Second is one second of the timeline: what started, ended and was
// measured in it, and the connections open at its end.
type Second struct {
	// At is the second's start (Unix milliseconds); shards are merged
	// by the Unix second they fall in.
	At          int64 `json:"at_ms"`
	Attempted   int64 `json:"attempted"`
	Handshakes  int64 `json:"handshakes"`
	Established int64 `json:"established"`
	Failed      int64 `json:"failed"`
	Messages    int64 `json:"messages"`
	Bytes       int64 `json:"bytes"`
	Open        int64 `json:"open"`
	// TLS and Echo are the second's handshake and round-trip times (2
	// significant digits), for its p99.
	TLS  *Histogram `json:"tls_handshake"`
	Echo *Histogram `json:"echo_rtt"`
}

// Memory is the generator's memory per open connection: the Go heap and
// stacks in use, sampled once a second, at the sample with the most
// connections open, less what was in use before the first connection.
// It includes garbage not yet collected, so it is an upper bound; with
// the server in the same process (no --target) it is both sides'. It is
// measured only for runs that hold their connections (Hold), where it
// means something.
type Memory struct {
	BaselineBytes      uint64  `json:"baseline_bytes"`
	PeakBytes          uint64  `json:"peak_bytes"`
	OpenAtPeak         int64   `json:"open_at_peak"`
	PerConnectionBytes float64 `json:"per_connection_bytes"`
	IncludesServer     bool    `json:"includes_server,omitempty"`
}

// OK reports whether every connection attempted was completed: nothing
// failed and the run was not interrupted.
func (r *Report) OK() bool {
	return r.Counts.Failed == 0 && !r.Interrupted && r.Counts.Attempted > 0
}

// computeRates fills Rates from Counts and Elapsed.
func (r *Report) computeRates() {
	s := r.Elapsed.Seconds()
	if s <= 0 {
		r.Rates = Rates{}
		return
	}
	c := r.Counts
	r.Rates = Rates{
		AttemptsPerSec: round1(float64(c.Attempted) / s), HandshakesPerSec: round1(float64(c.Handshakes) / s),
		EstablishedPerSec: round1(float64(c.Established) / s), MessagesPerSec: round1(float64(c.MessagesEchoed) / s),
		BytesPerSec: round1(float64(c.BytesEchoed) / s),
	}
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

// sortErrors orders the classes by count, then by layer and reason.
func sortErrors(es []ErrorClass) {
	slices.SortStableFunc(es, func(a, b ErrorClass) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Layer, b.Layer); c != 0 {
			return c
		}
		return cmp.Compare(a.Summary(), b.Summary())
	})
}

// WriteJSON writes the report as one indented JSON object.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadJSON reads a report WriteJSON wrote (a run's `mtlskit load --json`).
func ReadJSON(rd io.Reader) (*Report, error) {
	var r Report
	dec := json.NewDecoder(rd)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("not a load report: %w", err)
	}
	if r.Kind != ReportKind {
		return nil, fmt.Errorf("not a load report (kind %q, want %q)", r.Kind, ReportKind)
	}
	if r.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("load report schema version %d, this mtlskit reads %d", r.SchemaVersion, SchemaVersion)
	}
	if r.Latency.TCP == nil || r.Latency.TLS == nil || r.Latency.Upgrade == nil || r.Latency.Echo == nil {
		return nil, errors.New("load report without its four latency histograms")
	}
	return &r, nil
}
