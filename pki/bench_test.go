package pki

import (
	"fmt"
	"testing"
)

// BenchmarkGenerateKey is key generation alone, per key type.
func BenchmarkGenerateKey(b *testing.B) {
	for _, kt := range KeyTypes() {
		b.Run(string(kt), func(b *testing.B) {
			for b.Loop() {
				if _, err := GenerateKey(kt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIssueClient is one client certificate (key generation and
// signature) from an ECDSA P-256 root, per leaf key type.
func BenchmarkIssueClient(b *testing.B) {
	root, err := NewRootCA(Request{})
	if err != nil {
		b.Fatal(err)
	}
	iss, _ := root.Issuer()
	for _, kt := range KeyTypes() {
		b.Run(string(kt), func(b *testing.B) {
			for b.Loop() {
				if _, err := iss.Issue(Request{Kind: KindClient, CommonName: "alice", KeyType: kt}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWorkflow is the three-step workflow through the store, as the
// CLI runs it (minus process start-up): ca init, issue server, issue
// client, each with its fsyncs.
func BenchmarkWorkflow(b *testing.B) {
	sans, _ := ParseSANs("localhost,127.0.0.1,::1")
	for b.Loop() {
		s := OpenStore(b.TempDir())
		if _, err := s.Init(InitOptions{}); err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.Issue(Request{Kind: KindServer, SANs: sans}, IssueOptions{}); err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.Issue(Request{Kind: KindClient, CommonName: "alice"}, IssueOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIssueMany1000 is `mtlskit issue client --count 1000` minus
// process start-up.
func BenchmarkIssueMany1000(b *testing.B) {
	const n = 1000
	reqs := make([]Request, n)
	names := make([]string, n)
	for i := range reqs {
		names[i] = fmt.Sprintf("load-%04d", i+1)
		reqs[i] = Request{Kind: KindClient, CommonName: names[i]}
	}
	for b.Loop() {
		b.StopTimer()
		s := OpenStore(b.TempDir())
		if _, err := s.Init(InitOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, _, err := s.IssueMany(reqs, names, IssueOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIndex100k is reading and writing an index of 100,000 leaves
// (index.json, about 52 MB), the cost every command on such a store pays
// but the single-name lookup (Get), whose scan of the same file from disk
// is "lookup".
func BenchmarkIndex100k(b *testing.B) {
	idx := bigIndex(100000)
	data := encodeIndex(&idx)
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := decodeIndex(string(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			encodeIndex(&idx)
		}
	})
	b.Run("lookup", func(b *testing.B) {
		s := OpenStore(b.TempDir())
		if err := s.writeIndex(idx); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if e, err := s.lookup("dev-050000"); err != nil || e == nil {
				b.Fatal(e, err)
			}
		}
	})
}
