package pki

import (
	"bytes"
	"encoding/hex"
	"hash/crc32"
	"io"
	"os"
	"strconv"

	"github.com/mtlskit/mtlskit/internal/jsonw"
)

// The single-name lookup. Commands that need one entry (lint NAME,
// export p12 NAME: Store.Get) used to read, decode and check the whole
// index, ~0.5 µs an entry, 50-80 ms for 100,000. Instead, Get scans the
// file's bytes for the entry's line and decodes that line alone, when the
// file carries the writer's stamp:
//
//	{"version":1,"crc32c":"8 hex digits",...
//
// the CRC-32C (Castagnoli) of every byte after the stamp's closing quote,
// to the end of the file. encodeIndex writes it. A file whose stamp
// matches is, but for a 2^-32 chance for damage, byte for byte what the
// writer wrote: CAs first, then leaves by name, one entry a line, each
// line starting with {"name":, each revocation a line starting with
// {"serial":, nothing else at a line start. So the first line starting
// with {"name":NAME,"kind": that is not a CA's is the entry the full
// decoder's find returns, and the first revocation line of its serial is
// the revocation it finds. The scan still reads every byte (to check the
// CRC: damage anywhere in the file is still caught), in pieces through
// one buffer, which costs ~5 ms for 100,000 entries where reading the file
// into memory alone costs 20 (page faults) and decoding it 50 more.
//
// Anything else goes to the full read, which decides as before: no stamp
// (an index written by an older mtlskit, until the next write), a stamp
// that does not match (a hand edit, damage), an entry line that does not
// decode or that the full read would refuse (entryProblem), a read error.
// The other readers (list, verify, every writer) always read in full.

// stampKey is the index's layout stamp.
const stampKey = "crc32c"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// stamp fills in the stamp of an encoded index whose 8 placeholder
// digits are at b[at:].
func stamp(b []byte, at int) []byte {
	sum := crc32.Checksum(b[at+9:], castagnoli)
	hex.Encode(b[at:at+8], []byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
	return b
}

// stampPrefix is how a stamped index of this version begins.
var stampPrefix = `{"version":` + strconv.Itoa(indexVersion) + `,"` + stampKey + `":"`

// lookupChunk is how much of the index lookup reads at a time (the
// tests make it small, so that lines straddle reads).
var lookupChunk = 256 << 10

// lookup returns the entry of the leaf named name, with its revocation,
// from a stamped index (nil when it has none), or errSlowPath: read the
// index in full.
func (s *Store) lookup(name string) (*Entry, error) {
	if CheckName(name) != nil {
		return nil, errSlowPath // the full read says what it says
	}
	f, err := os.Open(s.path(indexFile))
	if err != nil {
		return nil, errSlowPath
	}
	defer f.Close()
	return lookupIndex(f, name)
}

// lookupIndex is lookup on the index read from r.
func lookupIndex(r io.Reader, name string) (*Entry, error) {
	sc := indexScan{pattern: append(jsonw.AppendString([]byte("\n{\"name\":"), name), `,"kind":`...)}
	if err := sc.run(r); err != nil {
		return nil, err
	}
	if sc.entry == nil {
		return nil, nil
	}
	rev, err := findRevocation(sc.header, sc.entry.Serial)
	if err != nil {
		return nil, err
	}
	sc.entry.Revoked = rev
	return sc.entry, nil
}

// indexScan is one pass over a stamped index: it checks the stamp, keeps
// the header (every byte before the first entry line: ca, lint_signers,
// revoked, superseded) and decodes the first leaf entry line that begins
// with pattern.
type indexScan struct {
	pattern   []byte
	header    []byte
	inEntries bool
	entry     *Entry
	crc       uint32
}

var entryLineStart = []byte("\n{\"name\":")

// run reads r to its end through one buffer, handing take whole lines
// only (a line longer than the buffer grows it), and checks the stamp.
func (sc *indexScan) run(r io.Reader) error {
	head := len(stampPrefix) + 9 // the prefix, 8 digits, the quote
	buf := make([]byte, max(lookupChunk, head))
	if _, err := io.ReadFull(r, buf[:head]); err != nil || string(buf[:len(stampPrefix)]) != stampPrefix || buf[head-1] != '"' {
		return errSlowPath
	}
	want, ok := hexSum(buf[len(stampPrefix) : head-1])
	if !ok {
		return errSlowPath
	}
	carry := 0 // bytes of an unfinished line at buf[:carry]
	for {
		if carry == len(buf) {
			buf = append(buf, make([]byte, len(buf))...)
		}
		n, err := r.Read(buf[carry:])
		sc.crc = crc32.Update(sc.crc, castagnoli, buf[carry:carry+n])
		data := buf[:carry+n]
		if err == io.EOF {
			if err := sc.take(data); err != nil {
				return err
			}
			break
		}
		if err != nil {
			return errSlowPath
		}
		// Whole lines: up to the last newline, which starts the next
		// piece (the pattern begins with it).
		end := max(bytes.LastIndexByte(data, '\n'), 0)
		if err := sc.take(data[:end]); err != nil {
			return err
		}
		carry = copy(buf, data[end:])
	}
	if sc.crc != want {
		return errSlowPath
	}
	return nil
}

// hexSum reads the stamp's 8 lowercase hex digits.
func hexSum(b []byte) (uint32, bool) {
	var sum uint32
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			sum = sum<<4 | uint32(c-'0')
		case c >= 'a' && c <= 'f':
			sum = sum<<4 | uint32(c-'a'+10)
		default:
			return 0, false
		}
	}
	return sum, true
}

