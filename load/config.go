package load

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mtlskit/mtlskit/internal/wire"
	"github.com/mtlskit/mtlskit/pki"
)

// Target is the server under load.
type Target struct {
	// URL is the wss:// URL requested; its host is what the server's
	// certificate is verified against and, with its port, what is
	// dialled (every connection goes to the one address of it that
	// answered first: nothing else is ever dialled).
	URL string
	// RootCAs verify the server's certificate.
	RootCAs []*x509.Certificate
}

// Config is the shape of a run. Connections and Rate are the totals of
// the whole run: with a Shard of N, this generator makes its share (see
// Shard.Split); Identities are this generator's own (Shard.Pick, or
// Mint with the shard).
type Config struct {
	Target Target
	// Identities are the client certificates, each with its key and
	// chain. The n-th connection attempt of this generator presents
	// Identities[n mod len(Identities)].
	Identities []*pki.Issued
	// Connections is how many connect at once (virtual clients); each
	// connects once, or again and again until Duration with Reconnect.
	Connections int
	// Rate, when positive, paces new connections (per second, the
	// whole run's); Ramp raises it linearly from 0 over that long.
	Rate float64
	Ramp time.Duration
	// Duration, when positive, ends the run: no connection starts after
	// it and held connections are closed (normally) at it.
	Duration time.Duration
	// Attempts, when positive, ends the run after that many connection
	// attempts (the whole run's): with Reconnect, Connections at a time
	// until Attempts were made.
	Attempts int
	// Messages are sent on each connection, one at a time, each of
	// MessageSize bytes (binary), each echo checked byte for byte and
	// timed.
	Messages, MessageSize int
	// Hold keeps each connection open this long after its messages.
	Hold time.Duration
	// Reconnect makes each virtual client connect again after its
	// connection ends, closed or failed, until Duration.
	Reconnect bool
	// Resume lets an identity's connections resume its TLS sessions
	// (each identity keeps its own session cache); without it every
	// handshake is a full one.
	Resume bool
	// Timeout bounds each phase of each connection: the dial, the
	// handshake, the upgrade, each echo and the close.
	Timeout time.Duration
	// TLSVersion pins TLS 1.2 or 1.3; 0 negotiates.
	TLSVersion uint16
	// CurvePreferences, when set, are the only key exchanges offered.
	CurvePreferences []tls.CurveID
	// TicketBaseline: a valid client got a TLS 1.3 session ticket from
	// this server (WaitReady says), which decides what a close without an
	// alert after the client's handshake is (docs/harness.md).
	TicketBaseline bool
	// Shard is this generator's part of the run.
	Shard Shard
	// IdentitySource and InProcessServer are noted in the report.
	IdentitySource  string
	InProcessServer bool
	// Progress, when set, is called about once a second, from one
	// goroutine, with the run so far.
	Progress func(Progress)
}

// Progress is the run so far, for a progress line.
type Progress struct {
	Elapsed                          time.Duration
	Attempted, Established, Failed   int64
	Open                             int64
	HandshakesPerSec, MessagesPerSec float64
}

// Largest values accepted, so that a typo cannot ask for the impossible.
const (
	MaxConnections = 1 << 20
	MaxMessages    = 1 << 24
)

// ConfigError is a Config that cannot be run; Field names the setting
// as its flag (connections, rate, ...).
type ConfigError struct {
	Field, Problem string
}

func (e *ConfigError) Error() string { return "--" + e.Field + ": " + e.Problem }

func (c *Config) check() error {
	bad := func(f, format string, a ...any) error { return &ConfigError{f, fmt.Sprintf(format, a...)} }
	switch {
	case c.Target.URL == "":
		return bad("target", "no target URL")
	case len(c.Target.RootCAs) == 0:
		return bad("target", "no CA to verify the server with")
	case len(c.Identities) == 0:
		return bad("identities", "no client identity to connect with")
	}
	for i, id := range c.Identities {
		if id == nil || id.Cert == nil || id.Key == nil {
			return bad("identities", "identity %d has no certificate or no key", i)
		}
	}
	if _, err := wire.ParseEndpoint(c.Target.URL); err != nil {
		return bad("target", "%v", err)
	}
	return c.CheckShape()
}

// CheckShape checks the settings that do not depend on the target or
// the identities (Run checks them too), so a command can refuse a bad
// flag before it starts a server or mints a certificate. Its errors are
// *ConfigError.
func (c *Config) CheckShape() error {
	bad := func(f, format string, a ...any) error { return &ConfigError{f, fmt.Sprintf(format, a...)} }
	switch {
	case c.Connections < 1 || c.Connections > MaxConnections:
		return bad("connections", "%d: use 1 to %d", c.Connections, MaxConnections)
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return bad("rate", "%g: use a positive number of connections per second", c.Rate)
	case c.Ramp < 0 || (c.Ramp > 0 && c.Rate == 0):
		return bad("ramp", "a ramp needs a positive --rate to ramp up to")
	case c.Duration < 0:
		return bad("duration", "negative")
	case c.Attempts < 0:
		return bad("attempts", "negative")
	case c.Reconnect && c.Duration == 0 && c.Attempts == 0:
		return bad("reconnect", "reconnecting goes on until --duration or --attempts: set one")
	case c.Messages < 0 || c.Messages > MaxMessages:
		return bad("messages", "%d: use 0 to %d", c.Messages, MaxMessages)
	case c.MessageSize < 1 || c.MessageSize > wire.MaxMessageSize:
		return bad("message-size", "%d: use 1 to %d bytes (the reference server's message limit)", c.MessageSize, wire.MaxMessageSize)
	case c.Hold < 0:
		return bad("hold", "negative")
	case c.Timeout <= 0:
		return bad("timeout", "must be positive")
	}
	if err := c.Shard.check(); err != nil {
		return err
	}
	if c.Shard.Split(c.Connections) == 0 {
		return bad("shard", "shard %s of %d connections has none: use fewer shards or more connections", c.Shard, c.Connections)
	}
	return nil
}

