package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/serde"
)

func init() {
	register(&command{name: "consume", summary: "print a topic's records decoded through the schema registry, one JSON object per line", run: runConsume})
}

func runConsume(args []string, stdout, stderr io.Writer) error {
	var topic, brokers, registry, group, filter string
	var fromBeginning, raw, printKey, printType, uncommitted bool
	var maxRecs int
	var timeout time.Duration
	fs := newFlagSet("consume -t TOPIC [flags]",
		"Prints the records of a topic as JSON lines: Avro, JSON Schema and Protobuf values decoded\nthrough the schema registry (Avro decimals as exact strings, timestamps as RFC 3339 UTC; Protobuf\nin its JSON mapping with the .proto field names). Records that are not in the Confluent\nwire format are printed as {\"_raw\": ...}. Without --group it reads every partition on its own.\nIt reads committed records only (isolation.level=read_committed): records of transactions that\nare open or were aborted are not printed unless --read-uncommitted.\nIt fails within a few seconds if the brokers or (unless --raw) the registry cannot be reached.",
		`  tickertape consume -t market.events --from-beginning --max 10
  tickertape consume -t market.candles --filter final=true
  tickertape consume --topic market.events --print-key --print-type --max 3
  tickertape consume -t market.events --raw --max 3                # no registry needed
  tickertape consume -t market.candles --filter interval=1m | jq -r '[.symbol, .close] | @tsv'
  tickertape consume -t market.events --group my-reader --brokers kafka1:9092 --registry http://registry:8081`, stderr)
	fs.StringVar(&topic, "topic", "", "topic to read (required)")
	aliasFlag(fs, "t", "topic")
	fs.StringVar(&brokers, "brokers", "127.0.0.1:9092", "Kafka bootstrap addresses")
	fs.StringVar(&registry, "registry", "http://127.0.0.1:8081", "schema registry URL")
	fs.StringVar(&group, "group", "", "consume as this consumer group (committing offsets)")
	fs.BoolVar(&fromBeginning, "from-beginning", false, "start at the oldest record (without --group, the default is new records only)")
	fs.IntVar(&maxRecs, "max", 0, "stop after this many records (0: no limit)")
	fs.DurationVar(&timeout, "timeout", 0, "stop when no record arrives for this long (0: wait forever); exit status 1 if nothing was printed")
	fs.BoolVar(&raw, "raw", false, "print values as they are stored ({\"_raw\": text} or {\"_raw_base64\": ...}), without the registry")
	fs.BoolVar(&printKey, "print-key", false, "add the record's key as \"_key\" (text, or base64 as \"_key_base64\")")
	fs.BoolVar(&printType, "print-type", false, "add the value's Avro type (e.g. tickertape.market.Trade) as \"_type\"")
	var sec clientSecurity
	sec.register(fs)
	fs.BoolVar(&uncommitted, "read-uncommitted", false, "also print records of open and aborted transactions (isolation.level=read_uncommitted)")
	fs.StringVar(&filter, "filter", "", "print only records whose top-level field equals a value, e.g. final=true or symbol=BTC-USDT")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if topic == "" {
		return usageError{errors.New("consume needs -t TOPIC (or --topic TOPIC)")}
	}
	fkey, fval, hasFilter := strings.Cut(filter, "=")
	if filter != "" && !hasFilter {
		return usageError{fmt.Errorf("--filter %q: want field=value", filter)}
	}
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
	if err := reachBrokers(ctx, strings.Split(brokers, ","), kopts...); err != nil {
		return err
	}
	if !raw {
		if err := reachRegistry(ctx, registry, sopts...); err != nil {
			return fmt.Errorf("%w, or add --raw to print the stored bytes undecoded", err)
		}
	}
	opts := []kgo.Opt{kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted())}
	if uncommitted {
		opts[2] = kgo.FetchIsolationLevel(kgo.ReadUncommitted())
	}
	if fromBeginning {
		opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	} else {
		opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	}
	if group != "" {
		opts = append(opts, kgo.ConsumerGroup(group))
	}
	cl, err := kgo.NewClient(append(opts, kopts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	enc := json.NewEncoder(stdout)
	printed := 0
	last := time.Now()
	for {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				fmt.Fprintf(stderr, "tickertape: %s/%d: %v\n", t, p, err)
			}
		})
		for _, r := range fs.Records() {
			last = time.Now()
			var v any = serde.RawJSON(r.Value)
			if !raw {
				if v, err = decodeValue(ctx, sd, r.Value, stderr); err != nil {
					return fmt.Errorf("%w, or add --raw to print the stored bytes undecoded", err)
				}
			}
			if printKey || printType {
				v = withMeta(ctx, sd, v, r, printKey, printType && !raw)
			}
			if hasFilter {
				m, ok := v.(map[string]any)
				if !ok || fmt.Sprint(m[fkey]) != fval {
					continue
				}
			}
			if err := enc.Encode(v); err != nil {
				return err
			}
			printed++
			if maxRecs > 0 && printed >= maxRecs {
				return nil
			}
		}
		if timeout > 0 && time.Since(last) > timeout {
			if printed == 0 {
				return fmt.Errorf("no record in %s within %s (is anything producing to it? --from-beginning reads what is already there)", topic, timeout)
			}
			return nil
		}
	}
}

// decodeValue is the record's JSON view. The error is for a registry that
// cannot be reached, which ends the command: a record that cannot be decoded
// is reported on stderr and printed raw.
func decodeValue(ctx context.Context, sd *serde.Serde, b []byte, stderr io.Writer) (any, error) {
	v, err := sd.DecodeJSON(ctx, b)
	if err != nil {
		if isUnreachable(err) {
			return nil, fmt.Errorf("lost the schema registry: %v", shortNetError(err))
		}
		fmt.Fprintf(stderr, "tickertape: a record could not be decoded: %v\n", err)
	}
	return v, nil
}

// withMeta adds the record's key ("_key", or "_key_base64" when it is not
// text; null when there is none) and the value's Avro type ("_type").
func withMeta(ctx context.Context, sd *serde.Serde, v any, r *kgo.Record, key, typ bool) any {
	m, ok := v.(map[string]any)
	if !ok {
		m = map[string]any{"_value": v}
	}
	if key {
		switch {
		case r.Key == nil:
			m["_key"] = nil
		case utf8.Valid(r.Key):
			m["_key"] = string(r.Key)
		default:
			m["_key_base64"] = base64.StdEncoding.EncodeToString(r.Key)
		}
	}
	if typ {
		if name, ok := sd.TypeName(ctx, r.Value); ok { // JSON Schema and Protobuf
			m["_type"] = name
		} else if id, _, err := serde.ParseHeader(r.Value); err == nil {
			if s, err := sd.WriterSchema(ctx, id); err == nil {
				if n, ok := s.(avro.NamedSchema); ok {
					m["_type"] = n.FullName()
				} else {
					m["_type"] = string(s.Type())
				}
			}
		}
	}
	return m
}
