package harness

import "fmt"

// The layer rule. A reject scenario asks one question of the judged
// side: does it refuse this certificate? The refusal happens at a layer
// (tls, or http for a status before the upgrade), and it says something
// about the certificate only when the side's control, identical but for
// the certificate, got past that layer on the same subject. So each
// reject result is judged against its control:
//
//   - the control passed: a TLS refusal stands; an HTTP refusal, or a
//     close without an answer after the handshake, is the certificate's
//     doing (the same request with the valid certificate was upgraded),
//     whatever its page says (--strict-tls fails both: they are not in
//     the handshake);
//   - the control failed above the refusal's layer: the refusal stands,
//     and the report says separately what broke above it;
//   - the control failed at or below the refusal's layer: inconclusive
//     (the subject may refuse everything, or be down);
//   - the certificate got as far as the control and broke the same way
//     above TLS: inconclusive, since whether the subject would have
//     refused it higher up cannot be seen (--strict-tls fails it: it
//     should have been refused in the handshake).

// refusalLayer is the layer a refusal happened at.
func refusalLayer(v Verdict) LayerName {
	if v.Outcome == RejectedHTTP {
		return LayerHTTP
	}
	return LayerTLS
}

// controlFailedAt is where a failed control stopped. A TLS 1.3 close the
// TLS 1.2 re-run could not decide stops at tls: it may be a refusal of the
// valid certificate.
func controlFailedAt(c Result) LayerName {
	if c.Inconclusive && c.TLS13 != nil {
		return LayerTLS
	}
	return c.Layer
}

// judgeAgainstControl applies the layer rule to one result of a checked
// group, given its side's control.
func judgeAgainstControl(res *Result, c Result, strictTLS bool) {
	s := res.Scenario
	if s.Expect != Reject || res.Outcome == Skipped || res.Inconclusive {
		return
	}
	ctrl := c.Scenario.Name
	if c.Pass {
		switch {
		case res.Outcome == RejectedHTTP && res.RefusedBy == PartyServer && res.Layers.HTTP.StatusCode/100 == 4:
			res.Reason.Text += fmt.Sprintf("; %s, the same request with a valid certificate, was upgraded: the certificate caused this refusal (an HTTP-level refusal: --strict-tls fails it)", ctrl)
		case closedOnTheCertificate(res):
			// The handshake completed and the server hung up without a
			// word, where the same request with a valid certificate was
			// upgraded: it refused the certificate, outside TLS.
			res.Reason.Text += fmt.Sprintf("; %s, the same request with a valid certificate, was upgraded: the server closed on this certificate after the handshake (a refusal outside TLS: --strict-tls fails it)", ctrl)
			res.Pass, res.Mismatch = !strictTLS, ""
			if strictTLS {
				res.Mismatch = "expected a TLS-level refusal (--strict-tls), but the server completed the handshake and then closed the connection without an answer: " + res.Reason.Text
			}
		}
		return
	}
	failedAt := controlFailedAt(c)
	summary := fmt.Sprintf("%s: %s", c.Outcome, c.Reason.Text)
	switch {
	case res.Pass && !refusalLayer(res.Verdict).Below(failedAt):
		res.Pass, res.Inconclusive = false, true
		res.Mismatch = fmt.Sprintf("inconclusive: the %s control failed on this subject at the %s layer (%s), at or below the %s layer where this refusal happened, so it says nothing about the certificate: the subject may refuse everything", ctrl, failedAt, summary, refusalLayer(res.Verdict))
	case res.Pass:
		res.Above = fmt.Sprintf("%s: the %s control got past %s but failed at %s: %s", failedAt, ctrl, refusalLayer(res.Verdict), failedAt, summary)
		if res.Outcome == RejectedHTTP {
			res.Reason.Text += fmt.Sprintf("; %s, the same request with a valid certificate, was upgraded: the certificate caused this refusal (an HTTP-level refusal: --strict-tls fails it)", ctrl)
		}
	case res.Outcome == c.Outcome && res.Layer == failedAt && LayerTLS.Below(failedAt) && certRequestOf(res.Layers.TLS).Asked():
		if strictTLS {
			res.Mismatch = fmt.Sprintf("expected a TLS-level refusal (--strict-tls), but the certificate got past the handshake and, like %s's, ended at the %s layer: %s", ctrl, failedAt, res.Reason.Text)
			return
		}
		res.Inconclusive = true
		res.Mismatch = fmt.Sprintf("inconclusive: the server did not refuse this certificate in the TLS handshake, and above it broke the same way for the %s control (%s), so whether it would refuse the certificate at the %s layer cannot be seen (--strict-tls fails this: a certificate should be refused in the handshake)", ctrl, summary, failedAt)
	case !strictTLS && neverAskedAndBrokeAlike(res, c):
		// Apache with SSLVerifyClient inside <Location>, TLS 1.2: it
		// asks only after the handshake, by renegotiating, which the
		// reference client refuses under --no-renegotiation (or a second
		// time), and so lets nobody in. "It did not
		// refuse a certificate" would claim a hole nobody could get
		// through. (In TLS 1.3 such a server and one that never asks at
		// all look alike, a 403 without a CertificateRequest: that stays
		// a FAIL, with the post-handshake hint in its reason.)
		res.Inconclusive = true
		res.Mismatch = fmt.Sprintf("inconclusive: the server never asked for a client certificate in the handshake, and it ended this encounter as it ended the %s control's (%s): it let nobody in, so whether it would refuse this certificate cannot be seen (--strict-tls fails this: a certificate should be refused in the handshake)", ctrl, summary)
	}
}

// neverAskedAndBrokeAlike is a server-side result whose handshake, like
// its control's, finished without a CertificateRequest, and that ended
// like the control, with the server asking to renegotiate: it wants a
// certificate after the handshake, none reached it in either encounter,
// so neither says anything about this one.
func neverAskedAndBrokeAlike(res *Result, c Result) bool {
	return res.Scenario.Side == ServerSide && res.Client == nil && res.Outcome != Accepted && c.Reason.ID == ReasonRenegotiation &&
		certRequestOf(res.Layers.TLS) == RequestNotSent && certRequestOf(c.Layers.TLS) == RequestNotSent &&
		res.Outcome == c.Outcome && res.Layer == c.Layer && res.Reason.ID == c.Reason.ID
}

// closedOnTheCertificate is a server-side encounter whose handshake
// completed, certificate requested, and that the server closed without
// any HTTP answer.
func closedOnTheCertificate(res *Result) bool {
	return res.Scenario.Side == ServerSide && res.Outcome == NoUpgrade && res.Reason.ID == ReasonClosedBeforeUpgrade &&
		res.Layers.TLS.Status == LayerOK && certRequestOf(res.Layers.TLS).Asked() && res.Client == nil
}
