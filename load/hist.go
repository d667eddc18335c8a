package load

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram is a latency distribution in microseconds: an HDR histogram
// (github.com/HdrHistogram/hdrhistogram-go) from 1 µs to one hour with 3
// significant digits, so every percentile is within 0.1% of the value
// recorded, whatever the spread. The exact smallest and largest values
// are kept beside it. Histograms merge exactly (Merge adds the counts of
// the same buckets), which is what lets the shards of a run be added up
// instead of averaged.
//
// Its JSON form carries the percentiles for people and scripts and the
// histogram itself in the standard HdrHistogram V2 compressed encoding
// ("hdr"), which other HdrHistogram tools read too.
type Histogram struct {
	h        *hdr.Histogram
	min, max int64
}

// Histogram geometry: totals keep 3 significant digits; the per-second
// ones of the timeline 2, which is plenty for a p99 per second and keeps
// the report small.
const (
	histLowest  = 1
	histHighest = int64(time.Hour / time.Microsecond)
	histDigits  = 3
	secDigits   = 2
)

// NewHistogram is an empty histogram.
func NewHistogram() *Histogram { return newHistogram(histDigits) }

func newHistogram(digits int) *Histogram {
	return &Histogram{h: hdr.New(histLowest, histHighest, digits), min: math.MaxInt64}
}

// Record adds one duration (rounded to the microsecond, at least 1 µs).
func (h *Histogram) Record(d time.Duration) {
	us := min(max(d.Microseconds(), histLowest), histHighest)
	_ = h.h.RecordValue(us)
	h.min, h.max = min(h.min, us), max(h.max, us)
}

// Merge adds every value of o to h, exactly.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.Count() == 0 {
		return
	}
	h.h.Merge(o.h)
	h.min, h.max = min(h.min, o.min), max(h.max, o.max)
}

// Count is how many values were recorded.
func (h *Histogram) Count() int64 {
	if h == nil || h.h == nil {
		return 0
	}
	return h.h.TotalCount()
}

// Quantile is the value below which q percent of the values fall (q from
// 0 to 100), in microseconds; 0 when the histogram is empty. The 100th is
// the exact maximum.
func (h *Histogram) Quantile(q float64) int64 {
	if h.Count() == 0 {
		return 0
	}
	if q >= 100 {
		return h.max
	}
	return min(h.h.ValueAtQuantile(q), h.max)
}

// Min and Max are the exact extremes, in microseconds (0 when empty).
func (h *Histogram) Min() int64 {
	if h.Count() == 0 {
		return 0
	}
	return h.min
}

// Max is the exact largest value, in microseconds.
func (h *Histogram) Max() int64 {
	if h.Count() == 0 {
		return 0
	}
	return h.max
}

// Mean is the average, in microseconds.
func (h *Histogram) Mean() float64 {
	if h.Count() == 0 {
		return 0
	}
	return h.h.Mean()
}

// Percentiles are the report's percentiles, in microseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	Min   int64   `json:"min_us"`
	Mean  float64 `json:"mean_us"`
	P50   int64   `json:"p50_us"`
	P90   int64   `json:"p90_us"`
	P99   int64   `json:"p99_us"`
	P999  int64   `json:"p99_9_us"`
	Max   int64   `json:"max_us"`
}

// Percentiles are p50, p90, p99, p99.9 and the extremes.
func (h *Histogram) Percentiles() Percentiles {
	return Percentiles{Count: h.Count(), Min: h.Min(), Mean: math.Round(h.Mean()*10) / 10,
		P50: h.Quantile(50), P90: h.Quantile(90), P99: h.Quantile(99), P999: h.Quantile(99.9), Max: h.Max()}
}

// histJSON is a histogram's JSON form: its percentiles and the encoded
// histogram (base64 HdrHistogram V2 compressed).
type histJSON struct {
	Percentiles
	HDR string `json:"hdr"`
}

// MarshalJSON writes the percentiles and the encoded histogram.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	enc, err := h.encode()
	if err != nil {
		return nil, err
	}
	return json.Marshal(histJSON{Percentiles: h.Percentiles(), HDR: enc})
}

func (h *Histogram) encode() (string, error) {
	b, err := h.h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", fmt.Errorf("encoding a histogram: %w", err)
	}
	return string(b), nil
}

// UnmarshalJSON reads what MarshalJSON wrote: the histogram from "hdr",
// the exact extremes from min_us and max_us.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var j histJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	d, err := decodeHist(j.HDR)
	if err != nil {
		return err
	}
	if d.h.TotalCount() != j.Count {
		return fmt.Errorf("histogram: count %d, but its hdr holds %d values", j.Count, d.h.TotalCount())
	}
	*h = *d
	if j.Count > 0 {
		h.min, h.max = j.Min, j.Max
	}
	return nil
}

func decodeHist(s string) (*Histogram, error) {
	if s == "" {
		return nil, fmt.Errorf("histogram: no hdr")
	}
	d, err := hdr.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("histogram: %w", err)
	}
	h := &Histogram{h: d, min: math.MaxInt64}
	if d.TotalCount() > 0 {
		h.min, h.max = d.Min(), d.Max()
	}
	return h, nil
}
