package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/mtlskit/mtlskit/internal/wire"

	"github.com/mtlskit/mtlskit/pki"
)

// handshake runs a strict TLS handshake on raw and fills in live-tls,
// live-server-chain and live-client-cert-request. It returns the
// connection when the client's side of the handshake finished; otherwise
// the probe has stopped.
//
// How the chain is read when verification fails: crypto/tls verifies the
// server chain itself (RootCAs, ServerName) and, when that fails, returns
// a *tls.CertificateVerificationError whose UnverifiedCertificates are
// the certificates the server sent. That is all the offline checks need,
// so verification is never switched off. VerifyConnection is set only to
// record the state of a chain that passed (it runs after crypto/tls's own
// checks and returns nil): when the server then refuses the client, the
// verified chain is still diagnosed. A server that fails verification
// gets nothing more: no client certificate, no request.
func (p *prober) handshake(ctx context.Context, raw net.Conn) (*tls.Conn, bool) {
	auth := &ClientAuth{AcceptableCAs: []string{}}
	p.rep.ClientAuth = auth
	var acceptable [][]byte
	var verified *tls.ConnectionState
	tcfg := &tls.Config{
		ServerName: p.cfg.Host,
		NextProtos: []string{"http/1.1"},
		GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			auth.Requested = true
			acceptable = cri.AcceptableCAs
			auth.AcceptableCAs = decodeNames(cri.AcceptableCAs)
			if p.cfg.ClientCert == nil {
				return &tls.Certificate{}, nil
			}
			auth.Sent = true
			return p.cfg.ClientCert, nil
		},
		// Called only after crypto/tls verified the chain and the name:
		// it records, it never relaxes anything.
		VerifyConnection: func(cs tls.ConnectionState) error {
			verified = &cs
			return nil
		},
	}
	if p.cfg.Roots != nil {
		tcfg.RootCAs = wire.CertPool(p.cfg.Roots)
	}
	wire.PinVersion(tcfg, p.cfg.TLSVersion)

	tc := tls.Client(raw, tcfg)
	hctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	start := time.Now()
	err := tc.HandshakeContext(hctx)
	cancel()
	took := time.Since(start).Round(time.Microsecond)
	st := tc.ConnectionState()
	t := &TLS{Completed: err == nil, ALPN: st.NegotiatedProtocol}
	if st.Version != 0 {
		t.Version, t.Negotiated = tls.VersionName(st.Version), st.Version
	}
	if st.CipherSuite != 0 {
		t.CipherSuite = tls.CipherSuiteName(st.CipherSuite)
	}
	p.rep.TLS = t
	sni := "SNI " + p.cfg.Host
	if net.ParseIP(p.cfg.Host) != nil {
		sni = "no SNI (dialled by IP address; the certificate must hold it as an IP SAN)"
	}

	if err == nil {
		ev := []string{"version: " + t.Version, "cipher suite: " + t.CipherSuite, "ALPN: " + orNone(t.ALPN), sni, "handshake took " + took.String()}
		p.set(LiveTLS, pki.StatusPass, fmt.Sprintf("%s, %s", t.Version, t.CipherSuite), ev...)
		p.diagnoseChain(st.PeerCertificates, nil)
		p.clientCertRequest(acceptable)
		return tc, true
	}

	return nil, p.handshakeFailed(err, handshakeSeen{verified: verified, acceptable: acceptable, sni: sni})
}

// handshakeSeen is what a failed handshake left to judge it by: the
// chain crypto/tls verified before the failure (nil when it got no
// further), the CA names of a CertificateRequest, the SNI evidence line.
type handshakeSeen struct {
	verified   *tls.ConnectionState
	acceptable [][]byte
	sni        string
}

