// Package pki issues, stores and loads the certificates of a small private
// certificate authority for mutual TLS.
//
// The in-memory half (NewRootCA, Issuer.Issue, Issuer.SignCSR, ParseSANs,
// ParseValidity, GenerateKey) builds certificates that pass Go's x509.Verify,
// OpenSSL's verify and zlint's RFC 5280 and community lints. The on-disk
// half (Store) keeps them in a documented directory layout (docs/store.md)
// with atomic, locked writes and private keys readable by their owner only.
//
// The package refuses what modern verifiers refuse: a server certificate
// without a subject alternative name, a leaf that outlives its issuer, a
// malformed SAN. The conformance harness needs some of those broken
// certificates on purpose; it asks for them through options whose names
// start with Unsafe.
package pki
