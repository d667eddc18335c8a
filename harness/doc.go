// Package harness is a conformance harness for mutual-TLS WebSockets
// (wss:// with client certificates).
//
// A Scenario sets up one encounter between a server and a client: which
// certificates each side holds (minted fresh for the run with package pki),
// which CA the server trusts for client certificates, which name or address
// the client dials, and whether the encounter must be accepted or rejected.
// Server-side scenarios judge the server (the client varies and the server
// must refuse the bad ones); client-side scenarios judge the client (the
// server varies and the client must refuse the bad ones).
//
// The reference pair (ReferenceServer and ReferenceClient, built on
// crypto/tls and gorilla/websocket) is strict: the server requires and
// verifies client certificates and echoes every message; the client
// verifies the server's chain and host name, sends text and binary
// messages and checks that they come back byte for byte. Other
// implementations plug in through the ServerSubject and ClientSubject
// interfaces.
//
// Each encounter yields a Verdict with the evidence of every layer (tcp,
// tls, http, ws, close), the outcome (accepted, rejected-tls,
// rejected-http, no-upgrade, no-echo, connect-failed), which side refused
// and why, and what the server observed on its end. Reasons are classified
// from typed errors (x509 errors, TLS alerts); anything else is reported as
// "unclassified" with the raw error, never guessed.
//
// Run executes scenarios in parallel on loopback ports and returns the
// results in definition order; WriteTable, WriteJSON and WriteJUnit render
// them. NegativeControls proves the harness can see failures: an insecure
// client, a lax server and three broken servers must all be flagged.
package harness
