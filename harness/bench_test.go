package harness

import (
	"context"
	"testing"
)

// BenchmarkFullMatrix is one whole `mtlskit harness run`: minting the
// run's certificates and every scenario against the reference pair.
func BenchmarkFullMatrix(b *testing.B) {
	for b.Loop() {
		rep, err := Run(context.Background(), nil, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if !rep.OK() {
			b.Fatalf("%d of %d passed", rep.Passed(), len(rep.Results))
		}
	}
}

// BenchmarkMaterials is the certificate minting alone.
func BenchmarkMaterials(b *testing.B) {
	for b.Loop() {
		if _, err := NewMaterials(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOneScenario is one valid-client encounter with shared
// certificates.
func BenchmarkOneScenario(b *testing.B) {
	m := testMaterials()
	s, _ := Lookup("valid-client")
	for b.Loop() {
		if r := RunScenario(context.Background(), s[0], m, Options{}); !r.Pass {
			b.Fatal(r.Mismatch)
		}
	}
}
