package broker

// Zero-copy fetch: on plaintext and SASL_PLAINTEXT connections a partition's
// record batches go from the segment file to the socket with sendfile(2),
// never through user space. The fetch handler takes a commitlog.Region (a
// duplicated descriptor, position and length, cut at batch boundaries exactly
// as Log.Read cuts) and puts a random 16-byte mark where the records go; the
// writer encodes the response with kmsg as usual, finds each mark, rewrites
// its length prefix for the region's length, and sends the bytes before a
// region through its buffered writer, flushes, sendfiles the region and goes
// on, so responses stay whole and in request order. TLS connections (SSL,
// SASL_SSL) cannot use sendfile and keep the copying path (Log.Read), as do
// regions below zeroCopyMinBytes, for which a copy is cheaper than the extra
// syscalls.

import (
	"bytes"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"runtime"
	"sync/atomic"
	"syscall"

	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/sys/unix"

	"github.com/tickertape/tickertape/commitlog"
)

// zeroCopyMinBytes is the smallest partition region sent with sendfile;
// smaller ones are copied into the response (see docs/BENCHMARKS.md). Tests
// lower it to send everything through the zero-copy path.
var zeroCopyMinBytes atomic.Int64

func init() { zeroCopyMinBytes.Store(defaultZeroCopyMinBytes) }

const defaultZeroCopyMinBytes = 16 << 10

// sendfileBytes counts the record bytes sent with sendfile and regionsTaken
// the regions queued for it (tests check that the zero-copy path ran).
var sendfileBytes, regionsTaken atomic.Int64

// fileRegion is one partition's records in a queued fetch response.
type fileRegion struct {
	mark [16]byte // stands in for the records in the response until it is written
	r    commitlog.Region
}

func closeRegions(regs []*fileRegion) {
	for _, fr := range regs {
		fr.r.Close()
	}
}

// sendfileConn returns the raw connection that sendfile writes to, or nil
// when the connection must copy (TLS, or not a TCP socket).
func sendfileConn(nc net.Conn, ls *listenerState) syscall.RawConn {
	if ls.Protocol.TLS() {
		return nil
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// readBatches reads one partition's batches from offset, within limit and
// below stop, as bytes or (regs non-nil: the connection can sendfile) as a
// region appended to *regs whose mark is returned in place of the bytes. It
// returns the record bytes, their length and the offset after the last batch
// (not computed when copying with stop math.MaxInt64: read_uncommitted).
func readBatches(p *partition, offset int64, limit int, stop int64, regs *[]*fileRegion) ([]byte, int, int64, error) {
	if regs == nil {
		data, err := p.log.Read(offset, limit)
		if err != nil {
			return nil, 0, 0, err
		}
		if stop == math.MaxInt64 {
			return data, len(data), 0, nil
		}
		n, next := 0, offset
		for rest := data; ; {
			batch, r, nx, ok := commitlog.NextBatch(rest)
			if !ok {
				break
			}
			if info, _ := commitlog.Info(batch); info.BaseOffset >= stop {
				break
			}
			n += len(batch)
			next, rest = nx, r
		}
		return data[:n], n, next, nil
	}
	r, err := p.log.ReadRegion(offset, limit, stop)
	if err != nil {
		return nil, 0, 0, err
	}
	if r.Len == 0 {
		return []byte{}, 0, r.Next, nil
	}
	if r.Len < zeroCopyMinBytes.Load() {
		data, err := r.Bytes()
		r.Close()
		return data, len(data), r.Next, err
	}
	fr := &fileRegion{r: r}
	crand.Read(fr.mark[:])
	*regs = append(*regs, fr)
	regionsTaken.Add(1)
	return fr.mark[:], int(r.Len), r.Next, nil
}

// dropRegion forgets the last region of *regs if data is its mark (a read
// that fetchOnce decided not to send).
func dropRegion(regs *[]*fileRegion, data []byte) {
	if regs == nil || len(*regs) == 0 {
		return
	}
	last := (*regs)[len(*regs)-1]
	if len(data) == len(last.mark) && &data[0] == &last.mark[0] {
		last.r.Close()
		*regs = (*regs)[:len(*regs)-1]
	}
}

// orderRegions returns regs in the order the response encodes them, matching
// each partition's RecordBatches to a region's mark by identity.
func orderRegions(resp *kmsg.FetchResponse, regs []*fileRegion) ([]*fileRegion, error) {
	byMark := make(map[*byte]*fileRegion, len(regs))
	for _, fr := range regs {
		byMark[&fr.mark[0]] = fr
	}
	out := make([]*fileRegion, 0, len(regs))
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			rb := resp.Topics[i].Partitions[j].RecordBatches
			if len(rb) != 16 {
				continue
			}
			if fr := byMark[&rb[0]]; fr != nil {
				out = append(out, fr)
				delete(byMark, &rb[0])
			}
		}
	}
	if len(out) != len(regs) {
		return nil, fmt.Errorf("%d of %d file regions are not in the response", len(regs)-len(out), len(regs))
	}
	return out, nil
}

