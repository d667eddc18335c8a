package pki

import (
	"crypto/rand"
	"math/big"
)

// serialBits is the size of a serial number: 127 random bits, so the
// number is positive, holds far more than the 64 bits of entropy the
// CA/Browser Forum asks for, and encodes in at most 16 octets (RFC 5280
// allows 20).
const serialBits = 127

// NewSerial returns a random, positive certificate serial number.
func NewSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), serialBits)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, err
		}
		// Keep at least 64 bits of magnitude so the number never
		// looks small or sequential.
		if n.BitLen() > 64 {
			return n, nil
		}
	}
}
