package book_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/book"
	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/exchangetest"
	"github.com/tickertape/tickertape/internal/poll"
	"github.com/tickertape/tickertape/market"
	"github.com/tickertape/tickertape/pipeline"
	"github.com/tickertape/tickertape/serde"
)

// venueUnderTest is one registered venue's fake.
type venueUnderTest struct {
	name     string // registered name
	exchange string // as its events name it (<name>-synthetic)
	fake     exchangetest.Fake
}

// TestBooksEndToEnd runs every registered venue's fake through ingest into
// the embedded broker, and the book builder over it, with injected book
// gaps, checksum corruption and dropped connections, then a second builder
// joining and the first one killed. It checks that
//   - every SYNCED record of market.books is the fake's whole book at some
//     moment, at exactly its sequence where the venue's sequences are the
//     fake's, and never crossed;
//   - every venue had a gap and published it as RESYNCING (no levels);
//   - once the markets pause, each book in market.books equals the fake's;
//   - every consolidated BBO equals the brute-force best of the per-venue
//     BBOs written before it (at some point after the previous one), and
//     the last one equals the brute-force best of the fakes' books.
func TestBooksEndToEnd(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	vuts, brokers, srcl := startVenues(t, ctx, quiet)

	kopts := []kgo.Opt{kgo.SessionTimeout(time.Second), kgo.HeartbeatInterval(200 * time.Millisecond)}
	newBuilder := func() *book.Processor {
		p, err := book.New(book.Config{Brokers: brokers, Serde: serde.New(srcl), Partitions: 3, Every: 200 * time.Millisecond, Logger: quiet, KafkaOpts: kopts,
			ExactlyOnce: book.EOSOff}) // the plain mode; TestBooksExactlyOnceKilled runs the other

		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p1 := newBuilder()
	go p1.Run(ctx)
	t.Cleanup(p1.Kill)

	out := newReader(t, ctx, brokers, serde.New(srcl), false)
	wantBooks := 0
	for _, v := range vuts {
		wantBooks += len(v.fake.Sim().Symbols())
	}
	poll.Until(t, 90*time.Second, "a synced book of every symbol of every venue", func() bool { return out.syncedKeys() == wantBooks },
		func() string {
			return fmt.Sprintf("%d of %d; builder read %d records", out.syncedKeys(), wantBooks, p1.Counters.Records.Load())
		})

	poll.Until(t, 90*time.Second, "book messages applied", func() bool { return p1.Counters.BookRecords.Load() >= 300 })
	// Faults: a lost book message, a corrupted one (checksum venues), a
	// dropped connection.
	for _, v := range vuts {
		v.fake.Faults().SkipBook()
		v.fake.Faults().CorruptBook()
	}
	poll.Until(t, 90*time.Second, "every venue's book resyncing once", func() bool {
		for _, v := range vuts {
			if out.resyncing(v.exchange) == 0 {
				return false
			}
		}
		return true
	}, func() string { return out.summary() })
	for _, v := range vuts {
		v.fake.Hub().DropAll()
	}
	settle(t, out, vuts)

	// A second builder joins; once it owns partitions the first one dies.
	p2 := newBuilder()
	go p2.Run(ctx)
	t.Cleanup(p2.Kill)
	poll.Until(t, 90*time.Second, "the second builder reading", func() bool { return p2.Counters.Records.Load() > 0 })
	for _, v := range vuts {
		v.fake.Faults().SkipBook()
	}
	p1.Kill()
	at := p2.Counters.BookRecords.Load()
	poll.Until(t, 90*time.Second, "book messages applied by the second builder", func() bool { return p2.Counters.BookRecords.Load() >= at+300 })
	poll.Until(t, 90*time.Second, "the second builder publishing every book", func() bool {
		return p2.Counters.Books.Load() >= int64(wantBooks)
	}, func() string { return fmt.Sprintf("p2 wrote %d", p2.Counters.Books.Load()) })
	settle(t, out, vuts)

	if bad := out.wrongBooks(vuts); len(bad) > 0 {
		t.Fatalf("%d market.books records were not the fake's book; first: %s", len(bad), bad[0])
	}
	if bad := out.wrongConsolidated(); len(bad) > 0 {
		t.Fatalf("%d consolidated BBOs differ from the brute-force best; first: %s", len(bad), bad[0])
	}
	t.Logf("%s", out.summary())
}

// startVenues starts every registered venue's fake and ingest into an
// embedded broker; it returns the fakes, the brokers and a registry client.
func startVenues(t *testing.T, ctx context.Context, quiet *slog.Logger) ([]*venueUnderTest, []string, *sr.Client) {

	var vuts []*venueUnderTest
	var vcs []pipeline.VenueConfig
	for _, name := range exchange.Names() {
		reg, _ := exchange.Lookup(name)
		if reg.NewFake == nil {
			continue
		}
		fs, err := reg.NewFake(exchange.FakeOptions{Seed: 5, Tick: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(fs.Close)
		f, ok := fs.(exchangetest.Fake)
		if !ok {
			t.Logf("%s: its fake has no Sim; not checked", name)
			continue
		}
		o := f.Options()
		o.Logger = quiet
		conn, err := reg.New(o)
		if err != nil {
			t.Fatal(err)
		}
		var syms []string
		for _, s := range f.Sim().Symbols() {
			syms = append(syms, s.Venue)
		}
		exch := o.Exchange
		if exch == "" {
			exch = name
		}
		vuts = append(vuts, &venueUnderTest{name: name, exchange: exch, fake: f})
		vcs = append(vcs, pipeline.VenueConfig{Name: name, Symbols: syms, Connector: conn,
			Supervisor: exchange.SupervisorConfig{BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond, BackfillPages: 1000, Logger: quiet}})
	}
	if len(vuts) < 2 {
		t.Fatalf("%d venues with fakes; the consolidation needs two", len(vuts))
	}

	ingest, err := pipeline.New(pipeline.Config{
		Stack: app.Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Logger: quiet,
			Broker: broker.Config{DataDir: t.TempDir(), Logger: quiet, GroupMinSessionTimeout: 500 * time.Millisecond, NoGroupInitialRebalanceDelay: true}},
		Venues: vcs, Partitions: 3, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ictx, icancel := context.WithCancel(ctx)
	idone, istopped := make(chan error, 1), make(chan struct{})
	go func() { idone <- ingest.Run(ictx); close(istopped) }()
	t.Cleanup(func() { icancel(); <-istopped })
	select {
	case err := <-idone:
		t.Fatal(err)
	case <-ingest.Ready():
	}
	brokers, registryURL := ingest.Info().Brokers, ingest.Info().RegistryURL
	srcl, _ := sr.NewClient(sr.URLs(registryURL))

	return vuts, brokers, srcl
}

// settle pauses every market and waits until each venue's latest book in
// market.books equals its fake's, and every consolidated BBO equals the
// brute-force best of the fakes' books.
func settle(t *testing.T, out *reader, vuts []*venueUnderTest) {
	t.Helper()
	for _, v := range vuts {
		v.fake.Sim().Pause()
	}
	defer func() {
		for _, v := range vuts {
			v.fake.Sim().Resume()
		}
	}()
	var why string
	poll.Until(t, 90*time.Second, "market.books and market.bbo equal to the fakes' books", func() bool {
		why = out.compare(vuts)
		return why == ""
	}, func() string { return why })
}

// reader collects market.books and market.bbo from their start.
type reader struct {
	mu    sync.Mutex
	books []market.Book
	bbos  map[int32][]market.BBO // per partition, in offset order
}

func newReader(t *testing.T, ctx context.Context, brokers []string, sd *serde.Serde, readCommitted bool) *reader {
	r := &reader{bbos: map[int32][]market.BBO{}}
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("market.books", "market.bbo"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100 * time.Millisecond), kgo.MetadataMinAge(100 * time.Millisecond)}
	if readCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done; cl.Close() })
	go func() {
		defer close(done)
		for rctx.Err() == nil {
			fs := cl.PollFetches(rctx)
			fs.EachRecord(func(rec *kgo.Record) {
				var m map[string]any
				switch rec.Topic {
				case "market.books":
					if err := sd.Decode(rctx, rec.Value, market.BookSchema, &m); err != nil {
						t.Errorf("market.books record: %v", err)
						return
					}
					b, err := market.BookFromMap(m)
					if err != nil {
						t.Errorf("market.books record: %v", err)
					}
					if string(rec.Key) != b.Key() {
						t.Errorf("market.books key %q for %s", rec.Key, b.Key())
					}
					r.mu.Lock()
					r.books = append(r.books, b)
					r.mu.Unlock()
				case "market.bbo":
					if err := sd.Decode(rctx, rec.Value, market.BBOSchema, &m); err != nil {
						t.Errorf("market.bbo record: %v", err)
						return
					}
					q, err := market.BBOFromMap(m)
					if err != nil || string(rec.Key) != q.Symbol {
						t.Errorf("market.bbo record key %q: %+v, %v", rec.Key, q, err)
					}
					r.mu.Lock()
					r.bbos[rec.Partition] = append(r.bbos[rec.Partition], q)
					r.mu.Unlock()
				}
			})
		}
	}()
	return r
}

func (r *reader) latest() map[string]market.Book {
	out := map[string]market.Book{}
	for _, b := range r.books {
		out[b.Key()] = b
	}
	return out
}

func (r *reader) syncedKeys() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, b := range r.latest() {
		if b.Synced {
			n++
		}
	}
	return n
}

