package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"strings"
)

// KeyType names a private key algorithm and size.
type KeyType string

// The key types mtlskit can generate.
const (
	ECDSAP256 KeyType = "ecdsa-p256"
	ECDSAP384 KeyType = "ecdsa-p384"
	Ed25519   KeyType = "ed25519"
	RSA2048   KeyType = "rsa-2048"
	RSA3072   KeyType = "rsa-3072"
	RSA4096   KeyType = "rsa-4096"
)

// DefaultKeyType is used when a request leaves KeyType empty.
const DefaultKeyType = ECDSAP256

// KeyTypes lists every supported key type, default first.
func KeyTypes() []KeyType {
	return []KeyType{ECDSAP256, ECDSAP384, Ed25519, RSA2048, RSA3072, RSA4096}
}

// ParseKeyType reads a key type name such as "ecdsa-p256" or "rsa-3072".
func ParseKeyType(s string) (KeyType, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return DefaultKeyType, nil
	}
	for _, k := range KeyTypes() {
		if string(k) == s {
			return k, nil
		}
	}
	names := make([]string, 0, len(KeyTypes()))
	for _, k := range KeyTypes() {
		names = append(names, string(k))
	}
	return "", fmt.Errorf("unknown key type %q: use one of %s", s, strings.Join(names, ", "))
}

// GenerateKey makes a new private key of type t.
func GenerateKey(t KeyType) (crypto.Signer, error) {
	switch t {
	case "", ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case Ed25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case RSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case RSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	}
	return nil, fmt.Errorf("unknown key type %q", t)
}

// KeyTypeOf reports the KeyType of a public key, or a description such as
// "rsa-1024" for sizes mtlskit does not generate.
func KeyTypeOf(pub crypto.PublicKey) KeyType {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ECDSAP256
		case elliptic.P384():
			return ECDSAP384
		default:
			return KeyType("ecdsa-" + strings.ToLower(strings.ReplaceAll(k.Curve.Params().Name, "-", "")))
		}
	case ed25519.PublicKey:
		return Ed25519
	case *rsa.PublicKey:
		return KeyType(fmt.Sprintf("rsa-%d", k.N.BitLen()))
	}
	return KeyType(fmt.Sprintf("%T", pub))
}

// KeyMatches reports whether the private key belongs to the public key.
func KeyMatches(priv crypto.Signer, pub crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := priv.Public().(equaler)
	return ok && e.Equal(pub)
}
