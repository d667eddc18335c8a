package pki

import (
	"crypto/sha256"
	"crypto/x509"
	"sync"
)

// sigMemo remembers the outcome of signature checks, by the two
// certificates' contents. A signature check is a pure function of them,
// so an answer from here is the one the check gives; the report is the
// same, without verifying the same signature over and over (a diagnosis
// checks each CA certificate several times, and the store audit checks
// the intermediate's signature by the root once per leaf). It is safe for
// concurrent use.
type sigMemo struct {
	mu   sync.Mutex
	seen map[sigKey]sigOutcome
}

type sigKey struct {
	child, parent [sha256.Size]byte
	self          bool // CheckSignatureFrom rather than verifySignature
}

type sigOutcome struct {
	sha1 bool
	err  error
}

func newSigMemo() *sigMemo { return &sigMemo{seen: map[sigKey]sigOutcome{}} }

func (m *sigMemo) do(k sigKey, check func() sigOutcome) sigOutcome {
	m.mu.Lock()
	o, ok := m.seen[k]
	m.mu.Unlock()
	if ok {
		return o
	}
	o = check()
	m.mu.Lock()
	m.seen[k] = o
	m.mu.Unlock()
	return o
}

// verify is verifySignature(child, parent), remembered.
func (m *sigMemo) verify(child, parent *x509.Certificate) (sha1Used bool, err error) {
	o := m.do(sigKey{sha256.Sum256(child.Raw), sha256.Sum256(parent.Raw), false}, func() sigOutcome {
		s, err := verifySignature(child, parent)
		return sigOutcome{s, err}
	})
	return o.sha1, o.err
}

// checkFrom is child.CheckSignatureFrom(parent), remembered.
func (m *sigMemo) checkFrom(child, parent *x509.Certificate) error {
	return m.do(sigKey{sha256.Sum256(child.Raw), sha256.Sum256(parent.Raw), true}, func() sigOutcome {
		return sigOutcome{err: child.CheckSignatureFrom(parent)}
	}).err
}
