package pki

// The PKCS#12 writer behind EncodePKCS12With (RFC 7292, PBES2 from RFC
// 8018). go-pkcs12, which still reads the files (DecodePKCS12), cannot
// set a friendly name or separate salt and MAC parameters, so the file is
// built here with encoding/asn1.

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"io"
	"unicode/utf16"
)

var (
	oidData                                   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEncryptedData                          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidCertBag                                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidShroudedKeyBag                         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidX509Certificate                        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 22, 1}
	oidFriendlyName                           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 20}
	oidLocalKeyID                             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 21}
	oidPBEWithSHA3DES                         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
	oidPBES2                                  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2                                 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACWithSHA256                         = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidAES256CBC                              = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidSHA1                                   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256                                 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	asn1NULL                                  = asn1.RawValue{Tag: asn1.TagNull}
	errNotBMP                                 = errors.New("has a character outside the Basic Multilingual Plane, which PKCS#12 readers decode as UCS-2")
	pkcs12KeyID, pkcs12IVID, pkcs12MACID byte = 1, 2, 3
)

type p12Attribute struct {
	ID     asn1.ObjectIdentifier
	Values asn1.RawValue // a SET
}

type p12SafeBag struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue  `asn1:"tag:0,explicit"`
	Attributes []p12Attribute `asn1:"set,optional"`
}

type p12CertBag struct {
	ID   asn1.ObjectIdentifier
	Data []byte `asn1:"tag:0,explicit"`
}

type p12ContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
}

type p12EncryptedContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Algorithm   pkix.AlgorithmIdentifier
	Content     []byte `asn1:"tag:0,optional"`
}

type p12EncryptedData struct {
	Version int
	Info    p12EncryptedContentInfo
}

type p12EncryptedPrivateKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Data      []byte
}

type p12DigestInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Digest    []byte
}

type p12MacData struct {
	Mac        p12DigestInfo
	Salt       []byte
	Iterations int `asn1:"optional,default:1"`
}

type p12PFX struct {
	Version  int
	AuthSafe p12ContentInfo
	MacData  p12MacData
}

type p12PBEParams struct {
	Salt       []byte
	Iterations int
}

type p12PBKDF2Params struct {
	Salt       []byte
	Iterations int
	PRF        pkix.AlgorithmIdentifier
}

type p12PBES2Params struct {
	KDF pkix.AlgorithmIdentifier
	Enc pkix.AlgorithmIdentifier
}

