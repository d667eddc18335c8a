package pki

import (
	"strings"
	"testing"
	"time"
)

func TestParseValidityAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"90d", 90 * 24 * time.Hour},
		{"12h", 12 * time.Hour},
		{"2y", 2 * 365 * 24 * time.Hour},
		{"1w", 7 * 24 * time.Hour},
		{"30m", 30 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{" 90d ", 90 * 24 * time.Hour},
		{"10y", DefaultRootValidity},
		{"290y", 290 * Year},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseValidity(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("ParseValidity(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseValidityRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, why string
	}{
		{"zero days", "0d", "not positive"},
		{"zero hours", "0h", "not positive"},
		{"negative days", "-1d", "not a whole number"},
		{"negative hours", "-5h", "not positive"},
		{"fraction of a day", "1.5d", "not a whole number"},
		{"unit without number", "d", "not a whole number"},
		{"word", "abc", "not understood"},
		{"unknown unit", "5x", "not understood"},
		{"empty", "", "empty"},
		{"blank", "   ", "empty"},
		{"just over the limit in years", "291y", "over 290 years"},
		// 585 years of nanoseconds wrap an int64 round to about three
		// weeks: it must be refused, not issued as a short certificate.
		{"years that overflow a Duration", "585y", "over 290 years"},
		{"a thousand years", "1000y", "over 290 years"},
		{"huge number of days", "99999999999d", "over 290 years"},
		{"huge number of weeks", "20000w", "over 290 years"},
		{"huge number of hours", "9999999999999h", "not understood"},
		{"hours over the limit", "2562047h", "over 290 years"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseValidity(tt.in)
			if err == nil {
				t.Fatalf("ParseValidity(%q) = %v, want an error", tt.in, got)
			}
			if !strings.Contains(err.Error(), tt.why) {
				t.Errorf("ParseValidity(%q) error %q does not say %q", tt.in, err, tt.why)
			}
			if tt.in != "" && strings.TrimSpace(tt.in) != "" && !strings.Contains(err.Error(), `"`+strings.TrimSpace(tt.in)+`"`) {
				t.Errorf("ParseValidity(%q) error %q does not name the input", tt.in, err)
			}
		})
	}
}

func TestFormatValidityRoundTrips(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{2 * Year, "2y"},
		{90 * Day, "90d"},
		{7 * Day, "7d"},
		{12 * time.Hour, "12h"},
		{90 * time.Minute, "1h30m0s"},
	}
	for _, tt := range tests {
		got := FormatValidity(tt.d)
		if got != tt.want {
			t.Errorf("FormatValidity(%v) = %q, want %q", tt.d, got, tt.want)
		}
		back, err := ParseValidity(got)
		if err != nil || back != tt.d {
			t.Errorf("ParseValidity(FormatValidity(%v)) = %v, %v", tt.d, back, err)
		}
	}
}
