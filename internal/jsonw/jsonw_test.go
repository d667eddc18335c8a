package jsonw

import (
	"encoding/json"
	"testing"
	"time"
)

// TestLikeEncodingJSON: strings and times come out byte for byte as
// encoding/json writes them (every ASCII byte, the escaped runes, invalid
// UTF-8), the promise the index and list --json rely on.
func TestLikeEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", "é", "\u2028\u2029", "\xff\xfe", "a\xc3", "<&>", `"\`}
	for c := range 128 {
		strs = append(strs, "x"+string(rune(c))+"y")
	}
	for _, s := range strs {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Errorf("AppendString(%q) = %s, encoding/json %s", s, got, want)
		}
	}
	for _, tm := range []time.Time{{}, time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC),
		time.Date(2026, 12, 1, 10, 0, 0, 500000000, time.FixedZone("", -5400))} {
		want, _ := json.Marshal(tm)
		if got := AppendTime(nil, tm); string(got) != string(want) {
			t.Errorf("AppendTime(%v) = %s, encoding/json %s", tm, got, want)
		}
	}
}
