package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/market"
	"github.com/tickertape/tickertape/serde"
)

func init() {
	register(&command{name: "book", summary: "print a venue's live verified order book from market.books (--consolidated: across venues)", run: runBook})
}

func runBook(args []string, stdout, stderr io.Writer) error {
	var exch, brokers, registry, booksTopic, bboTopic string
	var levels int
	var once, consolidated bool
	var timeout time.Duration
	var sec clientSecurity
	fs := newFlagSet("book --exchange E SYMBOL [flags]",
		"Prints a venue's verified L2 book as the book builder publishes it to market.books (run,\ndemo and process run the builder): bids and asks side by side, best first, with the venue\nsequence it reflects and whether its checksum was verified. It refreshes as new records\narrive; --once prints the current book and exits (status 1 if there is none within\n--timeout). --consolidated prints, for a symbol several venues list, the best bid and ask\nacross venues (from market.bbo) and the venues' books merged level by level.\nA fake exchange's events are named <venue>-synthetic; --exchange binance finds either.",
		`  tickertape book --exchange binance BTC-USDT
  tickertape book --exchange kraken BTC-USD --levels 20
  tickertape book --exchange poloniex BTC-USDT --once          # for scripts
  tickertape book --consolidated BTC-USDT
  tickertape book --exchange coinbase ETH-USD --brokers kafka1:9092 --registry http://registry:8081`, stderr)
	fs.StringVar(&exch, "exchange", "", "the venue (binance, or binance-synthetic for the fake's); required unless --consolidated")
	fs.IntVar(&levels, "levels", 10, "levels a side to print")
	fs.BoolVar(&once, "once", false, "print the current book once and exit")
	fs.BoolVar(&consolidated, "consolidated", false, "the best bid/ask across venues and the venues' merged book")
	fs.DurationVar(&timeout, "timeout", 15*time.Second, "with --once: how long to wait for a synced book")
	fs.StringVar(&brokers, "brokers", "127.0.0.1:9092", "Kafka bootstrap addresses")
	fs.StringVar(&registry, "registry", "http://127.0.0.1:8081", "schema registry URL")
	fs.StringVar(&booksTopic, "books-topic", "market.books", "the book builder's books topic")
	fs.StringVar(&bboTopic, "bbo-topic", "market.bbo", "the book builder's best bid/ask topic")
	sec.register(fs)
	rest, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError{errors.New("book needs one SYMBOL, as BASE-QUOTE (BTC-USDT)")}
	}
	symbol := strings.ToUpper(rest[0])
	if exch == "" && !consolidated {
		return usageError{errors.New("book needs --exchange E (or --consolidated)")}
	}
	if levels < 1 {
		return usageError{fmt.Errorf("--levels %d: give at least 1", levels)}
	}
	exch = strings.ToLower(exch)
	kopts, err := sec.kafkaOpts()
	if err != nil {
		return err
	}
	sopts, err := sec.registryOpts(registry)
	if err != nil {
		return err
	}
	srcl, err := sr.NewClient(sopts...)
	if err != nil {
		return usageError{fmt.Errorf("--registry: %v", err)}
	}
	sd := serde.New(srcl)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	bl := strings.Split(brokers, ",")
	if err := reachBrokers(ctx, bl, kopts...); err != nil {
		return err
	}
	if err := reachRegistry(ctx, registry, sopts...); err != nil {
		return err
	}
	ts := []string{booksTopic}
	if consolidated {
		ts = append(ts, bboTopic)
	}
	// read_committed: the builder writes in transactions. Control records
	// are kept so that the position counts a transaction's commit marker
	// (it takes an offset) and reaches the end offset.
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(bl...), kgo.ConsumeTopics(ts...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(250 * time.Millisecond), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords()}, kopts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, ts...)
	if err != nil {
		return fmt.Errorf("reading the end offsets of %s: %v", strings.Join(ts, ", "), err)
	}
	if _, ok := ends.Lookup(booksTopic, 0); !ok {
		return fmt.Errorf("there is no topic %s: is the book builder running (tickertape run, demo or process, without --no-books)?", booksTopic)
	}
	v := &bookView{exchange: exch, symbol: symbol, levels: levels, books: map[string]market.Book{}, cons: map[string]market.BBO{}}
	caughtUp := func(pos map[string]map[int32]int64) bool {
		ok := true
		ends.Each(func(e kadm.ListedOffset) {
			if e.Err == nil && e.Offset > 0 && pos[e.Topic][e.Partition] < e.Offset {
				ok = false
			}
		})
		return ok
	}
	pos := map[string]map[int32]int64{booksTopic: {}, bboTopic: {}}
	tty := isTerminal(stdout)
	var lastPrint time.Time
	deadline := time.Now().Add(timeout)
	ready := false
	for {
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		fetches := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		changed := false
		for _, r := range fetches.Records() {
			pos[r.Topic][r.Partition] = r.Offset + 1
			if r.Attrs.IsControl() {
				continue
			}
			var m map[string]any
			switch r.Topic {
			case booksTopic:
				if err := sd.Decode(ctx, r.Value, market.BookSchema, &m); err != nil {
					if isUnreachable(err) {
						return fmt.Errorf("lost the schema registry: %v", shortNetError(err))
					}
					continue
				}
				b, err := market.BookFromMap(m)
				if err == nil && v.wants(b.Exchange, b.Symbol) {
					v.books[b.Exchange] = b
					changed = true
				}
			case bboTopic:
				if err := sd.Decode(ctx, r.Value, market.BBOSchema, &m); err != nil {
					continue
				}
				q, err := market.BBOFromMap(m)
				if err == nil && q.Consolidated && q.Symbol == symbol {
					v.cons[q.Symbol] = q
					changed = true
				}
			}
		}
		if !ready && caughtUp(pos) {
			ready, changed = true, true
		}
		if !ready {
			continue
		}
		if once {
			if v.synced() {
				v.render(stdout)
				return nil
			}
			if time.Now().After(deadline) {
				return v.missing(booksTopic)
			}
			continue
		}
		if changed && time.Since(lastPrint) >= 250*time.Millisecond {
			if tty {
				fmt.Fprint(stdout, "\033[H\033[2J")
			}
			if len(v.books) == 0 {
				fmt.Fprintf(stdout, "waiting for %s in %s ...\n", v.name(), booksTopic)
			} else {
				v.render(stdout)
			}
			if !tty {
				fmt.Fprintln(stdout)
			}
			lastPrint = time.Now()
		}
	}
}

