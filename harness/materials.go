package harness

import (
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/mtlskit/mtlskit/pki"
)

// Subjects of the run's certificates. The self-signed client copies the
// real client's subject on purpose.
const (
	clientCN    = "mtlskit harness client"
	otherHostCN = "not-this-host.example"
)

// LargeMessageSize is the size of the large-message scenario's binary
// message; SmallMessageCount is how many small messages follow it.
const (
	LargeMessageSize  = 1 << 20
	SmallMessageCount = 1000
)

// Materials are the certificates and messages of one run, minted fresh in
// memory (ECDSA P-256) and shared by every scenario of the run.
type Materials struct {
	// Root is the run's CA; both sides of the reference pair trust it.
	Root *pki.Issued
	// Intermediate is signed by Root.
	Intermediate *pki.Issued
	// OtherRoot is an unrelated CA, for the wrong-CA scenarios.
	OtherRoot *pki.Issued

	// Server certificates. Server has SANs localhost, 127.0.0.1 and ::1.
	Server                *pki.Issued
	ServerViaIntermediate *pki.Issued // from Intermediate; Chain holds it
	ServerCNOnly          *pki.Issued // CN=localhost, no SAN at all
	ServerOtherCA         *pki.Issued
	ServerSelfSigned      *pki.Issued
	ServerExpired         *pki.Issued
	ServerNotYetValid     *pki.Issued
	ServerOtherHost       *pki.Issued // SAN not-this-host.example only
	ServerDNSOnly         *pki.Issued // SAN DNS:localhost only
	ServerClientEKU       *pki.Issued // extended key usage clientAuth only

	// Client certificates.
	Client                *pki.Issued
	ClientViaIntermediate *pki.Issued
	ClientOtherCA         *pki.Issued
	ClientSelfSigned      *pki.Issued
	ClientExpired         *pki.Issued
	ClientNotYetValid     *pki.Issued
	ClientServerEKU       *pki.Issued // extended key usage serverAuth only
	// ClientRevoked is valid, from the root, and listed in CRLs.
	ClientRevoked *pki.Issued

	// CRLs are the run's CRLs (DER), what a server checks client
	// certificates against: the root's, listing ClientRevoked, and the
	// intermediate's (empty), so that a verifier that wants a CRL for
	// every CA in the chain (nginx's ssl_crl) has one.
	CRLs [][]byte
	// NoCRL, when set, says why these materials have no CRLs
	// (MaterialsFromCA: only the issuing CA's key is at hand, and a
	// running server cannot be handed a CRL anyway): revoked-client is
	// skipped, with it.
	NoCRL string
	// leafIssuer signs what an encounter mints itself (server-revoked's
	// certificate, whose CRL URL is known only once its service runs).
	leafIssuer *pki.Issuer

	// DefaultMessages is one text and one binary message.
	DefaultMessages []Message
	// LargeMessages is one 1 MiB binary message and 1000 small ones.
	LargeMessages []Message

	// NoIntermediate, when set, says why these materials have no CA
	// between the root and the leaves (MaterialsFromCA: a root that may
	// not sign an intermediate): the scenarios that need one
	// (Scenario.NeedsIntermediate) are reported as skipped, with it.
	NoIntermediate string
}

// NewMaterials mints the certificates of one run.
func NewMaterials() (*Materials, error) {
	m := &Materials{}
	var err error
	fail := func(what string, e error) error { return fmt.Errorf("minting %s: %w", what, e) }
	if m.Root, err = pki.NewRootCA(pki.Request{CommonName: "mtlskit harness Root CA", KeyType: pki.ECDSAP256, MaxPathLen: 1, Validity: 2 * pki.Day}); err != nil {
		return nil, fail("root CA", err)
	}
	root, err := m.Root.Issuer()
	if err != nil {
		return nil, fail("root CA", err)
	}
	if m.Intermediate, err = root.Issue(pki.Request{Kind: pki.KindIntermediate, CommonName: "mtlskit harness Intermediate CA", KeyType: pki.ECDSAP256, Validity: pki.Day}); err != nil {
		return nil, fail("intermediate CA", err)
	}
	inter, err := m.Intermediate.Issuer()
	if err != nil {
		return nil, fail("intermediate CA", err)
	}
	if m, err = mintLeaves(m, root, inter); err != nil {
		return nil, err
	}
	if m.CRLs, err = runCRLs(m, root, inter); err != nil {
		return nil, fail("the run's CRLs", err)
	}
	return m, nil
}

