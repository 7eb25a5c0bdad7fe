// Command deleterecords waits, then deletes every record of a topic (Kafka's
// DeleteRecords up to each partition's end offset), so that the broker drops
// the topic's closed segments while another load runs; it prints how long the
// request took. bench/retention-stall uses it.
//
// Usage: deleterecords [-after 6s] BROKER TOPIC
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	after := flag.Duration("after", 6*time.Second, "wait this long first")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: deleterecords [-after 6s] BROKER TOPIC")
		os.Exit(2)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(flag.Arg(0)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "deleterecords:", err)
		os.Exit(1)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	time.Sleep(*after)
	ends, err := adm.ListEndOffsets(ctx, flag.Arg(1))
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "deleterecords: end offsets:", err)
		os.Exit(1)
	}
	var to kadm.Offsets
	ends.Each(func(o kadm.ListedOffset) { to.AddOffset(o.Topic, o.Partition, o.Offset, -1) })
	began := time.Now()
	res, err := adm.DeleteRecords(ctx, to)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "deleterecords:", err)
		os.Exit(1)
	}
	fmt.Printf("%.1f\n", float64(time.Since(began).Microseconds())/1000)
}