// bookView is what the book command shows.
type bookView struct {
	exchange, symbol string
	levels           int
	books            map[string]market.Book // by exchange as events name it
	cons             map[string]market.BBO
}

func (v *bookView) consolidated() bool { return v.exchange == "" }

func (v *bookView) name() string {
	if v.consolidated() {
		return "the venues' books of " + v.symbol
	}
	return v.exchange + " " + v.symbol
}

// wants: the symbol, and the venue by name or as its fake names it.
func (v *bookView) wants(exch, sym string) bool {
	return sym == v.symbol && (v.consolidated() || exch == v.exchange || exch == v.exchange+"-synthetic")
}

// synced: there is something right to print.
func (v *bookView) synced() bool {
	if v.consolidated() {
		_, ok := v.cons[v.symbol]
		return ok
	}
	for _, b := range v.books {
		if b.Synced {
			return true
		}
	}
	return false
}

func (v *bookView) missing(topic string) error {
	if len(v.books) == 0 {
		return fmt.Errorf("no book of %s in %s: check the spelling (BASE-QUOTE, the exchange's name), and that run, demo or process is running without --no-books", v.name(), topic)
	}
	if v.consolidated() {
		return fmt.Errorf("no consolidated best bid/ask of %s yet: it needs two or more venues listing it", v.symbol)
	}
	return fmt.Errorf("the book of %s is resyncing (the venue lost messages); try again in a moment", v.name())
}

func (v *bookView) render(w io.Writer) {
	if v.consolidated() {
		renderConsolidated(w, v.symbol, v.cons[v.symbol], v.books, v.levels)
		return
	}
	names := make([]string, 0, len(v.books))
	for n := range v.books {
		names = append(names, n)
	}
	sort.Strings(names) // the live venue before its -synthetic fake
	renderBook(w, v.books[names[0]], v.levels)
}

