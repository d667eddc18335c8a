package pki

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStoreErrorsAreTyped checks that every refusal of the store and of
// a request can be told apart with errors.Is or errors.As, carries the
// input it is about, and names no command-line flag (cmd/mtlskit adds
// those).
func TestStoreErrorsAreTyped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st := OpenStore(filepath.Join(dir, "pki"))
	var errs []error
	check := func(what string, err error, ok func(error) bool) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		if !ok(err) {
			t.Errorf("%s: %q (%T) is not the error expected", what, err, err)
		}
		errs = append(errs, err)
	}
	is := func(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }

	_, _, err := st.Issue(Request{Kind: KindClient, CommonName: "alice"}, IssueOptions{})
	check("issue without a CA", err, is(ErrNoCA))
	_, err = st.Init(InitOptions{Validity: 30 * Day, Intermediate: true, IntermediateValidity: 40 * Day})
	check("intermediate outliving the root", err, func(err error) bool {
		var e *IntermediateValidityError
		return errors.As(err, &e) && e.Validity == 40*Day && e.Max() >= 28*Day && e.Max() <= 29*Day
	})
	if _, err := st.Init(InitOptions{Passphrase: []byte("s3cret")}); err != nil {
		t.Fatal(err)
	}
	_, err = st.Init(InitOptions{})
	check("init over a CA", err, func(err error) bool {
		var e *CAExistsError
		return errors.As(err, &e) && e.Dir == st.Dir
	})
	pass := func(p string) PassphraseFunc { return func() ([]byte, error) { return []byte(p), nil } }
	if _, _, err := st.Issue(Request{Kind: KindClient, CommonName: "alice"}, IssueOptions{Passphrase: pass("s3cret")}); err != nil {
		t.Fatal(err)
	}
	_, _, err = st.Issue(Request{Kind: KindClient, CommonName: "alice"}, IssueOptions{Passphrase: pass("s3cret")})
	check("name taken", err, func(err error) bool {
		var e *NameTakenError
		return errors.As(err, &e) && e.Name == "alice" && time.Since(e.Issued) < time.Hour
	})
	caKey := func(sentinel error) func(error) bool {
		return func(err error) bool {
			var e *CAKeyError
			return errors.As(err, &e) && e.Path == st.path(caDir, rootKeyFile) && errors.Is(err, sentinel)
		}
	}
	_, err = st.Issuer(nil)
	check("encrypted key, no passphrase", err, caKey(ErrPassphraseNeeded))
	_, err = st.Issuer(pass(""))
	check("encrypted key, empty passphrase", err, caKey(ErrPassphraseNeeded))
	_, err = st.Issuer(pass("nope"))
	check("encrypted key, wrong passphrase", err, caKey(ErrWrongPassphrase))
	if err := os.Rename(st.path(caDir, rootKeyFile), st.path(caDir, rootKeyFile+".away")); err != nil {
		t.Fatal(err)
	}
	_, err = st.Issuer(pass("s3cret"))
	check("CA key missing", err, func(err error) bool { return caKey(ErrCAKeyUnreadable)(err) && errors.Is(err, fs.ErrNotExist) })
	_, err = st.Get("nosuch")
	check("unknown name", err, is(ErrNotFound))
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o600)
	_, err = OpenStore(file).List()
	check("store that is a file", err, is(ErrStoreNotDir))
	_, _, err = OpenStore(file).Issue(Request{Kind: KindClient, CommonName: "bob"}, IssueOptions{})
	check("issue into a store that is a file", err, is(ErrStoreNotDir))
	check("empty name", CheckName(""), is(ErrNameEmpty))
	check("long name", CheckName(strings.Repeat("a", 65)), is(ErrNameTooLong))
	check("bad name", CheckName("a b"), is(ErrNameInvalid))
	check("server without SAN", Request{Kind: KindServer, CommonName: "web"}.CheckSubject(), is(ErrServerNeedsSAN))
	check("client without names", Request{Kind: KindClient}.CheckSubject(), is(ErrNeedsName))
	for _, req := range []Request{
		{Kind: KindServer, SANs: SANs{DNS: []string{"web"}}},
		{Kind: KindClient, CommonName: "alice"},
		{Kind: KindServer, CommonName: "web", UnsafeAllowMissingSAN: true},
		{Kind: KindRoot},
	} {
		if err := req.CheckSubject(); err != nil {
			t.Errorf("CheckSubject(%+v): %v", req, err)
		}
	}
	for _, err := range errs {
		if strings.Contains(err.Error(), "--") || strings.Contains(err.Error(), "mtlskit ") {
			t.Errorf("%q names a flag or a command", err)
		}
	}
}
