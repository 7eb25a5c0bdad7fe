package commitlog

import (
	"context"
	"strings"
	"testing"

	"github.com/tickertape/tickertape/internal/batchtest"
)

// BenchmarkAppend appends batches of 16 records of 1 KiB.
func BenchmarkAppend(b *testing.B) {
	vals := make([]string, 16)
	for i := range vals {
		vals[i] = strings.Repeat("x", 1024)
	}
	raw := batchtest.Build(batchtest.Spec{ProducerID: -1, Values: vals})
	for _, mode := range []struct {
		name string
		p    FsyncPolicy
	}{{"fsync=never", FsyncPolicy{Mode: FsyncNever}}, {"fsync=always", FsyncPolicy{Mode: FsyncAlways}}} {
		b.Run(mode.name, func(b *testing.B) {
			l, err := Open(Options{Dir: b.TempDir(), Fsync: mode.p, Logger: quiet()})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r, err := l.Append(raw)
					if err == nil {
						err = l.WaitDurable(context.Background(), r.LastOffset+1)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
