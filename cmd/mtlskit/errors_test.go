package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/pki"
)

// TestWithHints checks how the command line words library errors: the
// hint goes after the library error it is about, wherever that error is
// in a chain, and nothing else changes. (TestErrorMessagesWordForWord
// checks the lines the binary prints; this covers the errors a command
// line cannot easily reach.)
func TestWithHints(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "pki")
	st := pki.OpenStore(dir)
	if _, err := st.Init(pki.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	_, exists := st.Init(pki.InitOptions{})
	if _, err := pki.OpenStore(dir + "-enc").Init(pki.InitOptions{Passphrase: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	_, noPass := pki.OpenStore(dir + "-enc").Issuer(nil)
	_, noCA := pki.OpenStore(dir + "-none").List()
	expired := &pki.OutlivesIssuerError{Validity: pki.Day, NotAfter: time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC),
		Issuer: "Old CA", IssuerNotAfter: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Remaining: -time.Hour}
	noCAText := "no CA in this store at " + dir + "-none"
	hint := ": run `mtlskit ca init` first (or pass --dir)"
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"a CA over a CA (only reachable in a race: ca init checks first)", exists,
			dir + " already holds a CA: use it, pick another --dir, or pass --force to replace it (certificates it issued will no longer verify)"},
		{"an encrypted CA key and no passphrase source", noPass,
			"CA key " + dir + "-enc/ca/root-key.pem is encrypted: set $MTLSKIT_CA_PASSPHRASE or pass --passphrase-file"},
		{"a sentinel wrapped with detail", noCA, noCAText + hint},
		{"wrapped once more", fmt.Errorf("list: %w", noCA), "list: " + noCAText + hint},
		{"wrapped with text after it", fmt.Errorf("%w (or check a file)", noCA), noCAText + hint + " (or check a file)"},
		{"joined", errors.Join(noCA, errors.New("other"), noCA), noCAText + hint + "\nother\n" + noCAText + hint},
		{"the bare sentinel", pki.ErrServerNeedsSAN,
			"a server certificate needs at least one SAN (verifiers ignore the Common Name): add --san localhost,127.0.0.1 or the names clients dial"},
		{"an expired issuer: the library's words suffice", expired,
			`validity 1d would end on 2030-01-02, after issuer "Old CA" expires on 2020-01-01: the issuer has expired: renew the CA first`},
		{"an error of no library", errors.New("disk on fire"), "disk on fire"},
		{"a message flattened with %v keeps its words", fmt.Errorf("x: %v", errors.New("y")), "x: y"},
	}
	for _, tt := range tests {
		if got := withHints(tt.err); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
	if got := failf("op: %v", noCA).Error(); got != "op: "+noCAText+hint {
		t.Errorf("failf does not add the hint: %q", got)
	}
}
