package broker

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/commitlog"
	"github.com/tickertape/tickertape/internal/poll"
)

// zcValue is the value of record seq of a partition: deterministic, so the
// consumer can check every byte it got.
func zcValue(partition int32, seq uint64, n int) []byte {
	r := rand.NewChaCha8([32]byte{byte(partition), byte(seq), byte(seq >> 8), byte(seq >> 16), byte(seq >> 24)})
	b := make([]byte, n)
	r.Read(b)
	return b
}

// TestZeroCopyConsumeAcrossRollsAndDeletes: a franz-go consumer (which checks
// every batch's CRC) reads 110 MB while it is produced, across many segment
// rolls, while DeleteRecords removes the segments behind it; every record
// arrives once, in order, with the bytes produced, and the records went out
// with sendfile.
func TestZeroCopyConsumeAcrossRollsAndDeletes(t *testing.T) {
	const (
		valueSize  = 10 << 10
		perPart    = 5_500 // 2 partitions x 5,500 x 10 KiB = 110 MiB
		partitions = 2
	)
	tb := startBroker(t, func(c *Config) { c.Fsync = commitlog.FsyncPolicy{Mode: commitlog.FsyncNever} })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := tb.admin().CreateTopic(ctx, partitions, 1, map[string]*string{"segment.bytes": kadm.StringPtr(fmt.Sprint(2 << 20))}, "zc"); err != nil {
		t.Fatal(err)
	}
	before := sendfileBytes.Load()

	prod := tb.client(kgo.DefaultProduceTopic("zc"), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	prodErr := make(chan error, 1)
	go func() {
		var wg sync.WaitGroup
		var once sync.Once
		for seq := range uint64(perPart) {
			for p := range int32(partitions) {
				wg.Add(1)
				key := binary.BigEndian.AppendUint64(nil, seq)
				prod.Produce(ctx, &kgo.Record{Partition: p, Key: key, Value: zcValue(p, seq, valueSize)}, func(_ *kgo.Record, err error) {
					if err != nil {
						once.Do(func() { prodErr <- err })
					}
					wg.Done()
				})
			}
		}
		wg.Wait()
		once.Do(func() { prodErr <- nil })
	}()

	cons := tb.client(kgo.ConsumeTopics("zc"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(8<<20))
	adm := tb.admin()
	var mu sync.Mutex
	consumed := make([]int64, partitions) // next offset each partition wants
	stop := make(chan struct{})
	deleted := make(chan int, 1)
	go func() { // delete the segments behind the consumer while it reads
		n := 0
		defer func() { deleted <- n }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			os := kadm.Offsets{}
			mu.Lock()
			for p, o := range consumed {
				os.Add(kadm.Offset{Topic: "zc", Partition: int32(p), At: o})
			}
			mu.Unlock()
			if _, err := adm.DeleteRecords(ctx, os); err == nil {
				n++
			}
		}
	}()
	next := make([]uint64, partitions)
	for total := 0; total < partitions*perPart; {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before the deadline", total, partitions*perPart)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		for _, r := range fs.Records() {
			seq := binary.BigEndian.Uint64(r.Key)
			if seq != next[r.Partition] {
				t.Fatalf("partition %d: record %d after %d (lost or repeated)", r.Partition, seq, next[r.Partition])
			}
			if !bytes.Equal(r.Value, zcValue(r.Partition, seq, valueSize)) {
				t.Fatalf("partition %d record %d: value differs from what was produced", r.Partition, seq)
			}
			next[r.Partition]++
			total++
			mu.Lock()
			consumed[r.Partition] = r.Offset + 1
			mu.Unlock()
		}
	}
	close(stop)
	if err := <-prodErr; err != nil {
		t.Fatalf("produce: %v", err)
	}
	if n := <-deleted; n == 0 {
		t.Fatal("no DeleteRecords ran while consuming")
	}
	p := tb.b.lookup("zc").parts[0]
	if p.log.StartOffset() == 0 || p.log.Segments() > 10 {
		t.Fatalf("segments were not deleted behind the consumer: start %d, %d segments", p.log.StartOffset(), p.log.Segments())
	}
	if sent := sendfileBytes.Load() - before; sent < partitions*perPart*valueSize {
		t.Fatalf("only %d bytes went out with sendfile", sent)
	}
}