// encodePKCS12 writes the PFX: certificate bags in an encrypted safe,
// the shrouded key in a plain one, the MAC over both.
func encodePKCS12(rnd io.Reader, key crypto.Signer, leaf *x509.Certificate, cas []*x509.Certificate, password string, enc PKCS12Encoding) ([]byte, error) {
	bmpPass, err := bmpString(password)
	if err != nil {
		return nil, fmt.Errorf("the password %v", err)
	}
	bmpPass = append(bmpPass, 0, 0) // the PKCS#12 KDF takes it NUL-terminated
	keyID := sha1.Sum(leaf.Raw)
	attrs, err := bagAttributes(enc.FriendlyName, keyID[:])
	if err != nil {
		return nil, err
	}

	certBags := make([]p12SafeBag, 0, 1+len(cas))
	for i, c := range append([]*x509.Certificate{leaf}, cas...) {
		bag, err := asn1.Marshal(p12CertBag{ID: oidX509Certificate, Data: c.Raw})
		if err != nil {
			return nil, err
		}
		sb := p12SafeBag{ID: oidCertBag, Value: explicit0(bag)}
		if i == 0 {
			sb.Attributes = attrs
		}
		certBags = append(certBags, sb)
	}
	certSafe, err := asn1.Marshal(certBags)
	if err != nil {
		return nil, err
	}
	certAlg, certCipher, err := pbeEncrypt(rnd, certSafe, password, bmpPass, enc)
	if err != nil {
		return nil, err
	}
	encData, err := asn1.Marshal(p12EncryptedData{Info: p12EncryptedContentInfo{ContentType: oidData, Algorithm: certAlg, Content: certCipher}})
	if err != nil {
		return nil, err
	}

	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	keyAlg, keyCipher, err := pbeEncrypt(rnd, pkcs8, password, bmpPass, enc)
	if err != nil {
		return nil, err
	}
	epki, err := asn1.Marshal(p12EncryptedPrivateKeyInfo{Algorithm: keyAlg, Data: keyCipher})
	if err != nil {
		return nil, err
	}
	keySafe, err := asn1.Marshal([]p12SafeBag{{ID: oidShroudedKeyBag, Value: explicit0(epki), Attributes: attrs}})
	if err != nil {
		return nil, err
	}

	certInfo := p12ContentInfo{ContentType: oidEncryptedData, Content: explicit0(encData)}
	keyOctets, err := asn1.Marshal(keySafe)
	if err != nil {
		return nil, err
	}
	keyInfo := p12ContentInfo{ContentType: oidData, Content: explicit0(keyOctets)}
	authSafe, err := asn1.Marshal([]p12ContentInfo{certInfo, keyInfo})
	if err != nil {
		return nil, err
	}

	macSalt, err := randomBytes(rnd, enc.SaltLen)
	if err != nil {
		return nil, err
	}
	newHash, macOID := sha256.New, oidSHA256
	if enc.MAC == crypto.SHA1 {
		newHash, macOID = sha1.New, oidSHA1
	}
	macKey := pkcs12KDF(newHash, bmpPass, macSalt, pkcs12MACID, enc.MACIterations, newHash().Size())
	m := hmac.New(newHash, macKey)
	m.Write(authSafe)

	authOctets, err := asn1.Marshal(authSafe)
	if err != nil {
		return nil, err
	}
	outer := p12ContentInfo{ContentType: oidData, Content: explicit0(authOctets)}
	return asn1.Marshal(p12PFX{
		Version:  3,
		AuthSafe: outer,
		MacData: p12MacData{
			Mac:        p12DigestInfo{Algorithm: pkix.AlgorithmIdentifier{Algorithm: macOID, Parameters: asn1NULL}, Digest: m.Sum(nil)},
			Salt:       macSalt,
			Iterations: enc.MACIterations,
		},
	})
}

// explicit0 wraps DER as [0] EXPLICIT: encoding/asn1 writes a RawValue
// with its own tag, whatever the field's tag says.
func explicit0(der []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: der}
}

// bagAttributes: friendlyName (a BMPString), when given, and localKeyID.
func bagAttributes(friendlyName string, keyID []byte) ([]p12Attribute, error) {
	var attrs []p12Attribute
	set := func(id asn1.ObjectIdentifier, v []byte) {
		attrs = append(attrs, p12Attribute{ID: id, Values: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: v}})
	}
	if friendlyName != "" {
		b, err := bmpString(friendlyName)
		if err != nil {
			return nil, err
		}
		v, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagBMPString, Bytes: b})
		if err != nil {
			return nil, err
		}
		set(oidFriendlyName, v)
	}
	v, err := asn1.Marshal(keyID)
	if err != nil {
		return nil, err
	}
	set(oidLocalKeyID, v)
	return attrs, nil
}

