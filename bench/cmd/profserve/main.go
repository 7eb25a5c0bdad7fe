// Command profserve runs the embedded broker with a CPU profile written to
// -cpuprofile until interrupted: for finding where produce and fetch time goes
// (bench/run-broker's gaps). go tool pprof -top profserve cpu.out
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
)

func main() {
	addr := flag.String("kafka-addr", "127.0.0.1:9092", "listener")
	dir := flag.String("data-dir", "./prof-data", "data directory")
	out := flag.String("cpuprofile", "cpu.out", "CPU profile file")
	flag.Parse()
	s, err := app.Start(app.Config{KafkaAddr: *addr, Broker: broker.Config{DataDir: *dir}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	f, _ := os.Create(*out)
	pprof.StartCPUProfile(f)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	<-ctx.Done()
	stop()
	pprof.StopCPUProfile()
	f.Close()
	s.Close(context.Background())
}
