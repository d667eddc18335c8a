package load

import (
	"runtime"
	"sync"
	"time"

	"github.com/mtlskit/mtlskit/harness"
)

// recorder keeps the run's counts, histograms, error classes and
// timeline. Every connection reports to it as it passes each phase; one
// mutex guards it all (a few lock operations per connection and one per
// message are nothing next to a handshake).
type recorder struct {
	mu     sync.Mutex
	counts Counts
	lat    Latency
	errs   map[errorKey]*ErrorClass
	order  []errorKey
	used   []bool

	// The second in progress, closed by tick.
	sec      Second
	secStart time.Time
	timeline []Second
	open     int64

	// Memory sampling (see Memory).
	memBase, memPeak uint64
	memOpen          int64
}

func newRecorder(identities int, start time.Time) *recorder {
	r := &recorder{lat: newLatency(), errs: map[errorKey]*ErrorClass{}, used: make([]bool, identities)}
	r.newSecond(start)
	return r
}

func (r *recorder) newSecond(at time.Time) {
	r.secStart = at
	r.sec = Second{At: at.UnixMilli(), TLS: newHistogram(secDigits), Echo: newHistogram(secDigits)}
}

func (r *recorder) attempt(identity int) {
	r.mu.Lock()
	r.counts.Attempted++
	r.sec.Attempted++
	if !r.used[identity] {
		r.used[identity] = true
		r.counts.IdentitiesUsed++
	}
	r.mu.Unlock()
}

func (r *recorder) tcp(d time.Duration) {
	r.mu.Lock()
	r.counts.TCPConnected++
	r.lat.TCP.Record(d)
	r.mu.Unlock()
}

// handshake: the connection got past TLS (the server answered its
// upgrade request at all, or upgraded it).
func (r *recorder) handshake(d time.Duration, resumed bool) {
	r.mu.Lock()
	r.counts.Handshakes++
	r.sec.Handshakes++
	if resumed {
		r.counts.Resumed++
	}
	r.lat.TLS.Record(d)
	r.sec.TLS.Record(d)
	r.mu.Unlock()
}

// established: 101; the connection is open.
func (r *recorder) established(d time.Duration) {
	r.mu.Lock()
	r.counts.Established++
	r.sec.Established++
	r.lat.Upgrade.Record(d)
	r.open++
	r.counts.PeakOpen = max(r.counts.PeakOpen, r.open)
	r.mu.Unlock()
}

func (r *recorder) sent(n int) {
	r.mu.Lock()
	r.counts.MessagesSent++
	r.counts.BytesSent += int64(n)
	r.mu.Unlock()
}

func (r *recorder) echoed(rtt time.Duration, n int) {
	r.mu.Lock()
	r.counts.MessagesEchoed++
	r.counts.BytesEchoed += int64(n)
	r.sec.Messages++
	r.sec.Bytes += int64(n)
	r.lat.Echo.Record(rtt)
	r.sec.Echo.Record(rtt)
	r.mu.Unlock()
}

// ended: the connection is over; wasOpen says it had been established.
func (r *recorder) completed(wasOpen, closeUnanswered bool) {
	r.mu.Lock()
	r.counts.Completed++
	if closeUnanswered {
		r.counts.CloseUnanswered++
	}
	r.closeLocked(wasOpen)
	r.mu.Unlock()
}

func (r *recorder) failed(v harness.Verdict, wasOpen bool) {
	e := ErrorClass{Layer: v.Layer, Outcome: v.Outcome, RefusedBy: v.RefusedBy, Reason: v.Reason.ID, Alert: v.Layers.TLS.Alert, Example: v.Reason.Text}
	if v.Outcome == harness.RejectedHTTP {
		e.Status = v.Layers.HTTP.StatusCode
	}
	k := e.key()
	r.mu.Lock()
	r.counts.Failed++
	r.sec.Failed++
	if have, ok := r.errs[k]; ok {
		have.Count++
	} else {
		e.Count = 1
		r.errs[k] = &e
		r.order = append(r.order, k)
	}
	r.closeLocked(wasOpen)
	r.mu.Unlock()
}

func (r *recorder) interrupted(wasOpen bool) {
	r.mu.Lock()
	r.counts.Interrupted++
	r.closeLocked(wasOpen)
	r.mu.Unlock()
}

func (r *recorder) closeLocked(wasOpen bool) {
	if wasOpen {
		r.open--
	}
}

// tick closes the second in progress at now and returns the progress.
func (r *recorder) tick(now, start time.Time, sampleMem bool) Progress {
	r.mu.Lock()
	r.sec.Open = r.open
	last := r.sec
	r.timeline = append(r.timeline, last)
	r.newSecond(now)
	p := Progress{Elapsed: now.Sub(start), Attempted: r.counts.Attempted, Established: r.counts.Established,
		Failed: r.counts.Failed, Open: r.open, HandshakesPerSec: float64(last.Handshakes), MessagesPerSec: float64(last.Messages)}
	open := r.open
	r.mu.Unlock()
	if sampleMem && open > 0 && open >= r.memOpen {
		m := memInUse()
		if open > r.memOpen || m > r.memPeak {
			r.memPeak, r.memOpen = m, open
		}
	}
	return p
}

// flush closes the last, partial second if anything happened in it.
func (r *recorder) flush() {
	r.mu.Lock()
	s := r.sec
	if s.Attempted+s.Handshakes+s.Established+s.Failed+s.Messages > 0 || len(r.timeline) == 0 {
		s.Open = r.open
		r.timeline = append(r.timeline, s)
	}
	r.mu.Unlock()
}

// memInUse is the Go heap and stacks in use.
func memInUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}
