package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"time"
)

// verdict is the outcome of a check on one certificate.
type verdict struct {
	status   CheckStatus
	summary  string
	evidence []string
	fix      string
}

// eachCert runs f on each certificate and reports one passing check when
// all pass (its evidence says what was seen on each), or one check for
// each certificate that does not pass.
func (d *diag) eachCert(id string, certs []*x509.Certificate, f func(i int, c *x509.Certificate) verdict) {
	if len(certs) == 0 {
		d.add(Check{ID: id, Status: StatusSkip, Summary: "no certificate to check"})
		return
	}
	var passed []string
	var lastPass verdict
	bad := false
	for i, c := range certs {
		v := f(i, c)
		if v.status == StatusPass || v.status == StatusSkip {
			passed = append(passed, subjectOf(c)+": "+v.summary)
			passed = append(passed, indentLines(v.evidence)...)
			lastPass = v
			continue
		}
		bad = true
		d.add(Check{ID: id, Status: v.status, Subject: subjectOf(c), Summary: v.summary, Evidence: v.evidence, Fix: v.fix})
	}
	if bad {
		return
	}
	if len(certs) == 1 {
		d.add(Check{ID: id, Status: lastPass.status, Subject: subjectOf(certs[0]), Summary: lastPass.summary, Evidence: lastPass.evidence})
		return
	}
	d.add(Check{ID: id, Status: StatusPass, Subject: subjectOf(certs[0]),
		Summary: fmt.Sprintf("all %d certificates of the path", len(certs)), Evidence: passed})
}

func indentLines(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = "  " + l
	}
	return out
}

// issuersOnPath are the certificates above the leaf.
func (d *diag) issuersOnPath() []*x509.Certificate { return d.path[1:] }

// untrustedOnPath are the certificates of the path that are not trust
// anchors: those whose own signature and contents matter.
func (d *diag) untrustedOnPath() []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range d.path {
		if !d.isRoot(c) {
			out = append(out, c)
		}
	}
	return out
}

func (d *diag) fixCA(c *x509.Certificate) string {
	if c.Equal(d.leaf) {
		return d.fixIssue("")
	}
	if string(c.RawIssuer) == string(c.RawSubject) && d.in.sigs.checkFrom(c, c) == nil { // isSelfSigned
		return "make a new CA: mtlskit ca init --force, then reissue its leaves"
	}
	return "reissue the intermediate: mtlskit ca init --intermediate --force, then reissue its leaves"
}

func spkiHash(pub any) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "?"
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:8])
}

func (d *diag) checkKeyMatch() {
	k := d.in.Key
	if k == nil {
		d.add(Check{ID: CheckKeyMatch, Status: StatusSkip, Subject: subjectOf(d.leaf), Summary: "no private key given (--key)"})
		return
	}
	certKey := fmt.Sprintf("certificate's public key: %s, SPKI SHA-256 %s…", KeyTypeOf(d.leaf.PublicKey), spkiHash(d.leaf.PublicKey))
	privKey := fmt.Sprintf("private key's public half: %s, SPKI SHA-256 %s…", KeyTypeOf(k.Public()), spkiHash(k.Public()))
	if KeyMatches(k, d.leaf.PublicKey) {
		d.add(Check{ID: CheckKeyMatch, Status: StatusPass, Subject: subjectOf(d.leaf),
			Summary: fmt.Sprintf("the private key (%s) belongs to the certificate", KeyTypeOf(k.Public())), Evidence: []string{certKey}})
		return
	}
	d.add(Check{ID: CheckKeyMatch, Status: StatusFail, Subject: subjectOf(d.leaf),
		Summary:  "the private key does not belong to this certificate: a TLS peer would fail the handshake signature",
		Evidence: []string{certKey, privKey},
		Fix:      "pass the key made with this certificate (a store keeps it beside cert.pem as key.pem), or reissue both: " + d.fixIssue("")})
}

