// Package latency holds what the load generators under bench/cmd share for
// reporting latencies.
package latency

import (
	"slices"
	"time"
)

// Percentiles sorts lat in place and returns a function that gives its p-th
// quantile (0 <= p <= 1) in milliseconds, or 0 if lat is empty.
func Percentiles(lat []time.Duration) func(p float64) float64 {
	slices.Sort(lat)
	return func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
}