// pbeEncrypt encrypts plain with the encoding's cipher and returns its
// algorithm identifier.
func pbeEncrypt(rnd io.Reader, plain []byte, password string, bmpPass []byte, enc PKCS12Encoding) (pkix.AlgorithmIdentifier, []byte, error) {
	salt, err := randomBytes(rnd, enc.SaltLen)
	if err != nil {
		return pkix.AlgorithmIdentifier{}, nil, err
	}
	var block cipher.Block
	var iv []byte
	var alg pkix.AlgorithmIdentifier
	switch enc.Cipher {
	case PKCS12TripleDES:
		key := pkcs12KDF(sha1.New, bmpPass, salt, pkcs12KeyID, enc.Iterations, 24)
		iv = pkcs12KDF(sha1.New, bmpPass, salt, pkcs12IVID, enc.Iterations, 8)
		if block, err = des.NewTripleDESCipher(key); err != nil {
			return alg, nil, err
		}
		params, err := asn1.Marshal(p12PBEParams{Salt: salt, Iterations: enc.Iterations})
		if err != nil {
			return alg, nil, err
		}
		alg = pkix.AlgorithmIdentifier{Algorithm: oidPBEWithSHA3DES, Parameters: asn1.RawValue{FullBytes: params}}
	case PKCS12AES256:
		// PBES2 in PKCS#12 derives from the password's UTF-8 bytes, as
		// OpenSSL, NSS and Java do (RFC 9579 section 3).
		key, err := pbkdf2.Key(sha256.New, password, salt, enc.Iterations, 32)
		if err != nil {
			return alg, nil, err
		}
		if iv, err = randomBytes(rnd, aes.BlockSize); err != nil {
			return alg, nil, err
		}
		if block, err = aes.NewCipher(key); err != nil {
			return alg, nil, err
		}
		kdf, err := asn1.Marshal(p12PBKDF2Params{Salt: salt, Iterations: enc.Iterations, PRF: pkix.AlgorithmIdentifier{Algorithm: oidHMACWithSHA256, Parameters: asn1NULL}})
		if err != nil {
			return alg, nil, err
		}
		ivDER, err := asn1.Marshal(iv)
		if err != nil {
			return alg, nil, err
		}
		params, err := asn1.Marshal(p12PBES2Params{
			KDF: pkix.AlgorithmIdentifier{Algorithm: oidPBKDF2, Parameters: asn1.RawValue{FullBytes: kdf}},
			Enc: pkix.AlgorithmIdentifier{Algorithm: oidAES256CBC, Parameters: asn1.RawValue{FullBytes: ivDER}},
		})
		if err != nil {
			return alg, nil, err
		}
		alg = pkix.AlgorithmIdentifier{Algorithm: oidPBES2, Parameters: asn1.RawValue{FullBytes: params}}
	default:
		return alg, nil, fmt.Errorf("unknown cipher %v", enc.Cipher)
	}
	// PKCS#7 padding, then CBC.
	n := block.BlockSize() - len(plain)%block.BlockSize()
	out := append(append([]byte(nil), plain...), bytes.Repeat([]byte{byte(n)}, n)...)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, out)
	return alg, out, nil
}

func randomBytes(rnd io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return nil, fmt.Errorf("reading random bytes: %v", err)
	}
	return b, nil
}

// bmpString encodes s as UTF-16 big-endian without a terminator,
// refusing characters that need a surrogate pair (BMPString is UCS-2).
func bmpString(s string) ([]byte, error) {
	out := make([]byte, 0, 2*len(s))
	for _, r := range s {
		if r > 0xFFFF || utf16.IsSurrogate(r) {
			return nil, errNotBMP
		}
		out = append(out, byte(r>>8), byte(r))
	}
	return out, nil
}

// pkcs12KDF is the PKCS#12 key derivation (RFC 7292 appendix B.2): n
// bytes for purpose id from the NUL-terminated BMPString password and
// the salt, with iterations rounds of the hash.
func pkcs12KDF(newHash func() hash.Hash, password, salt []byte, id byte, iterations, n int) []byte {
	h := newHash()
	u, v := h.Size(), h.BlockSize()
	fill := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		out := make([]byte, v*((len(b)+v-1)/v))
		for i := range out {
			out[i] = b[i%len(b)]
		}
		return out
	}
	d := bytes.Repeat([]byte{id}, v)
	in := append(fill(salt), fill(password)...)
	var out []byte
	for len(out) < n {
		h.Reset()
		h.Write(d)
		h.Write(in)
		a := h.Sum(nil)
		for r := 1; r < iterations; r++ {
			h.Reset()
			h.Write(a)
			a = h.Sum(a[:0])
		}
		out = append(out, a...)
		if len(out) >= n {
			break
		}
		// I_j = (I_j + B + 1) mod 2^(8v), B being A repeated to v bytes.
		b := make([]byte, v)
		for i := range b {
			b[i] = a[i%u]
		}
		for j := 0; j < len(in); j += v {
			carry := 1
			for k := v - 1; k >= 0; k-- {
				sum := int(in[j+k]) + int(b[k]) + carry
				in[j+k] = byte(sum)
				carry = sum >> 8
			}
		}
	}
	return out[:n]
}