func (d *diag) checkSignatures() {
	var ev []string
	for i, l := range d.links {
		child, parent := d.path[i], d.path[i+1]
		if l.sigErr != nil {
			d.add(Check{ID: CheckSignature, Status: StatusFail, Subject: subjectOf(child),
				Summary: fmt.Sprintf("names %s (%s) as its issuer, but that certificate's key did not sign it: %v", subjectOf(parent), keyID(child.AuthorityKeyId), l.sigErr),
				Evidence: []string{"signature algorithm " + child.SignatureAlgorithm.String(),
					"issuer found by " + l.by},
				Fix: "the certificate was altered or its issuer re-keyed under the same name and key id: reissue it: " + d.fixCA(child)})
			return
		}
		note := ""
		if l.sha1 {
			note = " (with SHA-1: see signature-algorithm)"
		}
		ev = append(ev, fmt.Sprintf("%s is signed by %s%s, found by %s", subjectOf(child), subjectOf(parent), note, l.by))
	}
	last := d.path[len(d.path)-1]
	switch d.end.kind {
	case endSelfSigned:
		ev = append(ev, subjectOf(last)+" is self-signed: its own key signed it")
	case endMissing:
		if len(d.links) == 0 {
			d.add(Check{ID: CheckSignature, Status: StatusSkip, Subject: subjectOf(last),
				Summary: fmt.Sprintf("its issuer %s (%s) is not available, so the signature cannot be checked (see chain)", last.Issuer.String(), keyID(last.AuthorityKeyId))})
			return
		}
		ev = append(ev, fmt.Sprintf("%s: issuer %s not available (see chain)", subjectOf(last), last.Issuer.String()))
	}
	summary := "every signature on the path verifies"
	if len(d.links) == 1 {
		summary = fmt.Sprintf("signed by %s, found by %s", subjectOf(d.path[1]), d.links[0].by)
	} else if len(d.links) == 0 && d.end.kind == endSelfSigned {
		summary = "self-signed: its own key signed it"
	} else if len(d.links) == 0 {
		summary = "the certificate is itself a trusted root"
	}
	d.add(Check{ID: CheckSignature, Status: StatusPass, Subject: subjectOf(d.leaf), Summary: summary, Evidence: ev})
}

func (d *diag) pathEvidence() []string {
	var ev []string
	for i, c := range d.path {
		role := "leaf"
		if i > 0 {
			role = "issuer"
		}
		if d.isRoot(c) {
			role = "trusted root"
		}
		ev = append(ev, fmt.Sprintf("%d. %s (%s, %s)", i+1, subjectOf(c), role, keyID(c.SubjectKeyId)))
	}
	return ev
}

func (d *diag) checkChain() {
	last := d.path[len(d.path)-1]
	ev := d.pathEvidence()
	c := Check{ID: CheckChain, Subject: subjectOf(last), Evidence: ev}
	if len(d.roots) == 0 {
		c.Status = StatusSkip
		c.Summary = fmt.Sprintf("no trusted root given (--ca), so trust is not checked; the path built goes up to %s", subjectOf(last))
		c.Fix = "pass the CA certificate clients trust: --ca ca.pem"
		d.add(c)
		return
	}
	var roots []string
	for _, r := range d.roots {
		roots = append(roots, fmt.Sprintf("%s (%s)", subjectOf(r), keyID(r.SubjectKeyId)))
	}
	switch d.end.kind {
	case endTrusted:
		c.Status = StatusPass
		c.Subject = subjectOf(d.leaf)
		c.Summary = fmt.Sprintf("complete: %d certificate(s) up to the trusted root %s", len(d.path), subjectOf(last))
	case endSelfSigned:
		c.Status = StatusFail
		if last.Equal(d.leaf) {
			c.Summary = "the certificate is self-signed and is not one of the trusted roots: no CA vouches for it"
			c.Fix = "issue it from your CA instead: " + d.fixIssue("")
		} else {
			c.Summary = fmt.Sprintf("the path ends at the self-signed %s, which is not one of the trusted roots", subjectOf(last))
			c.Fix = "trust that root (--ca with its certificate), or reissue the leaf from the CA you trust: " + d.fixIssue("")
		}
		c.Evidence = append(c.Evidence, "trusted roots: "+strings.Join(roots, "; "))
	case endMissing:
		c.Status = StatusFail
		missing := fmt.Sprintf("%q (%s)", last.Issuer.String(), keyID(last.AuthorityKeyId))
		if len(d.end.sameName) > 0 {
			other := d.end.sameName[0]
			c.Summary = fmt.Sprintf("%s was issued by %s, but the certificate of that name you gave has %s: "+
				"another CA with the same name (a verifier says \"unknown authority\")", subjectOf(last), missing, keyID(other.SubjectKeyId))
			c.Fix = "verify with the CA that issued it (--ca its root.pem), or reissue it from this CA: " + d.fixIssue("")
		} else {
			c.Summary = fmt.Sprintf("missing issuer %s: the issuer of %s is not among the certificates given nor a trusted root "+
				"(a verifier says only \"unknown authority\")", missing, subjectOf(last))
			c.Fix = "if it is an intermediate, add it: --chain intermediate.pem (a store keeps it in ca/intermediate.pem), " +
				"and have the server send chain.pem (leaf + intermediate), not cert.pem; if it is a root, it is not the CA you trust"
		}
		c.Evidence = append(c.Evidence, "trusted roots: "+strings.Join(roots, "; "))
	case endLoop:
		c.Status = StatusFail
		c.Summary = "the issuers go round in a circle or the path is longer than 10 certificates"
		c.Fix = "pass only the leaf and its own intermediates"
	}
	d.add(c)
}

