package main

import (
	"strings"
	"testing"

	"github.com/tickertape/tickertape/pipeline"
)

// The status line never claims "0 trades" for ranges whose size is unknown.
func TestLostTradesUnknownSize(t *testing.T) {
	if s := lostTrades(pipeline.VenueSnapshot{}); s != "" {
		t.Fatalf("nothing lost: %q", s)
	}
	if s := lostTrades(pipeline.VenueSnapshot{BackfillIncomplete: 2, TradesMissing: 5}); !strings.Contains(s, "2 ranges, 5 trades") || strings.Contains(s, "unknown") {
		t.Fatalf("known sizes: %q", s)
	}
	s := lostTrades(pipeline.VenueSnapshot{BackfillIncomplete: 3, TradesMissing: 5, BackfillUnknownSize: 2})
	if !strings.Contains(s, "3 ranges") || !strings.Contains(s, "2 ranges of unknown size") {
		t.Fatalf("unknown sizes: %q", s)
	}
}
