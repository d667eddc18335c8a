package pki

import (
	"encoding/json"
	"errors"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mtlskit/mtlskit/internal/jsonw"
)

// The index codec. index.json stays JSON (docs/store.md, "index.json"),
// written without reflection, one entry a line, CAs first then leaves by
// name (the order List returns), stamped with a checksum of its layout
// (index_lookup.go: a single-name lookup scans a stamped file instead of
// decoding it), and read by a decoder that knows the
// index's fields and hands anything else to encoding/json: a file this
// decoder does not fully understand (another writer's layout, null
// values, a key in another letter case, an odd number) is decoded by
// encoding/json instead, so both read every file the same way (the fuzz
// test FuzzReadIndex compares them). What the fast path buys: 100,000
// entries encode and decode in a fraction of encoding/json's time.

// encodeIndex writes idx in the layout above. Entries must already be in
// list order (writeIndex sorts them).
func encodeIndex(idx *index) []byte {
	size := 64 + 640*len(idx.Entries) + 256*len(idx.Revoked)
	b := make([]byte, 0, size)
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, int64(idx.Version), 10)
	b = append(b, `,"`+stampKey+`":"`...)
	stampAt := len(b)
	b = append(b, `00000000"`...)
	if idx.CA != nil {
		b = append(b, `,"ca":`...)
		b = appendCAInfo(b, idx.CA)
	}
	if len(idx.LintSigners) > 0 {
		b = append(b, `,"lint_signers":{`...)
		keys := make([]string, 0, len(idx.LintSigners))
		for k := range idx.LintSigners {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonw.AppendString(b, k)
			b = append(b, ':')
			b = jsonw.AppendString(b, idx.LintSigners[k])
		}
		b = append(b, '}')
	}
	if len(idx.Revoked) > 0 {
		b = append(b, `,"revoked":[`...)
		for i := range idx.Revoked {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '\n')
			b = appendRevocation(b, &idx.Revoked[i])
		}
		b = append(b, "\n]"...)
	}
	if len(idx.Superseded) > 0 {
		// One line, byte for byte what encoding/json wrote here before
		// (the lookup's header is every byte before the entries), without
		// its reflection: after renew --expiring-within of 100,000 it took
		// 160 ms of each index write.
		b = append(b, `,"superseded":[`...)
		for i := range idx.Superseded {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendSupersession(b, &idx.Superseded[i])
		}
		b = append(b, ']')
	}
	b = append(b, `,"entries":[`...)
	for i := range idx.Entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '\n')
		b = appendEntry(b, &idx.Entries[i])
	}
	if len(idx.Entries) > 0 {
		b = append(b, '\n')
	}
	b = append(b, "]}\n"...)
	return stamp(b, stampAt)
}

func appendCAInfo(b []byte, c *CAInfo) []byte {
	b = append(b, '{')
	sep := false
	field := func(k string) {
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, `":`...)
	}
	if c.CRLURL != "" {
		field("crl_url")
		b = jsonw.AppendString(b, c.CRLURL)
	}
	if c.OCSPURL != "" {
		field("ocsp_url")
		b = jsonw.AppendString(b, c.OCSPURL)
	}
	if c.CRLNumber != 0 {
		field("crl_number")
		b = strconv.AppendInt(b, c.CRLNumber, 10)
	}
	if c.RootCRLNumber != 0 {
		field("root_crl_number")
		b = strconv.AppendInt(b, c.RootCRLNumber, 10)
	}
	return append(b, '}')
}

func appendRevocation(b []byte, r *Revocation) []byte {
	b = append(b, `{"serial":`...)
	b = jsonw.AppendString(b, r.Serial)
	b = append(b, `,"name":`...)
	b = jsonw.AppendString(b, r.Name)
	b = append(b, `,"revoked_at":`...)
	b = jsonw.AppendTime(b, r.At)
	b = append(b, `,"reason_code":`...)
	b = strconv.AppendInt(b, int64(r.Reason), 10)
	b = append(b, `,"reason":`...)
	b = jsonw.AppendString(b, r.ReasonName)
	b = append(b, `,"issuer_key_id":`...)
	b = jsonw.AppendString(b, r.IssuerKeyID)
	b = append(b, `,"not_after":`...)
	b = jsonw.AppendTime(b, r.NotAfter)
	return append(b, '}')
}

