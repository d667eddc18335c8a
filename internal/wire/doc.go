// Package wire holds what the harness and the live probe both need to
// speak mutual TLS and WebSockets to a peer they did not write, and to
// name what came back.
//
// It holds:
//   - the vocabulary of a verdict: TLS alerts as a typed Alert with named
//     constants, reason IDs (ReasonID, Reason), the parties (Party);
//   - the classification of what a peer did, from typed errors only:
//     RemoteAlert and IsBadRecordMAC read crypto/tls's errors,
//     VerifyReason reads x509's, IsTimeout and IsClosed the network's;
//   - dialling: DialFirst tries a host's addresses of both families in
//     turn (localhost at 127.0.0.1, then ::1);
//   - the HTTP upgrade: DialUpgrade sends it over an established TLS
//     connection and reads the answer with a header cap and a timeout,
//     ClassifyUpgrade sorts what came back;
//   - ParseURL, the one parser of wss:// endpoints (harness --target and
//     verify --connect);
//   - the limits both sides share (DefaultTimeout, MaxHeaderBytes,
//     MaxMessageSize) and TLS configuration helpers (PinVersion,
//     CertPool, VersionName).
//
// It holds no policy: what a refusal means for a scenario is package
// harness's business, what it means for a live endpoint package probe's.
package wire
