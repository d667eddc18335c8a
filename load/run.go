package load

import (
	"context"
	"crypto/tls"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/internal/wire"
)

// UnreachableError is a target where nothing answered the first dial:
// no connection was attempted (a run error, not a result).
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("nothing answers at %s: %v", e.URL, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// runner is one run in progress.
type runner struct {
	cfg   Config
	url   string
	addr  string // the one address dialled
	conns int    // this shard's virtual clients
	base  *tls.Config
	ids   []*identity
	rec   *recorder
	stop  context.Context // done at Duration (or cancellation)
	pay   []byte          // message payloads are windows of it
	bufs  sync.Pool
}

// identity is a client certificate ready to present, with its own
// session cache when sessions are resumed.
type identity struct {
	index    int
	cert     tls.Certificate
	sessions tls.ClientSessionCache
}

// Run loads the target as cfg says and returns what happened. It fails
// before any connection for a Config that cannot run (*ConfigError), a
// descriptor limit too low (*FDLimitError) or a target where nothing
// answers (*UnreachableError); everything after that is in the Report,
// every failed connection classified. Cancelling ctx ends the run at
// once (open connections are cut, counted as interrupted).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	r, err := newRunner(cfg)
	if err != nil {
		return nil, err
	}
	e, _ := wire.ParseEndpoint(cfg.Target.URL)
	probe, answered, _, err := wire.DialFirst(ctx, e.Addr(), cfg.Timeout)
	if err != nil {
		return nil, &UnreachableError{URL: r.url, Err: err}
	}
	probe.Close()
	r.addr = answered
	return r.run(ctx), nil
}

// newRunner checks cfg and prepares the run, short of dialling.
func newRunner(cfg Config) (*runner, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	conns := cfg.Shard.Split(cfg.Connections)
	if err := CheckFDLimit(conns, cfg.InProcessServer); err != nil {
		return nil, err
	}
	e, _ := wire.ParseEndpoint(cfg.Target.URL)
	r := &runner{cfg: cfg, url: e.URL(), conns: conns, addr: e.Addr()}
	r.base = &tls.Config{RootCAs: wire.CertPool(cfg.Target.RootCAs), ServerName: e.Host,
		NextProtos: []string{"http/1.1"}, CurvePreferences: cfg.CurvePreferences}
	wire.PinVersion(r.base, cfg.TLSVersion)
	for i, iss := range cfg.Identities {
		id := &identity{index: i, cert: iss.TLSCertificate(true)}
		if cfg.Resume {
			id.sessions = tls.NewLRUClientSessionCache(4)
		}
		r.ids = append(r.ids, id)
	}
	r.pay = payload(cfg.MessageSize)
	size := cfg.MessageSize
	r.bufs.New = func() any { b := make([]byte, size+1); return &b }
	r.rec = newRecorder(len(r.ids), time.Now())
	r.stop = context.Background()
	return r, nil
}

// run makes the connections and returns the report.
func (r *runner) run(ctx context.Context) *Report {
	cfg, conns := r.cfg, r.conns
	stop, cancelStop := ctx, context.CancelFunc(func() {})
	if cfg.Duration > 0 {
		stop, cancelStop = context.WithTimeout(ctx, cfg.Duration)
	}
	defer cancelStop()
	r.stop = stop

	runtime.GC()
	start := time.Now()
	r.rec = newRecorder(len(r.ids), start)
	r.rec.memBase = memInUse()

	var tokens chan struct{}
	done := make(chan struct{})
	var pacer sync.WaitGroup
	if rate := cfg.Shard.Rate(cfg.Rate); rate > 0 {
		tokens = make(chan struct{})
		pacer.Add(1)
		go func() { defer pacer.Done(); r.pace(rate, tokens, done) }()
	}
	ticked := make(chan struct{})
	go func() { defer close(ticked); r.ticker(start, done) }()

	var attempts atomic.Uint64
	limit := uint64(cfg.Shard.Split(cfg.Attempts))
	var clients sync.WaitGroup
	for range conns {
		clients.Add(1)
		go func() {
			defer clients.Done()
			for {
				if tokens != nil {
					select {
					case <-tokens:
					case <-stop.Done():
						return
					}
				} else if stop.Err() != nil {
					return
				}
				n := attempts.Add(1) - 1
				if cfg.Attempts > 0 && n >= limit {
					return
				}
				r.connect(ctx, n)
				if !cfg.Reconnect || stop.Err() != nil {
					return
				}
			}
		}()
	}
	clients.Wait()
	close(done)
	pacer.Wait()
	<-ticked
	end := time.Now()
	r.rec.flush()
	return r.report(ctx, start, end)
}