func appendSupersession(b []byte, r *Supersession) []byte {
	b = append(b, `{"name":`...)
	b = jsonw.AppendString(b, r.Name)
	b = append(b, `,"kind":`...)
	b = jsonw.AppendString(b, string(r.Kind))
	b = append(b, `,"serial":`...)
	b = jsonw.AppendString(b, r.Serial)
	b = append(b, `,"sha256":`...)
	b = jsonw.AppendString(b, r.SHA256)
	b = append(b, `,"not_before":`...)
	b = jsonw.AppendTime(b, r.NotBefore)
	b = append(b, `,"not_after":`...)
	b = jsonw.AppendTime(b, r.NotAfter)
	if r.RenewedFrom != "" {
		b = append(b, `,"renewed_from":`...)
		b = jsonw.AppendString(b, r.RenewedFrom)
	}
	b = append(b, `,"superseded_at":`...)
	b = jsonw.AppendTime(b, r.At)
	b = append(b, `,"renewed_to":`...)
	b = jsonw.AppendString(b, r.By)
	b = append(b, `,"rekeyed":`...)
	b = strconv.AppendBool(b, r.Rekeyed)
	return append(b, '}')
}

func appendEntry(b []byte, e *Entry) []byte {
	b = append(b, `{"name":`...)
	b = jsonw.AppendString(b, e.Name)
	b = append(b, `,"kind":`...)
	b = jsonw.AppendString(b, string(e.Kind))
	b = append(b, `,"serial":`...)
	b = jsonw.AppendString(b, e.Serial)
	b = append(b, `,"common_name":`...)
	b = jsonw.AppendString(b, e.CommonName)
	b = append(b, `,"sans":`...)
	if e.SANs == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, s := range e.SANs {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonw.AppendString(b, s)
		}
		b = append(b, ']')
	}
	b = append(b, `,"key_type":`...)
	b = jsonw.AppendString(b, string(e.KeyType))
	b = append(b, `,"not_before":`...)
	b = jsonw.AppendTime(b, e.NotBefore)
	b = append(b, `,"not_after":`...)
	b = jsonw.AppendTime(b, e.NotAfter)
	b = append(b, `,"sha256":`...)
	b = jsonw.AppendString(b, e.SHA256)
	b = append(b, `,"issuer":`...)
	b = jsonw.AppendString(b, e.Issuer)
	b = append(b, `,"created":`...)
	b = jsonw.AppendTime(b, e.Created)
	b = append(b, `,"cert":`...)
	b = jsonw.AppendString(b, e.Cert)
	if e.Key != "" {
		b = append(b, `,"key":`...)
		b = jsonw.AppendString(b, e.Key)
	}
	if e.Chain != "" {
		b = append(b, `,"chain":`...)
		b = jsonw.AppendString(b, e.Chain)
	}
	if e.RenewedFrom != "" {
		b = append(b, `,"renewed_from":`...)
		b = jsonw.AppendString(b, e.RenewedFrom)
	}
	if e.lint != nil {
		b = append(b, `,"lint":{"by":`...)
		b = jsonw.AppendString(b, e.lint.By)
		if len(e.lint.Findings) > 0 {
			b = append(b, `,"findings":[`...)
			for i, f := range e.lint.Findings {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"id":`...)
				b = jsonw.AppendString(b, f.ID)
				b = append(b, `,"status":`...)
				b = jsonw.AppendString(b, f.Status)
				b = append(b, `,"source":`...)
				b = jsonw.AppendString(b, f.Source)
				if f.Details != "" {
					b = append(b, `,"details":`...)
					b = jsonw.AppendString(b, f.Details)
				}
				b = append(b, '}')
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// errSlowPath says the fast decoder met something it leaves to
// encoding/json.
var errSlowPath = errors.New("index: not in the fast decoder's form")

// decodeIndex decodes index.json: the fast decoder when it understands
// the whole file, encoding/json otherwise. The error is encoding/json's.
func decodeIndex(data string) (index, error) {
	if idx, err := decodeIndexFast(data); err == nil {
		return idx, nil
	}
	return decodeIndexSlow([]byte(data))
}

// decodeIndexSlow is encoding/json's reading of the index.
func decodeIndexSlow(data []byte) (index, error) {
	var idx index
	var raw struct {
		Entries []diskEntry `json:"entries"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return index{}, err
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return index{}, err
	}
	for i := range idx.Entries {
		if i < len(raw.Entries) && raw.Entries[i].Lint != nil {
			l := *raw.Entries[i].Lint
			idx.Entries[i].lint = &l
		}
	}
	return idx, nil
}

// diskEntry is an entry as encoding/json reads it, with its lint record
// (which Entry does not show in JSON output: list --json, issue --json).
type diskEntry struct {
	Lint *lintRecord `json:"lint"`
}

// dec is the fast decoder's state. s is b as one string: the strings it
// decodes are pieces of it, not copies (an index of 100,000 entries holds
// 1.2 million strings).
type dec struct {
	s string
	i int
}

func (d *dec) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte (0 at the end).
func (d *dec) peek() byte {
	d.ws()
	if d.i >= len(d.s) {
		return 0
	}
	return d.s[d.i]
}

// null consumes a null.
func (d *dec) null() bool {
	if d.peek() == 'n' && strings.HasPrefix(d.s[d.i:], "null") {
		d.i += 4
		return true
	}
	return false
}

func (d *dec) eat(c byte) bool {
	if d.peek() == c {
		d.i++
		return true
	}
	return false
}

// plainByte marks the bytes a string can hold as they are: printable
// ASCII but the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str reads a string. Strings with escapes, control characters or
// non-ASCII bytes go through encoding/json, so they decode the same way.
func (d *dec) str() (string, error) {
	if d.peek() != '"' {
		return "", errSlowPath
	}
	start := d.i
	i := start + 1
	for i < len(d.s) && plainByte[d.s[i]] {
		i++
	}
	if i < len(d.s) && d.s[i] == '"' {
		d.i = i + 1
		return d.s[start+1 : i], nil
	}
	// Escapes or non-ASCII: find the end, let encoding/json decode it.
	for i < len(d.s) {
		switch c := d.s[i]; {
		case c == '"':
			d.i = i + 1
			var s string
			if err := json.Unmarshal([]byte(d.s[start:d.i]), &s); err != nil {
				return "", errSlowPath
			}
			return s, nil
		case c == '\\':
			i += 2
		case c < 0x20:
			return "", errSlowPath
		default:
			i++
		}
	}
	return "", errSlowPath
}

func (d *dec) int() (int64, error) {
	d.ws()
	start := d.i
	if d.i < len(d.s) && d.s[d.i] == '-' {
		d.i++
	}
	for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
		d.i++
	}
	if d.i < len(d.s) {
		if c := d.s[d.i]; c == '.' || c == 'e' || c == 'E' {
			return 0, errSlowPath
		}
	}
	n, err := strconv.ParseInt(d.s[start:d.i], 10, 64)
	if err != nil || (d.i-start > 1 && d.s[start] == '0') || (d.i-start > 2 && d.s[start] == '-' && d.s[start+1] == '0') {
		return 0, errSlowPath
	}
	return n, nil
}

