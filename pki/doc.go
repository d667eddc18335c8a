// Package pki issues, stores and loads the certificates of a small private
// certificate authority for mutual TLS.
//
// The in-memory half (NewRootCA, Issuer.Issue, Issuer.SignCSR, ParseSANs,
// ParseValidity, GenerateKey) builds certificates that pass Go's x509.Verify,
// OpenSSL's verify and zlint's RFC 5280 and community lints. The on-disk
// half (Store) keeps them in a documented directory layout (docs/store.md)
// with atomic, locked writes and private keys readable by their owner only.
//
// Revocation: Store.Revoke and RevokeMany record revocations in the
// index, Store.WriteCRL signs the CRLs (MakeCRL for any issuer), and
// OCSPResponder answers RFC 6960 requests with a delegated signer
// (NewOCSPSigner); RevocationService serves both over HTTP. Diagnose
// checks a certificate's revocation from CRLs given or fetched
// (RevocationSource), and Store.Audit reports revocations and the CRLs'
// dates.
//
// The package refuses what modern verifiers refuse: a server certificate
// without a subject alternative name, a leaf that outlives its issuer, a
// malformed SAN. The conformance harness needs some of those broken
// certificates on purpose; it asks for them through options whose names
// start with Unsafe.
//
// A refusal is an error to test with errors.Is or errors.As
// (ErrServerNeedsSAN, ErrNoCA, *NameTakenError, *CAKeyError, ...; see
// errors.go). Its message names the input and the problem, not what to
// type about it: the flags to pass are for the command line to add, as
// cmd/mtlskit does. The Fix of a Check is the exception: a diagnosis
// says which command repairs what it found.
package pki
