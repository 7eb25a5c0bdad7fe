package broker

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The pools hand out a buffer only for a frame that fits, and keep only
// buffers of a whole class.
func TestFramePoolClasses(t *testing.T) {
	// sync.Pool may drop what it holds (the race detector makes it drop
	// some on purpose): a get after a put must succeed at least once in a
	// few tries, and whatever it returns must fit.
	for _, size := range []int{1, 100, 64 << 10, 64<<10 + 1, 1_500_000, 16 << 20} {
		got := false
		for range 50 {
			putFrame(make([]byte, 0, 1<<max(frameClassMin, bitsFor(size))))
			b := getFrame(size)
			if b == nil {
				continue
			}
			if cap(b) < size || len(b) != 0 {
				t.Fatalf("getFrame(%d): len %d cap %d", size, len(b), cap(b))
			}
			got = true
		}
		if !got {
			t.Fatalf("getFrame(%d) never returned the buffer put in its class", size)
		}
	}
	if b := getFrame(16<<20 + 1); b != nil {
		t.Fatalf("a frame over 16 MiB got a pooled buffer of %d", cap(b))
	}
	putFrame(make([]byte, 0, 100<<10)) // kept in the 64 KiB class
	if b := getFrame(100 << 10); b != nil && cap(b) < 100<<10 {
		t.Fatalf("getFrame(100 KiB) returned a buffer of %d", cap(b))
	}
}

func bitsFor(n int) int {
	c := 0
	for 1<<c < n {
		c++
	}
	return c
}

// Produce frames from several connections at once are read into pooled
// buffers; every record comes back exactly as sent (a buffer reused while
// its frame was still in use would mix them up).
func TestPooledProduceFramesKeepTheirBytes(t *testing.T) {
	tb := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const clients, perClient = 4, 3000
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := tb.client(kgo.DefaultProduceTopic("pool"), kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(time.Millisecond))
			defer cl.Close()
			for i := range perClient {
				v := bytes.Repeat([]byte(fmt.Sprintf("c%d-r%d;", c, i)), 20+i%200)
				cl.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprintf("c%d-r%d", c, i)), Value: v}, func(_ *kgo.Record, err error) {
					if err != nil {
						errs <- err
					}
				})
			}
			if err := cl.Flush(ctx); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	cl := tb.client(kgo.ConsumeTopics("pool"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	seen := map[string]bool{}
	for len(seen) < clients*perClient && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			var c, i int
			if _, err := fmt.Sscanf(string(r.Key), "c%d-r%d", &c, &i); err != nil {
				t.Fatalf("record key %q", r.Key)
			}
			if want := bytes.Repeat([]byte(fmt.Sprintf("c%d-r%d;", c, i)), 20+i%200); !bytes.Equal(r.Value, want) {
				t.Fatalf("record %s came back as %.60q...", r.Key, r.Value)
			}
			if seen[string(r.Key)] {
				t.Fatalf("record %s twice", r.Key)
			}
			seen[string(r.Key)] = true
		})
	}
	if len(seen) != clients*perClient {
		t.Fatalf("consumed %d records, want %d", len(seen), clients*perClient)
	}
}
