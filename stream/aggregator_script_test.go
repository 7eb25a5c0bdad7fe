package stream

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickertape/tickertape/market"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected outputs of testdata/aggregator scripts with what the Aggregator emits")

// TestAggregatorScripts runs the data-driven scripts in testdata/aggregator
// (as etcd raft and pebble test their cores): each script configures an
// Aggregator, then feeds it trades and processing-time ticks; the lines
// starting with "> " after a command are exactly the outputs it must emit,
// in order. Times are milliseconds since the epoch.
//
//	aggregator intervals=1s,2s lateness=500ms update=0s idle=10s
//	trade sym=A-B id=1 ts=1200 px=100 qty=1 [p=0] [off=auto] [now=ts]
//	tick now=5000
//	commit p=0 end=7
//	restore key=x:A-B p=0 wm=1500 end=3
//	drop p=0
//
// go test ./stream -run TestAggregatorScripts -rewrite regenerates the
// expectations (review the diff).
func TestAggregatorScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/aggregator/*.txt")
	if len(files) == 0 {
		t.Fatal("no scripts in testdata/aggregator")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runAggregatorScript(t, f) })
	}
}

func runAggregatorScript(t *testing.T, path string) {
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	fh.Close()
	var a *Aggregator
	offsets := map[int32]int64{}
	var out []string // the script as rewritten
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			out = append(out, line)
			continue
		}
		if strings.HasPrefix(trimmed, ">") {
			t.Fatalf("%s:%d: an expectation without a command", path, i+1)
		}
		out = append(out, line)
		var want []string
		for i+1 < len(lines) && strings.HasPrefix(lines[i+1], ">") {
			i++
			want = append(want, strings.TrimSpace(strings.TrimPrefix(lines[i], ">")))
		}
		fields := strings.Fields(trimmed)
		args := map[string]string{}
		for _, kv := range fields[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("%s:%d: %q is not key=value", path, i+1, kv)
			}
			args[k] = v
		}
		ms := func(k, def string) int64 {
			v := args[k]
			if v == "" {
				v = def
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("%s:%d: %s=%q: %v", path, i+1, k, v, err)
			}
			return n
		}
		dur := func(k, def string) time.Duration {
			v := args[k]
			if v == "" {
				v = def
			}
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("%s:%d: %s=%q: %v", path, i+1, k, v, err)
			}
			return d
		}
		var got []string
		switch fields[0] {
		case "aggregator":
			ivs, err := ParseIntervals(args["intervals"])
			if err != nil {
				t.Fatalf("%s:%d: %v", path, i+1, err)
			}
			a = NewAggregator(ivs, dur("lateness", "0s"), dur("update", "0s"), dur("idle", "1h"))
		case "trade":
			p := int32(ms("p", "0"))
			off := offsets[p]
			if args["off"] != "" {
				off = ms("off", "0")
			}
			offsets[p] = off + 1
			tr := &market.Trade{Exchange: "x", Symbol: args["sym"], VenueSymbol: args["sym"], TradeID: args["id"],
				Price: market.MustDecimal(args["px"]), Quantity: market.MustDecimal(args["qty"]), ExchangeTimeUs: ms("ts", "0") * 1000}
			got = formatOutputs(a.Add(tr, p, off, ms("now", args["ts"])*1000))
		case "tick":
			got = formatOutputs(a.Tick(ms("now", "0") * 1000))
		case "commit":
			off, _, wm := a.CommitState(int32(ms("p", "0")), ms("end", "0"))
			keys := make([]string, 0, len(wm))
			for k := range wm {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			s := fmt.Sprintf("offset=%d", off)
			for _, k := range keys {
				s += fmt.Sprintf(" wm[%s]=%d", k, wm[k]/1000)
			}
			got = []string{s}
		case "restore":
			a.Restore(args["key"], int32(ms("p", "0")), ms("wm", "0")*1000, ms("end", "0"))
		case "drop":
			a.Drop(int32(ms("p", "0")))
		default:
			t.Fatalf("%s:%d: unknown command %q", path, i+1, fields[0])
		}
		for _, g := range got {
			out = append(out, "> "+g)
		}
		if !*rewrite && strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:%d: %s\n got:\n  %s\nwant:\n  %s", path, i+1, trimmed, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// formatOutputs prints outputs one per line, every field of a candle.
func formatOutputs(outs []Output) []string {
	var s []string
	for _, o := range outs {
		switch {
		case o.Candle != nil:
			c := o.Candle
			kind := "update"
			if c.Final {
				kind = "final"
			}
			s = append(s, fmt.Sprintf("%s %s %s [%d,%d) O=%s H=%s L=%s C=%s V=%s QV=%s N=%d VWAP=%s p=%d", kind, c.Symbol, c.Interval,
				c.OpenTimeUs/1000, c.CloseTimeUs/1000, c.Open, c.High, c.Low, c.Close, c.Volume, c.QuoteVolume, c.TradeCount, c.VWAP, o.Partition))
		case o.Late != nil:
			s = append(s, fmt.Sprintf("late %s id=%s ts=%d for=%s p=%d", o.Late.Symbol, o.Late.TradeID, o.Late.ExchangeTimeUs/1000, strings.Join(o.LateFor, ","), o.Partition))
		}
	}
	return s
}
