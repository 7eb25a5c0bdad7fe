package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func init() {
	register(&command{name: "topics", summary: "list, create, describe or delete topics (like kafka-topics)", run: runTopics})
}

// configsFlag collects --config key=value.
type configsFlag map[string]*string

func (c configsFlag) String() string { return "" }
func (c configsFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q: want key=value", v)
	}
	c[k] = &val
	return nil
}

func runTopics(args []string, stdout, stderr io.Writer) error {
	var brokers string
	var partitions, replicas int
	var timeout time.Duration
	var internal bool
	configs := configsFlag{}
	fs := newFlagSet("topics list|create|describe|delete [flags] [TOPIC...]",
		"Administers topics on the embedded broker or any Kafka cluster.",
		`  tickertape topics list
  tickertape topics create prices --partitions 6 --config retention.ms=86400000 --config cleanup.policy=compact
  tickertape topics describe market.events market.candles
  tickertape topics delete prices --brokers kafka1:9092`, stderr)
	fs.StringVar(&brokers, "brokers", "127.0.0.1:9092", "Kafka bootstrap addresses")
	fs.IntVar(&partitions, "partitions", 1, "create: partitions")
	fs.IntVar(&replicas, "replication-factor", -1, "create: replication factor (-1: the cluster's default)")
	fs.Var(configs, "config", "create: a topic config key=value (repeatable)")
	fs.BoolVar(&internal, "internal", false, "list: include internal topics (__consumer_offsets, _schemas)")
	fs.DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for the cluster")
	var sec clientSecurity
	sec.registerKafka(fs)
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs.Usage()
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return flag.ErrHelp
		}
		return usageError{errors.New("topics needs a subcommand: list, create, describe or delete")}
	}
	sub := args[0]
	names, err := parseWithArgs(fs, args[1:])
	if err != nil {
		return err
	}
	kopts, err := sec.kafkaOpts()
	if err != nil {
		return err
	}
	if err := reachBrokers(context.Background(), strings.Split(brokers, ","), kopts...); err != nil {
		return err
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(brokers, ",")...)}, kopts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	wrap := func(err error) error { return fmt.Errorf("%w (is Kafka running at %s? set --brokers)", err, brokers) }
	switch sub {
	case "list":
		tds, err := adm.ListTopicsWithInternal(ctx)
		if err != nil {
			return wrap(err)
		}
		var out []string
		for _, td := range tds {
			if !internal && (td.IsInternal || strings.HasPrefix(td.Topic, "_")) {
				continue
			}
			out = append(out, td.Topic)
		}
		sort.Strings(out)
		for _, t := range out {
			fmt.Fprintln(stdout, t)
		}
	case "create":
		if len(names) == 0 {
			return usageError{errors.New("topics create needs a TOPIC")}
		}
		resps, err := adm.CreateTopics(ctx, int32(partitions), int16(replicas), configs, names...)
		if err != nil {
			return wrap(err)
		}
		for _, r := range resps.Sorted() {
			if r.Err != nil {
				return fmt.Errorf("create %s: %v", r.Topic, r.Err)
			}
			fmt.Fprintf(stdout, "created %s (%d partitions)\n", r.Topic, r.NumPartitions)
		}
	case "describe":
		tds, err := adm.ListTopics(ctx, names...)
		if err != nil {
			return wrap(err)
		}
		ends, _ := adm.ListEndOffsets(ctx, names...)
		starts, _ := adm.ListStartOffsets(ctx, names...)
		var cfgNames []string
		for _, td := range tds.Sorted() {
			cfgNames = append(cfgNames, td.Topic)
		}
		cfgs, _ := adm.DescribeTopicConfigs(ctx, cfgNames...)
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		for _, td := range tds.Sorted() {
			if td.Err != nil {
				return fmt.Errorf("%s: %v", td.Topic, td.Err)
			}
			fmt.Fprintf(tw, "topic %s\tid %s\tpartitions %d\n", td.Topic, td.ID, len(td.Partitions))
			if rc, err := cfgs.On(td.Topic, nil); err == nil {
				var set []string
				for _, c := range rc.Configs {
					if c.Source == 1 { // DYNAMIC_TOPIC_CONFIG: set on the topic
						set = append(set, c.Key+"="+c.MaybeValue())
					}
				}
				sort.Strings(set)
				if len(set) > 0 {
					fmt.Fprintf(tw, "  configs\t%s\n", strings.Join(set, " "))
				}
			}
			fmt.Fprintln(tw, "  PARTITION\tLEADER\tSTART\tEND\tRECORDS")
			for _, p := range td.Partitions.Sorted() {
				s, _ := starts.Lookup(td.Topic, p.Partition)
				e, _ := ends.Lookup(td.Topic, p.Partition)
				fmt.Fprintf(tw, "  %d\t%d\t%d\t%d\t%d\n", p.Partition, p.Leader, s.Offset, e.Offset, e.Offset-s.Offset)
			}
		}
		tw.Flush()
	case "delete":
		if len(names) == 0 {
			return usageError{errors.New("topics delete needs a TOPIC")}
		}
		resps, err := adm.DeleteTopics(ctx, names...)
		if err != nil {
			return wrap(err)
		}
		for _, r := range resps.Sorted() {
			if r.Err != nil {
				return fmt.Errorf("delete %s: %v", r.Topic, r.Err)
			}
			fmt.Fprintf(stdout, "deleted %s\n", r.Topic)
		}
	default:
		return usageError{fmt.Errorf("unknown topics subcommand %q: use list, create, describe or delete", sub)}
	}
	return nil
}
