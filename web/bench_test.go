package web_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/market"
	"github.com/tickertape/tickertape/serde"
	"github.com/tickertape/tickertape/web"
)

// BenchmarkBrokerWithObservers measures the embedded broker's produce
// throughput (Avro candles to market.candles, acks=all, fsync=always, the
// defaults) with nothing watching, with /metrics scraped every second and every 100 ms (150×
// Prometheus' default rate), with 100 dashboard clients streaming the
// market being written (the feed decodes every candle and fans it out to
// 100 SSE streams), and with both. Every case runs in the same process
// one after the other, so compare the ratios, not the absolute numbers.
//
//	go test -run '^$' -bench BrokerWithObservers -benchtime 20x ./web/
func BenchmarkBrokerWithObservers(b *testing.B) {
	for _, c := range []struct {
		name    string
		scrape  time.Duration
		clients int
	}{{"none", 0, 0}, {"metrics-scrape-1s", time.Second, 0}, {"metrics-scrape-100ms", 100 * time.Millisecond, 0},
		{"100-dashboards", 0, 100}, {"100-dashboards+scrape-1s", time.Second, 100}} {
		b.Run(c.name, func(b *testing.B) { benchObservers(b, c.scrape, c.clients) })
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchObservers(b *testing.B, scrape time.Duration, clients int) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	stack, err := app.Start(app.Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Logger: quiet,
		Broker: broker.Config{DataDir: b.TempDir(), Logger: quiet}})
	if err != nil {
		b.Fatal(err)
	}
	defer stack.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srcl, _ := sr.NewClient(sr.URLs(stack.RegistryURL()))
	sd := serde.New(srcl)
	id, err := sd.Register(ctx, market.SubjectFor("market.candles", market.CandleName), market.CandleSchema)
	if err != nil {
		b.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(stack.KafkaAddr()), kgo.DefaultProduceTopic("market.candles"), kgo.AllowAutoTopicCreation())
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	n := 0
	candle := func() *kgo.Record {
		n++
		open := int64(1_800_000_000+n) * 1_000_000
		c := market.Candle{Exchange: "bench", Symbol: "BTC-USDT", Interval: "1s", OpenTimeUs: open, CloseTimeUs: open + 1_000_000,
			Open: market.NewDecimal(9700012, 2), High: market.NewDecimal(9700099, 2), Low: market.NewDecimal(9699901, 2), Close: market.NewDecimal(9700050, 2),
			Volume: market.NewDecimal(123456, 6), QuoteVolume: market.NewDecimal(1197530, 2), VWAP: market.NewDecimal(9700001, 2), TradeCount: 12, Final: true, UpdatedTimeUs: open}
		return &kgo.Record{Key: []byte(c.Key()), Value: market.AppendCandle(serde.AppendHeader(nil, id), &c)}
	}
	if err := cl.ProduceSync(ctx, candle()).FirstErr(); err != nil { // the topic exists, the market is known
		b.Fatal(err)
	}

	dash, err := web.New(web.Config{Brokers: []string{stack.KafkaAddr()}, Serde: serde.New(srcl), Gatherer: stack.Metrics, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	stack.SetHTTPHandler(dash.Handler())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); dash.Run(ctx) }()
	base := stack.HTTPURL()
	var frames atomic.Int64
	if clients > 0 {
		for deadline := time.Now().Add(10 * time.Second); ; {
			resp, err := http.Get(base + "/api/candles?exchange=bench&symbol=BTC-USDT&interval=1s")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Now().After(deadline) {
				b.Fatal("the dashboard never saw the market")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	var ms0 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/stream?exchange=bench&symbol=BTC-USDT&interval=1s", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(nil, 4<<20)
			for sc.Scan() {
				if len(sc.Bytes()) > 6 && string(sc.Bytes()[:6]) == "event:" {
					frames.Add(1)
				}
			}
		}()
	}
	var scrapes atomic.Int64
	if scrape > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(scrape)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				if resp, err := http.Get(base + "/metrics"); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					scrapes.Add(1)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond) // clients connected
	var ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms1)

	const perOp = 2000
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for j := 0; j < perOp; j++ {
			cl.Produce(ctx, candle(), func(_ *kgo.Record, err error) {
				if err != nil {
					b.Error(err)
				}
			})
		}
		if err := cl.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N*perOp)/elapsed.Seconds(), "records/s")
	// The whole process's CPU (broker, producer, dashboard, its clients and
	// the scraper, all in process) per record: steadier than throughput on
	// a machine shared with others.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*perOp), "cpu-µs/record")
	if clients > 0 {
		b.ReportMetric(float64(int64(ms1.HeapInuse)-int64(ms0.HeapInuse))/float64(clients)/1024, "KiB-heap/client")
		// Frames delivered to all clients over the run, per record produced.
		time.Sleep(500 * time.Millisecond)
		b.ReportMetric(float64(frames.Load())/float64(clients)/float64(b.N*perOp+1), "frames/client/record")
	}
	if scrape > 0 {
		b.ReportMetric(float64(scrapes.Load())/elapsed.Seconds(), "scrapes/s")
	}
	cancel()
	wg.Wait()
}