var errMarkNotFound = errors.New("a file region's mark is not where the encoding should hold it")

// spliceRegions takes enc, the encoding of a fetch response whose partitions
// in ordered (encoding order) carry their marks as RecordBatches, and returns
// it without the marks, each mark's length prefix rewritten for its region's
// length (int32, or for flexible versions uvarint(length+1)), with the
// positions in out where each region's bytes go. Nothing before from is
// searched (the frame header).
func spliceRegions(out, enc []byte, from int, ordered []*fileRegion, flexible bool) ([]byte, []int, error) {
	at := make([]int, 0, len(ordered))
	prefix := 4
	if flexible {
		prefix = 1
	}
	last := 0
	pos := from
	for _, fr := range ordered {
		i := bytes.Index(enc[pos:], fr.mark[:])
		if i < 0 {
			return nil, nil, errMarkNotFound
		}
		q := pos + i
		if q-prefix < pos {
			return nil, nil, errMarkNotFound
		}
		if flexible {
			if enc[q-1] != 17 {
				return nil, nil, errMarkNotFound
			}
		} else if binary.BigEndian.Uint32(enc[q-4:]) != 16 {
			return nil, nil, errMarkNotFound
		}
		out = append(out, enc[last:q-prefix]...)
		if flexible {
			out = binary.AppendUvarint(out, uint64(fr.r.Len)+1)
		} else {
			out = binary.BigEndian.AppendUint32(out, uint32(fr.r.Len))
		}
		at = append(at, len(out))
		last = q + 16
		pos = last
	}
	out = append(out, enc[last:]...)
	return out, at, nil
}

// inlineRegions replaces the marks of regs in resp by the regions' bytes
// (the fallback when a response cannot be spliced).
func inlineRegions(resp *kmsg.FetchResponse, regs []*fileRegion) error {
	data := make(map[*byte][]byte, len(regs))
	for _, fr := range regs {
		b, err := fr.r.Bytes()
		if err != nil {
			return err
		}
		data[&fr.mark[0]] = b
	}
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			sp := &resp.Topics[i].Partitions[j]
			if len(sp.RecordBatches) == 16 {
				if b, ok := data[&sp.RecordBatches[0]]; ok {
					sp.RecordBatches = b
				}
			}
		}
	}
	return nil
}

// sendRegion writes a region to the socket with sendfile, waiting on the
// poller when the socket buffer is full.
func sendRegion(rc syscall.RawConn, r *commitlog.Region) error {
	off, left := r.Pos, r.Len
	infd := int(r.File.Fd())
	var serr error
	err := rc.Write(func(fd uintptr) bool {
		for left > 0 {
			n, err := unix.Sendfile(int(fd), infd, &off, int(min(left, 1<<30)))
			if n > 0 {
				left -= int64(n)
			}
			switch {
			case err == unix.EAGAIN:
				return false
			case err == unix.EINTR:
				continue
			case err != nil:
				serr = err
				return true
			case n == 0:
				serr = io.ErrUnexpectedEOF // the file is shorter than the region: never expected
				return true
			}
		}
		return true
	})
	runtime.KeepAlive(r.File)
	sendfileBytes.Add(r.Len - left)
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("sendfile %s: %w", r.File.Name(), err)
	}
	return nil
}
