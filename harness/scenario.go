package harness

import (
	"crypto/x509"
	"fmt"
	"sort"
	"strings"

	"github.com/mtlskit/mtlskit/pki"
)

// Side says which party a scenario judges.
type Side string

const (
	// ServerSide scenarios judge the server: the client varies and the
	// server must accept the good client and refuse the bad ones.
	ServerSide Side = "server"
	// ClientSide scenarios judge the client: the server varies and the
	// client must accept the good server and refuse the bad ones.
	ClientSide Side = "client"
)

// Expectation is what a correct, strict implementation does.
type Expectation string

const (
	// Accept: the WebSocket opens and every message is echoed byte-exact.
	Accept Expectation = "accept"
	// Reject: the judged side refuses the encounter (at the TLS layer, or
	// for a server at the HTTP layer before the upgrade).
	Reject Expectation = "reject"
	// Observe: nothing is expected; the scenario reports what the
	// subject did (Result.Observed), with its importance, because
	// either behaviour is a deployment's choice (a connection kept open
	// after its client certificate expired). An expectation the run
	// sets (RotationOptions.CloseWithin) turns it into a judged one.
	Observe Expectation = "observe"
)

// DialMode says how the client addresses the server.
type DialMode string

const (
	// DialByName dials wss://localhost:PORT/ (the TCP connection still
	// goes to 127.0.0.1, so nothing depends on /etc/hosts).
	DialByName DialMode = "name"
	// DialByAddress dials wss://127.0.0.1:PORT/ and so checks IP SANs.
	DialByAddress DialMode = "address"
)

// Host is the host name or address the client puts in its URL and
// verifies the server certificate against.
func (d DialMode) Host() string {
	if d == DialByAddress {
		return "127.0.0.1"
	}
	return "localhost"
}

// Message is one WebSocket data message.
type Message struct {
	Binary bool
	Data   []byte
}

// Encounter is what a scenario sets up: the certificates and trust of both
// sides, how the client dials and what it sends.
type Encounter struct {
	// Server is the certificate the server presents. ServerSendsChain
	// makes it send its intermediates too.
	Server           *pki.Issued
	ServerSendsChain bool
	// ClientCAs are the roots the server trusts for client certificates.
	ClientCAs []*x509.Certificate

	// Client is the certificate the client presents, nil for none.
	// ClientSendsChain makes it send its intermediates too.
	Client           *pki.Issued
	ClientSendsChain bool
	// RootCAs are the roots the client trusts for the server certificate.
	RootCAs []*x509.Certificate

	// Dial says whether the client dials by name or by address.
	Dial DialMode
	// Messages are sent in order by the client and must all come back.
	Messages []Message

	// ClientCRLs are the CRLs (DER) the server checks client
	// certificates against ({crl} for a server command).
	ClientCRLs [][]byte
	// CheckRevocation makes the reference client check the server
	// certificate at its CRL distribution point (client-side scenarios:
	// the strict client checks revocation; server-side ones do not judge
	// the server's certificate).
	CheckRevocation bool
	// RevokedServer makes the encounter mint the server's certificate
	// itself, revoked, with a CRL distribution point and an OCSP URL of
	// a revocation service it runs on loopback for the encounter.
	RevokedServer bool
	// ServerCRLs are the CRLs (DER) that list the server's certificate,
	// for a client that loads a CRL file ({crl} for a client command);
	// filled in by the encounter for RevokedServer.
	ServerCRLs [][]byte
}

// Importance says how much a failed scenario matters: --fail-on LEVEL
// fails a run only for failures at LEVEL or above.
type Importance int

// The importances, lowest first.
const (
	ImportanceMedium Importance = iota + 1
	ImportanceHigh
	ImportanceCritical
)

var importanceNames = map[Importance]string{ImportanceMedium: "medium", ImportanceHigh: "high", ImportanceCritical: "critical"}