// runCRLs signs the run's CRLs: the root's lists ClientRevoked, the
// intermediate's nothing.
func runCRLs(m *Materials, root, inter *pki.Issuer) ([][]byte, error) {
	now := time.Now()
	rootCRL, _, err := pki.MakeCRL(root, []pki.Revocation{revocationOf(m.ClientRevoked, now)}, 1, now.Add(-pki.Backdate), now.Add(pki.Day))
	if err != nil {
		return nil, err
	}
	interCRL, _, err := pki.MakeCRL(inter, nil, 1, now.Add(-pki.Backdate), now.Add(pki.Day))
	if err != nil {
		return nil, err
	}
	return [][]byte{rootCRL, interCRL}, nil
}

// crlsBelowRoot are the run's CRLs but the root's (the intermediate's):
// what goes beside a CRL the encounter signs with the root itself.
func (m *Materials) crlsBelowRoot() [][]byte {
	if len(m.CRLs) < 2 {
		return nil
	}
	return m.CRLs[1:]
}

// revocationOf is the CRL entry of a revoked leaf, as of an hour ago.
func revocationOf(leaf *pki.Issued, now time.Time) pki.Revocation {
	return pki.Revocation{Serial: fmt.Sprintf("%x", leaf.Cert.SerialNumber), Name: leaf.Cert.Subject.CommonName,
		At: now.Add(-time.Hour), Reason: pki.ReasonKeyCompromise, IssuerKeyID: fmt.Sprintf("%x", leaf.Cert.AuthorityKeyId)}
}

// MaterialsFromCA mints a run's certificates from an existing CA (a
// store's, see pki.Store.Issuer) so that a subject which trusts that CA
// can be judged: root is the trust anchor and issuer signs the leaves
// (the root itself or an intermediate below it). Nothing is written
// anywhere; the unrelated CA and the self-signed leaves are fresh.
//
// The intermediate scenarios need a CA between the root and the leaf:
// with an intermediate issuer that is the issuer itself; with a root
// issuer a throwaway intermediate is minted in memory, unless the root's
// path length forbids it, in which case client-via-intermediate,
// server-missing-intermediate and server-full-chain are skipped.
func MaterialsFromCA(root *x509.Certificate, issuer *pki.Issuer) (*Materials, error) {
	if root == nil || issuer == nil || issuer.Cert == nil || issuer.Key == nil {
		return nil, fmt.Errorf("MaterialsFromCA needs the root certificate and an issuer with its key")
	}
	m := &Materials{Root: &pki.Issued{Cert: root},
		NoCRL: "the server was started outside the harness, so it cannot be handed the run's CRL ({crl}): judge revocation with --server-cmd, or with the server-revoked scenario"}
	var inter *pki.Issuer
	switch {
	case !issuer.Cert.Equal(root):
		m.Intermediate = &pki.Issued{Cert: issuer.Cert, Chain: issuer.Chain}
		inter = issuer
	case root.MaxPathLen == 0 && root.MaxPathLenZero:
		m.NoIntermediate = fmt.Sprintf("the CA %q signs leaves directly and its path length is 0, so no intermediate can chain to it (a store made with `mtlskit ca init --intermediate` runs this scenario)", root.Subject.CommonName)
	default:
		var err error
		if m.Intermediate, err = issuer.Issue(pki.Request{Kind: pki.KindIntermediate, CommonName: "mtlskit harness Intermediate CA (in memory)", KeyType: pki.ECDSAP256, Validity: pki.Day}); err != nil {
			return nil, fmt.Errorf("minting an intermediate below %q: %w", root.Subject.CommonName, err)
		}
		if inter, err = m.Intermediate.Issuer(); err != nil {
			return nil, err
		}
	}
	return mintLeaves(m, issuer, inter)
}

