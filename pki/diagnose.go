package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"fmt"
	"net"
	"strings"
	"time"
)

// CheckStatus is the outcome of one diagnostic check.
type CheckStatus string

// The outcomes of a check. A warning does not fail the report; a skipped
// check had nothing to look at (no key given, no issuer found).
const (
	StatusPass CheckStatus = "pass"
	StatusFail CheckStatus = "fail"
	StatusWarn CheckStatus = "warn"
	StatusSkip CheckStatus = "skip"
)

// The stable check IDs of a Report (docs/verify.md describes each). A
// check about one certificate of a chain may appear once per certificate,
// told apart by its Subject.
const (
	CheckParse              = "parse"
	CheckKeyMatch           = "key-match"
	CheckSignature          = "signature"
	CheckChain              = "chain"
	CheckValidity           = "validity"
	CheckCAConstraints      = "ca-constraints"
	CheckNameConstraints    = "name-constraints"
	CheckPurposeEKU         = "purpose-eku"
	CheckKeyUsage           = "key-usage"
	CheckSANPresent         = "san-present"
	CheckSANMatch           = "san-match"
	CheckSignatureAlgorithm = "signature-algorithm"
	CheckKeyStrength        = "key-strength"
	CheckLint               = "lint"
	// CheckRevocation ("revocation") is in diagnose_revocation.go.
	CheckX509Verify = "x509-verify"
)

// CheckIDs lists every check ID in report order.
func CheckIDs() []string {
	return []string{CheckParse, CheckKeyMatch, CheckSignature, CheckChain, CheckValidity,
		CheckCAConstraints, CheckNameConstraints, CheckPurposeEKU, CheckKeyUsage, CheckSANPresent,
		CheckSANMatch, CheckSignatureAlgorithm, CheckKeyStrength, CheckRevocation, CheckLint, CheckX509Verify}
}

// Check is one line of a diagnosis: what was checked, on which
// certificate (or file), the outcome in plain words, the facts behind it
// and, for a failure or warning, a concrete way to fix it.
type Check struct {
	ID       string      `json:"id"`
	Status   CheckStatus `json:"status"`
	Subject  string      `json:"subject,omitempty"`
	Summary  string      `json:"summary"`
	Evidence []string    `json:"evidence,omitempty"`
	Fix      string      `json:"fix,omitempty"`
}

// Purpose is what the certificate is checked for.
type Purpose string

// The purposes Diagnose knows. PurposeCA is used by the store audit for
// the CA's own certificates.
const (
	PurposeServer Purpose = "server"
	PurposeClient Purpose = "client"
	PurposeCA     Purpose = "ca"
)

// ParsePurpose reads "server" or "client" (empty means server).
func ParsePurpose(s string) (Purpose, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "server":
		return PurposeServer, nil
	case "client":
		return PurposeClient, nil
	}
	return "", fmt.Errorf("unknown purpose %q: use server or client", s)
}

// Input is what Diagnose looks at. Only Chain is required. A live probe
// fills Chain with the certificates the server sent and Host with the
// name it dialled; the CLI fills it from files with ReadCertFile and
// ReadKeyFile and passes their parse checks in Parsed.
type Input struct {
	// Chain is the certificate under test followed by the certificates
	// sent or given with it (intermediates, in any order).
	Chain []*x509.Certificate
	// Extra are more candidate intermediates (--chain).
	Extra []*x509.Certificate
	// Key is the private key that should belong to Chain[0]; nil skips
	// the key-match check.
	Key crypto.Signer
	// Roots are the trust anchors. None means trust is not checked.
	Roots []*x509.Certificate
	// Host is the DNS name or IP address a client dials; empty skips the
	// san-match check.
	Host string
	// Purpose defaults to PurposeServer.
	Purpose Purpose
	// At is the moment of verification; zero means now.
	At time.Time
	// WarnWithin makes a certificate that expires within this long after
	// At a warning.
	WarnWithin time.Duration
	// NoLint skips zlint (the lint check is reported as skipped).
	NoLint bool
	// Revocation, when set, says where to look revocation up; nil skips
	// the revocation check.
	Revocation *RevocationSource
	// Parsed are the parse checks of the files the inputs came from; they
	// open the report. Without them Diagnose reports one parse check
	// describing Chain.
	Parsed []Check
	// lint, when set, is Lint with the store's lint cache (the audit);
	// signer is the key whose signature on the certificate verified (the
	// path's link), or nil.
	lint func(c *x509.Certificate, signer crypto.PublicKey) []LintFinding
	// sigs remembers signature checks; the audit shares one across its
	// certificates (each checks the intermediate's signature by the root).
	sigs *sigMemo
}

