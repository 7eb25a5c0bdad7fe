package broker

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/internal/batchtest"
)

// fixCRC makes an edited batch's length and CRC32C valid again, so that only
// what the edit did to the records is wrong.
func fixCRC(b []byte) []byte {
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// lyingBatch has a valid CRC but its header declares 2 records and it holds 1.
func lyingBatch(t *testing.T) []byte {
	b := makeBatch(t, -1, 0, 0, []string{"one"})
	binary.BigEndian.PutUint32(b[23:], 1) // last offset delta
	binary.BigEndian.PutUint32(b[57:], 2) // record count
	return fixCRC(b)
}

func produceCode(t *testing.T, tb *testBroker, topic string, batch []byte) int16 {
	t.Helper()
	return produceRaw(t, tb, topic, 0, batch, -1).Topics[0].Partitions[0].ErrorCode
}

// Issue 15 item 2: batches whose CRC is right but whose records lie are
// refused with Kafka's errors, nothing is stored, and a franz-go consumer goes
// on reading the good batches around them.
func TestProduceValidatesEveryRecord(t *testing.T) {
	tb := startBroker(t)
	if _, err := tb.admin().CreateTopic(testCtx(t), 1, 1, nil, "lies"); err != nil {
		t.Fatal(err)
	}
	if code := produceCode(t, tb, "lies", makeBatch(t, -1, 0, 0, []string{"a"})); code != 0 {
		t.Fatalf("good batch: %d", code)
	}
	huge := makeBatch(t, -1, 0, 0, []string{"x"})
	binary.BigEndian.PutUint32(huge[23:], math.MaxInt32-1)
	binary.BigEndian.PutUint32(huge[57:], math.MaxInt32)
	gz := batchtest.Build(batchtest.Spec{ProducerID: -1, TimestampMs: time.Now().UnixMilli(), Codec: batchtest.Gzip, Values: []string{"x"}})
	garbage := append(append([]byte(nil), gz[:61]...), 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 9, 9, 9, 9)
	for _, tc := range []struct {
		name  string
		batch []byte
		want  int16
	}{
		{"2 declared, 1 held", lyingBatch(t), kerr.InvalidRecord.Code},
		{"2^31-1 declared", fixCRC(huge), kerr.InvalidRecord.Code},
		{"gzip garbage", fixCRC(garbage), kerr.CorruptMessage.Code},
	} {
		if code := produceCode(t, tb, "lies", tc.batch); code != tc.want {
			t.Errorf("%s: error %d (%v), want %d", tc.name, code, kerr.ErrorForCode(code), tc.want)
		}
	}
	if end := tb.b.lookup("lies").parts[0].log.EndOffset(); end != 1 {
		t.Fatalf("end offset %d after refused batches, want 1", end)
	}
	if code := produceCode(t, tb, "lies", makeBatch(t, -1, 0, 0, []string{"b"})); code != 0 {
		t.Fatalf("good batch after the lies: %d", code)
	}
	got := consumeAll(t, tb, "lies", 2)
	if len(got) != 2 || string(got[0].Value) != "a" || string(got[1].Value) != "b" || got[1].Offset != 1 {
		t.Fatalf("consumed %v", got)
	}
}

// Issue 15 item 1: a client produce to __consumer_offsets is refused as Kafka
// refuses writes to internal topics, and the next start succeeds.
func TestClientWritesToConsumerOffsetsAreRefused(t *testing.T) {
	tb := startBroker(t, fastGroups)
	ctx := testCtx(t)
	adm := tb.admin()
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "t", Partition: 0, At: 7})
	if resp, err := adm.CommitOffsets(ctx, "g", offs); err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}
	for _, b := range [][]byte{lyingBatch(t), makeBatch(t, -1, 0, 0, []string{"x"})} {
		if code := produceCode(t, tb, offsetsTopic, b); code != kerr.InvalidTopicException.Code {
			t.Fatalf("produce to %s: error %d, want INVALID_TOPIC_EXCEPTION", offsetsTopic, code)
		}
	}
	tb.restart()
	fo, err := tb.admin().FetchOffsets(testCtx(t), "g")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := fo.Lookup("t", 0); o.At != 7 {
		t.Fatalf("committed offset after restart: %+v", o)
	}
}

// Issue 15 item 1: what the replay of __consumer_offsets cannot decode (data
// written before produce validated records) is skipped and counted; commits
// before and after it come back.
func TestOffsetsReplaySkipsUnreadableBatches(t *testing.T) {
	tb := startBroker(t, fastGroups)
	ctx := testCtx(t)
	adm := tb.admin()
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	commit := func(part int32, at int64) {
		offs := kadm.Offsets{}
		offs.Add(kadm.Offset{Topic: "t", Partition: part, At: at})
		if resp, err := tb.admin().CommitOffsets(testCtx(t), "g", offs); err != nil || resp.Error() != nil {
			t.Fatalf("commit: %v %v", err, resp.Error())
		}
	}
	commit(0, 3)
	p, err := tb.b.groups.offsetsPartition("g")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.log.Append(lyingBatch(t)); err != nil { // the log itself checks only the header
		t.Fatal(err)
	}
	commit(1, 5)
	tb.restart()
	if n := tb.b.groups.skippedBatches; n != 1 {
		t.Fatalf("skipped %d batches, want 1", n)
	}
	fo, err := tb.admin().FetchOffsets(testCtx(t), "g")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := fo.Lookup("t", 0); o.At != 3 {
		t.Fatalf("offset before the bad batch: %+v", o)
	}
	if o, _ := fo.Lookup("t", 1); o.At != 5 {
		t.Fatalf("offset after the bad batch: %+v", o)
	}
}

