package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/auth"
)

func init() {
	register(&command{name: "users", summary: "list, create and delete SCRAM users through Kafka's APIs, like kafka-configs --entity-type users", run: runUsers})
}

func runUsers(args []string, stdout, stderr io.Writer) error {
	const usage = "Manages SCRAM users with Kafka's DescribeUserScramCredentials and AlterUserScramCredentials,\non the embedded broker or any Kafka cluster. The password is salted and iterated here; the\nbroker keeps only the derived keys. create takes the password from TICKERTAPE_NEW_PASSWORD\nor the first line of stdin, never from the command line. The first user of a new broker comes\nfrom TICKERTAPE_BOOTSTRAP_USER=name:password on tickertape serve."
	const examples = `  tickertape users list
  TICKERTAPE_NEW_PASSWORD=s3cret tickertape users create alice
  echo s3cret | tickertape users create alice --mechanism SCRAM-SHA-256 --iterations 8192
  tickertape users delete alice
  TICKERTAPE_SASL_PASSWORD=... tickertape users list --brokers localhost:9093 --tls-ca certs/ca.pem --sasl-user admin`
	var brokers, mechanism string
	var iterations int
	var timeout time.Duration
	fs := newFlagSet("users list|create|delete [flags] [USER...]", usage, examples, stderr)
	fs.StringVar(&brokers, "brokers", "127.0.0.1:9092", "comma-separated Kafka bootstrap addresses")
	fs.StringVar(&mechanism, "mechanism", "", "create, delete: SCRAM-SHA-256 or SCRAM-SHA-512 (default both)")
	fs.IntVar(&iterations, "iterations", auth.DefaultIterations, fmt.Sprintf("create: PBKDF2 iterations (%d-%d)", auth.MinIterations, auth.MaxIterations))
	fs.DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for the cluster")
	var sec clientSecurity
	sec.registerKafka(fs)
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs.Usage()
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return flag.ErrHelp
		}
		return usageError{errors.New("users needs a subcommand: list, create or delete")}
	}
	sub := args[0]
	names, err := parseWithArgs(fs, args[1:])
	if err != nil {
		return err
	}
	mechs := []kadm.ScramMechanism{kadm.ScramSha256, kadm.ScramSha512}
	if mechanism != "" {
		m, err := auth.ParseMechanism(mechanism)
		if err != nil {
			return usageError{fmt.Errorf("--mechanism: %v", err)}
		}
		mechs = []kadm.ScramMechanism{kadm.ScramMechanism(m.KafkaType())}
	}
	switch sub {
	case "list":
	case "create", "delete":
		if len(names) != 1 {
			return usageError{fmt.Errorf("users %s needs one USER", sub)}
		}
		if err := auth.ValidateName(names[0]); err != nil {
			return usageError{err}
		}
	default:
		return usageError{fmt.Errorf("unknown users subcommand %q: use list, create or delete", sub)}
	}
	if sub == "create" && (iterations < auth.MinIterations || iterations > auth.MaxIterations) {
		return usageError{fmt.Errorf("--iterations %d: Kafka accepts %d to %d", iterations, auth.MinIterations, auth.MaxIterations)}
	}
	var password string
	if sub == "create" {
		if password = os.Getenv("TICKERTAPE_NEW_PASSWORD"); password == "" {
			line, err := bufio.NewReader(os.Stdin).ReadString('\n')
			if err != nil && err != io.EOF {
				return err
			}
			password = strings.TrimRight(line, "\r\n")
		}
		if password == "" {
			return usageError{errors.New("no password: set TICKERTAPE_NEW_PASSWORD or give it on the first line of stdin")}
		}
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
		d, err := adm.DescribeUserSCRAMs(ctx, names...)
		if err != nil {
			return fmt.Errorf("describe users: %w%s", err, authHint(err))
		}
		users := make([]string, 0, len(d))
		for u := range d {
			users = append(users, u)
		}
		sort.Strings(users)
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USER\tMECHANISMS")
		for _, u := range users {
			if d[u].Err != nil {
				fmt.Fprintf(tw, "%s\t(%v)\n", u, d[u].Err)
				continue
			}
			var ms []string
			for _, ci := range d[u].CredInfos {
				ms = append(ms, fmt.Sprintf("%s (%d iterations)", ci.Mechanism, ci.Iterations))
			}
			fmt.Fprintf(tw, "%s\t%s\n", u, strings.Join(ms, ", "))
		}
		return tw.Flush()
	case "create":
		var ups []kadm.UpsertSCRAM
		for _, m := range mechs {
			ups = append(ups, kadm.UpsertSCRAM{User: names[0], Mechanism: m, Iterations: int32(iterations), Password: password})
		}
		res, err := adm.AlterUserSCRAMs(ctx, nil, ups)
		if err == nil {
			err = res[names[0]].Err
		}
		if err != nil {
			return fmt.Errorf("create user %s: %w%s", names[0], err, authHint(err))
		}
		fmt.Fprintf(stdout, "user %s: %s credentials set\n", names[0], mechList(mechs))
	case "delete":
		var dels []kadm.DeleteSCRAM
		for _, m := range mechs {
			dels = append(dels, kadm.DeleteSCRAM{User: names[0], Mechanism: m})
		}
		res, err := adm.AlterUserSCRAMs(ctx, dels, nil)
		if err == nil {
			err = res[names[0]].Err
		}
		if err != nil {
			return fmt.Errorf("delete user %s: %w%s (with one mechanism only, give --mechanism)", names[0], err, authHint(err))
		}
		fmt.Fprintf(stdout, "user %s: %s credentials deleted\n", names[0], mechList(mechs))
	}
	return nil
}

func mechList(ms []kadm.ScramMechanism) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.String())
	}
	return strings.Join(s, " and ")
}