// renderBook prints one book: a header, then bids and asks side by side.
func renderBook(w io.Writer, b market.Book, levels int) {
	verified := "no checksum"
	if b.ChecksumVerified {
		verified = "checksum verified"
	}
	if !b.Synced {
		fmt.Fprintf(w, "%s %s  RESYNCING (the venue lost messages; the book returns with its next snapshot)\n", b.Exchange, b.Symbol)
		return
	}
	fmt.Fprintf(w, "%s %s  sequence %d  %s  %s\n", b.Exchange, b.Symbol, b.Sequence, time.UnixMicro(b.ExchangeTimeUs).UTC().Format("2006-01-02T15:04:05.000000Z"), verified)
	if len(b.Bids) > 0 && len(b.Asks) > 0 {
		diff := new(big.Rat).Sub(b.Asks[0].Price.Rat(), b.Bids[0].Price.Rat())
		spread, err := market.DecimalFromRat(diff)
		if err == nil {
			fmt.Fprintf(w, "spread %s", spread)
		}
		if b.Bids[0].Price.Cmp(b.Asks[0].Price) >= 0 {
			fmt.Fprint(w, "  CROSSED")
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%18s %18s | %-18s %-18s\n", "BID SIZE", "BID", "ASK", "ASK SIZE")
	for i := 0; i < levels && (i < len(b.Bids) || i < len(b.Asks)); i++ {
		var bs, bp, ap, as string
		if i < len(b.Bids) {
			bs, bp = b.Bids[i].Quantity.String(), b.Bids[i].Price.String()
		}
		if i < len(b.Asks) {
			ap, as = b.Asks[i].Price.String(), b.Asks[i].Quantity.String()
		}
		fmt.Fprintf(w, "%18s %18s | %-18s %-18s\n", bs, bp, ap, as)
	}
}

// renderConsolidated prints the best bid/ask across venues and the venues'
// synced books merged by price (each level names its venue).
func renderConsolidated(w io.Writer, symbol string, q market.BBO, books map[string]market.Book, levels int) {
	fmt.Fprintf(w, "%s across venues", symbol)
	if q.ExchangeTimeUs > 0 {
		fmt.Fprintf(w, ", best bid/ask as of %s", time.UnixMicro(q.ExchangeTimeUs).UTC().Format("15:04:05.000000Z"))
	}
	fmt.Fprintln(w)
	if q.HasBid || q.HasAsk {
		fmt.Fprintf(w, "best bid %s x %s on %s | best ask %s x %s on %s\n", q.BidPrice, q.BidSize, q.BidExchange, q.AskPrice, q.AskSize, q.AskExchange)
		if q.HasBid && q.HasAsk && q.BidPrice.Cmp(q.AskPrice) >= 0 {
			fmt.Fprintln(w, "crossed across venues: one venue bids at or above another's ask (an arbitrage, or a venue's feed lags)")
		}
	}
	type lv struct {
		l     market.Level
		venue string
	}
	var bids, asks []lv
	var resync []string
	for exch, b := range books {
		if !b.Synced {
			resync = append(resync, exch)
			continue
		}
		for _, l := range b.Bids {
			bids = append(bids, lv{l, exch})
		}
		for _, l := range b.Asks {
			asks = append(asks, lv{l, exch})
		}
	}
	sort.Slice(bids, func(i, j int) bool {
		if c := bids[i].l.Price.Cmp(bids[j].l.Price); c != 0 {
			return c > 0
		}
		return bids[i].venue < bids[j].venue
	})
	sort.Slice(asks, func(i, j int) bool {
		if c := asks[i].l.Price.Cmp(asks[j].l.Price); c != 0 {
			return c < 0
		}
		return asks[i].venue < asks[j].venue
	})
	fmt.Fprintf(w, "%-20s %14s %14s | %-14s %-14s %s\n", "VENUE", "BID SIZE", "BID", "ASK", "ASK SIZE", "VENUE")
	for i := 0; i < levels && (i < len(bids) || i < len(asks)); i++ {
		var bv, bs, bp, ap, as, av string
		if i < len(bids) {
			bv, bs, bp = bids[i].venue, bids[i].l.Quantity.String(), bids[i].l.Price.String()
		}
		if i < len(asks) {
			ap, as, av = asks[i].l.Price.String(), asks[i].l.Quantity.String(), asks[i].venue
		}
		fmt.Fprintf(w, "%-20s %14s %14s | %-14s %-14s %s\n", bv, bs, bp, ap, as, av)
	}
	if len(resync) > 0 {
		sort.Strings(resync)
		fmt.Fprintf(w, "resyncing (left out): %s\n", strings.Join(resync, ", "))
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
