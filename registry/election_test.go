package registry_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
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
	for deadline := time.Now().Add(30 * time.Second); ; {
		described, err := adm.DescribeGroups(ctx, "schema-registry")
		if err == nil && described["schema-registry"].State == "Stable" {
			g = described["schema-registry"]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the election group did not become Stable: %v %+v", err, described)
		}
		time.Sleep(50 * time.Millisecond)
	}
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