// handshakeFailed fills in live-tls for a handshake that did not finish:
// mtlskit refused the server's chain, the server refused the client
// inside the handshake (TLS 1.2), or the handshake broke. It always
// stops the probe and returns false.
func (p *prober) handshakeFailed(err error, seen handshakeSeen) bool {
	negotiated := ""
	if v := p.rep.TLS.Version; v != "" {
		negotiated = " (" + v + " negotiated)"
	}
	ev := []string{seen.sni, "Go: " + err.Error()}
	var cve *tls.CertificateVerificationError
	a := wire.RemoteAlert(err)
	switch {
	case errors.As(err, &cve):
		p.set(LiveTLS, pki.StatusFail, "mtlskit refused the server certificate, so the handshake stopped"+negotiated+": see live-server-chain", seen.sni)
		p.diagnoseChain(cve.UnverifiedCertificates, err)
		p.set(LiveClientCertRequest, pki.StatusSkip, "not reached: a verifying client stops at the server certificate, before it is asked for or sends its own")
		p.stop(LiveServerChain)
		return false
	case seen.verified != nil && p.rep.ClientAuth.Requested && (a != nil || wire.IsClosed(err)):
		// TLS 1.2 (or a server that checks early): the server judged the
		// client certificate inside the handshake.
		what := "closed the connection without an alert"
		if a != nil {
			what = "aborted the handshake with " + a.String()
		}
		p.set(LiveTLS, pki.StatusFail, "the server "+what+negotiated+" after it asked for a client certificate: see live-client-cert-accepted", ev...)
		p.diagnoseChain(seen.verified.PeerCertificates, nil)
		p.clientCertRequest(seen.acceptable)
		p.refusedClient(a, false)
		return false
	case a != nil:
		c := p.set(LiveTLS, pki.StatusFail, "the server aborted the handshake with "+a.String()+negotiated, ev...)
		switch *a {
		case wire.AlertProtocolVersion:
			c.Fix = "the server and mtlskit share no TLS version: mtlskit speaks TLS 1.2 and 1.3"
		case wire.AlertHandshakeFailure:
			c.Fix = "no common cipher suite or key exchange, or the server refuses this client: check the server's ssl_protocols and ssl_ciphers"
		case wire.AlertUnrecognizedName:
			c.Fix = "the server does not know the name " + p.cfg.Host + " (SNI): dial the name it serves"
		}
	case wire.IsTimeout(err):
		c := p.set(LiveTLS, pki.StatusFail, fmt.Sprintf("no TLS handshake within %s: the port may not speak TLS", p.cfg.Timeout), ev...)
		c.Fix = "check that the port serves TLS (wss://), not plain ws:// or another protocol"
	case wire.IsClosed(err):
		c := p.set(LiveTLS, pki.StatusFail, "the server closed the connection during the handshake without a TLS alert"+negotiated, ev...)
		c.Fix = "check the server's log: it may refuse this TLS version, these ciphers or this SNI name"
	default:
		c := p.set(LiveTLS, pki.StatusFail, "the handshake failed"+negotiated+": "+err.Error(), ev...)
		if strings.Contains(err.Error(), "does not look like a TLS handshake") {
			c.Summary = "the server does not speak TLS on this port (it answered in plain text)"
			c.Fix = "use the TLS port, or put the server behind TLS: wss:// needs TLS"
		}
	}
	p.stop(LiveTLS)
	return false
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// diagnoseChain runs the offline checks on the certificates the server
// sent, with the dialled name, and fills in live-server-chain. goErr is
// crypto/tls's verification error, nil when it accepted the chain.
func (p *prober) diagnoseChain(certs []*x509.Certificate, goErr error) {
	in := pki.Input{Chain: certs, Roots: p.cfg.Roots, Host: p.cfg.Host, Purpose: pki.PurposeServer, NoLint: p.cfg.NoLint}
	if p.cfg.CheckRevocation {
		in.Revocation = &pki.RevocationSource{Fetch: wire.RevocationFetcher(context.Background(), p.cfg.Timeout)}
	}
	r := pki.Diagnose(in)
	ch := &Chain{Sent: subjects(certs), Path: r.Path, Trusted: r.Trusted, GoVerified: goErr == nil}
	if ch.Path == nil {
		ch.Path = []string{}
	}
	if goErr != nil {
		ch.GoError = goErr.Error()
	}
	p.rep.ServerChain = ch

	var ev []string
	for i, s := range ch.Sent {
		ev = append(ev, fmt.Sprintf("sent [%d]: %s", i, s))
	}
	if len(ch.Path) > 0 {
		ev = append(ev, "path: "+strings.Join(ch.Path, " <- "))
	}
	if p.cfg.Roots == nil {
		ev = append(ev, "trusted roots: the system's (give --ca to check the path offline too)")
	}
	firstOf := func(list []pki.Check) (string, string) {
		if len(list) == 0 {
			return "", ""
		}
		f := list[0]
		s := f.Summary
		if f.Subject != "" {
			s = f.Subject + ": " + s
		}
		return s + " (" + f.ID + ")", f.Fix
	}
	leaf := "the server certificate"
	if len(certs) > 0 {
		leaf = fmt.Sprintf("%q", certs[0].Subject.String())
	}
	var c *Check
	switch fail, fix := firstOf(r.Failures()); {
	case goErr != nil:
		why := fail
		if why == "" {
			if reason, ok := wire.VerifyReason(goErr); ok {
				why = reason.Text
			} else {
				why = goErr.Error()
			}
		}
		ev = append(ev, "Go: "+goErr.Error())
		c = p.set(LiveServerChain, pki.StatusFail, "refused: "+why, ev...)
		c.Fix = fix
	case fail != "":
		c = p.set(LiveServerChain, pki.StatusFail, "Go accepted the chain, but an offline check fails: "+fail, ev...)
		c.Fix = fix
	default:
		if warn, fix := firstOf(r.Warnings()); warn != "" {
			c = p.set(LiveServerChain, pki.StatusWarn, fmt.Sprintf("%s verified for %s, with a warning: %s", leaf, p.cfg.Host, warn), ev...)
			c.Fix = fix
		} else {
			c = p.set(LiveServerChain, pki.StatusPass, fmt.Sprintf("%s verified for %s", leaf, p.cfg.Host), ev...)
		}
	}
	c.Checks = r.Checks
}

// clientCertRequest fills in live-client-cert-request after the client's
// side of the handshake.
func (p *prober) clientCertRequest(acceptable [][]byte) {
	auth := p.rep.ClientAuth
	if !auth.Requested {
		c := p.set(LiveClientCertRequest, pki.StatusFail, "the server did not ask for a client certificate: it does not do mutual TLS, any client can connect")
		c.Fix = "make the server require client certificates (nginx: ssl_client_certificate ca.pem; ssl_verify_client on; Go: ClientAuth: tls.RequireAndVerifyClientCert)"
		if p.cfg.ClientCert != nil {
			p.set(LiveClientCertAccepted, pki.StatusSkip, "not asked for: the server never requested a client certificate, so none was sent")
		}
		return
	}
	var ev []string
	if len(auth.AcceptableCAs) == 0 {
		ev = append(ev, "acceptable CAs: none listed (the client may send a certificate from any CA)")
	}
	for _, n := range auth.AcceptableCAs {
		ev = append(ev, "acceptable CA: "+n)
	}
	summary := fmt.Sprintf("the server asks for a client certificate and names %d acceptable CA(s)", len(auth.AcceptableCAs))
	if p.cfg.ClientCert != nil && !p.issuerListed(acceptable) {
		leaf := p.clientLeaf()
		issuer := "an unlisted CA"
		if leaf != nil {
			issuer = fmt.Sprintf("%q", leaf.Issuer.String())
		}
		ev = append(ev, fmt.Sprintf("the client certificate %q is issued by %s, which is not among them", p.clientSubject(), issuer))
		c := p.set(LiveClientCertRequest, pki.StatusWarn, summary+", and the client certificate's CA is not one of them", ev...)
		c.Fix = "use a client certificate from one of the acceptable CAs"
		return
	}
	p.set(LiveClientCertRequest, pki.StatusPass, summary, ev...)
}

// refusedClient records that the server refused the client at the TLS
// layer: with alert a (nil: it closed the connection without one), late
// when the refusal arrived on the first read after the client's side of
// the handshake had finished (TLS 1.3, where the server checks the
// client certificate after the client is done).
func (p *prober) refusedClient(a *wire.Alert, late bool) {
	why := "the server closed the connection without an alert"
	if a != nil {
		why = wire.AlertReason(a, wire.PartyServer).Text
	}
	when := "during the handshake"
	if late {
		when = fmt.Sprintf("on the first read after the %s handshake", p.rep.TLS.Version)
	}
	ev := []string{"refused " + when}
	if late {
		ev = append(ev, "in TLS 1.3 the server checks the client certificate after the client's side of the handshake is done, so the refusal arrives as an alert on the first read")
	}
	if a != nil {
		ev = append(ev, "alert received: "+a.String())
	}
	if p.cfg.ClientCert == nil {
		how := "it closed the connection without an alert"
		if a != nil {
			how = a.String()
		}
		c := p.set(LiveClientCertAccepted, pki.StatusFail, "refused: the server requires a client certificate and mtlskit sent none ("+how+")", ev...)
		c.Fix = "present a client certificate: mtlskit verify --connect ... --cert client.pem --key client.key"
		p.set(LiveLaxServer, pki.StatusPass, "the server refused a client without a certificate "+when, ev...)
		p.stop(LiveClientCertAccepted)
		return
	}
	ev = append(ev, p.clientCertFacts()...)
	c := p.set(LiveClientCertAccepted, pki.StatusFail, fmt.Sprintf("the server refused the client certificate %q: %s", p.clientSubject(), why), ev...)
	switch {
	case a != nil && *a == wire.AlertUnknownCA:
		c.Fix = "use a client certificate from a CA the server trusts (see the acceptable CAs), or add its CA to the server's client CAs"
	case a != nil && *a == wire.AlertCertificateExpired:
		c.Fix = "issue a fresh client certificate: mtlskit issue client NAME --force"
	default:
		c.Fix = "check the client certificate offline: mtlskit verify --cert client.pem --key client.key --purpose client --ca ca.pem"
	}
	p.stop(LiveClientCertAccepted)
}

// clientCertFacts are the offline checks of the client certificate that
// fail or warn without a trust anchor (validity, EKU, key usage, ...): a
// hint at why a server refused it.
func (p *prober) clientCertFacts() []string {
	cc := p.cfg.ClientCert
	var chain []*x509.Certificate
	for _, der := range cc.Certificate {
		if c, err := x509.ParseCertificate(der); err == nil {
			chain = append(chain, c)
		}
	}
	if len(chain) == 0 {
		return nil
	}
	r := pki.Diagnose(pki.Input{Chain: chain, Purpose: pki.PurposeClient, NoLint: true})
	var out []string
	for _, c := range append(r.Failures(), r.Warnings()...) {
		out = append(out, fmt.Sprintf("the client certificate offline: %s %s: %s", c.Status, c.ID, c.Summary))
	}
	return out
}