func (d *diag) checkValidity() {
	d.eachCert(CheckValidity, d.path, func(i int, c *x509.Certificate) verdict {
		window := fmt.Sprintf("valid from %s until %s", c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
		at := "checked at " + d.at.UTC().Format(time.RFC3339)
		fix := d.fixCA(c)
		switch {
		case d.at.Before(c.NotBefore):
			return verdict{StatusFail, fmt.Sprintf("not valid yet: it starts %s (%s)", c.NotBefore.UTC().Format(time.RFC3339), agoWords(c.NotBefore, d.at)),
				[]string{window, at}, "check this machine's clock (and the peer's); or wait, or reissue it: " + fix}
		case d.at.After(c.NotAfter):
			return verdict{StatusFail, fmt.Sprintf("expired %s (%s)", c.NotAfter.UTC().Format(time.RFC3339), agoWords(c.NotAfter, d.at)),
				[]string{window, at}, "reissue it: " + fix}
		case d.in.WarnWithin > 0 && c.NotAfter.Sub(d.at) < d.in.WarnWithin:
			return verdict{StatusWarn, fmt.Sprintf("expires soon: %s (%s)", c.NotAfter.UTC().Format(time.RFC3339), agoWords(c.NotAfter, d.at)),
				[]string{window, at}, "reissue it before then: " + fix}
		}
		return verdict{status: StatusPass, summary: fmt.Sprintf("valid until %s (%s)", c.NotAfter.UTC().Format(time.DateOnly), agoWords(c.NotAfter, d.at)),
			evidence: []string{window}}
	})
}

func (d *diag) checkCAConstraints() {
	cas := d.issuersOnPath()
	start := 1
	if d.in.Purpose == PurposeCA {
		cas, start = d.path, 0
	}
	if len(cas) == 0 {
		c := Check{ID: CheckCAConstraints, Status: StatusSkip, Subject: subjectOf(d.leaf), Summary: "no issuer on the path to check"}
		if d.leaf.IsCA && d.in.Purpose != PurposeCA {
			c.Status, c.Summary = StatusWarn, "the leaf is itself a CA certificate (basic constraints cA=true): a CA should not be used as a TLS peer"
			c.Fix = d.fixIssue("")
		}
		d.add(c)
		return
	}
	d.eachCert(CheckCAConstraints, cas, func(j int, c *x509.Certificate) verdict {
		i := j + start
		ev := []string{fmt.Sprintf("basic constraints: present=%t cA=%t", c.BasicConstraintsValid, c.IsCA),
			"key usage: " + listOrNone(KeyUsageNames(c.KeyUsage))}
		pl := "none"
		if c.MaxPathLen > 0 || c.MaxPathLenZero {
			pl = fmt.Sprint(c.MaxPathLen)
		}
		ev = append(ev, "path length constraint: "+pl)
		fix := d.fixCA(c)
		signed := "it"
		if i > 0 {
			signed = subjectOf(d.path[i-1])
		}
		if !c.BasicConstraintsValid || !c.IsCA {
			return verdict{StatusFail, fmt.Sprintf("is not a CA (basic constraints cA is not set), yet it signed %s: verifiers refuse it as an issuer", signed), ev, fix}
		}
		if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0 {
			return verdict{StatusFail, fmt.Sprintf("is a CA, but its key usage lacks keyCertSign, so it may not sign certificates such as %s", signed), ev, fix}
		}
		below := 0 // intermediate CAs between c and the leaf
		if i > 1 {
			below = i - 1
		}
		if (c.MaxPathLen > 0 || c.MaxPathLenZero) && below > c.MaxPathLen {
			return verdict{StatusFail, fmt.Sprintf("its path length constraint is %d, but %d intermediate CA(s) stand below it", c.MaxPathLen, below), ev,
				"issue the leaves from a CA the constraint allows (with pathlen 0, the root signs leaves directly), or " + fix}
		}
		if c.KeyUsage == 0 {
			return verdict{StatusWarn, "is a CA with no key usage extension: RFC 5280 wants keyCertSign marked", ev, fix}
		}
		return verdict{status: StatusPass, summary: "a CA allowed to sign certificates", evidence: ev}
	})
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func (d *diag) checkNameConstraints() {
	var violations, ev []string
	var culprit *x509.Certificate
	for i := 1; i < len(d.path); i++ {
		ca := d.path[i]
		if !hasNameConstraints(ca) {
			continue
		}
		ev = append(ev, fmt.Sprintf("%s: %s", subjectOf(ca), describeConstraints(ca)))
		for _, c := range d.path[:i] {
			for _, v := range nameViolations(ca, c) {
				violations = append(violations, fmt.Sprintf("%s: %s", subjectOf(c), v))
				if culprit == nil {
					culprit = ca
				}
			}
		}
	}
	switch {
	case len(ev) == 0:
		d.add(Check{ID: CheckNameConstraints, Status: StatusPass, Subject: subjectOf(d.leaf), Summary: "no name constraints on the path"})
	case len(violations) == 0:
		d.add(Check{ID: CheckNameConstraints, Status: StatusPass, Subject: subjectOf(d.leaf), Summary: "every name is within the CA's name constraints", Evidence: ev})
	default:
		d.add(Check{ID: CheckNameConstraints, Status: StatusFail, Subject: subjectOf(d.leaf),
			Summary:  fmt.Sprintf("%s; %s does not allow it", violations[0], subjectOf(culprit)),
			Evidence: append(violations[1:], ev...),
			Fix:      "issue names the CA allows (" + describeConstraints(culprit) + "), or make a CA without those constraints: mtlskit ca init --force"})
	}
}

func hasNameConstraints(c *x509.Certificate) bool {
	return len(c.PermittedDNSDomains)+len(c.ExcludedDNSDomains)+len(c.PermittedIPRanges)+len(c.ExcludedIPRanges)+
		len(c.PermittedEmailAddresses)+len(c.ExcludedEmailAddresses)+len(c.PermittedURIDomains)+len(c.ExcludedURIDomains) > 0
}

func describeConstraints(c *x509.Certificate) string {
	var parts []string
	add := func(what string, list []string) {
		if len(list) > 0 {
			parts = append(parts, what+" "+strings.Join(list, ", "))
		}
	}
	nets := func(ns []*net.IPNet) []string {
		var out []string
		for _, n := range ns {
			out = append(out, n.String())
		}
		return out
	}
	add("permitted DNS", c.PermittedDNSDomains)
	add("excluded DNS", c.ExcludedDNSDomains)
	add("permitted IP", nets(c.PermittedIPRanges))
	add("excluded IP", nets(c.ExcludedIPRanges))
	add("permitted email", c.PermittedEmailAddresses)
	add("excluded email", c.ExcludedEmailAddresses)
	add("permitted URI domains", c.PermittedURIDomains)
	add("excluded URI domains", c.ExcludedURIDomains)
	return strings.Join(parts, "; ")
}

// nameViolations lists the names of c that the constraints of ca refuse.
func nameViolations(ca, c *x509.Certificate) []string {
	var out []string
	for _, n := range c.DNSNames {
		if msg := checkSubtrees("DNS name "+n, n, ca.PermittedDNSDomains, ca.ExcludedDNSDomains, matchDomain); msg != "" {
			out = append(out, msg)
		}
	}
	for _, ip := range c.IPAddresses {
		if len(ca.PermittedIPRanges) > 0 && !inRanges(ip, ca.PermittedIPRanges) {
			out = append(out, fmt.Sprintf("IP address %s is outside the permitted ranges", ip))
		}
		if inRanges(ip, ca.ExcludedIPRanges) {
			out = append(out, fmt.Sprintf("IP address %s is in an excluded range", ip))
		}
	}
	for _, e := range c.EmailAddresses {
		if msg := checkSubtrees("email "+e, e, ca.PermittedEmailAddresses, ca.ExcludedEmailAddresses, matchEmail); msg != "" {
			out = append(out, msg)
		}
	}
	for _, u := range c.URIs {
		if msg := checkSubtrees("URI "+u.String(), u.Hostname(), ca.PermittedURIDomains, ca.ExcludedURIDomains, matchDomain); msg != "" {
			out = append(out, msg)
		}
	}
	return out
}

func checkSubtrees(what, n string, permitted, excluded []string, match func(n, constraint string) bool) string {
	for _, x := range excluded {
		if match(n, x) {
			return fmt.Sprintf("%s is excluded (%s)", what, x)
		}
	}
	if len(permitted) == 0 {
		return ""
	}
	for _, p := range permitted {
		if match(n, p) {
			return ""
		}
	}
	return fmt.Sprintf("%s is outside the permitted names (%s)", what, strings.Join(permitted, ", "))
}

// matchDomain applies RFC 5280 4.2.1.10 to DNS names: "example.com"
// matches itself and its subdomains, ".example.com" only subdomains.
func matchDomain(n, constraint string) bool {
	n, constraint = strings.ToLower(strings.TrimSuffix(n, ".")), strings.ToLower(constraint)
	if constraint == "" {
		return true
	}
	if strings.HasPrefix(constraint, ".") {
		return strings.HasSuffix(n, constraint)
	}
	return n == constraint || strings.HasSuffix(n, "."+constraint)
}

func matchEmail(e, constraint string) bool {
	at := strings.LastIndex(e, "@")
	host := e[at+1:]
	if strings.Contains(constraint, "@") {
		return strings.EqualFold(e, constraint)
	}
	if strings.HasPrefix(constraint, ".") {
		return matchDomain(host, constraint)
	}
	return strings.EqualFold(host, constraint)
}

func inRanges(ip net.IP, ranges []*net.IPNet) bool {
	for _, r := range ranges {
		if r.Contains(ip) {
			return true
		}
	}
	return false
}

func (d *diag) wantEKU() (x509.ExtKeyUsage, string) {
	if d.in.Purpose == PurposeClient {
		return x509.ExtKeyUsageClientAuth, "clientAuth"
	}
	return x509.ExtKeyUsageServerAuth, "serverAuth"
}

func hasEKU(c *x509.Certificate, want x509.ExtKeyUsage) bool {
	for _, e := range c.ExtKeyUsage {
		if e == want || e == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

func (d *diag) checkEKU() {
	if d.in.Purpose == PurposeCA {
		d.add(Check{ID: CheckPurposeEKU, Status: StatusSkip, Subject: subjectOf(d.leaf), Summary: "not applicable to a CA certificate"})
		return
	}
	want, wantName := d.wantEKU()
	leaf := d.leaf
	have := "EKU " + listOrNone(ExtKeyUsageNames(leaf.ExtKeyUsage))
	c := Check{ID: CheckPurposeEKU, Subject: subjectOf(leaf), Evidence: []string{have}}
	switch {
	case len(leaf.ExtKeyUsage) == 0 && len(leaf.UnknownExtKeyUsage) == 0:
		c.Status, c.Summary = StatusPass, "no extended key usage extension: any use is allowed"
	case hasEKU(leaf, want):
		c.Status, c.Summary = StatusPass, fmt.Sprintf("%s, as a %s certificate needs", have, d.in.Purpose)
	default:
		c.Status = StatusFail
		c.Summary = fmt.Sprintf("has %s only; a %s certificate needs %s", have, d.in.Purpose, wantName)
		c.Fix = d.fixIssue("")
		if d.in.Purpose == PurposeServer && hasEKU(leaf, x509.ExtKeyUsageClientAuth) {
			c.Summary += " (this looks like a client certificate presented as a server's)"
		}
		if d.in.Purpose == PurposeClient && hasEKU(leaf, x509.ExtKeyUsageServerAuth) {
			c.Summary += " (this looks like a server certificate presented as a client's: issue it with --client-auth, or a client certificate)"
			c.Fix = "mtlskit issue server --san ... --client-auth, or " + c.Fix
		}
		d.add(c)
		return
	}
	// CAs with an EKU extension restrict what they may sign (Go enforces it).
	for _, ca := range d.issuersOnPath() {
		if len(ca.ExtKeyUsage) > 0 && !hasEKU(ca, want) {
			d.add(Check{ID: CheckPurposeEKU, Status: StatusFail, Subject: subjectOf(ca),
				Summary:  fmt.Sprintf("the CA restricts its certificates to EKU %s, which excludes %s", listOrNone(ExtKeyUsageNames(ca.ExtKeyUsage)), wantName),
				Evidence: []string{have}, Fix: d.fixCA(ca)})
			return
		}
	}
	d.add(c)
}

func (d *diag) checkKeyUsage() {
	leaf := d.leaf
	if d.in.Purpose == PurposeCA {
		d.add(Check{ID: CheckKeyUsage, Status: StatusSkip, Subject: subjectOf(leaf), Summary: "a CA's key usage is checked by ca-constraints"})
		return
	}
	ku := leaf.KeyUsage
	ev := []string{"key usage: " + listOrNone(KeyUsageNames(ku)), "key: " + string(KeyTypeOf(leaf.PublicKey))}
	c := Check{ID: CheckKeyUsage, Subject: subjectOf(leaf), Evidence: ev, Status: StatusPass}
	_, isRSA := leaf.PublicKey.(*rsa.PublicKey)
	switch {
	case ku == 0:
		c.Summary = "no key usage extension: the key is not restricted"
	case ku&x509.KeyUsageDigitalSignature == 0 && !(isRSA && d.in.Purpose == PurposeServer && ku&x509.KeyUsageKeyEncipherment != 0):
		c.Status = StatusFail
		c.Summary = "key usage lacks digitalSignature: the key may not sign the TLS handshake (OpenSSL and browsers refuse it)"
		c.Fix = d.fixIssue("")
	case ku&x509.KeyUsageDigitalSignature == 0:
		c.Status = StatusWarn
		c.Summary = "RSA key with keyEncipherment only: TLS 1.2 RSA key exchange works, but ECDHE and TLS 1.3 need digitalSignature"
		c.Fix = d.fixIssue("")
	case ku&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) != 0:
		c.Status = StatusWarn
		c.Summary = "a leaf with keyCertSign or cRLSign: a TLS peer's key should not sign certificates"
		c.Fix = d.fixIssue("")
	default:
		c.Summary = "digitalSignature allowed, as the TLS handshake needs"
	}
	d.add(c)
}

func (d *diag) sanStrings() []string {
	return SANsOf(d.leaf.DNSNames, d.leaf.IPAddresses, d.leaf.EmailAddresses, d.leaf.URIs).Strings()
}

func (d *diag) checkSANPresent() {
	leaf := d.leaf
	sans := d.sanStrings()
	c := Check{ID: CheckSANPresent, Subject: subjectOf(leaf), Status: StatusPass}
	switch {
	case d.in.Purpose == PurposeCA:
		c.Status, c.Summary = StatusSkip, "not applicable to a CA certificate"
	case len(sans) > 0:
		c.Summary = fmt.Sprintf("%d subject alternative name(s): %s", len(sans), strings.Join(sans, ", "))
	case d.in.Purpose == PurposeClient:
		c.Summary = fmt.Sprintf("no subject alternative name: the client is known by its Common Name %q", leaf.Subject.CommonName)
	default:
		c.Status = StatusFail
		cn := leaf.Subject.CommonName
		c.Summary = fmt.Sprintf("no subject alternative name: the host is only in the Common Name %q, which modern verifiers ignore, so no name matches", cn)
		c.Evidence = []string{
			"RFC 6125 deprecated host names in the CN: Go (since 1.15), Chrome (since 58) and Firefox match SANs only; " +
				"OpenSSL's hostname check (and some clients built on it) still falls back to the CN, which is why `openssl s_client` can pass where other clients fail",
			"the symptom: \"certificate verify failed\", \"Unable to verify the server certificate\", or \"x509: certificate relies on legacy Common Name field\"",
		}
		c.Fix = d.fixIssue("")
	}
	d.add(c)
}

func (d *diag) checkSANMatch() {
	leaf, host := d.leaf, d.in.Host
	c := Check{ID: CheckSANMatch, Subject: subjectOf(leaf), Status: StatusPass}
	if d.in.Purpose == PurposeCA {
		c.Status, c.Summary = StatusSkip, "not applicable to a CA certificate"
		d.add(c)
		return
	}
	if host == "" {
		c.Status, c.Summary = StatusSkip, "no --host or --ip given: pass the name clients dial to check it"
		d.add(c)
		return
	}
	dns, ips := leaf.DNSNames, leaf.IPAddresses
	var ipStrs []string
	for _, ip := range ips {
		ipStrs = append(ipStrs, ip.String())
	}
	c.Evidence = []string{"DNS names: " + listOrNone(dns), "IP addresses: " + listOrNone(ipStrs)}
	fail := func(summary string) {
		c.Status, c.Summary, c.Fix = StatusFail, summary, d.fixIssue(strings.Trim(host, "[]"))
	}
	if ip := hostIP(host); ip != nil {
		for _, x := range ips {
			if x.Equal(ip) {
				c.Summary = fmt.Sprintf("you dialled %s and it is one of the certificate's IP addresses", ip)
				d.add(c)
				return
			}
		}
		switch {
		case len(dns) == 0 && len(ips) == 0:
			fail(fmt.Sprintf("you dialled %s but the certificate has no subject alternative names (its Common Name %q is ignored)", ip, leaf.Subject.CommonName))
		case len(ips) == 0:
			fail(fmt.Sprintf("you dialled %s but the certificate has only DNS names: %s", ip, strings.Join(dns, ", ")))
			if containsFold(dns, ip.String()) {
				c.Summary += fmt.Sprintf(" (%s is written as a DNS name, which never matches an IP address: it must be an IP SAN)", ip)
			}
		default:
			fail(fmt.Sprintf("you dialled %s but the certificate's IP addresses are %s", ip, strings.Join(ipStrs, ", ")))
		}
		d.add(c)
		return
	}
	if err := leaf.VerifyHostname(host); err == nil {
		c.Summary = fmt.Sprintf("you dialled %s and it matches %s", host, matchingName(dns, host))
		d.add(c)
		return
	}
	switch {
	case len(dns) == 0 && len(ips) == 0 && strings.EqualFold(leaf.Subject.CommonName, host):
		fail(fmt.Sprintf("you dialled %s: it is only in the Common Name, which verifiers ignore; the certificate has no subject alternative name", host))
	case len(dns) == 0 && len(ips) == 0:
		fail(fmt.Sprintf("you dialled %s but the certificate has no subject alternative names", host))
	case len(dns) == 0:
		fail(fmt.Sprintf("you dialled %s but the certificate has only IP addresses: %s", host, strings.Join(ipStrs, ", ")))
	default:
		fail(fmt.Sprintf("you dialled %s but the certificate is for %s", host, strings.Join(d.sanStrings(), ", ")))
		for _, n := range dns {
			if strings.HasPrefix(n, "*.") {
				c.Evidence = append(c.Evidence, fmt.Sprintf("%s matches exactly one label in place of *: not %s itself, nor deeper names", n, n[2:]))
			}
		}
	}
	d.add(c)
}

func matchingName(dns []string, host string) string {
	for _, n := range dns {
		if strings.EqualFold(n, host) {
			return "DNS name " + n
		}
	}
	for _, n := range dns {
		if strings.HasPrefix(n, "*.") && matchDomain(host, n[1:]) {
			return "wildcard " + n
		}
	}
	return "a DNS name of the certificate"
}

func (d *diag) checkSignatureAlgorithms() {
	certs := d.untrustedOnPath()
	if len(certs) == 0 {
		d.add(Check{ID: CheckSignatureAlgorithm, Status: StatusPass, Subject: subjectOf(d.leaf), Summary: "the certificate is a trust anchor: its own signature is not used"})
		return
	}
	d.eachCert(CheckSignatureAlgorithm, certs, func(_ int, c *x509.Certificate) verdict {
		a := c.SignatureAlgorithm
		if isWeakSignature(a) {
			return verdict{StatusFail, fmt.Sprintf("signed with %s: SHA-1 and MD5 signatures are forgeable and refused by Go, browsers and OpenSSL at its default security level", a),
				[]string{"signature algorithm " + a.String()}, "reissue it (mtlskit signs with SHA-256 or better): " + d.fixCA(c)}
		}
		if a == x509.UnknownSignatureAlgorithm {
			return verdict{StatusFail, "signed with an algorithm Go does not know", nil, "reissue it: " + d.fixCA(c)}
		}
		return verdict{status: StatusPass, summary: a.String()}
	})
}

func (d *diag) checkKeyStrength() {
	d.eachCert(CheckKeyStrength, d.path, func(_ int, c *x509.Certificate) verdict {
		kt := string(KeyTypeOf(c.PublicKey))
		fix := d.fixCA(c) + " (default key type ecdsa-p256; or --key-type rsa-3072)"
		switch k := c.PublicKey.(type) {
		case *rsa.PublicKey:
			if n := k.N.BitLen(); n < 2048 {
				return verdict{StatusFail, fmt.Sprintf("RSA key of %d bits: below the 2048-bit minimum (OpenSSL 3 at security level 2 and NIST refuse it)", n), []string{kt}, fix}
			}
		case *ecdsa.PublicKey:
			if k.Curve.Params().BitSize < 256 {
				return verdict{StatusFail, fmt.Sprintf("ECDSA key on %s: below the P-256 minimum", k.Curve.Params().Name), []string{kt}, fix}
			}
		case ed25519.PublicKey:
		default:
			return verdict{StatusWarn, "key type " + kt + " is not widely supported in TLS", nil, fix}
		}
		return verdict{status: StatusPass, summary: kt}
	})
}

func (d *diag) checkLint() {
	if d.in.NoLint {
		d.add(Check{ID: CheckLint, Status: StatusSkip, Subject: subjectOf(d.leaf), Summary: "zlint not run"})
		return
	}
	certs := d.untrustedOnPath()
	if len(certs) == 0 {
		certs = d.path[:1]
	}
	lint := func(c *x509.Certificate) []LintFinding { return Lint(c) }
	if d.in.lint != nil {
		lint = func(c *x509.Certificate) []LintFinding { return d.in.lint(c, d.verifiedSigner(c)) }
	}
	d.eachCert(CheckLint, certs, func(_ int, c *x509.Certificate) verdict {
		return lintVerdict(lint(c), d.fixCA(c))
	})
}

// verifiedSigner is the key of c's issuer on the path when c's signature
// verified under it (SHA-2 only), or nil.
func (d *diag) verifiedSigner(c *x509.Certificate) crypto.PublicKey {
	for i, l := range d.links {
		if d.path[i] == c && l.sigErr == nil && !l.sha1 {
			return d.path[i+1].PublicKey
		}
	}
	return nil
}

func lintVerdict(fs []LintFinding, fix string) verdict {
	var errs, warns, ev []string
	for _, f := range fs {
		ev = append(ev, f.String())
		switch f.Status {
		case "error", "fatal":
			errs = append(errs, f.ID)
		case "warn":
			warns = append(warns, f.ID)
		}
	}
	switch {
	case len(errs) > 0:
		return verdict{StatusFail, fmt.Sprintf("zlint: %d error(s): %s", len(errs), strings.Join(errs, ", ")), ev, "reissue it (mtlskit certificates pass RFC 5280 and community lints): " + fix}
	case len(warns) > 0:
		return verdict{StatusWarn, fmt.Sprintf("zlint: %d warning(s): %s", len(warns), strings.Join(warns, ", ")), ev, fix}
	case len(fs) > 0:
		return verdict{StatusPass, fmt.Sprintf("zlint: %d notice(s), no warning or error", len(fs)), ev, ""}
	}
	return verdict{status: StatusPass, summary: "zlint (RFC 5280, community): no findings"}
}

// crossCheck runs Go's x509.Verify on the same input, so the report never
// passes what Go rejects.
func (d *diag) crossCheck(r *Report) {
	if len(d.roots) == 0 {
		return
	}
	opts := x509.VerifyOptions{
		Roots: x509.NewCertPool(), Intermediates: x509.NewCertPool(), CurrentTime: d.at,
	}
	for _, c := range d.roots {
		opts.Roots.AddCert(c)
	}
	for _, c := range d.pool {
		if !d.isRoot(c) {
			opts.Intermediates.AddCert(c)
		}
	}
	switch d.in.Purpose {
	case PurposeCA:
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	default:
		want, _ := d.wantEKU()
		opts.KeyUsages = []x509.ExtKeyUsage{want}
		opts.DNSName = strings.Trim(d.in.Host, "[]")
	}
	_, err := d.leaf.Verify(opts)
	if err == nil {
		r.GoVerify = "ok"
		return
	}
	r.GoVerify = err.Error()
	if !r.Failed() {
		r.Checks = append(r.Checks, Check{ID: CheckX509Verify, Status: StatusFail, Subject: subjectOf(d.leaf),
			Summary:  "Go's x509.Verify rejects it although every check above passed: " + err.Error(),
			Evidence: []string{fmt.Sprintf("%T", err)},
			Fix:      "please report this to mtlskit with the certificates, so a check can explain it"})
	}
}
