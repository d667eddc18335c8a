package load

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mtlskit/mtlskit/pki"
)

// MintOptions shape Mint's identities.
type MintOptions struct {
	// CNPrefix starts every Common Name, followed by the identity's
	// global index (6 digits): "load-000042". Default "load-".
	CNPrefix string
	// Untrusted of the total are minted by a fresh unrelated CA instead,
	// spread evenly among the others (a deliberately broken run: a
	// server must refuse them, with unknown_ca).
	Untrusted int
	// Shard selects this generator's identities: the global indexes it
	// owns (Shard.Owns), so shards never mint the same one.
	Shard Shard
	// Validity defaults to one day.
	Validity time.Duration
}

// IsUntrusted reports whether Mint makes identity i of total, with
// untrusted of them untrusted, from the unrelated CA: exactly untrusted
// of the total are, evenly spread.
func IsUntrusted(i, total, untrusted int) bool {
	if untrusted <= 0 || total <= 0 {
		return false
	}
	return (i*untrusted)%total < untrusted
}

// Mint issues this shard's share of total client identities in memory
// (ECDSA P-256, clientAuth, from iss; nothing is written anywhere), in
// parallel, in global-index order.
func Mint(iss *pki.Issuer, total int, opts MintOptions) ([]*pki.Issued, error) {
	if iss == nil {
		return nil, errors.New("minting identities: no issuer")
	}
	if total < 1 {
		return nil, &ConfigError{"identities", fmt.Sprintf("%d: mint at least one", total)}
	}
	if opts.Untrusted < 0 || opts.Untrusted > total {
		return nil, &ConfigError{"untrusted", fmt.Sprintf("%d of %d identities: use 0 to %d", opts.Untrusted, total, total)}
	}
	if opts.CNPrefix == "" {
		opts.CNPrefix = "load-"
	}
	if opts.Validity <= 0 {
		opts.Validity = pki.Day
	}
	if err := opts.Shard.check(); err != nil {
		return nil, err
	}
	var other *pki.Issuer
	if opts.Untrusted > 0 {
		root, err := pki.NewRootCA(pki.Request{CommonName: "mtlskit load unrelated CA", Organization: "someone else", KeyType: pki.ECDSAP256, Validity: opts.Validity + pki.Day})
		if err != nil {
			return nil, fmt.Errorf("minting the unrelated CA: %w", err)
		}
		if other, err = root.Issuer(); err != nil {
			return nil, err
		}
	}
	var globals []int
	for g := 0; g < total; g++ {
		if opts.Shard.Owns(g) {
			globals = append(globals, g)
		}
	}
	out := make([]*pki.Issued, len(globals))
	errs := make([]error, len(globals))
	var next sync.Mutex
	k := 0
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				next.Lock()
				j := k
				k++
				next.Unlock()
				if j >= len(globals) {
					return
				}
				g := globals[j]
				from := iss
				org := ""
				if IsUntrusted(g, total, opts.Untrusted) {
					from, org = other, "untrusted"
				}
				out[j], errs[j] = from.Issue(pki.Request{Kind: pki.KindClient, KeyType: pki.ECDSAP256,
					CommonName: fmt.Sprintf("%s%06d", opts.CNPrefix, g), Organization: org, Validity: opts.Validity})
			}
		}()
	}
	wg.Wait()
	for j, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("minting identity %d: %w", globals[j], err)
		}
	}
	return out, nil
}

// FromStore loads the client certificates of a store whose names start
// with prefix (`mtlskit issue client --count N --cn-prefix PREFIX` makes
// PREFIX0001...), in name order, with their keys.
func FromStore(st *pki.Store, prefix string) ([]*pki.Issued, error) {
	es, err := st.List()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range es {
		if e.Kind == pki.KindClient && strings.HasPrefix(e.Name, prefix) {
			names = append(names, e.Name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no client certificate named %s* in %s (issue them with mtlskit issue client --count N --cn-prefix %s)", prefix, st.Dir, prefix)
	}
	slices.Sort(names)
	out := make([]*pki.Issued, 0, len(names))
	for _, n := range names {
		id, err := st.Load(n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		if id.Key == nil {
			return nil, fmt.Errorf("%s: the store has no key for it (a signed CSR): it cannot be presented", n)
		}
		out = append(out, id)
	}
	return out, nil
}

// FromDir loads a directory of certificate and key pairs, in name order:
// each NAME.crt (or NAME.pem) beside NAME.key, and each subdirectory
// NAME/ holding chain.pem (or cert.pem) and key.pem, as a store's
// issued/ directory does. A certificate file may hold the chain after
// the leaf. Keys must be unencrypted and match their certificate.
func FromDir(dir string) ([]*pki.Issued, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type pair struct{ name, cert, key string }
	var pairs []pair
	exists := func(p string) bool { fi, err := os.Stat(p); return err == nil && fi.Mode().IsRegular() }
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			key := filepath.Join(p, "key.pem")
			for _, c := range []string{"chain.pem", "cert.pem"} {
				if exists(filepath.Join(p, c)) && exists(key) {
					pairs = append(pairs, pair{e.Name(), filepath.Join(p, c), key})
					break
				}
			}
			continue
		}
		ext := filepath.Ext(e.Name())
		if ext != ".crt" && ext != ".pem" {
			continue
		}
		base := strings.TrimSuffix(e.Name(), ext)
		if key := filepath.Join(dir, base+".key"); exists(key) {
			pairs = append(pairs, pair{base, p, key})
		}
	}
	if len(pairs) == 0 {
		return nil, fmt.Errorf("no certificate and key pairs in %s (NAME.crt with NAME.key, or NAME/cert.pem with NAME/key.pem)", dir)
	}
	slices.SortFunc(pairs, func(a, b pair) int { return strings.Compare(a.name, b.name) })
	out := make([]*pki.Issued, 0, len(pairs))
	for _, p := range pairs {
		certPEM, err := os.ReadFile(p.cert)
		if err != nil {
			return nil, err
		}
		certs, err := pki.ParseCerts(certPEM)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.cert, err)
		}
		keyPEM, err := os.ReadFile(p.key)
		if err != nil {
			return nil, err
		}
		key, err := pki.ParseKey(keyPEM, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.key, err)
		}
		if !pki.KeyMatches(key, certs[0].PublicKey) {
			return nil, fmt.Errorf("%s does not match the certificate in %s", p.key, p.cert)
		}
		out = append(out, &pki.Issued{Cert: certs[0], Key: key, Chain: certs[1:]})
	}
	return out, nil
}
