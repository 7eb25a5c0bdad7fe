// Command fsyncpattern measures what the filesystem and device under a
// directory charge for the write patterns a durable broker can choose, with
// no broker in the way: six files each appended and fdatasynced on their
// own (a partition's own group commit), six files appended and fdatasynced
// together in rounds, and one file taking the same bytes (a journal shared by
// the partitions); and two ways of making a round of six files durable with
// fewer journal commits: one syncfs(2) of the whole filesystem, and every
// file written back first (sync_file_range) with one fdatasync after it (a
// lower bound only: that fdatasync alone does not promise the other files'
// sizes). It prints one line per pattern and chunk size: MB/s, and the
// latency per round (mean, p50, p99, p99.9, max, and how many rounds took
// over 50 ms).
//
// Usage: go run ./cmd/fsyncpattern [-dir /tmp] [-duration 3s]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

var buf = make([]byte, 1<<20)

func main() {
	dir := flag.String("dir", os.TempDir(), "directory on the filesystem to measure")
	dur := flag.Duration("duration", 3*time.Second, "how long each pattern runs")
	flag.Parse()
	tmp, err := os.MkdirTemp(*dir, "fsyncpattern-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "fsyncpattern:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(tmp)
	for i := range buf {
		buf[i] = byte(i)
	}
	for _, chunk := range []int{4 << 10, 32 << 10, 128 << 10} {
		independent(tmp, chunk, *dur)
		rounds(tmp, chunk, *dur)
		syncfsRounds(tmp, chunk, *dur)
		writtenBackRounds(tmp, chunk, *dur)
		single(tmp, chunk, *dur)
	}
}

func open(dir string, n int) []*os.File {
	fs := make([]*os.File, n)
	for i := range fs {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fsyncpattern:", err)
			os.Exit(1)
		}
		fs[i] = f
	}
	return fs
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
		os.Remove(f.Name())
	}
}

func report(name string, lat []time.Duration, bytes int64, d time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	slow := 0
	for _, l := range lat {
		if l > 50*time.Millisecond {
			slow++
		}
	}
	fmt.Printf("%-40s %4.0f MB/s  rounds %6d  mean %5.2f ms  p50 %5.2f  p99 %5.2f  p99.9 %6.2f  max %6.1f  >50 ms %d\n", name,
		float64(bytes)/d.Seconds()/1e6, len(lat), ms(sum)/float64(len(lat)), ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]),
		ms(lat[len(lat)*999/1000]), ms(lat[len(lat)-1]), slow)
}

// independent: six files, each appended chunk bytes and fdatasynced in a loop of its own.
func independent(dir string, chunk int, dur time.Duration) {
	fs := open(dir, 6)
	defer closeAll(fs)
	var mu sync.Mutex
	var lat []time.Duration
	var bytes int64
	var wg sync.WaitGroup
	start := time.Now()
	for _, f := range fs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < dur {
				f.Write(buf[:chunk])
				t := time.Now()
				unix.Fdatasync(int(f.Fd()))
				d := time.Since(t)
				mu.Lock()
				lat, bytes = append(lat, d), bytes+int64(chunk)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	report(fmt.Sprintf("6 files, own loops, %d KiB", chunk>>10), lat, bytes, time.Since(start))
}

// rounds: six files appended chunk bytes each, then fdatasynced in parallel, a round at a time.
func rounds(dir string, chunk int, dur time.Duration) {
	fs := open(dir, 6)
	defer closeAll(fs)
	write := appendSix(fs, chunk)
	fsyncAll := func() {
		var wg sync.WaitGroup
		for _, f := range fs {
			wg.Add(1)
			go func() { unix.Fdatasync(int(f.Fd())); wg.Done() }()
		}
		wg.Wait()
	}
	loop(fmt.Sprintf("6 files, shared rounds, %d KiB", chunk>>10), dur, write, fsyncAll)
}

// appendSix returns a round's writes: chunk bytes appended to each file.
func appendSix(fs []*os.File, chunk int) func() int64 {
	return func() int64 {
		for _, f := range fs {
			f.Write(buf[:chunk])
		}
		return int64(len(fs) * chunk)
	}
}

// syncfsRounds: six files appended, then one syncfs of the filesystem (which
// also writes out whatever else on it is dirty).
func syncfsRounds(dir string, chunk int, dur time.Duration) {
	fs := open(dir, 6)
	defer closeAll(fs)
	loop(fmt.Sprintf("6 files, one syncfs, %d KiB", chunk>>10), dur, appendSix(fs, chunk),
		func() { unix.Syncfs(int(fs[0].Fd())) })
}

// writtenBackRounds: six files appended, written back and waited for with
// sync_file_range, then one fdatasync of the last (one journal commit, one
// flush). A lower bound for a round of six files, not a durable pattern.
func writtenBackRounds(dir string, chunk int, dur time.Duration) {
	fs := open(dir, 6)
	defer closeAll(fs)
	loop(fmt.Sprintf("6 files, written back, 1 fdatasync, %d KiB", chunk>>10), dur, appendSix(fs, chunk), func() {
		for _, f := range fs {
			unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
		}
		for _, f := range fs {
			unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
		}
		unix.Fdatasync(int(fs[len(fs)-1].Fd()))
	})
}

// single: one file taking the six chunks of a round in one write.
func single(dir string, chunk int, dur time.Duration) {
	fs := open(dir, 1)
	defer closeAll(fs)
	write := func() int64 { fs[0].Write(buf[:6*chunk]); return int64(6 * chunk) }
	loop(fmt.Sprintf("1 file, %d KiB a round", 6*chunk>>10), dur, write, func() { unix.Fdatasync(int(fs[0].Fd())) })
}

// loop runs write then fsync for dur, timing each fsync, and reports.
func loop(name string, dur time.Duration, write func() int64, fsync func()) {
	var lat []time.Duration
	var bytes int64
	start := time.Now()
	for time.Since(start) < dur {
		n := write()
		t := time.Now()
		fsync()
		lat, bytes = append(lat, time.Since(t)), bytes+n
	}
	report(name, lat, bytes, time.Since(start))
}