func (r *reader) resyncing(exch string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, b := range r.books {
		if b.Exchange == exch && !b.Synced {
			n++
		}
	}
	return n
}

func (r *reader) summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	synced, resync := map[string]int{}, map[string]int{}
	for _, b := range r.books {
		if b.Synced {
			synced[b.Exchange]++
		} else {
			resync[b.Exchange]++
		}
	}
	n := 0
	for _, qs := range r.bbos {
		n += len(qs)
	}
	return fmt.Sprintf("market.books synced records %v, resyncing %v; market.bbo records %d", synced, resync, n)
}

func canonLevels(ls []market.Level) map[string]string {
	m := map[string]string{}
	for _, l := range ls {
		m[exchangetest.Canon(l.Price)] = exchangetest.Canon(l.Quantity)
	}
	return m
}

func simSymbol(v *venueUnderTest, normalized string) (exchangetest.SimSymbol, bool) {
	for _, s := range v.fake.Sim().Symbols() {
		if s.Normalized() == normalized {
			return s, true
		}
	}
	return exchangetest.SimSymbol{}, false
}

func venueOf(vuts []*venueUnderTest, exch string) *venueUnderTest {
	for _, v := range vuts {
		if v.exchange == exch {
			return v
		}
	}
	return nil
}

// compare is "" when every latest book equals its fake's and the latest
// consolidated BBO of every shared symbol equals the brute-force best.
func (r *reader) compare(vuts []*venueUnderTest) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	latest := r.latest()
	type side struct{ price, size, venue string }
	type best struct{ bid, ask *side }
	truth := map[string][]market.BBO{} // symbol → venue BBOs from the fakes
	for _, v := range vuts {
		for _, s := range v.fake.Sim().Symbols() {
			bids, asks := v.fake.Sim().Book(s.Venue)
			key := market.EventKey(v.exchange, s.Normalized())
			b, ok := latest[key]
			if !ok || !b.Synced {
				return key + ": not synced in market.books"
			}
			if exchangetest.BookHash(bids, asks) != exchangetest.BookHash(canonLevels(b.Bids), canonLevels(b.Asks)) {
				return fmt.Sprintf("%s: market.books has %d/%d levels at sequence %d, not the fake's %d/%d", key, len(b.Bids), len(b.Asks), b.Sequence, len(bids), len(asks))
			}
			truth[s.Normalized()] = append(truth[s.Normalized()], bruteVenue(v.exchange, bids, asks))
		}
	}
	cons := map[string]market.BBO{}
	for _, qs := range r.bbos {
		for _, q := range qs {
			if q.Consolidated {
				cons[q.Symbol] = q
			}
		}
	}
	for sym, vs := range truth {
		if len(vs) < 2 {
			continue
		}
		want := brute(vs)
		got, ok := cons[sym]
		if !ok {
			return sym + ": no consolidated BBO"
		}
		if !sameBBO(got, want) {
			return fmt.Sprintf("%s: consolidated %s, brute force over the fakes %s", sym, showBBO(got), showBBO(want))
		}
	}
	return ""
}