// Shard is one generator's part of a run made by Count generators:
// Index from 0 to Count-1, as Kubernetes numbers the pods of an Indexed
// Job (JOB_COMPLETION_INDEX). The zero value is the whole run.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

func (s Shard) count() int { return max(s.Count, 1) }

func (s Shard) check() error {
	if s.Count < 0 || s.Index < 0 || (s.Count > 0 && s.Index >= s.Count) {
		return &ConfigError{"shard", fmt.Sprintf("%d/%d: use I/N with 0 <= I < N", s.Index, s.Count)}
	}
	return nil
}

// String is "I/N".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.count()) }

// Split is this shard's part of n: n/Count, one more for the first n mod
// Count shards, so the parts add up to n.
func (s Shard) Split(n int) int {
	c := s.count()
	part := n / c
	if s.Index < n%c {
		part++
	}
	return part
}

// Rate is this shard's part of a rate.
func (s Shard) Rate(r float64) float64 { return r / float64(s.count()) }

// Owns reports whether the identity of global index i is this shard's:
// the shards take every Count-th identity, so their identities are
// disjoint and together are all of them.
func (s Shard) Owns(i int) bool { return i%s.count() == s.Index }

// Pick keeps this shard's identities of a list every shard reads alike
// (a store's, a directory's, in name order).
func (s Shard) Pick(ids []*pki.Issued) []*pki.Issued {
	var out []*pki.Issued
	for i, id := range ids {
		if s.Owns(i) {
			out = append(out, id)
		}
	}
	return out
}

// ParseShard reads "I/N" (0 <= I < N).
func ParseShard(s string) (Shard, error) {
	i, n, ok := strings.Cut(strings.TrimSpace(s), "/")
	ii, err1 := strconv.Atoi(i)
	nn, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || nn < 1 || ii < 0 || ii >= nn {
		return Shard{}, &ConfigError{"shard", fmt.Sprintf("%q: use I/N with 0 <= I < N, such as 0/3", s)}
	}
	return Shard{Index: ii, Count: nn}, nil
}

// ShardFromEnv is the shard a Kubernetes Indexed Job gives its pod:
// JOB_COMPLETION_INDEX of JOB_COMPLETIONS; ok is false when they are not
// set.
func ShardFromEnv(getenv func(string) string) (s Shard, ok bool, err error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	idx, n := getenv("JOB_COMPLETION_INDEX"), getenv("JOB_COMPLETIONS")
	if idx == "" && n == "" {
		return Shard{}, false, nil
	}
	if idx == "" || n == "" {
		return Shard{}, false, &ConfigError{"shard", fmt.Sprintf("JOB_COMPLETION_INDEX=%q and JOB_COMPLETIONS=%q: both are needed (set completions and completionMode: Indexed in the Job, and pass JOB_COMPLETIONS to the pod)", idx, n)}
	}
	s, err = ParseShard(idx + "/" + n)
	return s, err == nil, err
}

// FDLimitError is a descriptor limit too low for the run.
type FDLimitError struct {
	Limit       uint64
	Connections int
	Need        uint64
}

func (e *FDLimitError) Error() string {
	return fmt.Sprintf("ulimit -n is %d; %d connections need more (about %d descriptors): raise it (ulimit -n %d, or LimitNOFILE= / the container runtime's nofile limit)", e.Limit, e.Connections, e.Need, roundUpLimit(e.Need))
}

func roundUpLimit(n uint64) uint64 { return (n + 1023) / 1024 * 1024 }

// fdSlack is the descriptors a run needs besides its connections: the
// standard ones, the listener, the resolver, the runtime's poller.
const fdSlack = 64

// FDNeed is how many descriptors a run of connections needs at most:
// one per connection, two with the server in the same process, plus
// some slack.
func FDNeed(connections int, inProcessServer bool) uint64 {
	n := uint64(connections)
	if inProcessServer {
		n *= 2
	}
	return n + fdSlack
}

// fdLimit reads RLIMIT_NOFILE's soft limit (Go raises it to the hard
// limit at start-up, so this is what the process can open); a variable
// for the tests.
var fdLimit = func() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	return l.Cur, nil
}

// CheckFDLimit fails with an *FDLimitError when the process may open
// fewer descriptors than FDNeed(connections, inProcessServer). Run checks
// it first.
func CheckFDLimit(connections int, inProcessServer bool) error {
	limit, err := fdLimit()
	if err != nil {
		return nil // cannot tell: the dials will say
	}
	need := FDNeed(connections, inProcessServer)
	if limit < need {
		return &FDLimitError{Limit: limit, Connections: connections, Need: need}
	}
	return nil
}