// take looks at p, whole lines of the file (each but perhaps the first
// beginning with the newline before it): the header's are kept, and an
// entry line that begins with the pattern is decoded until a leaf's is.
func (sc *indexScan) take(p []byte) error {
	if !sc.inEntries {
		i := bytes.Index(p, entryLineStart)
		if i < 0 {
			sc.header = append(sc.header, p...)
			return nil
		}
		sc.header = append(sc.header, p[:i]...)
		sc.inEntries = true
		p = p[i:]
	}
	for sc.entry == nil {
		i := bytes.Index(p, sc.pattern)
		if i < 0 {
			return nil
		}
		p = p[i+1:]
		line := p
		if j := bytes.IndexByte(p, '\n'); j >= 0 {
			line = p[:j]
		}
		e, err := decodeEntryLine(string(line))
		if err != nil {
			return err
		}
		if !e.Kind.IsCA() {
			sc.entry = e
		}
	}
	return nil
}

// decodeEntryLine decodes one entry line ({...}, then a comma unless it
// is the last), refusing what the full read would refuse.
func decodeEntryLine(line string) (*Entry, error) {
	d := &dec{s: line}
	var e Entry
	if err := d.entry(&e); err != nil {
		return nil, errSlowPath
	}
	if rest := line[d.i:]; rest != "" && rest != "," {
		return nil, errSlowPath
	}
	if entryProblem(&e) != "" {
		return nil, errSlowPath
	}
	return &e, nil
}

// findRevocation returns the first revocation of serial in the header of
// a stamped index (the one index.revocation returns), or nil.
func findRevocation(header []byte, serial string) (*Revocation, error) {
	pattern := append(jsonw.AppendString([]byte("\n{\"serial\":"), serial), `,"name":`...)
	i := bytes.Index(header, pattern)
	if i < 0 {
		return nil, nil
	}
	line := header[i+1:]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	d := &dec{s: string(line)}
	var r Revocation
	if err := d.revocation(&r); err != nil {
		return nil, errSlowPath
	}
	if rest := d.s[d.i:]; rest != "" && rest != "," {
		return nil, errSlowPath
	}
	return &r, nil
}