// bruteVenue is a venue's BBO from a fake's canonical book.
func bruteVenue(exch string, bids, asks map[string]string) market.BBO {
	q := market.BBO{Exchange: exch}
	for p, s := range bids {
		pd := market.MustDecimal(p)
		if !q.HasBid || pd.Cmp(q.BidPrice) > 0 {
			q.BidPrice, q.BidSize, q.HasBid, q.BidExchange = pd, market.MustDecimal(s), true, exch
		}
	}
	for p, s := range asks {
		pd := market.MustDecimal(p)
		if !q.HasAsk || pd.Cmp(q.AskPrice) < 0 {
			q.AskPrice, q.AskSize, q.HasAsk, q.AskExchange = pd, market.MustDecimal(s), true, exch
		}
	}
	return q
}

// brute is the best across venues by exhaustive comparison: highest bid
// (lowest ask), then the larger size, then the venue name first in order.
func brute(vs []market.BBO) market.BBO {
	sorted := append([]market.BBO(nil), vs...)
	var out market.BBO
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.HasBid != b.HasBid {
			return a.HasBid
		}
		if c := a.BidPrice.Cmp(b.BidPrice); c != 0 {
			return c > 0
		}
		if c := a.BidSize.Cmp(b.BidSize); c != 0 {
			return c > 0
		}
		return a.Exchange < b.Exchange
	})
	if sorted[0].HasBid {
		out.HasBid, out.BidPrice, out.BidSize, out.BidExchange = true, sorted[0].BidPrice, sorted[0].BidSize, sorted[0].Exchange
	}
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.HasAsk != b.HasAsk {
			return a.HasAsk
		}
		if c := a.AskPrice.Cmp(b.AskPrice); c != 0 {
			return c < 0
		}
		if c := a.AskSize.Cmp(b.AskSize); c != 0 {
			return c > 0
		}
		return a.Exchange < b.Exchange
	})
	if sorted[0].HasAsk {
		out.HasAsk, out.AskPrice, out.AskSize, out.AskExchange = true, sorted[0].AskPrice, sorted[0].AskSize, sorted[0].Exchange
	}
	return out
}

