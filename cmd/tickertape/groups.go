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
	register(&command{name: "groups", summary: "list, describe or delete consumer groups (like kafka-consumer-groups)", run: runGroups})
}

func runGroups(args []string, stdout, stderr io.Writer) error {
	const usage = "Lists consumer groups, describes them (state, members, assignments, committed offsets,\nend offsets and lag per partition), or deletes empty ones. Classic groups and KIP-848\nconsumer groups (group.protocol=consumer) are both shown. Works against the embedded\nbroker or any Kafka cluster."
	const examples = `  tickertape groups list
  tickertape groups describe tickertape-candles    # the candle processor's group
  tickertape groups describe --brokers kafka1:9092,kafka2:9092 candles other-group
  tickertape groups delete old-group`
	var brokers string
	var timeout time.Duration
	fs := newFlagSet("groups list|describe|delete [flags] [GROUP...]", usage, examples, stderr)
	fs.StringVar(&brokers, "brokers", "127.0.0.1:9092", "comma-separated Kafka bootstrap addresses")
	fs.DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for the cluster")
	var sec clientSecurity
	sec.registerKafka(fs)
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fs.Usage()
			return flag.ErrHelp
		}
		fs.Usage()
		return usageError{errors.New("groups needs a subcommand: list, describe or delete")}
	}
	sub := args[0]
	groups, err := parseWithArgs(fs, args[1:])
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
	switch sub {
	case "list":
		listed, err := adm.ListGroups(ctx)
		if err != nil {
			return fmt.Errorf("list groups on %s: %w", brokers, err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "GROUP\tSTATE\tPROTOCOL TYPE")
		for _, g := range listed.Sorted() {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", g.Group, g.State, g.ProtocolType)
		}
		return tw.Flush()
	case "describe":
		if len(groups) == 0 {
			listed, err := adm.ListGroups(ctx)
			if err != nil {
				return fmt.Errorf("list groups on %s: %w", brokers, err)
			}
			groups = listed.Groups()
		}
		lags, err := adm.Lag(ctx, groups...)
		if err != nil {
			return fmt.Errorf("describe groups on %s: %w", brokers, err)
		}
		// KIP-848 consumer groups (group.protocol=consumer): members and
		// assignments come from ConsumerGroupDescribe. Brokers without it
		// answer with errors, and every group is shown as classic.
		cgs, _ := adm.DescribeConsumerGroups(ctx, groups...)
		return printLags(stdout, groups, lags, cgs, brokers)
	case "delete":
		if len(groups) == 0 {
			return usageError{errors.New("groups delete needs at least one group name")}
		}
		res, err := adm.DeleteGroups(ctx, groups...)
		if err != nil {
			return fmt.Errorf("delete groups on %s: %w", brokers, err)
		}
		var errs []error
		for _, g := range groups {
			if r := res[g]; r.Err != nil {
				errs = append(errs, fmt.Errorf("%s: %w (a group must have no members to be deleted)", g, r.Err))
			} else {
				fmt.Fprintf(stdout, "deleted group %s\n", g)
			}
		}
		return errors.Join(errs...)
	default:
		return usageError{fmt.Errorf("unknown groups subcommand %q: use list, describe or delete", sub)}
	}
}

func printLags(w io.Writer, groups []string, lags kadm.DescribedGroupLags, cgs kadm.DescribedConsumerGroups, brokers string) error {
	sort.Strings(groups)
	var missing []error
	printed := 0
	for _, name := range groups {
		gl, ok := lags[name]
		cg, is848 := cgs[name]
		is848 = is848 && cg.Err == nil
		if ok && !is848 && gl.Error() == nil && gl.State == "Dead" && len(gl.Members) == 0 && len(gl.Lag) == 0 {
			// What a group that never existed (or was deleted) looks like.
			missing = append(missing, fmt.Errorf("group %s does not exist on %s (tickertape groups list shows the groups there)", name, brokers))
			continue
		}
		if printed > 0 {
			fmt.Fprintln(w)
		}
		printed++
		if !ok || gl.Error() != nil {
			fmt.Fprintf(w, "group %s: %v\n", name, gl.Error())
			continue
		}
		owner := map[string]map[int32]string{}
		if is848 {
			fmt.Fprintf(w, "group %s  state %s  protocol consumer (KIP-848, assignor %s, epoch %d)  members %d  total lag %d\n", name, cg.State, cg.AssignorName, cg.Epoch, len(cg.Members), gl.Lag.Total())
			for _, m := range cg.Members {
				for _, t := range m.Assignment.Sorted() {
					if owner[t.Topic] == nil {
						owner[t.Topic] = map[int32]string{}
					}
					for _, p := range t.Partitions {
						owner[t.Topic][p] = m.MemberID + " (" + m.ClientID + ")"
					}
				}
			}
		} else {
			fmt.Fprintf(w, "group %s  state %s  protocol %s  members %d  total lag %d\n", name, gl.State, gl.Protocol, len(gl.Members), gl.Lag.Total())
		}
		for _, m := range gl.Members {
			if ca, ok := m.Assigned.AsConsumer(); ok {
				for _, t := range ca.Topics {
					if owner[t.Topic] == nil {
						owner[t.Topic] = map[int32]string{}
					}
					for _, p := range t.Partitions {
						owner[t.Topic][p] = m.MemberID + " (" + m.ClientID + ")"
					}
				}
			}
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tMEMBER")
		for _, l := range gl.Lag.Sorted() {
			committed := "-"
			if l.Commit.At >= 0 {
				committed = fmt.Sprint(l.Commit.At)
			}
			member := owner[l.Topic][l.Partition]
			if member == "" {
				member = "-"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%s\n", l.Topic, l.Partition, committed, l.End.Offset, l.Lag, member)
		}
		tw.Flush()
	}
	return errors.Join(missing...)
}
