package pki

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Day and Year are the units ParseValidity accepts beyond time.Duration's.
const (
	Day  = 24 * time.Hour
	Year = 365 * Day
)

// Default lifetimes.
const (
	DefaultRootValidity         = 10 * Year
	DefaultIntermediateValidity = 5 * Year
	DefaultLeafValidity         = 1 * Year
)

// Backdate is how far NotBefore is set before the moment of issue, so a
// peer whose clock runs a little behind still accepts a fresh certificate.
const Backdate = 5 * time.Minute

// maxValidity is the longest lifetime ParseValidity accepts: a
// time.Duration holds only about 292 years, and n*Year beyond that
// overflows (585y wrapped around to three weeks).
const maxValidity = 290 * Year

// minValidity is the shortest lifetime ParseValidity accepts: certificate
// times have whole seconds, and a lifetime of seconds would expire before
// a peer with a slightly slow clock saw it valid.
const minValidity = time.Minute

// ParseValidity reads a lifetime such as "90d", "12h", "2y", "1w", "30m" or
// a Go duration like "1h30m". It must be positive.
func ParseValidity(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("validity is empty: use a number and a unit, such as 90d, 12h or 2y")
	}
	unit := s[len(s)-1]
	var mult time.Duration
	switch unit {
	case 'y':
		mult = Year
	case 'w':
		mult = 7 * Day
	case 'd':
		mult = Day
	}
	var d time.Duration
	if mult != 0 {
		n, err := strconv.ParseUint(s[:len(s)-1], 10, 32)
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("validity %q is over %d years: use a shorter lifetime", s, maxValidity/Year)
		}
		if err != nil {
			return 0, fmt.Errorf("validity %q is not a whole number of %c: use a form such as 90d, 12h or 2y", s, unit)
		}
		if n > uint64(maxValidity/mult) {
			return 0, fmt.Errorf("validity %q is over %d years: use a shorter lifetime", s, maxValidity/Year)
		}
		d = time.Duration(n) * mult
	} else {
		var err error
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("validity %q is not understood: use a number and a unit (y, w, d, h, m), such as 90d, 12h or 2y", s)
		}
	}
	if d > maxValidity {
		return 0, fmt.Errorf("validity %q is over %d years: use a shorter lifetime", s, maxValidity/Year)
	}
	if d <= 0 {
		return 0, fmt.Errorf("validity %q is not positive: use a lifetime such as 90d", s)
	}
	if d < minValidity {
		return 0, fmt.Errorf("validity %q is under a minute, shorter than the clock skew peers allow: use at least 1m", s)
	}
	return d, nil
}

// FormatValidity writes d in the largest unit that divides it exactly.
func FormatValidity(d time.Duration) string {
	switch {
	case d%Year == 0:
		return fmt.Sprintf("%dy", d/Year)
	case d%Day == 0:
		return fmt.Sprintf("%dd", d/Day)
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}