// mintLeaves mints the unrelated CA and every leaf: direct signs the
// leaves that come straight from the run's CA, inter (nil when there is
// none) the intermediate ones.
func mintLeaves(m *Materials, direct, inter *pki.Issuer) (*Materials, error) {
	now := time.Now()
	var err error
	fail := func(what string, e error) error { return fmt.Errorf("minting %s: %w", what, e) }
	if m.OtherRoot, err = pki.NewRootCA(pki.Request{CommonName: "unrelated Root CA", Organization: "someone else", KeyType: pki.ECDSAP256, Validity: 2 * pki.Day}); err != nil {
		return nil, fail("unrelated CA", err)
	}
	other, err := m.OtherRoot.Issuer()
	if err != nil {
		return nil, fail("unrelated CA", err)
	}
	root := direct
	m.leafIssuer = direct

	sans := func(list string) pki.SANs {
		s, e := pki.ParseSANs(list)
		if e != nil {
			panic(e) // constant lists
		}
		return s
	}
	good := sans("localhost,127.0.0.1,::1")
	leaf := pki.Day
	past := now.Add(-2 * pki.Day)
	future := now.Add(pki.Day)

	type job struct {
		dst  **pki.Issued
		what string
		mint func() (*pki.Issued, error)
	}
	server := func(iss *pki.Issuer, r pki.Request) func() (*pki.Issued, error) {
		r.Kind, r.KeyType = pki.KindServer, pki.ECDSAP256
		if r.Validity == 0 {
			r.Validity = leaf / 2
		}
		return func() (*pki.Issued, error) { return iss.Issue(r) }
	}
	client := func(iss *pki.Issuer, r pki.Request) func() (*pki.Issued, error) {
		r.Kind, r.KeyType = pki.KindClient, pki.ECDSAP256
		if r.CommonName == "" {
			r.CommonName = clientCN
		}
		if r.Validity == 0 {
			r.Validity = leaf / 2
		}
		return func() (*pki.Issued, error) { return iss.Issue(r) }
	}
	jobs := []job{
		{&m.Server, "server certificate", server(root, pki.Request{SANs: good})},
		{&m.ServerCNOnly, "server certificate without SAN", server(root, pki.Request{CommonName: "localhost", UnsafeAllowMissingSAN: true})},
		{&m.ServerOtherCA, "server certificate from the unrelated CA", server(other, pki.Request{SANs: good})},
		{&m.ServerSelfSigned, "self-signed server certificate", func() (*pki.Issued, error) {
			return pki.NewSelfSignedLeaf(pki.Request{Kind: pki.KindServer, KeyType: pki.ECDSAP256, SANs: good, Validity: leaf})
		}},
		{&m.ServerExpired, "expired server certificate", server(root, pki.Request{SANs: good, NotBefore: past, Validity: leaf})},
		{&m.ServerNotYetValid, "not-yet-valid server certificate", server(root, pki.Request{SANs: good, NotBefore: future, Validity: leaf / 2})},
		{&m.ServerOtherHost, "server certificate for another host", server(root, pki.Request{SANs: sans(otherHostCN)})},
		{&m.ServerDNSOnly, "server certificate with DNS SAN only", server(root, pki.Request{SANs: sans("localhost")})},
		{&m.ServerClientEKU, "server certificate with clientAuth only", server(root, pki.Request{SANs: good, UnsafeExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})},

		{&m.Client, "client certificate", client(root, pki.Request{})},
		{&m.ClientOtherCA, "client certificate from the unrelated CA", client(other, pki.Request{})},
		{&m.ClientSelfSigned, "self-signed client certificate", func() (*pki.Issued, error) {
			return pki.NewSelfSignedLeaf(pki.Request{Kind: pki.KindClient, KeyType: pki.ECDSAP256, CommonName: clientCN, Validity: leaf})
		}},
		{&m.ClientExpired, "expired client certificate", client(root, pki.Request{NotBefore: past, Validity: leaf})},
		{&m.ClientNotYetValid, "not-yet-valid client certificate", client(root, pki.Request{NotBefore: future, Validity: leaf / 2})},
		{&m.ClientServerEKU, "client certificate with serverAuth only", client(root, pki.Request{UnsafeExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})},
		{&m.ClientRevoked, "revoked client certificate", client(root, pki.Request{})},
	}
	if inter != nil {
		jobs = append(jobs,
			job{&m.ServerViaIntermediate, "server certificate from the intermediate", server(inter, pki.Request{SANs: good})},
			job{&m.ClientViaIntermediate, "client certificate from the intermediate", client(inter, pki.Request{})})
	}
	for _, j := range jobs {
		c, err := j.mint()
		if err != nil {
			return nil, fail(j.what, err)
		}
		*j.dst = c
	}

	m.DefaultMessages = []Message{
		{Data: []byte("hello from the mtlskit harness: ¡hola! ✓")},
		{Binary: true, Data: allBytes()},
	}
	m.LargeMessages = largeMessages()
	return m, nil
}

// allBytes is every byte value, including NUL and invalid UTF-8.
func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// largeMessages is a 1 MiB binary message of pseudo-random bytes (a fixed
// seed, so runs are reproducible) followed by 1000 small messages that
// alternate text and binary and each carry their index.
func largeMessages() []Message {
	r := rand.New(rand.NewPCG(3, 4))
	big := make([]byte, LargeMessageSize)
	for i := 0; i < len(big); i += 8 {
		v := r.Uint64()
		for k := 0; k < 8 && i+k < len(big); k++ {
			big[i+k] = byte(v >> (8 * k))
		}
	}
	msgs := make([]Message, 0, SmallMessageCount+1)
	msgs = append(msgs, Message{Binary: true, Data: big})
	for i := 0; i < SmallMessageCount; i++ {
		if i%2 == 0 {
			msgs = append(msgs, Message{Data: fmt.Appendf(nil, "small message %04d", i)})
		} else {
			msgs = append(msgs, Message{Binary: true, Data: []byte{byte(i >> 8), byte(i), 0, 0xff}})
		}
	}
	return msgs
}