// Report is the result of Diagnose: every check in order, the path that
// was built from the leaf towards a root, and what Go's x509.Verify said
// about the same input.
type Report struct {
	Checks []Check `json:"checks"`
	// Path is the subject of each certificate from the leaf up to the
	// last issuer found.
	Path []string `json:"path"`
	// Trusted is true when the path ends at one of Input.Roots.
	Trusted bool `json:"trusted"`
	// GoVerify is "ok" or Go's x509.Verify error for the same input;
	// empty when no roots were given.
	GoVerify string `json:"go_verify,omitempty"`
}

// Failed reports whether any check failed.
func (r Report) Failed() bool { return len(r.Failures()) > 0 }

// Failures returns the failed checks.
func (r Report) Failures() []Check { return r.withStatus(StatusFail) }

// Warnings returns the checks that passed with a warning.
func (r Report) Warnings() []Check { return r.withStatus(StatusWarn) }

func (r Report) withStatus(s CheckStatus) []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status == s {
			out = append(out, c)
		}
	}
	return out
}

// FailedIDs lists the IDs of failed checks, each once, in report order.
func (r Report) FailedIDs() []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range r.Failures() {
		if !seen[c.ID] {
			seen[c.ID] = true
			out = append(out, c.ID)
		}
	}
	return out
}

// diag is the state of one Diagnose run.
type diag struct {
	in     Input
	at     time.Time
	leaf   *x509.Certificate
	path   []*x509.Certificate // leaf first, up to the last issuer found
	links  []link              // links[i] explains how path[i+1] was found for path[i]
	end    pathEnd
	roots  []*x509.Certificate
	pool   []*x509.Certificate // candidate issuers: chain, extra, roots
	checks []Check
}

// Diagnose runs every check on in and returns the report. Checks are
// independent: one failing does not hide the others; a check that has
// nothing to look at is skipped.
func Diagnose(in Input) Report {
	if in.sigs == nil {
		in.sigs = newSigMemo()
	}
	d := &diag{in: in, at: in.At, roots: in.Roots}
	if d.at.IsZero() {
		d.at = time.Now()
	}
	if d.in.Purpose == "" {
		d.in.Purpose = PurposeServer
	}
	d.checks = append(d.checks, in.Parsed...)
	if len(in.Chain) == 0 {
		if len(in.Parsed) == 0 {
			d.add(Check{ID: CheckParse, Status: StatusFail, Summary: "no certificate given"})
		}
		for _, id := range CheckIDs()[1:] {
			if id == CheckX509Verify {
				continue
			}
			d.add(Check{ID: id, Status: StatusSkip, Summary: "no certificate to check"})
		}
		return Report{Checks: d.checks, Path: []string{}}
	}
	d.leaf = in.Chain[0]
	if len(in.Parsed) == 0 {
		d.add(Check{ID: CheckParse, Status: StatusPass, Subject: subjectOf(d.leaf),
			Summary:  fmt.Sprintf("%d certificate(s): the leaf and %d more", len(in.Chain), len(in.Chain)-1),
			Evidence: describeCerts(in.Chain)})
	}
	for _, c := range in.Chain[1:] {
		d.pool = appendUnique(d.pool, c)
	}
	for _, c := range in.Extra {
		d.pool = appendUnique(d.pool, c)
	}
	for _, c := range in.Roots {
		d.pool = appendUnique(d.pool, c)
	}
	d.buildPath()

	d.checkKeyMatch()
	d.checkSignatures()
	d.checkChain()
	d.checkValidity()
	d.checkCAConstraints()
	d.checkNameConstraints()
	d.checkEKU()
	d.checkKeyUsage()
	d.checkSANPresent()
	d.checkSANMatch()
	d.checkSignatureAlgorithms()
	d.checkKeyStrength()
	d.checkRevocation()
	d.checkLint()

	r := Report{Checks: d.checks, Trusted: d.end.kind == endTrusted}
	for _, c := range d.path {
		r.Path = append(r.Path, subjectOf(c))
	}
	d.crossCheck(&r)
	return r
}