func (i Importance) String() string {
	if n, ok := importanceNames[i]; ok {
		return n
	}
	return "unset"
}

// MarshalText spells the importance in JSON.
func (i Importance) MarshalText() ([]byte, error) { return []byte(i.String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (i *Importance) UnmarshalText(b []byte) error {
	v, err := ParseImportance(string(b))
	if err != nil {
		return err
	}
	*i = v
	return nil
}

// ParseImportance reads critical, high or medium.
func ParseImportance(s string) (Importance, error) {
	for i, n := range importanceNames {
		if strings.EqualFold(n, s) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("importance %q is not critical, high or medium", s)
}

// Scenario is one named check. Its name is part of mtlskit's interface.
type Scenario struct {
	Name        string
	Side        Side
	Expect      Expectation
	Description string
	// Setup picks the encounter's certificates from the run's materials.
	Setup func(m *Materials) Encounter
	// Importance says how much a failure matters (--fail-on).
	Importance Importance
	// NeedsCRL: the judged server must be handed the run's CRL ({crl});
	// the scenario is skipped when it cannot be (Materials.NoCRL, a
	// server command that does not take {crl}).
	NeedsCRL bool
	// Judges, when set, is the layer the scenario's verdict rests on: an
	// accept scenario that judges tls passes once the handshake verified,
	// whatever broke above it (reported in Result.Above), so one fault
	// makes one finding. Zero: the whole encounter, up to the echo.
	Judges LayerName
	// NeedsIntermediate: the scenario needs a CA between the root and the
	// leaf; it is skipped with materials that have none (a store root
	// whose path length is 0).
	NeedsIntermediate bool
	// AcceptHint explains, when a reject scenario fails by acceptance,
	// which real stacks are known to accept it and why.
	AcceptHint string
	// ChainHint explains, when an accept scenario fails because the
	// server sent only its leaf, how to make common stacks send the chain.
	ChainHint string
	// ReproNote is added to the scenario's repro.sh (--keep): what the
	// openssl stand-ins do differently.
	ReproNote []string
	// Rotation: the scenario changes the files of a server the harness
	// started (rotation.go); it runs after every other one, alone, and
	// is skipped for any other server.
	Rotation bool
}

// AllScenarios is Scenarios followed by RotationScenarios: every row a
// report can hold, in the order reports list them.
func AllScenarios() []Scenario { return append(Scenarios(), RotationScenarios()...) }

// Scenarios returns every scenario in definition order: server-side
// first, then client-side. The rotation scenarios, which run only when
// named, are RotationScenarios; Lookup finds both.
func Scenarios() []Scenario {
	return append(serverSideScenarios(), clientSideScenarios()...)
}

// standard is the usual encounter: the run's server certificate, trust in
// the run's root on both sides, a dial by name and the default messages.
// Both sides send their intermediates, as real peers do: with the
// in-memory CA the leaves come straight from the root and have none, but
// with a store whose leaves come from an intermediate (MaterialsFromCA)
// every scenario then varies one thing only.
func standard(m *Materials) Encounter {
	return Encounter{
		Server:           m.Server,
		ServerSendsChain: true,
		ClientCAs:        []*x509.Certificate{m.Root.Cert},
		Client:           m.Client,
		ClientSendsChain: true,
		RootCAs:          []*x509.Certificate{m.Root.Cert},
		Dial:             DialByName,
		Messages:         m.DefaultMessages,
	}
}

// serverSide is the usual encounter of a server-side scenario: the
// reference client also trusts the run's intermediate, because these
// scenarios judge what the server does with client certificates, not
// the chain it sends (server-sends-chain judges that, alone): a server
// that sends only its leaf still has its client-certificate handling
// judged.
func serverSide(m *Materials) Encounter {
	e := standard(m)
	if m.Intermediate != nil {
		e.RootCAs = append(e.RootCAs, m.Intermediate.Cert)
	}
	e.ClientCRLs = m.CRLs
	return e
}

// clientSide is the usual encounter of a client-side scenario: the
// strict reference client checks revocation where the certificate says
// how.
func clientSide(m *Materials) Encounter {
	e := standard(m)
	e.CheckRevocation, e.ServerCRLs = true, m.CRLs
	return e
}

func withClient(c func(m *Materials) *pki.Issued) func(m *Materials) Encounter {
	return func(m *Materials) Encounter {
		e := serverSide(m)
		e.Client = c(m)
		return e
	}
}

func withServer(s func(m *Materials) *pki.Issued) func(m *Materials) Encounter {
	return func(m *Materials) Encounter {
		e := clientSide(m)
		e.Server = s(m)
		return e
	}
}

func serverSideScenarios() []Scenario {
	return []Scenario{
		{Name: "valid-client", Side: ServerSide, Expect: Accept, Importance: ImportanceCritical,
			Description: "a client certificate from the trusted CA: accepted, a text and a binary message echoed",
			Setup:       serverSide},
		{Name: "server-sends-chain", NeedsIntermediate: true, Side: ServerSide, Expect: Accept, Judges: LayerTLS, Importance: ImportanceHigh,
			Description: "the server sends its certificate chain (the leaf and its intermediates): a client that trusts only the root verifies it",
			ChainHint:   " (the server sent only its leaf: make it send the leaf followed by its intermediates ({chain}); Ruby's OpenSSL::SSL::SSLContext loads one certificate from a PEM file and needs extra_chain_cert for the intermediates, while nginx's ssl_certificate, Python's load_cert_chain and Node's cert take the whole chain file)",
			Setup: func(m *Materials) Encounter {
				e := standard(m)
				e.Server, e.ServerSendsChain = m.ServerViaIntermediate, true
				return e
			}},
		{Name: "no-client-cert", Side: ServerSide, Expect: Reject, Importance: ImportanceCritical,
			Description: "the client presents no certificate: the server must refuse it",
			Setup:       withClient(func(*Materials) *pki.Issued { return nil })},
		{Name: "wrong-ca-client", Side: ServerSide, Expect: Reject, Importance: ImportanceCritical,
			Description: "a client certificate from an unrelated CA: the server must refuse it",
			Setup:       withClient(func(m *Materials) *pki.Issued { return m.ClientOtherCA })},
		{Name: "self-signed-client", Side: ServerSide, Expect: Reject, Importance: ImportanceCritical,
			Description: "a self-signed certificate with the same subject as the real client: the server must refuse it",
			Setup:       withClient(func(m *Materials) *pki.Issued { return m.ClientSelfSigned })},
		{Name: "expired-client", Side: ServerSide, Expect: Reject, Importance: ImportanceHigh,
			Description: "a client certificate that expired yesterday: the server must refuse it",
			Setup:       withClient(func(m *Materials) *pki.Issued { return m.ClientExpired })},
		{Name: "not-yet-valid-client", Side: ServerSide, Expect: Reject, Importance: ImportanceHigh,
			Description: "a client certificate valid from tomorrow: the server must refuse it",
			Setup:       withClient(func(m *Materials) *pki.Issued { return m.ClientNotYetValid })},
		{Name: "server-eku-as-client", Side: ServerSide, Expect: Reject, Importance: ImportanceHigh,
			Description: "a certificate with only the serverAuth usage presented as a client certificate: the server must refuse it",
			Setup:       withClient(func(m *Materials) *pki.Issued { return m.ClientServerEKU })},
		{Name: "revoked-client", Side: ServerSide, Expect: Reject, Importance: ImportanceMedium, NeedsCRL: true,

			Description: "a client certificate from the trusted CA, revoked in the CRL the server was given ({crl}) and by the OCSP responder it was pointed at ({ocsp}): the server must refuse it",
			AcceptHint:  " (the server accepted a revoked certificate: load the CRL and check it, or ask the OCSP responder: nginx ssl_crl or ssl_ocsp leaf + ssl_ocsp_responder, Node tls.createServer({crl: [one PEM string per CRL]}) (a single string or Buffer of several CRLs loads only the first, and Node wants one per CA of the chain), Python ssl.VERIFY_CRL_CHECK_LEAF with load_verify_locations(crl), Go: x509.ParseRevocationList in VerifyPeerCertificate)",
			Setup:       withClient(func(m *Materials) *pki.Issued { return m.ClientRevoked })},
		{Name: "client-via-intermediate", NeedsIntermediate: true, Side: ServerSide, Expect: Accept, Importance: ImportanceHigh,
			Description: "a client certificate from an intermediate CA, sent with its chain: accepted",
			Setup: func(m *Materials) Encounter {
				e := serverSide(m)
				e.Client = m.ClientViaIntermediate
				e.ClientSendsChain = true
				return e
			}},
		{Name: "large-message", Side: ServerSide, Expect: Accept, Importance: ImportanceHigh,
			Description: "a 1 MiB binary message and 1000 small ones, all echoed byte-exact (catches a transport that sends only part of a write)",
			ReproNote: []string{
				"Only the TLS layer is replayed: the 1 MiB + 1000-message echo needs a",
				"WebSocket client, which neither openssl nor curl is.",
			},
			Setup: func(m *Materials) Encounter {
				e := serverSide(m)
				e.Messages = m.LargeMessages
				return e
			}},
	}
}

func clientSideScenarios() []Scenario {
	return []Scenario{
		{Name: "valid-server", Side: ClientSide, Expect: Accept, Importance: ImportanceCritical,
			Description: "a server certificate from the trusted CA with SANs localhost and 127.0.0.1: accepted",
			Setup:       clientSide},
		{Name: "server-missing-san", Side: ClientSide, Expect: Reject, Importance: ImportanceCritical,
			Description: "a server certificate with CN=localhost and no SAN, only the legacy Common Name (the first error of many real setups): the client must refuse it",
			AcceptHint:  " (some clients fall back to the legacy Common Name when a certificate has no SAN: curl, openssl s_client, Python's ssl unless SSLContext.hostname_checks_common_name = False, and Node, whose own tls.checkServerIdentity does it: pass a checkServerIdentity that refuses a certificate without subjectaltname; Go and browsers do not)",
			ReproNote: []string{
				"Note: OpenSSL and curl fall back to the Common Name when there is no SAN,",
				"so both ACCEPT this certificate; Go, browsers and the log's Ruby client",
				"refuse it. That difference is the point of this scenario.",
			},
			Setup: withServer(func(m *Materials) *pki.Issued { return m.ServerCNOnly })},
		{Name: "server-wrong-ca", Side: ClientSide, Expect: Reject, Importance: ImportanceCritical,
			Description: "a server certificate from an unrelated CA: the client must refuse it",
			Setup:       withServer(func(m *Materials) *pki.Issued { return m.ServerOtherCA })},
		{Name: "server-self-signed", Side: ClientSide, Expect: Reject, Importance: ImportanceCritical,
			Description: "a self-signed server certificate for localhost: the client must refuse it",
			Setup:       withServer(func(m *Materials) *pki.Issued { return m.ServerSelfSigned })},
		{Name: "server-expired", Side: ClientSide, Expect: Reject, Importance: ImportanceHigh,
			Description: "a server certificate that expired yesterday: the client must refuse it",
			Setup:       withServer(func(m *Materials) *pki.Issued { return m.ServerExpired })},
		{Name: "server-not-yet-valid", Side: ClientSide, Expect: Reject, Importance: ImportanceHigh,
			Description: "a server certificate valid from tomorrow: the client must refuse it",
			Setup:       withServer(func(m *Materials) *pki.Issued { return m.ServerNotYetValid })},
		{Name: "server-hostname-mismatch", Side: ClientSide, Expect: Reject, Importance: ImportanceCritical,
			Description: "a server certificate for another host name, dialled as localhost: the client must refuse it",
			Setup:       withServer(func(m *Materials) *pki.Issued { return m.ServerOtherHost })},
		{Name: "server-ip-not-in-san", Side: ClientSide, Expect: Reject, Importance: ImportanceHigh,
			Description: "dialled as 127.0.0.1, the server certificate has only DNS:localhost: the client must refuse it",
			Setup: func(m *Materials) Encounter {
				e := clientSide(m)
				e.Server = m.ServerDNSOnly
				e.Dial = DialByAddress
				return e
			}},
		{Name: "server-client-eku", Side: ClientSide, Expect: Reject, Importance: ImportanceHigh,
			Description: "a server certificate with only the clientAuth usage: the client must refuse it",
			Setup:       withServer(func(m *Materials) *pki.Issued { return m.ServerClientEKU })},
		{Name: "server-missing-intermediate", NeedsIntermediate: true, Side: ClientSide, Expect: Reject, Importance: ImportanceHigh,
			Description: "a server certificate from an intermediate CA, sent without the intermediate: the client must refuse it",
			Setup: func(m *Materials) Encounter {
				e := clientSide(m)
				e.Server = m.ServerViaIntermediate
				e.ServerSendsChain = false
				return e
			}},
		{Name: "server-full-chain", NeedsIntermediate: true, Side: ClientSide, Expect: Accept, Importance: ImportanceHigh,
			Description: "a server certificate from an intermediate CA, sent with the intermediate: accepted",
			Setup: func(m *Materials) Encounter {
				e := clientSide(m)
				e.Server = m.ServerViaIntermediate
				e.ServerSendsChain = true
				return e
			}},
		{Name: "server-revoked", Side: ClientSide, Expect: Reject, Importance: ImportanceMedium,

			Description: "a server certificate revoked by its CA, with a CRL distribution point and an OCSP URL the run serves on loopback (nothing stapled): a client that checks revocation must refuse it",
			AcceptHint:  " (many clients do not check revocation by default; turn it on: curl --crlfile FILE, openssl s_client -crl_check -CRLfile FILE (or -crl_download), Python ssl.VERIFY_CRL_CHECK_LEAF with the CRL in load_verify_locations, Node tls.connect({crl: [one PEM string per CRL]}), Go: x509.ParseRevocationList in VerifyConnection)",
			Setup: func(m *Materials) Encounter {
				e := clientSide(m)
				e.RevokedServer = true
				return e
			}},
	}
}

// Lookup returns the scenarios with the given names, in definition order.
// An unknown name is an error that lists the valid ones.
func Lookup(names ...string) ([]Scenario, error) {
	all := append(Scenarios(), RotationScenarios()...)
	byName := make(map[string]Scenario, len(all))
	for _, s := range all {
		byName[s.Name] = s
	}
	out := make([]Scenario, 0, len(names))
	seen := map[string]bool{}
	for _, n := range names {
		s, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("unknown scenario %q: use one of %s", n, strings.Join(Names(), ", "))
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, s)
		}
	}
	// Keep definition order so reports are stable whatever the argument order.
	pos := map[string]int{}
	for i, s := range all {
		pos[s.Name] = i
	}
	sort.SliceStable(out, func(i, j int) bool { return pos[out[i].Name] < pos[out[j].Name] })
	return out, nil
}

// Names lists every scenario name in definition order.
func Names() []string {
	all := Scenarios()
	names := make([]string, len(all))
	for i, s := range all {
		names[i] = s.Name
	}
	return names
}

// OfSide keeps the scenarios of one side, in order.
func OfSide(scenarios []Scenario, side Side) []Scenario {
	var out []Scenario
	for _, s := range scenarios {
		if s.Side == side {
			out = append(out, s)
		}
	}
	return out
}
