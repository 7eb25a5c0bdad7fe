package okx

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/exchangetest"
	"github.com/tickertape/tickertape/internal/poll"
)

func startFake(t *testing.T) (*Fake, *Connector) {
	t.Helper()
	f, err := NewFake(FakeConfig{FakeConfig: exchangetest.FakeConfig{Seed: 3, Tick: 2 * time.Millisecond, MaxTradesPerTick: 6, FirstTradeID: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	o := f.Options()
	return f, New(Config{WSURL: o.WSURL, RESTURL: o.RESTURL, Exchange: o.Exchange, ConnectsPerSecond: 50, Logger: quiet()})
}

// TestTradesWalksHistory: a cursor older than the 500 recent trades is
// reached through history-trades pages, and every trade after it comes
// back once, oldest first.
func TestTradesWalksHistory(t *testing.T) {
	f, c := startFake(t)
	poll.Until(t, 20*time.Second, "1200 trades", func() bool { return len(f.Sim().Trades("BTC-USDT")) >= 1200 })
	f.Sim().Pause()
	truth := f.Sim().Trades("BTC-USDT")
	from := truth[10]
	calls := f.Faults().RESTCalls()
	page, err := c.Trades(context.Background(), "BTC-USDT", exchange.TradeCursor{ID: strconv.FormatInt(from.ID, 10), TimeUs: from.TimeMs * 1000}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if page.Gap != nil || page.More {
		t.Fatalf("gap %v, more %v", page.Gap, page.More)
	}
	if len(page.Trades) != len(truth)-11 {
		t.Fatalf("%d trades, want %d", len(page.Trades), len(truth)-11)
	}
	for i, tr := range page.Trades {
		w := truth[11+i]
		if tr.TradeID != strconv.FormatInt(w.ID, 10) || !tr.Price.Equal(w.Price) || !tr.Quantity.Equal(w.Quantity) || tr.Side != w.Side || !tr.Backfilled {
			t.Fatalf("trade %d: %+v, want %+v", i, tr, w)
		}
	}
	// One recent page (500), then ceil((len-11-500)/100) history pages.
	if n, want := f.Faults().RESTCalls()-calls, 1+(len(truth)-11-500+99)/100; n != want {
		t.Fatalf("%d REST calls, want %d", n, want)
	}
}

// TestTradesReportsGap: a history that no longer reaches the cursor is
// reported as a gap (count unknown: OKX does not promise consecutive ids),
// with what remains delivered.
func TestTradesReportsGap(t *testing.T) {
	f, c := startFake(t)
	poll.Until(t, 20*time.Second, "300 trades", func() bool { return len(f.Sim().Trades("ETH-USDT")) >= 300 })
	f.Sim().Pause()
	f.Faults().LimitHistory(50)
	truth := f.Sim().Trades("ETH-USDT")
	page, err := c.Trades(context.Background(), "ETH-USDT", exchange.TradeCursor{ID: strconv.FormatInt(truth[0].ID, 10), TimeUs: truth[0].TimeMs * 1000}, 100)
	if err != nil {
		t.Fatal(err)
	}
	last50 := truth[len(truth)-50:]
	if len(page.Trades) != 50 || page.Trades[0].TradeID != strconv.FormatInt(last50[0].ID, 10) {
		t.Fatalf("%d trades from %s", len(page.Trades), page.Trades[0].TradeID)
	}
	if g := page.Gap; g == nil || g.AfterID != strconv.FormatInt(truth[0].ID, 10) || g.BeforeID != page.Trades[0].TradeID || g.Missing != -1 {
		t.Fatalf("gap %+v", page.Gap)
	}
}

// TestDialRefusedSymbol: a symbol OKX does not list fails Dial with OKX's
// error and a hint.
func TestDialRefusedSymbol(t *testing.T) {
	_, c := startFake(t)
	_, err := c.Dial(context.Background(), exchange.Subscription{Symbols: []string{"BTCUSDT"}, Trades: true, Books: true})
	if err == nil || !strings.Contains(err.Error(), "60018") || !strings.Contains(err.Error(), "BTC-USDT") {
		t.Fatalf("%v", err)
	}
}

// TestMarkets reads the fake's instruments.
func TestMarkets(t *testing.T) {
	_, c := startFake(t)
	ms, err := c.Markets(context.Background())
	if err != nil || len(ms) != 2 {
		t.Fatal(ms, err)
	}
	if m := ms[0]; m.VenueSymbol != "BTC-USDT" || m.Symbol != "BTC-USDT" || m.Base != "BTC" || m.Quote != "USDT" || m.PriceScale != 1 || m.SizeScale != 8 || m.Status != "live" {
		t.Fatalf("%+v", m)
	}
}

// TestPacer: a pacer lets n connection requests through per period and
// holds the next one back.
func TestPacer(t *testing.T) {
	p := &pacer{n: 3, per: time.Hour}
	for i := 0; i < 3; i++ {
		if err := p.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := p.wait(ctx); err == nil {
		t.Fatal("a fourth request within the period went through")
	}
}

// TestWSURLWithPath: --ws-url okx=wss://host/ws/v5/public means the host.
func TestWSURLWithPath(t *testing.T) {
	for _, u := range []string{"wss://wseea.okx.com:8443/ws/v5/public", "wss://wseea.okx.com:8443/ws/v5/business/", "wss://wseea.okx.com:8443"} {
		if got := New(Config{WSURL: u}).cfg.WSURL; got != "wss://wseea.okx.com:8443" {
			t.Errorf("%s: %s", u, got)
		}
	}
}
