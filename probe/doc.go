// Package probe is the live half of `mtlskit verify --connect`: it dials
// one wss:// endpoint as a client and reports, layer by layer, what it
// found, as checks that share pki.Check's shape with the offline ones
// (pki.Diagnose), so both print and serialise alike.
//
// Probe runs the layers in order (dns, tcp, tls, the server chain, the
// server's CertificateRequest, whether it accepted the client
// certificate, the HTTP upgrade, the echo, and, without a client
// certificate, whether the server lets a client in with none). Each check
// has a stable ID (CheckIDs), a status, the evidence seen on the wire and,
// for a failure, the fix. A layer it could not reach is skipped, never
// guessed: Report.StoppedAt names where it stopped.
//
// The server chain is judged twice: by crypto/tls in the handshake, and
// offline by pki.Diagnose on exactly the certificates the server sent, so
// a missing intermediate or a CN-only certificate is named with its fix.
// The probe never uses InsecureSkipVerify: a chain that fails is read
// from tls.CertificateVerificationError.
//
// It holds no scenarios and judges no subject: that is package harness.
// Dialling, the upgrade and the reading of alerts are internal/wire's.
package probe
