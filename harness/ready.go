package harness

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// NotReadyError is a server subject that never became ready: every
// valid-client encounter within the readiness timeout got a transient
// answer (nothing listening, a reset, a close before any HTTP answer, a
// 502, 503 or 504). It is a run error, not a verdict: no scenario ran.
type NotReadyError struct {
	Subject string
	// Limit is the readiness timeout; Waited how long the tries took.
	Limit  time.Duration
	Waited time.Duration
	Tries  int
	// Last is the last encounter's verdict.
	Last Verdict
}

func (e *NotReadyError) Error() string {
	return fmt.Sprintf("the server never became ready within %s (%d tries over %s): last answer %s", e.Limit, e.Tries, e.Waited.Round(100*time.Millisecond), lastAnswer(e.Last))
}

// lastAnswer says what a not-ready server last answered, in a few words:
// "502 Bad Gateway from nginx/1.22.1", "nothing listens on ...".
func lastAnswer(v Verdict) string {
	if code := v.Layers.HTTP.StatusCode; code != 0 && code != http.StatusSwitchingProtocols {
		s := fmt.Sprintf("%d %s", code, http.StatusText(code))
		if sv := v.Layers.HTTP.ServerHeader; sv != "" {
			s += " from " + sv
		}
		return s
	}
	return v.Reason.Text
}

// transient reports an answer that a server still starting gives: the
// port closed, the connection reset or closed before any HTTP answer, or
// a proxy whose backend is not up yet (502, 503, 504).
func transient(v Verdict) bool {
	switch {
	case v.Outcome == ConnectFailed && v.Layer == LayerTCP && v.Reason.ID == ReasonConnectRefused:
		return true
	case v.Outcome == ConnectFailed && v.Layer == LayerTLS && v.Reason.ID == ReasonHandshakeAborted && v.Layers.TLS.Negotiated == 0:
		return true // reset or closed before the ServerHello
	case v.Outcome == NoUpgrade && v.Reason.ID == ReasonClosedBeforeUpgrade:
		return true
	case v.Outcome == RejectedHTTP:
		switch v.Layers.HTTP.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
	}
	return false
}

// readyBackoff is the pause after the first transient answer; it doubles
// up to readyBackoffMax.
const (
	readyBackoff    = 50 * time.Millisecond
	readyBackoffMax = time.Second
)

// waitReady runs the valid-client encounter against the server subject
// until it gets an answer that is not transient, for at most
// opts.ReadyTimeout. It returns how long that took and how many
// encounters; a server still answering transiently at the deadline is a
// *NotReadyError.
func waitReady(ctx context.Context, m *Materials, opts Options) (time.Duration, int, error) {
	valid, err := Lookup(ControlScenario(ServerSide))
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	deadline := start.Add(opts.ReadyTimeout)
	pause := readyBackoff
	for tries := 1; ; tries++ {
		v := encounter(ctx, valid[0], m, opts)
		if !transient(v) {
			return time.Since(start), tries, nil
		}
		left := time.Until(deadline)
		if ctx.Err() != nil || left <= 0 {
			return 0, tries, &NotReadyError{Subject: opts.Server.Name(), Limit: opts.ReadyTimeout, Waited: time.Since(start), Tries: tries, Last: v}
		}
		select {
		case <-ctx.Done():
		case <-time.After(min(pause, left)):
		}
		pause = min(2*pause, readyBackoffMax)
	}
}
