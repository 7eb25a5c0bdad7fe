package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tickertape/tickertape/pipeline"
)

// startStatus renders the pipeline's Snapshot on w until the returned func
// is called: a live panel on a terminal (every second), a log line every
// 10 s otherwise, or nothing (mode off).
func startStatus(mode string, w io.Writer, p *pipeline.Pipeline) func() {
	if mode == "off" {
		return func() {}
	}
	tty := false
	if f, ok := w.(*os.File); ok && mode == "auto" {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	every := 10 * time.Second
	if tty {
		every = time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		lines := 0
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			out := renderStatus(p.Snapshot())
			if tty {
				if lines > 0 {
					fmt.Fprintf(w, "\033[%dA\033[J", lines)
				}
				lines = strings.Count(out, "\n")
				fmt.Fprint(w, out)
			} else {
				fmt.Fprint(w, time.Now().UTC().Format("15:04:05 ")+strings.ReplaceAll(strings.TrimRight(out, "\n"), "\n", "\n         ")+"\n")
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// lostTrades says when backfill could not recover trades (never silent).
func lostTrades(v pipeline.VenueSnapshot) string {
	if v.BackfillIncomplete == 0 {
		return ""
	}
	if v.BackfillUnknownSize > 0 {
		return fmt.Sprintf("  TRADES LOST: %d ranges, %d trades known and %d ranges of unknown size (the venue's history is too short; see the log)",
			v.BackfillIncomplete, v.TradesMissing, v.BackfillUnknownSize)
	}
	return fmt.Sprintf("  TRADES LOST: %d ranges, %d trades (see the log)", v.BackfillIncomplete, v.TradesMissing)
}

// renderStatus is the panel's text for one snapshot.
func renderStatus(s pipeline.Snapshot) string {
	var b strings.Builder
	synthetic := map[string]bool{}
	for _, v := range s.Venues {
		prefix := "ingest  "
		if len(s.Venues) > 1 {
			prefix = fmt.Sprintf("ingest %-9s", v.Name)
		}
		fmt.Fprintf(&b, "%s %.0f trades/s  %.0f tickers/s  %.0f book updates/s  produce p50 %s p99 %s  retries %d  reconnects %d  gaps %d  backfilled %d%s\n",
			prefix, v.TradesPerSec, v.TickersPerSec, v.BookUpdatesPerSec,
			v.ProduceLatencyP50.Round(100*time.Microsecond), v.ProduceLatencyP99.Round(100*time.Microsecond), v.ProduceRetries, v.Reconnects,
			v.Gaps+v.StreamGaps, v.BackfilledTrades, lostTrades(v))
		for _, c := range v.LatestCandles {
			synthetic[c.Exchange] = v.Synthetic
		}
	}
	if c := s.Candles; c != nil {
		fmt.Fprintf(&b, "process  %d trades  %d final candles  %d late  %d dead letters  behind %d records  replay on restart %d\n",
			c.Trades, c.FinalCandles, c.Late, c.DeadLettered, c.Behind, c.Lag)
		for _, cd := range c.LatestCandles {
			if cd.Interval != "1m" {
				continue
			}
			label := ""
			if synthetic[cd.Exchange] || strings.HasSuffix(cd.Exchange, "-synthetic") {
				label = "  (synthetic)"
			}
			state := "open"
			if cd.Final {
				state = "final"
			}
			sym := cd.Symbol
			if len(s.Venues) > 1 {
				sym = strings.TrimSuffix(cd.Exchange, "-synthetic") + " " + cd.Symbol
			}
			fmt.Fprintf(&b, "  1m %-18s %s  O %s H %s L %s C %s  vol %s  vwap %s  %d trades  %s%s\n", sym,
				time.UnixMicro(cd.OpenTimeUs).UTC().Format("15:04"), cd.Open, cd.High, cd.Low, cd.Close, cd.Volume, cd.VWAP, cd.TradeCount, state, label)
		}
	}
	return b.String()
}