// boolean reads true or false. null, which encoding/json takes as "leave
// as is", is left to it.
func (d *dec) boolean() (bool, error) {
	switch c := d.peek(); {
	case c == 't' && strings.HasPrefix(d.s[d.i:], "true"):
		d.i += 4
		return true, nil
	case c == 'f' && strings.HasPrefix(d.s[d.i:], "false"):
		d.i += 5
		return false, nil
	}
	return false, errSlowPath
}

// time reads a time as time.Time's UnmarshalJSON does; the form the index
// writes (UTC, "Z") is parsed by hand.
func (d *dec) time() (time.Time, error) {
	if d.peek() != '"' {
		return time.Time{}, errSlowPath
	}
	start := d.i
	end := strings.IndexByte(d.s[start+1:], '"')
	if end < 0 {
		return time.Time{}, errSlowPath
	}
	d.i = start + 1 + end + 1
	s := d.s[start+1 : start+1+end]
	if t, ok := parseUTC(s); ok {
		return t, nil
	}
	var t time.Time
	if err := t.UnmarshalJSON([]byte(d.s[start:d.i])); err != nil {
		return time.Time{}, errSlowPath
	}
	return t, nil
}

// parseUTC parses YYYY-MM-DDTHH:MM:SS[.fraction]Z, the only form the
// index writes, and reports false for anything else.
func parseUTC(s string) (time.Time, bool) {
	if len(s) < 20 || s[len(s)-1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(b string) (int, bool) {
		n := 0
		for _, c := range []byte(b) {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(s[0:4])
	month, ok2 := num(s[5:7])
	day, ok3 := num(s[8:10])
	hour, ok4 := num(s[11:13])
	min, ok5 := num(s[14:16])
	sec, ok6 := num(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || min > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if rest := s[19 : len(s)-1]; len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return time.Time{}, false
		}
		frac, ok := num(rest[1:])
		if !ok {
			return time.Time{}, false
		}
		for n := len(rest) - 1; n < 9; n++ {
			frac *= 10
		}
		nsec = frac
	}
	return time.Date(year, time.Month(month), day, hour, min, sec, nsec, time.UTC), true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// object reads {"key": value, ...}, calling field for each key with the
// decoder at the value; field must consume the value.
func (d *dec) object(field func(key string) error) error {
	if !d.eat('{') {
		return errSlowPath
	}
	if d.eat('}') {
		return nil
	}
	for {
		k, err := d.str()
		if err != nil {
			return err
		}
		if !d.eat(':') {
			return errSlowPath
		}
		if err := field(k); err != nil {
			return err
		}
		if d.eat(',') {
			continue
		}
		if d.eat('}') {
			return nil
		}
		return errSlowPath
	}
}

// array reads [v, ...], calling elem with the decoder at each value.
func (d *dec) array(elem func() error) error {
	if !d.eat('[') {
		return errSlowPath
	}
	if d.eat(']') {
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		if d.eat(',') {
			continue
		}
		if d.eat(']') {
			return nil
		}
		return errSlowPath
	}
}

// unknown decides what to do with a key the fast decoder does not know:
// encoding/json matches keys case-insensitively, so a known key in
// another case is left to it; any other key's value is skipped, as
// encoding/json ignores it.
func (d *dec) unknown(key string, known []string) error {
	for _, k := range known {
		if strings.EqualFold(k, key) {
			return errSlowPath
		}
	}
	return d.skip()
}

// skip passes over one value of any type.
func (d *dec) skip() error {
	switch c := d.peek(); {
	case c == '"':
		_, err := d.str()
		return err
	case c == '{':
		return d.object(func(string) error { return d.skip() })
	case c == '[':
		return d.array(d.skip)
	case c == '-' || (c >= '0' && c <= '9'):
		start := d.i
		d.i++
		for d.i < len(d.s) && strings.IndexByte("0123456789.eE+-", d.s[d.i]) >= 0 {
			d.i++
		}
		var f float64
		if json.Unmarshal([]byte(d.s[start:d.i]), &f) != nil {
			return errSlowPath
		}
		return nil
	case strings.HasPrefix(d.s[d.i:], "true"):
		d.i += 4
		return nil
	case strings.HasPrefix(d.s[d.i:], "false"):
		d.i += 5
		return nil
	}
	// null is left to encoding/json: it means "leave as is" for some
	// fields and an error for none, which the slow path knows best.
	return errSlowPath
}

var (
	indexKeys      = []string{"version", stampKey, "entries", "ca", "revoked", "lint_signers", "superseded"}
	entryKeys      = []string{"name", "kind", "serial", "common_name", "sans", "key_type", "not_before", "not_after", "sha256", "issuer", "created", "cert", "key", "chain", "revoked", "renewed_from", "lint"}
	caKeys         = []string{"crl_url", "ocsp_url", "crl_number", "root_crl_number"}
	revocationKeys = []string{"serial", "name", "revoked_at", "reason_code", "reason", "issuer_key_id", "not_after"}
	supersededKeys = []string{"name", "kind", "serial", "sha256", "not_before", "not_after", "renewed_from", "superseded_at", "renewed_to", "rekeyed"}
	lintKeys       = []string{"by", "findings"}
	findingKeys    = []string{"id", "status", "source", "details"}
)

// decodeIndexFast decodes the index, or returns errSlowPath for a file
// it leaves to encoding/json. A key given twice is left to it too.
func decodeIndexFast(data string) (index, error) {
	d := &dec{s: data}
	var idx index
	seen := map[string]bool{}
	err := d.object(func(k string) error {
		if seen[k] {
			return errSlowPath
		}
		seen[k] = true
		switch k {
		case "version":
			n, err := d.int()
			if err != nil || n != int64(int(n)) {
				return errSlowPath
			}
			idx.Version = int(n)
			return nil
		case stampKey:
			// The layout stamp (index_lookup.go): only the lookup reads it.
			_, err := d.str()
			return err
		case "ca":
			idx.CA = &CAInfo{}
			return d.caInfo(idx.CA)
		case "lint_signers":
			idx.LintSigners = map[string]string{}
			return d.object(func(k string) error {
				if _, dup := idx.LintSigners[k]; dup {
					return errSlowPath
				}
				v, err := d.str()
				idx.LintSigners[k] = v
				return err
			})
		case "revoked":
			idx.Revoked = []Revocation{}
			return d.array(func() error {
				var r Revocation
				if err := d.revocation(&r); err != nil {
					return err
				}
				idx.Revoked = append(idx.Revoked, r)
				return nil
			})
		case "superseded":
			// Renewal records: one renewal in a store used to send the
			// whole file to encoding/json (1.45 s for list at 100,000
			// instead of 0.23 s), and a mass renewal makes them as many
			// as the entries.
			idx.Superseded = []Supersession{}
			return d.array(func() error {
				var r Supersession
				if err := d.supersession(&r); err != nil {
					return err
				}
				idx.Superseded = append(idx.Superseded, r)
				return nil
			})
		case "entries":
			n := strings.Count(data[d.i:], "\n{")
			if workers := min(runtime.GOMAXPROCS(0), 8, n/parallelFrom); workers > 1 {
				es, err := d.entriesParallel(workers)
				idx.Entries = es
				return err
			}
			idx.Entries = make([]Entry, 0, n)
			return d.array(func() error {
				idx.Entries = append(idx.Entries, Entry{})
				return d.entry(&idx.Entries[len(idx.Entries)-1])
			})
		}
		return d.unknown(k, indexKeys)
	})
	if err != nil {
		return index{}, err
	}
	if d.ws(); d.i != len(d.s) {
		return index{}, errSlowPath
	}
	return idx, nil
}

// parallelFrom is how many entries each core decodes at least.
const parallelFrom = 4096

// entriesParallel decodes the entries array on workers goroutines, split
// at line starts ("\n{": a raw newline is never inside a JSON string, so
// in the index's layout each begins an entry). A split anywhere else makes
// a part fail to decode, and the whole file goes to encoding/json.
func (d *dec) entriesParallel(workers int) ([]Entry, error) {
	if !d.eat('[') {
		return nil, errSlowPath
	}
	bounds := []int{d.i}
	for w := 1; w < workers; w++ {
		at := bounds[0] + (len(d.s)-bounds[0])*w/workers
		j := strings.Index(d.s[max(at, bounds[len(bounds)-1]):], "\n{")
		if j < 0 {
			return nil, errSlowPath
		}
		bounds = append(bounds, max(at, bounds[len(bounds)-1])+j+1)
	}
	// Each part decodes into its own stretch of out: as many entries as it
	// has line starts (one each in the index's layout; any other count
	// sends the file to encoding/json).
	counts := make([]int, workers)
	total := 0
	for w := range workers {
		end := len(d.s)
		if w < workers-1 {
			end = bounds[w+1]
		}
		counts[w] = strings.Count(d.s[bounds[w]:end], "\n{")
		if w > 0 {
			counts[w]++ // the part starts at its first entry's "{"
		}
		total += counts[w]
	}
	out := make([]Entry, total)
	errs := make([]error, workers)
	ends := make([]int, workers)
	var wg sync.WaitGroup
	off := 0
	for w := range workers {
		es := out[off : off+counts[w]]
		off += counts[w]
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := w == workers-1
			end := len(d.s)
			if !last {
				end = bounds[w+1]
			}
			sub := &dec{s: d.s[:end], i: bounds[w]}
			for k := 0; ; k++ {
				if k == len(es) {
					errs[w] = errSlowPath
					return
				}
				if err := sub.entry(&es[k]); err != nil {
					errs[w] = err
					return
				}
				if sub.eat(',') {
					if sub.ws(); !last && sub.i == end {
						if k != len(es)-1 {
							errs[w] = errSlowPath
						}
						break
					}
					continue
				}
				if last && sub.eat(']') {
					if k != len(es)-1 {
						errs[w] = errSlowPath
					}
					break
				}
				errs[w] = errSlowPath
				return
			}
			ends[w] = sub.i
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, errSlowPath
	}
	d.i = ends[workers-1]
	return out, nil
}

// fields runs an object through per-key decoders, refusing repeats.
func (d *dec) fields(known []string, each func(k string) (bool, error)) error {
	var seen uint32
	return d.object(func(k string) error {
		for i, kk := range known {
			if kk == k {
				if seen&(1<<i) != 0 {
					return errSlowPath
				}
				seen |= 1 << i
			}
		}
		ok, err := each(k)
		if err != nil || ok {
			return err
		}
		return d.unknown(k, known)
	})
}

func (d *dec) strInto(p *string) error {
	s, err := d.str()
	*p = s
	return err
}

func (d *dec) timeInto(p *time.Time) error {
	t, err := d.time()
	*p = t
	return err
}

func (d *dec) entry(e *Entry) error {
	if !d.eat('{') {
		return errSlowPath
	}
	if d.eat('}') {
		return nil
	}
	var seen uint32
	for {
		k, err := d.str()
		if err != nil {
			return err
		}
		if !d.eat(':') {
			return errSlowPath
		}
		var bit uint32
		switch k {
		case "name":
			bit, err = 1<<0, d.strInto(&e.Name)
		case "kind":
			var s string
			s, err = d.str()
			bit, e.Kind = 1<<1, Kind(s)
		case "serial":
			bit, err = 1<<2, d.strInto(&e.Serial)
		case "common_name":
			bit, err = 1<<3, d.strInto(&e.CommonName)
		case "sans":
			bit = 1 << 4
			if d.null() { // encoding/json: a null slice is nil
				e.SANs = nil
				break
			}
			e.SANs = []string{}
			err = d.array(func() error {
				s, err := d.str()
				e.SANs = append(e.SANs, s)
				return err
			})
		case "key_type":
			var s string
			s, err = d.str()
			bit, e.KeyType = 1<<5, KeyType(s)
		case "not_before":
			bit, err = 1<<6, d.timeInto(&e.NotBefore)
		case "not_after":
			bit, err = 1<<7, d.timeInto(&e.NotAfter)
		case "sha256":
			bit, err = 1<<8, d.strInto(&e.SHA256)
		case "issuer":
			bit, err = 1<<9, d.strInto(&e.Issuer)
		case "created":
			bit, err = 1<<10, d.timeInto(&e.Created)
		case "cert":
			bit, err = 1<<11, d.strInto(&e.Cert)
		case "key":
			bit, err = 1<<12, d.strInto(&e.Key)
		case "chain":
			bit, err = 1<<13, d.strInto(&e.Chain)
		case "renewed_from":
			bit, err = 1<<15, d.strInto(&e.RenewedFrom)
		case "lint":
			e.lint = &lintRecord{}
			bit, err = 1<<14, d.lintRecord(e.lint)
		case "revoked":
			// Entry's own JSON field, never written to the index: left
			// to encoding/json, which fills it.
			return errSlowPath
		default:
			err = d.unknown(k, entryKeys)
		}
		if err != nil {
			return err
		}
		if seen&bit != 0 {
			return errSlowPath // a repeated key: encoding/json's rules
		}
		seen |= bit
		if d.eat(',') {
			continue
		}
		if d.eat('}') {
			return nil
		}
		return errSlowPath
	}
}

func (d *dec) lintRecord(l *lintRecord) error {
	return d.fields(lintKeys, func(k string) (bool, error) {
		switch k {
		case "by":
			return true, d.strInto(&l.By)
		case "findings":
			l.Findings = []LintFinding{}
			return true, d.array(func() error {
				var f LintFinding
				err := d.fields(findingKeys, func(k string) (bool, error) {
					switch k {
					case "id":
						return true, d.strInto(&f.ID)
					case "status":
						return true, d.strInto(&f.Status)
					case "source":
						return true, d.strInto(&f.Source)
					case "details":
						return true, d.strInto(&f.Details)
					}
					return false, nil
				})
				l.Findings = append(l.Findings, f)
				return err
			})
		}
		return false, nil
	})
}

func (d *dec) caInfo(c *CAInfo) error {
	return d.fields(caKeys, func(k string) (bool, error) {
		switch k {
		case "crl_url":
			return true, d.strInto(&c.CRLURL)
		case "ocsp_url":
			return true, d.strInto(&c.OCSPURL)
		case "crl_number":
			n, err := d.int()
			c.CRLNumber = n
			return true, err
		case "root_crl_number":
			n, err := d.int()
			c.RootCRLNumber = n
			return true, err
		}
		return false, nil
	})
}

func (d *dec) revocation(r *Revocation) error {
	return d.fields(revocationKeys, func(k string) (bool, error) {
		switch k {
		case "serial":
			return true, d.strInto(&r.Serial)
		case "name":
			return true, d.strInto(&r.Name)
		case "revoked_at":
			return true, d.timeInto(&r.At)
		case "reason_code":
			n, err := d.int()
			if err == nil && n != int64(int(n)) {
				err = errSlowPath
			}
			r.Reason = RevocationReason(n)
			return true, err
		case "reason":
			return true, d.strInto(&r.ReasonName)
		case "issuer_key_id":
			return true, d.strInto(&r.IssuerKeyID)
		case "not_after":
			return true, d.timeInto(&r.NotAfter)
		}
		return false, nil
	})
}

func (d *dec) supersession(r *Supersession) error {
	return d.fields(supersededKeys, func(k string) (bool, error) {
		switch k {
		case "name":
			return true, d.strInto(&r.Name)
		case "kind":
			s, err := d.str()
			r.Kind = Kind(s)
			return true, err
		case "serial":
			return true, d.strInto(&r.Serial)
		case "sha256":
			return true, d.strInto(&r.SHA256)
		case "not_before":
			return true, d.timeInto(&r.NotBefore)
		case "not_after":
			return true, d.timeInto(&r.NotAfter)
		case "renewed_from":
			return true, d.strInto(&r.RenewedFrom)
		case "superseded_at":
			return true, d.timeInto(&r.At)
		case "renewed_to":
			return true, d.strInto(&r.By)
		case "rekeyed":
			b, err := d.boolean()
			r.Rekeyed = b
			return true, err
		}
		return false, nil
	})
}
