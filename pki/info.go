package pki

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// CertInfo is the readable summary of a certificate that `mtlskit inspect`
// and `--json` outputs print.
type CertInfo struct {
	Subject            string    `json:"subject"`
	Issuer             string    `json:"issuer"`
	Serial             string    `json:"serial"`
	NotBefore          time.Time `json:"not_before"`
	NotAfter           time.Time `json:"not_after"`
	KeyType            KeyType   `json:"key_type"`
	SignatureAlgorithm string    `json:"signature_algorithm"`
	SANs               []string  `json:"sans"`
	IsCA               bool      `json:"is_ca"`
	MaxPathLen         *int      `json:"max_path_len,omitempty"`
	KeyUsage           []string  `json:"key_usage"`
	ExtKeyUsage        []string  `json:"ext_key_usage"`
	SubjectKeyID       string    `json:"subject_key_id,omitempty"`
	AuthorityKeyID     string    `json:"authority_key_id,omitempty"`
	PermittedDNS       []string  `json:"permitted_dns,omitempty"`
	ExcludedDNS        []string  `json:"excluded_dns,omitempty"`
	PermittedIPs       []string  `json:"permitted_ips,omitempty"`
	SelfSigned         bool      `json:"self_signed"`
	SHA256             string    `json:"sha256"`
}

// InfoOf summarises a certificate.
func InfoOf(c *x509.Certificate) CertInfo {
	sum := sha256.Sum256(c.Raw)
	sans := SANsOf(c.DNSNames, c.IPAddresses, c.EmailAddresses, c.URIs).Strings()
	if sans == nil {
		sans = []string{}
	}
	info := CertInfo{
		Subject:            c.Subject.String(),
		Issuer:             c.Issuer.String(),
		Serial:             serialHex(c),
		NotBefore:          c.NotBefore.UTC(),
		NotAfter:           c.NotAfter.UTC(),
		KeyType:            KeyTypeOf(c.PublicKey),
		SignatureAlgorithm: c.SignatureAlgorithm.String(),
		SANs:               sans,
		IsCA:               c.IsCA,
		KeyUsage:           KeyUsageNames(c.KeyUsage),
		ExtKeyUsage:        ExtKeyUsageNames(c.ExtKeyUsage),
		SubjectKeyID:       colonHex(c.SubjectKeyId),
		AuthorityKeyID:     colonHex(c.AuthorityKeyId),
		PermittedDNS:       c.PermittedDNSDomains,
		ExcludedDNS:        c.ExcludedDNSDomains,
		SelfSigned:         isSelfSigned(c),
		SHA256:             hex.EncodeToString(sum[:]),
	}
	for _, n := range c.PermittedIPRanges {
		info.PermittedIPs = append(info.PermittedIPs, n.String())
	}
	if c.IsCA && (c.MaxPathLen > 0 || c.MaxPathLenZero) {
		n := c.MaxPathLen
		info.MaxPathLen = &n
	}
	return info
}

func colonHex(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02X", x)
	}
	return strings.Join(parts, ":")
}

// KeyUsageNames lists key usage bits by their RFC 5280 names.
func KeyUsageNames(ku x509.KeyUsage) []string {
	names := []string{"digitalSignature", "contentCommitment", "keyEncipherment", "dataEncipherment", "keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"}
	out := []string{}
	for i, n := range names {
		if ku&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// ExtKeyUsageNames lists extended key usages by their RFC 5280 names.
func ExtKeyUsageNames(ekus []x509.ExtKeyUsage) []string {
	names := map[x509.ExtKeyUsage]string{
		x509.ExtKeyUsageAny: "any", x509.ExtKeyUsageServerAuth: "serverAuth", x509.ExtKeyUsageClientAuth: "clientAuth",
		x509.ExtKeyUsageCodeSigning: "codeSigning", x509.ExtKeyUsageEmailProtection: "emailProtection",
		x509.ExtKeyUsageTimeStamping: "timeStamping", x509.ExtKeyUsageOCSPSigning: "OCSPSigning",
	}
	out := []string{}
	for _, e := range ekus {
		if n, ok := names[e]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("eku-%d", e))
		}
	}
	return out
}
