package pki

import "crypto/tls"

// TLSCertificate is what a peer holding i presents in a handshake: the
// leaf and, when withChain is set, the intermediates above it (a server
// that sends only its leaf is built with withChain false).
func (i *Issued) TLSCertificate(withChain bool) tls.Certificate {
	cert := tls.Certificate{Certificate: [][]byte{i.Cert.Raw}, PrivateKey: i.Key, Leaf: i.Cert}
	if withChain {
		for _, ic := range i.Chain {
			cert.Certificate = append(cert.Certificate, ic.Raw)
		}
	}
	return cert
}
