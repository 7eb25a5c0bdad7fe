package broker

import (
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestApiVersionsUnsupportedVersionAnswersV0WithOurRange(t *testing.T) {
	tb := startBroker(t)
	rc := dialRaw(t, tb)
	// A v99 ApiVersions request: header then an arbitrary body.
	var body []byte
	body = binary.BigEndian.AppendUint16(body, 18)
	body = binary.BigEndian.AppendUint16(body, 99)
	body = binary.BigEndian.AppendUint32(body, 7)
	body = binary.BigEndian.AppendUint16(body, 0xffff) // null client id
	body = append(body, 1, 2, 3)
	rc.sendFrame(body)
	resp, err := rc.readFrame()
	if err != nil {
		t.Fatal(err)
	}
	rd := kbin.Reader{Src: resp}
	if corr := rd.Int32(); corr != 7 {
		t.Fatalf("correlation id %d", corr)
	}
	// No tag byte after the correlation id: ApiVersions responses use header v0.
	av := kmsg.NewPtrApiVersionsResponse()
	av.Version = 0
	if err := av.ReadFrom(rd.Src); err != nil {
		t.Fatal(err)
	}
	if av.ErrorCode != kerr.UnsupportedVersion.Code || len(av.ApiKeys) != 1 || av.ApiKeys[0].ApiKey != 18 || av.ApiKeys[0].MaxVersion != 4 {
		t.Fatalf("got %+v", av)
	}
}

func TestApiVersionsFlexibleHasNoHeaderTag(t *testing.T) {
	tb := startBroker(t)
	rc := dialRaw(t, tb)
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1"
	rc.sendFrame(requestBody(req, 3, 42))
	resp, err := rc.readFrame()
	if err != nil {
		t.Fatal(err)
	}
	av := kmsg.NewPtrApiVersionsResponse()
	av.Version = 3
	if err := av.ReadFrom(resp[4:]); err != nil || av.ErrorCode != 0 {
		t.Fatalf("parse v3 response right after the correlation id: %v %+v", err, av)
	}
	got := map[int16][2]int16{}
	for _, k := range av.ApiKeys {
		got[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	// Produce advertises min 0 for librdkafka; Fetch >= 13 needs topic ids.
	if got[0] != [2]int16{0, 13} || got[1][1] < 12 || got[3][1] < 12 {
		t.Fatalf("advertised ranges: %v", got)
	}
	for key := range got {
		if lookupHandler(key) == nil {
			t.Fatalf("advertised key %d has no handler", key)
		}
	}
}

func TestMalformedRequestsCloseOnlyThatConnection(t *testing.T) {
	tb := startBroker(t, func(c *Config) { c.MaxRequestBytes = 1 << 20 })
	cases := map[string][]byte{
		"unknown api key":     {0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0xff, 0xff},
		"unsupported version": append([]byte{0, 0, 0, 99, 0, 0, 0, 1, 0xff, 0xff}, make([]byte, 20)...),
		"truncated header":    {0, 3, 0},
		"truncated metadata":  {0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0, 0, 0, 5},
		"garbage produce":     {0, 0, 0, 7, 0, 0, 0, 1, 0xff, 0xff, 0xde, 0xad, 0xbe, 0xef},
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			rc := dialRaw(t, tb)
			rc.sendFrame(body)
			rc.expectClosed()
		})
	}
	t.Run("oversize frame", func(t *testing.T) {
		rc := dialRaw(t, tb)
		rc.nc.Write(binary.BigEndian.AppendUint32(nil, 2<<20))
		rc.expectClosed()
	})
	t.Run("negative frame size", func(t *testing.T) {
		rc := dialRaw(t, tb)
		rc.nc.Write([]byte{0xff, 0xff, 0xff, 0xf0})
		rc.expectClosed()
	})
	stillServes(t, tb)
}

func TestCorruptBatchIsRefusedAndNothingStored(t *testing.T) {
	tb := startBroker(t)
	if _, err := tb.admin().CreateTopic(testCtx(t), 1, 1, nil, "crc"); err != nil {
		t.Fatal(err)
	}
	good := makeBatch(t, -1, 0, 0, []string{"a", "b"})
	bad := append([]byte(nil), good...)
	bad[len(bad)-1] ^= 0xff
	resp := produceRaw(t, tb, "crc", 0, bad, -1)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.CorruptMessage.Code {
		t.Fatalf("bad CRC: error code %d, want CORRUPT_MESSAGE", code)
	}
	two := append(append([]byte(nil), good...), good...)
	if code := produceRaw(t, tb, "crc", 0, two, -1).Topics[0].Partitions[0].ErrorCode; code != kerr.InvalidRecord.Code {
		t.Fatalf("two batches: error code %d, want INVALID_RECORD", code)
	}
	resp = produceRaw(t, tb, "crc", 0, good, -1)
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("good batch after bad ones: %+v", p)
	}
	got := consumeAll(t, tb, "crc", 2)
	if len(got) != 2 || string(got[0].Value) != "a" || string(got[1].Value) != "b" {
		t.Fatalf("stored records: %v", got)
	}
}

