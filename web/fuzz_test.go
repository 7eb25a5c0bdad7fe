package web

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tickertape/tickertape/market"
)

// FuzzQuery: any query string gets 200 (a known market), 400 or 404 from
// the candles and stream endpoints, never a panic or a 5xx.
func FuzzQuery(f *testing.F) {
	s, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	s.feed.candle(market.Candle{Exchange: "poloniex", Symbol: "BTC-USDT", Interval: "1m", OpenTimeUs: 60_000_000, CloseTimeUs: 120_000_000,
		Open: market.NewDecimal(1, 0), High: market.NewDecimal(1, 0), Low: market.NewDecimal(1, 0), Close: market.NewDecimal(1, 0)})
	for _, q := range []string{"exchange=poloniex&symbol=BTC-USDT&interval=1m", "exchange=poloniex&symbol=BTC-USDT&interval=2m",
		"exchange=x&symbol=y&interval=1s", "exchange=poloniex", "%zz", "exchange=poloniex&exchange=x&symbol=BTC-USDT&interval=1m", ";;&&=="} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		req := httptest.NewRequest("GET", "/api/candles", nil)
		req.URL.RawQuery = q
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusNotFound:
		default:
			t.Fatalf("query %q: %d %s", q, w.Code, w.Body)
		}
	})
}
