package broker

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/commitlog"
)

// FuzzRequest feeds arbitrary request frames (header + body) to the request
// decoder and the handlers of a real broker. Nothing may panic, and the broker
// must still serve a well-formed request afterwards.
func FuzzRequest(f *testing.F) {
	seed := []kmsg.Request{
		kmsg.NewPtrApiVersionsRequest(), kmsg.NewPtrMetadataRequest(), kmsg.NewPtrCreateTopicsRequest(),
		kmsg.NewPtrListOffsetsRequest(), kmsg.NewPtrDescribeConfigsRequest(), kmsg.NewPtrInitProducerIDRequest(),
		kmsg.NewPtrDeleteRecordsRequest(), kmsg.NewPtrOffsetForLeaderEpochRequest(), kmsg.NewPtrDescribeClusterRequest(),
	}
	for _, r := range seed {
		for v := lookupHandler(r.Key()).min; v <= lookupHandler(r.Key()).max; v++ {
			f.Add(requestBody(r, v, 1))
		}
	}
	prod := kmsg.NewPtrProduceRequest()
	prod.Acks = 1
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "fuzz"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = makeBatchAt(-1, 0, 0, 1, []string{"hello"})
	pt.Partitions = append(pt.Partitions, pp)
	prod.Topics = append(prod.Topics, pt)
	f.Add(requestBody(prod, 9, 2))
	f.Add(requestBody(prod, 3, 2))
	fetch := kmsg.NewPtrFetchRequest()
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "fuzz"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	f.Add(requestBody(fetch, 11, 3))
	f.Add(requestBody(fetch, 12, 3))

	b, err := New(Config{DataDir: f.TempDir(), Fsync: commitlog.FsyncPolicy{Mode: commitlog.FsyncNever}, Logger: discardLogger()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { b.Close(context.Background()) })
	c := newConn(b, nil, &listenerState{})
	f.Fuzz(func(t *testing.T, body []byte) {
		c.handle(body) // errors are fine (the connection would close); panics are not
		_, r, err := c.handle(requestBody(kmsg.NewPtrApiVersionsRequest(), 3, 9))
		if err != nil || r.resp == nil || r.resp.(*kmsg.ApiVersionsResponse).ErrorCode != 0 {
			t.Fatalf("broker stopped answering ApiVersions: %v", err)
		}
	})
}
