package pki

import "encoding/asn1"

// maxKeyIterations bounds the PBKDF2 iteration count ParseKey accepts in
// an encrypted key: the store's own keys use 600,000, and a damaged or
// hostile file with billions would make the decryption hang for hours.
const maxKeyIterations = 10_000_000

// pbkdf2Iterations reads the PBKDF2 iteration count of a DER
// EncryptedPrivateKeyInfo (RFC 5958) encrypted with PBES2 (RFC 8018).
// ok is false when der is not such a structure.
func pbkdf2Iterations(der []byte) (n int, ok bool) {
	var info struct {
		Algo struct {
			OID    asn1.ObjectIdentifier
			Params asn1.RawValue
		}
		Data []byte
	}
	if _, err := asn1.Unmarshal(der, &info); err != nil {
		return 0, false
	}
	var pbes2 struct {
		KDF struct {
			OID    asn1.ObjectIdentifier
			Params asn1.RawValue
		}
		Enc asn1.RawValue
	}
	if _, err := asn1.Unmarshal(info.Algo.Params.FullBytes, &pbes2); err != nil {
		return 0, false
	}
	var kdf struct {
		Salt []byte
		Iter int64
	}
	if _, err := asn1.Unmarshal(pbes2.KDF.Params.FullBytes, &kdf); err != nil {
		return 0, false
	}
	if kdf.Iter > int64(^uint32(0)) {
		return int(^uint32(0)), true
	}
	return int(kdf.Iter), true
}
