package registry_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/internal/poll"
)

// The election group must be describable by tools that decode every group of
// protocol type "consumer" as Kafka's consumer assignments
// (kafka-consumer-groups --describe --all-groups): it has a protocol type of
// its own, and every "consumer" group's assignments parse.
func TestElectionGroupHasItsOwnProtocolType(t *testing.T) {
	ts := startStack(t)
	ctx := testCtx(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(ts.s.KafkaAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var g kadm.DescribedGroup
	var described kadm.DescribedGroups
	poll.Until(t, 30*time.Second, "the election group to become Stable", func() bool {
		described, err = adm.DescribeGroups(ctx, "schema-registry")
		g = described["schema-registry"]
		return err == nil && g.State == "Stable"
	}, func() string { return fmt.Sprintf("%v %+v", err, described) })
	if g.ProtocolType != "sr" || len(g.Members) != 1 {
		t.Fatalf("election group: protocol type %q with %d members, want \"sr\" with 1", g.ProtocolType, len(g.Members))
	}
	all, err := adm.DescribeGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, dg := range all {
		if dg.ProtocolType != "consumer" {
			continue
		}
		for _, m := range dg.Members {
			raw, _ := m.Assigned.Raw()
			var a kmsg.ConsumerMemberAssignment
			if err := a.ReadFrom(raw); err != nil {
				t.Errorf("group %s member %s: assignment is not Kafka's consumer format: %v", name, m.MemberID, err)
			}
		}
	}
}
