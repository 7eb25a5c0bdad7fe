// Command loadgen is a franz-go producer/consumer load generator for
// benchmarks: it creates a topic, produces fixed-size records for a duration
// (acks=all, idempotent), records per-record produce latency, then optionally
// consumes the topic from the start, and prints one JSON line of results.
//
// With -batch-records N it produces synchronously instead: batches of N
// records, each to one partition in turn, the next batch sent when the last is
// acknowledged; with -txn-batches K as well, a transaction commits every K
// batches (K=0: idempotent, the baseline); with -pause P as well, it sleeps P
// before each batch (or transaction), which measures a produce that starts
// on an idle machine, as at the pipeline's demo pace. With -tls-ca the client speaks TLS
// and trusts that CA.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/bench/internal/latency"
)

type result struct {
	Records       int64   `json:"records"`
	Seconds       float64 `json:"seconds"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	P50Ms         float64 `json:"p50_ms"`
	P99Ms         float64 `json:"p99_ms"`
	P999Ms        float64 `json:"p999_ms"`
	Errors        int64   `json:"errors"`
	ConsumeMBps   float64 `json:"consume_mb_per_sec,omitempty"`
	// Broker CPU (user+system, from /proc/<server-pid>/stat) per GB of
	// record values produced in the measured window and consumed.
	ProduceCPUPerGB float64 `json:"produce_cpu_s_per_gb,omitempty"`
	ConsumeCPUPerGB float64 `json:"consume_cpu_s_per_gb,omitempty"`
}

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "seed broker")
	topic := flag.String("topic", "bench", "topic")
	partitions := flag.Int("partitions", 6, "partitions of the topic")
	size := flag.Int("record-bytes", 1024, "record value size")
	dur := flag.Duration("duration", 10*time.Second, "how long to produce")
	rate := flag.Int("rate", 0, "records per second (0 = as fast as possible)")
	consume := flag.Bool("consume", true, "consume the topic afterwards and report MB/s")
	codec := flag.String("compression", "none", "batch compression: none, zstd, gzip, lz4 or snappy")
	warmup := flag.Duration("warmup", 0, "produce for this long first, leaving it out of the results (JIT and page-cache warm-up)")
	tlsCA := flag.String("tls-ca", "", "speak TLS to the brokers, trusting this PEM CA")
	batch := flag.Int("batch-records", 0, "produce synchronously in batches of this many records, one partition per batch (0 = asynchronously, the default)")
	serverPid := flag.Int("server-pid", 0, "the broker's process id: report its CPU seconds per GB produced and consumed (from /proc)")
	pause := flag.Duration("pause", 0, "with -batch-records: sleep this long before each unit (batch or transaction), so each starts on an idle machine, as at a demo pace")
	txnBatches := flag.Int("txn-batches", 0, "with -batch-records: commit a transaction every this many batches (0 = idempotent, no transactions)")
	flag.Parse()
	if *pause > 0 && *batch == 0 {
		must(fmt.Errorf("-pause needs -batch-records"))
	}
	if *txnBatches > 0 && *batch == 0 {
		must(fmt.Errorf("-txn-batches needs -batch-records"))
	}

	ctx := context.Background()
	opts := []kgo.Opt{kgo.SeedBrokers(*brokers), kgo.DefaultProduceTopic(*topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchCompression(compression(*codec)),
		kgo.MaxBufferedRecords(100_000)}
	if *tlsCA != "" {
		pem, err := os.ReadFile(*tlsCA)
		must(err)
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			must(fmt.Errorf("%s: no PEM certificate in it", *tlsCA))
		}
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	}
	if *batch > 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	}
	if *txnBatches > 0 {
		opts = append(opts, kgo.TransactionalID(fmt.Sprintf("loadgen-%s-%d", *topic, os.Getpid())), kgo.TransactionTimeout(time.Minute))
	}
	cl, err := kgo.NewClient(opts...)
	must(err)
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, int32(*partitions), 1, nil, *topic); err != nil {
		must(fmt.Errorf("create topic: %w", err))
	}
	value := make([]byte, *size)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	if *batch > 0 {
		res := produceBatches(ctx, cl, value, *partitions, *batch, *txnBatches, *pause, *warmup, *dur)
		cl.Close()
		json.NewEncoder(os.Stdout).Encode(res)
		return
	}
	var (
		mu    sync.Mutex
		lats  []time.Duration
		errs  atomic.Int64
		count atomic.Int64
		total atomic.Int64
		wg    sync.WaitGroup
	)
	start := time.Now()
	measureFrom := start.Add(*warmup)
	deadline := measureFrom.Add(*dur)
	// At a fixed rate record i is due at start + i/rate; latency counts from
	// that moment, so a broker that falls behind is charged for the queueing it
	// causes (no coordinated omission).
	var i int64
	cpuFrom := -1.0
	for time.Now().Before(deadline) {
		sent := time.Now()
		if cpuFrom < 0 && !sent.Before(measureFrom) {
			cpuFrom = cpuSeconds(*serverPid)
		}
		if *rate > 0 {
			due := start.Add(time.Duration(i * int64(time.Second) / int64(*rate)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
			sent = due
			i++
		}
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err == nil {
				total.Add(1)
			}
			if sent.Before(measureFrom) {
				return
			}
			if err != nil {
				errs.Add(1)
				return
			}
			count.Add(1)
			l := time.Since(sent)
			mu.Lock()
			lats = append(lats, l)
			mu.Unlock()
		})
	}
	wg.Wait()
	cpuProduce := cpuSeconds(*serverPid) - cpuFrom
	elapsed := time.Since(measureFrom).Seconds()
	pct := latency.Percentiles(lats)
	n := count.Load()
	res := result{
		Records: n, Seconds: elapsed, RecordsPerSec: float64(n) / elapsed,
		MBPerSec: float64(n) * float64(*size) / elapsed / 1e6,
		P50Ms:    pct(0.50), P99Ms: pct(0.99), P999Ms: pct(0.999), Errors: errs.Load(),
	}
	if *serverPid > 0 && n > 0 {
		res.ProduceCPUPerGB = cpuProduce / (float64(n) * float64(*size) / 1e9)
	}
	cl.Close()
	if *consume {
		cc, err := kgo.NewClient(kgo.SeedBrokers(*brokers), kgo.ConsumeTopics(*topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<20))
		must(err)
		cstart := time.Now()
		cpu0 := cpuSeconds(*serverPid)
		var got, bytes int64
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		for got < total.Load() && cctx.Err() == nil {
			fs := cc.PollFetches(cctx)
			fs.EachRecord(func(r *kgo.Record) { got++; bytes += int64(len(r.Value)) })
		}
		cancel()
		res.ConsumeMBps = float64(bytes) / time.Since(cstart).Seconds() / 1e6
		if *serverPid > 0 && bytes > 0 {
			res.ConsumeCPUPerGB = (cpuSeconds(*serverPid) - cpu0) / (float64(bytes) / 1e9)
		}
		cc.Close()
	}
	json.NewEncoder(os.Stdout).Encode(res)
}

// produceBatches sends batches of n records synchronously, batch i to
// partition i mod partitions, committing a transaction every perTxn batches
// when perTxn > 0. Whole transactions (or, idempotent, whole batches) run for
// the warm-up, then the clock starts at the next boundary and every record of
// a unit begun within dur counts; latency is per batch, from sending it to
// its acknowledgement (for the last batch of a transaction, to the commit).
// A pause sleeps before each unit (the sleep is not counted).
func produceBatches(ctx context.Context, cl *kgo.Client, value []byte, partitions, n, perTxn int, pause, warmup, dur time.Duration) result {
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Value: value}
	}
	per := max(perTxn, 1) // batches per unit of work
	var (
		lats     []time.Duration
		count    int64
		i        int
		measured bool
		t0       time.Time
	)
	unit := func() {
		if pause > 0 {
			time.Sleep(pause)
		}
		if perTxn > 0 {
			must(cl.BeginTransaction())
		}
		for range per {
			for _, r := range recs {
				r.Partition = int32(i % partitions)
			}
			i++
			sent := time.Now()
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				must(fmt.Errorf("produce: %w", err))
			}
			if perTxn > 0 && i%per == 0 {
				must(cl.EndTransaction(ctx, kgo.TryCommit))
			}
			if measured {
				lats = append(lats, time.Since(sent))
			}
		}
		if measured {
			count += int64(per * n)
		}
	}
	for end := time.Now().Add(warmup); time.Now().Before(end); {
		unit()
	}
	measured, t0 = true, time.Now()
	var slept time.Duration // records/s leaves the pauses out
	for time.Since(t0) < dur {
		unit()
		slept += pause
	}
	elapsed := (time.Since(t0) - slept).Seconds()
	pct := latency.Percentiles(lats)
	return result{
		Records: count, Seconds: elapsed, RecordsPerSec: float64(count) / elapsed,
		MBPerSec: float64(count) * float64(len(value)) / elapsed / 1e6,
		P50Ms:    pct(0.50), P99Ms: pct(0.99), P999Ms: pct(0.999),
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func compression(name string) kgo.CompressionCodec {
	switch name {
	case "zstd":
		return kgo.ZstdCompression()
	case "gzip":
		return kgo.GzipCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "snappy":
		return kgo.SnappyCompression()
	}
	return kgo.NoCompression()
}

// cpuSeconds is the user+system CPU time of a process so far, from fields 14
// and 15 of /proc/<pid>/stat (clock ticks of 1/100 s on Linux); 0 without a pid.
func cpuSeconds(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	must(err)
	// The command name (field 2) may hold spaces: count fields after its ')'.
	st := string(raw)
	f := strings.Fields(st[strings.LastIndexByte(st, ')')+1:])
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100
}