func (d *diag) add(c Check) { d.checks = append(d.checks, c) }

func appendUnique(list []*x509.Certificate, c *x509.Certificate) []*x509.Certificate {
	for _, x := range list {
		if x.Equal(c) {
			return list
		}
	}
	return append(list, c)
}

// name is how a report names a certificate: its subject, or its serial
// when the subject is empty.
func subjectOf(c *x509.Certificate) string {
	if s := c.Subject.String(); s != "" {
		return s
	}
	return "serial " + serialHex(c)
}

func describeCerts(certs []*x509.Certificate) []string {
	var out []string
	for i, c := range certs {
		out = append(out, fmt.Sprintf("certificate %d: %s, issued by %s", i+1, subjectOf(c), c.Issuer.String()))
	}
	return out
}

func (d *diag) isRoot(c *x509.Certificate) bool {
	for _, r := range d.roots {
		if r.Equal(c) {
			return true
		}
	}
	return false
}

// keyID formats a key identifier as colon hex, or says it is absent.
func keyID(b []byte) string {
	if len(b) == 0 {
		return "no key id"
	}
	return "key id " + colonHex(b)
}

// fixIssue is the command that issues a replacement for the leaf, with
// the names it has plus the host dialled.
func (d *diag) fixIssue(extraSAN string) string {
	if d.in.Purpose == PurposeClient {
		cn := d.leaf.Subject.CommonName
		if cn == "" {
			cn = "alice"
		}
		return fmt.Sprintf("mtlskit issue client --cn %s --force", shellWord(cn))
	}
	if d.in.Purpose == PurposeCA {
		return "mtlskit ca init --force (then reissue the leaves)"
	}
	sans := SANsOf(d.leaf.DNSNames, d.leaf.IPAddresses, nil, nil).Strings()
	if len(sans) == 0 && d.leaf.Subject.CommonName != "" && !strings.Contains(d.leaf.Subject.CommonName, " ") {
		sans = append(sans, d.leaf.Subject.CommonName)
		if strings.EqualFold(sans[0], "localhost") {
			sans = append(sans, "127.0.0.1")
		}
	}
	if extraSAN != "" && !containsFold(sans, extraSAN) {
		sans = append(sans, extraSAN)
	}
	if len(sans) == 0 {
		sans = []string{"localhost", "127.0.0.1"}
	}
	return "mtlskit issue server --san " + strings.Join(sans, ",") + " --force"
}

func shellWord(s string) string {
	if strings.ContainsAny(s, " '\"$`\\") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// hostIP returns the IP of Input.Host, or nil for a DNS name.
func hostIP(host string) net.IP {
	return net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
}

// ago says how far t is from at in words: "3 days ago", "in 2 hours".
func agoWords(t, at time.Time) string {
	d := t.Sub(at)
	if d < 0 {
		return spanWords(-d) + " ago"
	}
	return "in " + spanWords(d)
}

func spanWords(d time.Duration) string {
	switch {
	case d >= 2*Year:
		return fmt.Sprintf("%d years", d/Year)
	case d >= 2*Day:
		return fmt.Sprintf("%d days", d/Day)
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", d/time.Hour)
	case d >= 2*time.Minute:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return d.Round(time.Second).String()
}

func rawEqual(a, b []byte) bool { return bytes.Equal(a, b) }
