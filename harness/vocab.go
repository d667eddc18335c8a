package harness

import "github.com/mtlskit/mtlskit/internal/wire"

// The vocabulary of a verdict is shared with package probe through
// internal/wire; these names are harness's public spelling of it.

// Alert is a TLS alert description; a *Alert is nil when none was seen.
type Alert = wire.Alert

// ReasonID is a stable short name for why an encounter ended as it did.
type ReasonID = wire.ReasonID

// Reason is a stable short ID with a plain-words explanation.
type Reason = wire.Reason

// Party names a side of the connection.
type Party = wire.Party

// The parties.
const (
	PartyServer = wire.PartyServer
	PartyClient = wire.PartyClient
)

// Limits shared by the reference pair, the echo backend and the probe.
const (
	// DefaultTimeout bounds each phase (dial, TLS, upgrade, echo, close).
	DefaultTimeout = wire.DefaultTimeout
	// MaxMessageSize is the read limit for one WebSocket message.
	MaxMessageSize = wire.MaxMessageSize
	// MaxHeaderBytes bounds an upgrade request's or answer's headers.
	MaxHeaderBytes = wire.MaxHeaderBytes
)

// The reason IDs (see wire for what each means). Their spelling is part
// of the JSON schema.
const (
	ReasonUnknownCA            = wire.ReasonUnknownCA
	ReasonExpired              = wire.ReasonExpired
	ReasonNotYetValid          = wire.ReasonNotYetValid
	ReasonCertificateRequired  = wire.ReasonCertificateRequired
	ReasonBadCertificate       = wire.ReasonBadCertificate
	ReasonHostMismatch         = wire.ReasonHostMismatch
	ReasonNoIPSAN              = wire.ReasonNoIPSAN
	ReasonLegacyCN             = wire.ReasonLegacyCN
	ReasonIncompatibleKeyUsage = wire.ReasonIncompatibleKeyUsage
	ReasonHandshakeFailure     = wire.ReasonHandshakeFailure
	ReasonTLSAlert             = wire.ReasonTLSAlert
	ReasonHandshakeAborted     = wire.ReasonHandshakeAborted
	ReasonHandshakeTimeout     = wire.ReasonHandshakeTimeout
	ReasonConnectRefused       = wire.ReasonConnectRefused
	ReasonConnectTimeout       = wire.ReasonConnectTimeout
	ReasonHTTPStatus           = wire.ReasonHTTPStatus
	ReasonUpgradeTimeout       = wire.ReasonUpgradeTimeout
	ReasonClosedBeforeUpgrade  = wire.ReasonClosedBeforeUpgrade
	ReasonBadUpgrade           = wire.ReasonBadUpgrade
	ReasonEchoTimeout          = wire.ReasonEchoTimeout
	ReasonEchoClosed           = wire.ReasonEchoClosed
	ReasonEchoMismatch         = wire.ReasonEchoMismatch
	ReasonRenegotiation        = wire.ReasonRenegotiation
	ReasonEchoVerified         = wire.ReasonEchoVerified
	ReasonUnclassified         = wire.ReasonUnclassified
	ReasonUpgraded             = wire.ReasonUpgraded
	ReasonClientExit           = wire.ReasonClientExit
	ReasonClientTimeout        = wire.ReasonClientTimeout
	ReasonNoConnection         = wire.ReasonNoConnection
	ReasonClosedAfterHandshake = wire.ReasonClosedAfterHandshake
	ReasonNotApplicable        = wire.ReasonNotApplicable
	ReasonRevoked              = wire.ReasonRevoked
	ReasonRevocationUnknown    = wire.ReasonRevocationUnknown
	ReasonConnectionKept       = wire.ReasonConnectionKept
	ReasonConnectionClosed     = wire.ReasonConnectionClosed
)

// TLSVersionName spells a pinned version for reports: "1.2", "1.3" or
// "negotiated".
func TLSVersionName(v uint16) string { return wire.VersionName(v) }
