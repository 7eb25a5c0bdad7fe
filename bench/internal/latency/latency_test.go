package latency

import (
	"testing"
	"time"
)

func TestPercentiles(t *testing.T) {
	var lat []time.Duration
	for i := 1000; i >= 1; i-- { // unsorted on purpose
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	pct := Percentiles(lat)
	for _, c := range []struct{ p, want float64 }{{0.5, 501}, {0.99, 991}, {0.999, 1000}, {1, 1000}, {0, 1}} {
		if got := pct(c.p); got != c.want {
			t.Errorf("p%v = %v ms, want %v", c.p, got, c.want)
		}
	}
	if got := Percentiles(nil)(0.99); got != 0 {
		t.Errorf("empty: %v, want 0", got)
	}
}
