package pki

import (
	"errors"
	"fmt"
	"time"
)

// The errors below are what the library returns for a request or a store
// it refuses. Their messages name the input and the problem in the
// library's words and stop there: they say nothing of flags or commands.
// A caller tells them apart with errors.Is and errors.As and adds its
// own advice (cmd/mtlskit adds the flag to pass). ErrNoCA,
// ErrPassphraseNeeded, ErrWrongPassphrase and ErrWrongPKCS12Password
// belong to the same family.
var (
	// ErrServerNeedsSAN: a server certificate request has no SAN.
	// Verifiers ignore the Common Name, so it would match no host.
	ErrServerNeedsSAN = errors.New("a server certificate needs at least one SAN (verifiers ignore the Common Name)")
	// ErrNeedsName: a leaf request has neither a Common Name nor a SAN.
	ErrNeedsName = errors.New("the certificate needs a Common Name or a SAN")
	// ErrCommonNameTooLong: a Common Name is over 64 characters (the
	// X.520 upper bound).
	ErrCommonNameTooLong = errors.New("the common name is over 64 characters")

	// ErrNameEmpty, ErrNameTooLong and ErrNameInvalid: CheckName refuses
	// a certificate name (the directory name in the store).
	ErrNameEmpty   = errors.New("the certificate name is empty")
	ErrNameTooLong = errors.New("the certificate name is too long")
	ErrNameInvalid = errors.New("the certificate name holds characters other than letters, digits and . _ @ -")

	// ErrStoreNotDir: the store's path is a file, not a directory.
	ErrStoreNotDir = errors.New("the store is a file, not a directory")
	// ErrNotFound: the store has no certificate of that name.
	ErrNotFound = errors.New("no certificate of that name in the store")
	// ErrCAKeyUnreadable: the store's CA key file cannot be read. It
	// comes in a *CAKeyError, with the read error.
	ErrCAKeyUnreadable = errors.New("the CA key cannot be read")
)

// detailError is an error with its own message, detailing a sentinel
// that errors.Is matches.
type detailError struct {
	msg string
	is  error
}

func (e *detailError) Error() string { return e.msg }
func (e *detailError) Unwrap() error { return e.is }

// detailf returns an error reading as format says, matched by errors.Is
// to the sentinel is.
func detailf(is error, format string, a ...any) error {
	return &detailError{msg: fmt.Sprintf(format, a...), is: is}
}

// A CAExistsError is returned by Store.Init when the store already holds
// a CA and InitOptions.Force is not set.
type CAExistsError struct {
	Dir string // the store
}

func (e *CAExistsError) Error() string { return e.Dir + " already holds a CA" }

// A NameTakenError is returned by Store.Issue, IssueMany and SignCSR when
// a name is in use (indexed, or a directory under issued/) and
// IssueOptions.Force is not set.
type NameTakenError struct {
	Name   string
	Issued time.Time // when the certificate of that name was issued; zero when it is not indexed
}

func (e *NameTakenError) Error() string {
	if e.Issued.IsZero() {
		return fmt.Sprintf("name %q is taken", e.Name)
	}
	return fmt.Sprintf("name %q is taken (issued %s)", e.Name, e.Issued.Format(time.DateOnly))
}

// An OutlivesIssuerError is returned when a certificate would be valid
// after its issuer expires (and Request.UnsafeAllowOutliveIssuer is not
// set).
type OutlivesIssuerError struct {
	Validity       time.Duration // the lifetime asked for
	NotAfter       time.Time     // when it would end
	Issuer         string        // the issuer's Common Name
	IssuerNotAfter time.Time     // when the issuer expires
	Remaining      time.Duration // the issuer's time left; <= 0 when it has expired
}

func (e *OutlivesIssuerError) Error() string {
	msg := fmt.Sprintf("validity %s would end on %s, after issuer %q expires on %s",
		FormatValidity(e.Validity), e.NotAfter.Format(time.DateOnly), e.Issuer, e.IssuerNotAfter.Format(time.DateOnly))
	if e.Remaining <= 0 {
		msg += ": the issuer has expired: renew the CA first"
	}
	return msg
}

// An IntermediateValidityError is returned by Store.Init when the
// intermediate's lifetime would reach past the root's.
type IntermediateValidityError struct {
	Validity time.Duration // the intermediate lifetime asked for
	RootLife time.Duration // the root's time left
}

func (e *IntermediateValidityError) Error() string {
	return fmt.Sprintf("intermediate validity %s would outlive the root (%s)",
		FormatValidity(e.Validity), FormatValidity(e.RootLife.Round(Day)))
}

// Max is the longest intermediate lifetime that fits, in whole days, a
// day short of the root's end.
func (e *IntermediateValidityError) Max() time.Duration {
	return (e.RootLife - Day).Truncate(Day)
}

// A CAKeyError is returned by Store.Issuer (and so by Issue, IssueMany
// and SignCSR) when the store's CA key cannot sign. Err says why, for
// errors.Is: ErrCAKeyUnreadable (the read error is wrapped too),
// ErrPassphraseNeeded (the key is encrypted and no passphrase, or an
// empty one, was given) or ErrWrongPassphrase.
type CAKeyError struct {
	Path  string // the key file
	Err   error
	msg   string
	cause error
}

func (e *CAKeyError) Error() string { return e.msg }

func (e *CAKeyError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.Err, e.cause}
	}
	return []error{e.Err}
}