// Issue 15 item 4: internal and protected topics cannot be deleted, nor their
// records.
func TestInternalTopicsCannotBeDeleted(t *testing.T) {
	tb := startBroker(t, fastGroups, func(c *Config) { c.ProtectedTopics = []string{"_schemas"} })
	ctx := testCtx(t)
	adm := tb.admin()
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "_schemas"); err != nil {
		t.Fatal(err)
	}
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "_schemas", Partition: 0, At: 0})
	if resp, err := adm.CommitOffsets(ctx, "g", offs); err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}
	resp, err := adm.DeleteTopics(ctx, offsetsTopic, "_schemas")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{offsetsTopic, "_schemas"} {
		if r := resp[name]; r.Err != kerr.TopicAuthorizationFailed {
			t.Errorf("delete %s: %v, want TOPIC_AUTHORIZATION_FAILED", name, r.Err)
		}
		if tb.b.lookup(name) == nil {
			t.Errorf("%s is gone", name)
		}
	}
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = offsetsTopic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Offset = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	dr, err := req.RequestWith(ctx, tb.client())
	if err != nil {
		t.Fatal(err)
	}
	if code := dr.Topics[0].Partitions[0].ErrorCode; code != kerr.InvalidTopicException.Code {
		t.Fatalf("delete records of %s: %d", offsetsTopic, code)
	}
}

// Issue 15 item 7: message.timestamp.after.max.ms is enforced, so one record
// stamped in the year 2500 cannot stop time retention of its partition.
func TestFutureTimestampsAreRefused(t *testing.T) {
	tb := startBroker(t)
	ctx := testCtx(t)
	if _, err := tb.admin().CreateTopic(ctx, 1, 1, map[string]*string{"retention.ms": kgoStr("1000"), "segment.bytes": kgoStr("200")}, "ts"); err != nil {
		t.Fatal(err)
	}
	year2500 := makeBatchAt(-1, 0, 0, 16725225600000, []string{"from the future"})
	if code := produceCode(t, tb, "ts", year2500); code != kerr.InvalidTimestamp.Code {
		t.Fatalf("year 2500: error %d, want INVALID_TIMESTAMP", code)
	}
	old := time.Now().Add(-time.Hour).UnixMilli()
	for i := 0; i < 3; i++ {
		if code := produceCode(t, tb, "ts", makeBatchAt(-1, 0, 0, old, []string{"an hour old, a hundred bytes or so of value to fill the segment quickly"})); code != 0 {
			t.Fatalf("old batch: %d", code)
		}
	}
	tb.b.ApplyRetention()
	if start := tb.b.lookup("ts").parts[0].log.StartOffset(); start == 0 {
		t.Fatal("time retention deleted nothing")
	}
	// A topic may allow the future explicitly.
	if _, err := tb.admin().AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "message.timestamp.after.max.ms", Value: kgoStr("9223372036854775807")}}, "ts"); err != nil {
		t.Fatal(err)
	}
	if code := produceCode(t, tb, "ts", makeBatchAt(-1, 0, 0, 16725225600000, []string{"allowed now"})); code != 0 {
		t.Fatalf("year 2500 with after.max.ms unlimited: %d", code)
	}
}

// Issue 15 item 9: a start writes nothing when nothing changed, so a broker
// whose disk filled up can start and serve reads. The catalogue is replaced
// by rename whenever it is written, so its inode tells.
func TestStartDoesNotRewriteTheCatalogue(t *testing.T) {
	tb := startBroker(t)
	if _, err := tb.admin().CreateTopic(testCtx(t), 1, 1, nil, "kept"); err != nil {
		t.Fatal(err)
	}
	if code := produceCode(t, tb, "kept", makeBatch(t, -1, 0, 0, []string{"v"})); code != 0 {
		t.Fatal(code)
	}
	path := filepath.Join(tb.cfg.DataDir, catalogueFile)
	inode := func() uint64 {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return st.Sys().(*syscall.Stat_t).Ino
	}
	before := inode()
	tb.restart()
	if after := inode(); after != before {
		t.Fatalf("the start rewrote the catalogue (inode %d -> %d): it would fail on a full disk", before, after)
	}
	if got := consumeAll(t, tb, "kept", 1); string(got[0].Value) != "v" {
		t.Fatalf("read after restart: %v", got)
	}
}
