package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(&command{name: "acl", summary: "list, create and delete ACLs through Kafka's APIs, like kafka-acls", run: runACL})
}

func runACL(args []string, stdout, stderr io.Writer) error {
	const usage = "Manages ACLs with Kafka's CreateAcls, DescribeAcls and DeleteAcls, on the embedded broker or any\nKafka cluster. Exactly one resource: --topic, --group, --transactional-id or --cluster.\nA DENY wins over any ALLOW; READ, WRITE, DELETE and ALTER also allow DESCRIBE.\nlist and delete match every ACL when a filter flag is left out."
	const examples = `  tickertape acl create --principal User:alice --operation write --operation describe --topic market.events
  tickertape acl create --principal User:alice --operation read --topic market. --pattern prefixed
  tickertape acl create --principal User:alice --operation read --group tickertape-candles
  tickertape acl create --principal User:mallory --operation all --topic secret --deny
  tickertape acl list
  tickertape acl list --principal User:alice
  tickertape acl delete --principal User:alice --topic market.events
  TICKERTAPE_SASL_PASSWORD=... tickertape acl list --brokers localhost:9093 --tls-ca certs/ca.pem --sasl-user admin`
	var brokers, principal, host, topic, group, txn, pattern string
	var cluster, deny bool
	var ops listFlag
	var timeout time.Duration
	fs := newFlagSet("acl list|create|delete [flags]", usage, examples, stderr)
	fs.StringVar(&brokers, "brokers", "127.0.0.1:9092", "comma-separated Kafka bootstrap addresses")
	fs.StringVar(&principal, "principal", "", "Type:name, e.g. User:alice (User:* for everyone; mTLS subjects as User:CN=...)")
	fs.StringVar(&host, "host", "", "client IP the ACL applies to (create: default * for any)")
	fs.Var(&ops, "operation", "read, write, create, delete, alter, describe, cluster_action, describe_configs, alter_configs, idempotent_write or all; repeatable")
	fs.StringVar(&topic, "topic", "", "the topic (or topic prefix with --pattern prefixed); * for every topic")
	fs.StringVar(&group, "group", "", "the consumer group (or prefix)")
	fs.StringVar(&txn, "transactional-id", "", "the transactional id (or prefix)")
	fs.BoolVar(&cluster, "cluster", false, "the cluster resource (kafka-cluster)")
	fs.StringVar(&pattern, "pattern", "", "literal or prefixed (create: default literal); list and delete also take any and match")
	fs.BoolVar(&deny, "deny", false, "create a DENY ACL (default ALLOW); list and delete: only DENY ACLs")
	fs.DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for the cluster")
	var sec clientSecurity
	sec.registerKafka(fs)
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs.Usage()
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return flag.ErrHelp
		}
		return usageError{errors.New("acl needs a subcommand: list, create or delete")}
	}
	sub := args[0]
	if pos, err := parseWithArgs(fs, args[1:]); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError{fmt.Errorf("unexpected argument %q (see tickertape acl --help)", pos[0])}
	}
	if sub != "list" && sub != "create" && sub != "delete" {
		return usageError{fmt.Errorf("unknown acl subcommand %q: use list, create or delete", sub)}
	}
	f := aclSpec{rt: kmsg.ACLResourceTypeAny, pt: kmsg.ACLResourcePatternTypeAny, op: kmsg.ACLOperationAny, perm: kmsg.ACLPermissionTypeAny}
	nres := 0
	for _, r := range []struct {
		set  bool
		rt   kmsg.ACLResourceType
		name string
	}{{topic != "", kmsg.ACLResourceTypeTopic, topic}, {group != "", kmsg.ACLResourceTypeGroup, group}, {txn != "", kmsg.ACLResourceTypeTransactionalId, txn}, {cluster, kmsg.ACLResourceTypeCluster, "kafka-cluster"}} {
		if r.set {
			nres++
			f.rt, f.name = r.rt, kmsg.StringPtr(r.name)
		}
	}
	if nres > 1 {
		return usageError{errors.New("give one resource: --topic, --group, --transactional-id or --cluster")}
	}
	if pattern != "" {
		pt, err := kmsg.ParseACLResourcePatternType(pattern)
		if err != nil || (sub == "create" && pt != kmsg.ACLResourcePatternTypeLiteral && pt != kmsg.ACLResourcePatternTypePrefixed) {
			return usageError{fmt.Errorf("--pattern %q: use literal or prefixed (list and delete also any or match)", pattern)}
		}
		f.pt = pt
	}
	if principal != "" {
		f.principal = &principal
	}
	if host != "" {
		f.host = &host
	}
	if deny {
		f.perm = kmsg.ACLPermissionTypeDeny
	}
	var opList []kmsg.ACLOperation
	for _, o := range ops.vals {
		op, err := kmsg.ParseACLOperation(o)
		if err != nil || op <= kmsg.ACLOperationAny {
			return usageError{fmt.Errorf("--operation %q: use read, write, create, delete, alter, describe, cluster_action, describe_configs, alter_configs, idempotent_write or all", o)}
		}
		opList = append(opList, op)
	}
	if sub == "create" {
		if nres != 1 || principal == "" || len(opList) == 0 {
			return usageError{errors.New("acl create needs --principal, at least one --operation and one resource (--topic, --group, --transactional-id or --cluster)")}
		}
		if f.pt == kmsg.ACLResourcePatternTypeAny {
			f.pt = kmsg.ACLResourcePatternTypeLiteral
		}
		if host == "" {
			f.host = kmsg.StringPtr("*")
		}
		if !deny {
			f.perm = kmsg.ACLPermissionTypeAllow
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
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	switch sub {
	case "create":
		req := kmsg.NewPtrCreateACLsRequest()
		for _, op := range opList {
			c := kmsg.NewCreateACLsRequestCreation()
			c.ResourceType, c.ResourceName, c.ResourcePatternType = f.rt, *f.name, f.pt
			c.Principal, c.Host, c.Operation, c.PermissionType = principal, *f.host, op, f.perm
			req.Creations = append(req.Creations, c)
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		var errs []error
		for i, r := range resp.Results {
			if e := kerr.ErrorForCode(r.ErrorCode); e != nil {
				msg := ""
				if r.ErrorMessage != nil {
					msg = ": " + *r.ErrorMessage
				}
				errs = append(errs, fmt.Errorf("%s %s: %w%s%s", opList[i], resourceString(f.rt, *f.name, f.pt), e, msg, authHint(e)))
			} else {
				fmt.Fprintf(stdout, "created %s %s %s for %s from %s\n", f.perm, opList[i], resourceString(f.rt, *f.name, f.pt), principal, *f.host)
			}
		}
		return errors.Join(errs...)
	case "list":
		if len(opList) > 1 {
			return usageError{errors.New("acl list takes at most one --operation")}
		}
		if len(opList) == 1 {
			f.op = opList[0]
		}
		req := kmsg.NewPtrDescribeACLsRequest()
		req.ResourceType, req.ResourceName, req.ResourcePatternType = f.rt, f.name, f.pt
		req.Principal, req.Host, req.Operation, req.PermissionType = f.principal, f.host, f.op, f.perm
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		if e := kerr.ErrorForCode(resp.ErrorCode); e != nil {
			return fmt.Errorf("describe ACLs: %w%s", e, authHint(e))
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RESOURCE\tPATTERN\tPRINCIPAL\tHOST\tOPERATION\tPERMISSION")
		for _, r := range resp.Resources {
			for _, a := range r.ACLs {
				fmt.Fprintf(tw, "%s:%s\t%s\t%s\t%s\t%s\t%s\n", strings.ToLower(r.ResourceType.String()), r.ResourceName, r.ResourcePatternType, a.Principal, a.Host, a.Operation, a.PermissionType)
			}
		}
		return tw.Flush()
	default: // delete
		req := kmsg.NewPtrDeleteACLsRequest()
		ops := opList
		if len(ops) == 0 {
			ops = []kmsg.ACLOperation{kmsg.ACLOperationAny}
		}
		for _, op := range ops {
			fl := kmsg.NewDeleteACLsRequestFilter()
			fl.ResourceType, fl.ResourceName, fl.ResourcePatternType = f.rt, f.name, f.pt
			fl.Principal, fl.Host, fl.Operation, fl.PermissionType = f.principal, f.host, op, f.perm
			req.Filters = append(req.Filters, fl)
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		n := 0
		for _, r := range resp.Results {
			if e := kerr.ErrorForCode(r.ErrorCode); e != nil {
				return fmt.Errorf("delete ACLs: %w%s", e, authHint(e))
			}
			for _, m := range r.MatchingACLs {
				n++
				fmt.Fprintf(stdout, "deleted %s %s %s for %s from %s\n", m.PermissionType, m.Operation, resourceString(m.ResourceType, m.ResourceName, m.ResourcePatternType), m.Principal, m.Host)
			}
		}
		if n == 0 {
			fmt.Fprintln(stdout, "no ACL matched")
		}
		return nil
	}
}

type aclSpec struct {
	rt              kmsg.ACLResourceType
	name            *string
	pt              kmsg.ACLResourcePatternType
	principal, host *string
	op              kmsg.ACLOperation
	perm            kmsg.ACLPermissionType
}

func resourceString(rt kmsg.ACLResourceType, name string, pt kmsg.ACLResourcePatternType) string {
	return fmt.Sprintf("on %s %s (%s)", strings.ToLower(rt.String()), name, strings.ToLower(pt.String()))
}

// authHint says what to do about an authorization error.
func authHint(err error) string {
	if errors.Is(err, kerr.ClusterAuthorizationFailed) {
		return " (connect as a super user, --super-user on the broker, or one with ALTER/DESCRIBE on the cluster)"
	}
	return ""
}
