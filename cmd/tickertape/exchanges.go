package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/tickertape/tickertape/exchange"
	_ "github.com/tickertape/tickertape/pipeline" // registers the built-in venues
)

func init() {
	register(&command{name: "exchanges", summary: "the exchanges tickertape connects to and what each supports", run: runExchanges})
}

func runExchanges(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("exchanges", "Lists every exchange connector: its channels, how it keeps books in sync, how far trades can be backfilled, its live endpoints and default symbols.",
		"  tickertape exchanges\n  tickertape run --exchange binance,bitstamp,coinbase,kraken,okx,poloniex", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	for _, name := range exchange.Names() {
		v, err := exchange.Lookup(name)
		if err != nil {
			return err
		}
		conn, err := v.New(exchange.Options{})
		if err != nil {
			return err
		}
		in := conn.Info()
		fake := "no"
		if v.NewFake != nil {
			fake = "yes (tickertape demo; events say " + name + "-synthetic)"
		}
		fmt.Fprintf(stdout, "%s — %s\n", name, in.Title)
		fmt.Fprintf(stdout, "  channels    %s\n", strings.Join(in.Channels, "; "))
		fmt.Fprintf(stdout, "  book sync   %s\n", in.BookSync)
		fmt.Fprintf(stdout, "  backfill    %s\n", in.Backfill)
		fmt.Fprintf(stdout, "  side        %s\n", in.SideMeaning)
		fmt.Fprintf(stdout, "  endpoints   %s  %s  (--ws-url/--rest-url %s=URL)\n", in.WSURL, in.RESTURL, name)
		if in.MaxConnAge > 0 {
			fmt.Fprintf(stdout, "  connections rolled over after %s\n", in.MaxConnAge)
		}
		fmt.Fprintf(stdout, "  symbols     like %s; default %s\n", in.SymbolExample, strings.Join(in.DefaultSymbols, ","))
		fmt.Fprintf(stdout, "  fake        %s\n\n", fake)
	}
	return nil
}