// TestZeroCopyRegionOfDeletedSegment: a fetch response queued behind a long
// poll on the same connection holds a region of a segment that DeleteRecords
// removes before the response is written; the response still carries that
// segment's bytes, whole and after the long poll's answer.
func TestZeroCopyRegionOfDeletedSegment(t *testing.T) {
	tb := startBroker(t)
	ctx := testCtx(t)
	adm := tb.admin()
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"segment.bytes": kadm.StringPtr("20000")}, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "idle"); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		b := makeBatch(t, -1, 0, 0, []string{string(zcValue(0, uint64(i), 9000))})
		if resp := produceRaw(t, tb, "gone", 0, b, -1); resp.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("produce: %+v", resp)
		}
	}
	p := tb.b.lookup("gone").parts[0]
	if p.log.Segments() < 3 {
		t.Fatalf("want several segments, got %d", p.log.Segments())
	}
	rc := dialRaw(t, tb)
	taken := regionsTaken.Load()
	wait := fetchRequest(tb, "idle", 1500, 1, 1<<20, 1<<20, 0)
	rc.sendFrame(requestBody(wait, 12, 1))
	data := fetchRequest(tb, "gone", 0, 1, 1<<20, 30000, 0)
	rc.sendFrame(requestBody(data, 12, 2))
	// Both are read and handled; the second's region is taken, its reply
	// waits behind the first. Delete its segment now.
	poll.Until(t, 5*time.Second, "the second fetch to take its region", func() bool { return regionsTaken.Load() > taken })
	if _, err := p.log.DeleteRecords(p.log.HighWatermark() - 1); err != nil {
		t.Fatal(err)
	}
	if p.log.StartOffset() == 0 {
		t.Fatal("nothing deleted")
	}
	for corr, check := range []func(*kmsg.FetchResponse){
		func(r *kmsg.FetchResponse) {
			if len(r.Topics[0].Partitions[0].RecordBatches) != 0 {
				t.Fatal("the long poll on an idle topic returned records")
			}
		},
		func(r *kmsg.FetchResponse) {
			got := r.Topics[0].Partitions[0].RecordBatches
			if len(got) == 0 {
				t.Fatalf("no records from the deleted segment")
			}
			// Whole batches, each one of those produced (offsets assigned by the broker).
			n := 0
			for r := got; len(r) > 0; n++ {
				b, tail, _, ok := commitlog.NextBatch(r)
				if !ok {
					t.Fatalf("batch %d is cut or corrupt", n)
				}
				recs, err := commitlog.Records(b)
				if err != nil || len(recs) != 1 || !bytes.Equal(recs[0].Value, zcValue(0, uint64(n), 9000)) {
					t.Fatalf("batch %d: %v, not the bytes produced", n, err)
				}
				r = tail
			}
			if n < 2 {
				t.Fatalf("%d batches", n)
			}
		},
	} {
		frame, err := rc.readFrame()
		if err != nil {
			t.Fatal(err)
		}
		if id := int32(binary.BigEndian.Uint32(frame)); id != int32(corr+1) {
			t.Fatalf("response %d has correlation id %d: out of order", corr+1, id)
		}
		resp := kmsg.NewPtrFetchResponse()
		resp.Version = 12
		if err := resp.ReadFrom(frame[5:]); err != nil {
			t.Fatalf("response %d: %v", corr+1, err)
		}
		check(resp)
	}
}

// TestZeroCopyOnlyWithoutTLS: on SSL and SASL_SSL listeners records are
// copied (no sendfile) and arrive intact; on SASL_PLAINTEXT they go with
// sendfile; below zeroCopyMinBytes they are copied.
func TestZeroCopyOnlyWithoutTLS(t *testing.T) {
	sb := startSecureBroker(t)
	sb.createTopic("tls", 1)
	// SSL and PLAINTEXT clients are User:ANONYMOUS here.
	sb.addACL(kmsg.ACLResourceTypeTopic, "tls", kmsg.ACLResourcePatternTypeLiteral, anonymous, kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow)
	prod := sb.admin()
	var values [][]byte
	for i := range 20 {
		v := zcValue(1, uint64(i), 30_000)
		values = append(values, v)
		if err := prod.ProduceSync(sb.ctx(), &kgo.Record{Topic: "tls", Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	consume := func(listener string) int64 {
		before := sendfileBytes.Load()
		cl := sb.client(listener, "SCRAM-SHA-512", adminUser, adminPass, kgo.ConsumeTopics("tls"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		var got [][]byte
		for len(got) < len(values) {
			fs := cl.PollFetches(sb.ctx())
			if sb.ctx().Err() != nil {
				t.Fatalf("%s: consumed %d of %d", listener, len(got), len(values))
			}
			fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("%s: %v", listener, err) })
			for _, r := range fs.Records() {
				got = append(got, r.Value)
			}
		}
		for i := range values {
			if !bytes.Equal(got[i], values[i]) {
				t.Fatalf("%s: record %d differs", listener, i)
			}
		}
		cl.Close()
		return sendfileBytes.Load() - before
	}
	for _, l := range []string{"SSL", "SASL_SSL"} {
		if n := consume(l); n != 0 {
			t.Fatalf("%s sent %d bytes with sendfile; TLS must copy", l, n)
		}
	}
	if n := consume("SASL_PLAINTEXT"); n < 20*30_000 {
		t.Fatalf("SASL_PLAINTEXT sent %d bytes with sendfile, want every record", n)
	}
	zeroCopyMinBytes.Store(1 << 30)
	defer zeroCopyMinBytes.Store(0)
	if n := consume("PLAINTEXT"); n != 0 {
		t.Fatalf("regions below zeroCopyMinBytes sent %d bytes with sendfile", n)
	}
}
