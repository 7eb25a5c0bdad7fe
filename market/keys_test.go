package market

import (
	"strings"
	"testing"
)

func TestKeysRoundTrip(t *testing.T) {
	k := EventKey("poloniex", "BTC-USDT")
	if k != "poloniex:BTC-USDT" || string(AppendEventKey([]byte("x"), "poloniex", "BTC-USDT")) != "x"+k {
		t.Fatalf("event key %q", k)
	}
	if e, s, err := ParseEventKey(k); err != nil || e != "poloniex" || s != "BTC-USDT" {
		t.Fatalf("ParseEventKey(%q) = %q %q %v", k, e, s, err)
	}
	c := Candle{Exchange: "binance", Symbol: "ETH-USDT", Interval: "1m"}
	if c.Key() != "binance:ETH-USDT:1m" || CandleKey("binance", "ETH-USDT", "1m") != c.Key() {
		t.Fatalf("candle key %q", c.Key())
	}
	if e, s, iv, err := ParseCandleKey(c.Key()); err != nil || e != "binance" || s != "ETH-USDT" || iv != "1m" {
		t.Fatalf("ParseCandleKey = %q %q %q %v", e, s, iv, err)
	}
	tr := Trade{Exchange: "coinbase", Symbol: "BTC-USD"}
	if tr.Key() != "coinbase:BTC-USD" {
		t.Fatalf("trade key %q", tr.Key())
	}
}

func TestKeysRejectMalformed(t *testing.T) {
	for _, k := range []string{"", "poloniex", ":BTC-USDT", "poloniex:", "a:b:c"} {
		if _, _, err := ParseEventKey(k); err == nil || !strings.Contains(err.Error(), "exchange:SYMBOL") {
			t.Errorf("ParseEventKey(%q): %v", k, err)
		}
	}
	for _, k := range []string{"", "a:b", "a:b:", "::1m", "a:b:c:d"} {
		if _, _, _, err := ParseCandleKey(k); err == nil {
			t.Errorf("ParseCandleKey(%q) accepted", k)
		}
	}
}

func FuzzParseKeys(f *testing.F) {
	f.Add("poloniex:BTC-USDT:1m")
	f.Add("a:b")
	f.Fuzz(func(t *testing.T, k string) {
		if e, s, err := ParseEventKey(k); err == nil && EventKey(e, s) != k {
			t.Fatalf("event key %q round-trips to %q", k, EventKey(e, s))
		}
		if e, s, iv, err := ParseCandleKey(k); err == nil && CandleKey(e, s, iv) != k {
			t.Fatalf("candle key %q round-trips to %q", k, CandleKey(e, s, iv))
		}
	})
}