func TestIdempotentSequenceChecks(t *testing.T) {
	tb := startBroker(t)
	if _, err := tb.admin().CreateTopic(testCtx(t), 1, 1, nil, "seq"); err != nil {
		t.Fatal(err)
	}
	pid := initProducerID(t, tb)
	b0 := makeBatch(t, pid, 0, 0, []string{"a", "b", "c"})
	b1 := makeBatch(t, pid, 0, 3, []string{"d"})
	first := produceRaw(t, tb, "seq", 0, b0, -1).Topics[0].Partitions[0]
	if first.ErrorCode != 0 || first.BaseOffset != 0 {
		t.Fatalf("first batch: %+v", first)
	}
	if p := produceRaw(t, tb, "seq", 0, b1, -1).Topics[0].Partitions[0]; p.ErrorCode != 0 || p.BaseOffset != 3 {
		t.Fatalf("second batch: %+v", p)
	}
	// A retry of the first batch is answered with its original offset and not stored again.
	if p := produceRaw(t, tb, "seq", 0, b0, -1).Topics[0].Partitions[0]; p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("duplicate: %+v, want success at offset 0", p)
	}
	gap := makeBatch(t, pid, 0, 10, []string{"x"})
	if p := produceRaw(t, tb, "seq", 0, gap, -1).Topics[0].Partitions[0]; p.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("gap: %+v, want OUT_OF_ORDER_SEQUENCE_NUMBER", p)
	}
	tb.restart()
	// After a restart the duplicate is still recognised.
	if p := produceRaw(t, tb, "seq", 0, b1, -1).Topics[0].Partitions[0]; p.ErrorCode != 0 || p.BaseOffset != 3 {
		t.Fatalf("duplicate after restart: %+v", p)
	}
	next := makeBatch(t, pid, 0, 4, []string{"e"})
	if p := produceRaw(t, tb, "seq", 0, next, -1).Topics[0].Partitions[0]; p.ErrorCode != 0 || p.BaseOffset != 4 {
		t.Fatalf("next after restart: %+v", p)
	}
	if pid2 := initProducerID(t, tb); pid2 <= pid {
		t.Fatalf("producer id %d reused after restart (had %d)", pid2, pid)
	}
	got := consumeAll(t, tb, "seq", 5)
	if len(got) != 5 {
		t.Fatalf("%d records stored, want 5", len(got))
	}
}

// librdkafka rejects a null record set ("invalid MessageSetSize -1"): an empty
// fetch answer must carry a zero-length one, as Kafka's does.
func TestEmptyFetchHasEmptyNotNullRecords(t *testing.T) {
	tb := startBroker(t)
	if _, err := tb.admin().CreateTopic(testCtx(t), 1, 1, nil, "empty"); err != nil {
		t.Fatal(err)
	}
	for _, v := range []int16{4, 11, 12, 16} {
		rc := dialRaw(t, tb)
		req := kmsg.NewPtrFetchRequest()
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic, ft.TopicID = "empty", tb.b.lookup("empty").id
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.PartitionMaxBytes = 1 << 20
		ft.Partitions = append(ft.Partitions, fp)
		req.Topics = append(req.Topics, ft)
		req.MaxWaitMillis, req.SessionEpoch = 0, -1
		rc.sendFrame(requestBody(req, v, 5))
		body, err := rc.readFrame()
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		resp := kmsg.NewPtrFetchResponse()
		resp.Version = v
		off := 4
		if req.IsFlexible() {
			off = 5
		}
		if err := resp.ReadFrom(body[off:]); err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.RecordBatches == nil {
			t.Fatalf("v%d: partition %+v: want no error and an empty, non-null record set", v, p)
		}
	}
}