func sameBBO(a, b market.BBO) bool {
	return a.HasBid == b.HasBid && a.HasAsk == b.HasAsk && a.BidExchange == b.BidExchange && a.AskExchange == b.AskExchange &&
		a.BidPrice.Equal(b.BidPrice) && a.BidSize.Equal(b.BidSize) && a.AskPrice.Equal(b.AskPrice) && a.AskSize.Equal(b.AskSize)
}

func showBBO(q market.BBO) string {
	return fmt.Sprintf("bid %s %s@%s ask %s %s@%s", q.BidExchange, q.BidSize, q.BidPrice, q.AskExchange, q.AskSize, q.AskPrice)
}

// wrongBooks lists SYNCED records that are not a whole book the fake had
// (at their exact sequence when the fake knows that sequence), and crossed
// ones.
func (r *reader) wrongBooks(vuts []*venueUnderTest) []string {
	r.mu.Lock()
	books := append([]market.Book(nil), r.books...)
	r.mu.Unlock()
	var bad []string
	for _, b := range books {
		if !b.Synced {
			if len(b.Bids)+len(b.Asks) > 0 {
				bad = append(bad, b.Key()+": a RESYNCING record with levels")
			}
			continue
		}
		if len(b.Bids) > 0 && len(b.Asks) > 0 && b.Bids[0].Price.Cmp(b.Asks[0].Price) >= 0 {
			bad = append(bad, fmt.Sprintf("%s seq %d: crossed", b.Key(), b.Sequence))
			continue
		}
		v := venueOf(vuts, b.Exchange)
		if v == nil {
			bad = append(bad, b.Key()+": unknown venue")
			continue
		}
		s, ok := simSymbol(v, b.Symbol)
		if !ok || s.Venue != b.VenueSymbol {
			bad = append(bad, b.Key()+": unknown symbol")
			continue
		}
		h := exchangetest.BookHash(canonLevels(b.Bids), canonLevels(b.Asks))
		if at, ok := v.fake.Sim().BookHashAt(s.Venue, b.Sequence); ok && at == h {
			continue // the fake's book at exactly this sequence
		}
		var cur int64
		v.fake.Sim().Locked(func() { cur = v.fake.Sim().BookLocked(s.Venue).Seq })
		found := false
		for seq := cur; seq >= max(cur-20000, 0) && !found; seq-- {
			at, ok := v.fake.Sim().BookHashAt(s.Venue, seq)
			found = ok && at == h
		}
		if !found {
			bad = append(bad, fmt.Sprintf("%s seq %d (offset %d): not a book the fake ever had", b.Key(), b.Sequence, b.SourceOffset))
		}
	}
	return bad
}

// wrongConsolidated checks each consolidated record against the
// brute-force best of the per-venue records before it in its partition,
// at some prefix no earlier than the previous consolidated record's.
func (r *reader) wrongConsolidated() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var bad []string
	for part, qs := range r.bbos {
		// Per symbol, a cursor into the partition and the per-venue BBOs
		// before it; it only moves forward.
		type cursor struct {
			j      int
			latest map[string]market.BBO
		}
		curs := map[string]*cursor{}
		for k, q := range qs {
			if !q.Consolidated {
				continue
			}
			c := curs[q.Symbol]
			if c == nil {
				c = &cursor{latest: map[string]market.BBO{}}
				curs[q.Symbol] = c
			}
			matched := false
			for {
				if len(c.latest) >= 2 {
					vs := make([]market.BBO, 0, len(c.latest))
					for _, v := range c.latest {
						vs = append(vs, v)
					}
					if sameBBO(brute(vs), q) {
						matched = true
						break
					}
				}
				if c.j >= k {
					break
				}
				if v := qs[c.j]; !v.Consolidated && v.Symbol == q.Symbol {
					c.latest[v.Exchange] = v
				}
				c.j++
			}
			if !matched {
				bad = append(bad, fmt.Sprintf("partition %d record %d %s: %s", part, k, q.Symbol, showBBO(q)))
			}
		}
	}
	return bad
}
