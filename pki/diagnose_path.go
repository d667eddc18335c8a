package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"errors"
	"fmt"
)

type endKind int

const (
	endTrusted    endKind = iota // the path reaches one of the roots
	endSelfSigned                // it stops at a self-signed certificate that is not a root
	endMissing                   // the issuer of the last certificate is not available
	endLoop                      // the issuers go round in a circle
)

// pathEnd says why path building stopped.
type pathEnd struct {
	kind endKind
	// sameName are the available certificates with the missing issuer's
	// name whose key differs from the one the last certificate names.
	sameName []*x509.Certificate
}

// link is how path[i+1] was found as the issuer of path[i].
type link struct {
	by     string // "key id AB:.. and name", "name"
	sigErr error  // nil when the signature verifies
	sha1   bool   // verified, but with SHA-1
}

const maxPathDepth = 10

// buildPath walks from the leaf to a root. Issuers are found by name and,
// when both sides carry one, by key id (the AKI of the child equals the
// SKI of the issuer), then confirmed by signature. The signature is
// checked alone, without the CA constraints CheckSignatureFrom adds, so a
// CA that may not sign is reported by the ca-constraints check rather
// than hiding the chain.
func (d *diag) buildPath() {
	d.path = []*x509.Certificate{d.leaf}
	cur := d.leaf
	for len(d.path) <= maxPathDepth {
		if d.isRoot(cur) {
			d.end = pathEnd{kind: endTrusted}
			return
		}
		var best *x509.Certificate
		var bestLink link
		var sameName []*x509.Certificate
		for _, p := range d.pool {
			if p.Equal(cur) || !rawEqual(p.RawSubject, cur.RawIssuer) {
				continue
			}
			by := "name"
			if len(cur.AuthorityKeyId) > 0 && len(p.SubjectKeyId) > 0 {
				if !rawEqual(cur.AuthorityKeyId, p.SubjectKeyId) {
					sameName = append(sameName, p)
					continue
				}
				by = keyID(p.SubjectKeyId) + " and name"
			}
			sha1Used, err := d.in.sigs.verify(cur, p)
			l := link{by: by, sigErr: err, sha1: sha1Used}
			switch {
			case best == nil,
				bestLink.sigErr != nil && err == nil,
				(bestLink.sigErr == nil) == (err == nil) && d.isRoot(p) && !d.isRoot(best):
				best, bestLink = p, l
			}
		}
		if best != nil && bestLink.sigErr != nil && bestLink.by == "name" {
			// Only the name matches and its key did not sign: another CA
			// that happens to have the same name.
			sameName = append(sameName, best)
			best = nil
		}
		if best == nil {
			if rawEqual(cur.RawIssuer, cur.RawSubject) {
				if _, err := d.in.sigs.verify(cur, cur); err == nil {
					d.end = pathEnd{kind: endSelfSigned}
					return
				}
			}
			d.end = pathEnd{kind: endMissing, sameName: sameName}
			return
		}
		for _, c := range d.path {
			if c.Equal(best) {
				d.end = pathEnd{kind: endLoop}
				return
			}
		}
		d.links = append(d.links, bestLink)
		d.path = append(d.path, best)
		cur = best
	}
	d.end = pathEnd{kind: endLoop}
}

// verifySignature checks that parent's key signed child, and nothing
// else. Go refuses SHA-1 signatures outright; they are verified here by
// hand so the report can say "valid signature, but SHA-1" (the
// signature-algorithm check fails it) instead of "not signed".
func verifySignature(child, parent *x509.Certificate) (sha1Used bool, err error) {
	err = parent.CheckSignature(child.SignatureAlgorithm, child.RawTBSCertificate, child.Signature)
	var insecure x509.InsecureAlgorithmError
	if err == nil || !errors.As(err, &insecure) {
		return false, err
	}
	h := sha1.Sum(child.RawTBSCertificate)
	switch child.SignatureAlgorithm {
	case x509.SHA1WithRSA:
		pub, ok := parent.PublicKey.(*rsa.PublicKey)
		if !ok {
			return true, errors.New("SHA1-RSA signature but the issuer's key is not RSA")
		}
		if e := rsa.VerifyPKCS1v15(pub, crypto.SHA1, h[:], child.Signature); e != nil {
			return true, fmt.Errorf("SHA1-RSA signature does not verify: %v", e)
		}
		return true, nil
	case x509.ECDSAWithSHA1:
		pub, ok := parent.PublicKey.(*ecdsa.PublicKey)
		if !ok {
			return true, errors.New("ECDSA-SHA1 signature but the issuer's key is not ECDSA")
		}
		if !ecdsa.VerifyASN1(pub, h[:], child.Signature) {
			return true, errors.New("ECDSA-SHA1 signature does not verify")
		}
		return true, nil
	}
	return false, err
}

func isWeakSignature(a x509.SignatureAlgorithm) bool {
	switch a {
	case x509.MD2WithRSA, x509.MD5WithRSA, x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1:
		return true
	}
	return false
}
