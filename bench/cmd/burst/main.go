// Command burst (experiment): ticks of small records against the embedded
// broker, to split a tick's produce latency into fsync rounds.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/commitlog"
)

func main() {
	n := flag.Int("n", 6, "records per tick")
	parts := flag.Int("parts", 1, "partitions the tick's records spread over")
	ticks := flag.Int("ticks", 300, "ticks")
	tick := flag.Duration("tick", 20*time.Millisecond, "tick")
	fsync := flag.String("fsync", "always", "")
	linger := flag.Duration("linger", 0, "")
	pre := flag.String("prealloc", "off", "")
	flag.Parse()
	pol, _ := commitlog.ParseFsyncPolicy(*fsync)
	pa, _ := commitlog.ParsePrealloc(*pre)
	dir, _ := os.MkdirTemp("", "burst-")
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := broker.New(broker.Config{DataDir: dir, Logger: quiet, Fsync: pol, Preallocate: pa})
	if err != nil {
		panic(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go b.Serve(ln)
	cl, _ := kgo.NewClient(kgo.SeedBrokers(ln.Addr().String()), kgo.ProducerLinger(*linger), kgo.DefaultProduceTopic("t"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(context.Background(), 6, 1, nil, "t"); err != nil {
		panic(err)
	}
	ctx := context.Background()
	cl.ProduceSync(ctx, &kgo.Record{Value: []byte("warm")})
	var first, last []time.Duration
	val := make([]byte, 150)
	for t := 0; t < *ticks; t++ {
		time.Sleep(*tick)
		var wg sync.WaitGroup
		lat := make([]time.Duration, *n)
		wg.Add(*n)
		for i := 0; i < *n; i++ {
			start := time.Now()
			cl.Produce(ctx, &kgo.Record{Value: val, Partition: int32(i % *parts)}, func(r *kgo.Record, err error) {
				if err != nil {
					panic(err)
				}
				lat[i] = time.Since(start)
				wg.Done()
			})
		}
		wg.Wait()
		if t >= 20 {
			first = append(first, lat[0])
			last = append(last, lat[*n-1])
		}
	}
	p := func(d []time.Duration, q float64) float64 {
		s := append([]time.Duration(nil), d...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return float64(s[int(q*float64(len(s)-1))].Microseconds()) / 1000
	}
	fmt.Printf("n=%d parts=%d fsync=%s pre=%s linger=%v  first p50 %.2f p99 %.2f  last p50 %.2f p99 %.2f\n", *n, *parts, *fsync, *pre, *linger, p(first, .5), p(first, .99), p(last, .5), p(last, .99))
	cl.Close()
	b.Close(ctx)
}
