package pki

import (
	"encoding/asn1"
	"testing"
)

func TestNewSerial(t *testing.T) {
	t.Parallel()
	const draws = 5000
	seen := make(map[string]bool, draws)
	for i := 0; i < draws; i++ {
		n, err := NewSerial()
		if err != nil {
			t.Fatal(err)
		}
		if n.Sign() <= 0 {
			t.Fatalf("serial %v is not positive", n)
		}
		if n.BitLen() <= 64 {
			t.Fatalf("serial %x has %d bits, want more than 64", n, n.BitLen())
		}
		der, err := asn1.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		// DER INTEGER: tag, one length octet (content < 128), content.
		if content := der[2:]; len(content) > 20 || int(der[1]) != len(content) {
			t.Fatalf("serial %x encodes in %d octets, RFC 5280 allows 20", n, len(content))
		}
		if seen[n.String()] {
			t.Fatalf("serial %x drawn twice in %d draws", n, i+1)
		}
		seen[n.String()] = true
	}
}
