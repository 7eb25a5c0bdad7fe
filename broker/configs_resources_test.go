package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafka-configs --describe --entity-type groups|client-metrics: describing
// group and client-metrics resources answers (with no configs), listing them
// works (ListConfigResources), and altering them is refused with a reason.
func TestGroupAndClientMetricsConfigResources(t *testing.T) {
	tb := startBroker(t)
	ctx := testCtx(t)
	cl := tb.client(kgo.DefaultProduceTopic("cfgres"), kgo.AllowAutoTopicCreation())
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group = "cfg-group"
	ct := kmsg.NewOffsetCommitRequestTopic()
	ct.Topic = "cfgres"
	cp := kmsg.NewOffsetCommitRequestTopicPartition()
	cp.Offset = 1
	ct.Partitions = append(ct.Partitions, cp)
	commit.Topics = append(commit.Topics, ct)
	if _, err := commit.RequestWith(ctx, cl); err != nil {
		t.Fatal(err)
	}

	desc := kmsg.NewPtrDescribeConfigsRequest()
	for _, r := range []struct {
		typ  kmsg.ConfigResourceType
		name string
	}{{kmsg.ConfigResourceTypeGroupConfig, "cfg-group"}, {kmsg.ConfigResourceTypeClientMetrics, "m1"}} {
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = r.typ, r.name
		desc.Resources = append(desc.Resources, rr)
	}
	dresp, err := desc.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range dresp.Resources {
		if r.ErrorCode != 0 {
			t.Errorf("describe %v %s: %v %v", r.ResourceType, r.ResourceName, kerr.ErrorForCode(r.ErrorCode), deref(r.ErrorMessage))
		}
	}

	for _, c := range []struct {
		version int16
		types   []int8
		want    []string
	}{
		{0, nil, nil},
		{1, []int8{16}, nil},
		{1, []int8{32}, []string{"cfg-group"}},
		{1, []int8{2, 4}, []string{"cfgres", "1"}},
	} {
		lr := kmsg.NewPtrListConfigResourcesRequest()
		lr.Version, lr.ResourceTypes = c.version, c.types
		lresp, err := lr.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("ListConfigResources v%d %v: %v", c.version, c.types, err)
		}
		var got []string
		for _, r := range lresp.ConfigResources {
			if r.Name != "__consumer_offsets" {
				got = append(got, r.Name)
			}
		}
		if lresp.ErrorCode != 0 || len(got) != len(c.want) || (len(got) > 0 && (got[0] != c.want[0] || got[len(got)-1] != c.want[len(c.want)-1])) {
			t.Errorf("ListConfigResources v%d %v: error %d, %v; want %v", c.version, c.types, lresp.ErrorCode, got, c.want)
		}
	}

	alter := kmsg.NewPtrIncrementalAlterConfigsRequest()
	ar := kmsg.NewIncrementalAlterConfigsRequestResource()
	ar.ResourceType, ar.ResourceName = kmsg.ConfigResourceTypeGroupConfig, "cfg-group"
	op := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	op.Name, op.Value = "consumer.session.timeout.ms", kmsg.StringPtr("50000")
	ar.Configs = append(ar.Configs, op)
	alter.Resources = append(alter.Resources, ar)
	aresp, err := alter.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if r := aresp.Resources[0]; r.ErrorCode != kerr.InvalidRequest.Code || r.ErrorMessage == nil || *r.ErrorMessage == "" {
		t.Fatalf("altering a group config: %v %v, want INVALID_REQUEST with a reason", kerr.ErrorForCode(r.ErrorCode), deref(r.ErrorMessage))
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