// pace hands out a token per connection start: rate per second, raised
// linearly from 0 over the ramp. A start that could not be handed out
// (every virtual client busy) is not made up for with a burst later: the
// schedule slips instead once it is a second behind.
func (r *runner) pace(rate float64, tokens chan<- struct{}, done <-chan struct{}) {
	start := time.Now()
	var slip time.Duration
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for n := 0; ; n++ {
		at := start.Add(slip + scheduleAt(n, rate, r.cfg.Ramp))
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-done:
				return
			case <-r.stop.Done():
				return
			}
		} else if d < -time.Second {
			slip -= d
		}
		select {
		case tokens <- struct{}{}:
		case <-done:
			return
		case <-r.stop.Done():
			return
		}
	}
}

// scheduleAt is when the n-th start (from 0) is due: where the integral
// of the rate, rising linearly over ramp and flat after it, reaches n.
func scheduleAt(n int, rate float64, ramp time.Duration) time.Duration {
	rs := ramp.Seconds()
	inRamp := rate * rs / 2
	var s float64
	if float64(n) < inRamp {
		s = math.Sqrt(2 * float64(n) * rs / rate)
	} else {
		s = rs + (float64(n)-inRamp)/rate
	}
	return time.Duration(s * float64(time.Second))
}

// ticker closes a second of the timeline every second and reports the
// progress.
func (r *runner) ticker(start time.Time, done <-chan struct{}) {
	for k := 1; ; k++ {
		next := start.Add(time.Duration(k) * time.Second)
		t := time.NewTimer(time.Until(next))
		select {
		case <-done:
			t.Stop()
			return
		case <-t.C:
		}
		p := r.rec.tick(next, start, r.cfg.Hold > 0)
		if r.cfg.Progress != nil {
			r.cfg.Progress(p)
		}
	}
}

func (r *runner) report(ctx context.Context, start, end time.Time) *Report {
	cfg := r.cfg
	rec := r.rec
	rep := &Report{
		SchemaVersion: SchemaVersion, Kind: ReportKind, Target: r.url, Dialled: r.addr,
		Settings: Settings{Connections: cfg.Connections, Rate: cfg.Rate, Ramp: cfg.Ramp, Duration: cfg.Duration,
			Attempts: cfg.Attempts, Messages: cfg.Messages, MessageSize: cfg.MessageSize, Hold: cfg.Hold, Reconnect: cfg.Reconnect, Resume: cfg.Resume,
			Timeout: cfg.Timeout, TLSVersion: wire.VersionName(cfg.TLSVersion), Identities: len(cfg.Identities) * max(cfg.Shard.Count, 1),
			IdentitySource: cfg.IdentitySource, InProcessServer: cfg.InProcessServer, TicketBaseline: cfg.TicketBaseline},
		Shard: Shard{Index: cfg.Shard.Index, Count: cfg.Shard.count()}, Shards: []int{cfg.Shard.Index},
		Started: start, Ended: end, Elapsed: end.Sub(start), Interrupted: ctx.Err() != nil,
		Counts: rec.counts, Latency: rec.lat, Timeline: rec.timeline,
	}
	for _, c := range cfg.CurvePreferences {
		rep.Settings.CurvePreferences = append(rep.Settings.CurvePreferences, c.String())
	}
	for _, k := range rec.order {
		rep.Errors = append(rep.Errors, *rec.errs[k])
	}
	sortErrors(rep.Errors)
	if rec.memOpen > 0 {
		m := &Memory{BaselineBytes: rec.memBase, PeakBytes: rec.memPeak, OpenAtPeak: rec.memOpen, IncludesServer: cfg.InProcessServer}
		if rec.memPeak > rec.memBase {
			m.PerConnectionBytes = math.Round(float64(rec.memPeak-rec.memBase) / float64(rec.memOpen))
		}
		rep.Memory = m
	}
	rep.computeRates()
	return rep
}

// payload is the bytes messages are cut from: message i is the window
// starting at i mod 251, so consecutive messages differ and an echo of
// the wrong one is caught.
func payload(size int) []byte {
	b := make([]byte, size+251)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// message is the i-th message's payload.
func (r *runner) message(i int) []byte {
	o := i % 251
	return r.pay[o : o+r.cfg.MessageSize]
}

// classify names a failed phase as the harness's reference client does.
func (r *runner) classify(f harness.Failure) harness.Verdict {
	f.Timeout, f.TicketBaseline = r.cfg.Timeout, r.cfg.TicketBaseline
	return f.Classify()
}
