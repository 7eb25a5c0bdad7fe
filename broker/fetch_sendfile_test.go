package broker

import (
	"bufio"
	"bytes"
	crand "crypto/rand"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/commitlog"
)

// genSrc hands out the bytes of a fuzz input (zeros once they run out).
type genSrc struct{ b []byte }

func (s *genSrc) byte() byte {
	if len(s.b) == 0 {
		return 0
	}
	c := s.b[0]
	s.b = s.b[1:]
	return c
}
func (s *genSrc) u16() uint16 { return uint16(s.byte())<<8 | uint16(s.byte()) }
func (s *genSrc) u32() uint32 { return uint32(s.u16())<<16 | uint32(s.u16()) }
func (s *genSrc) u64() uint64 { return uint64(s.u32())<<32 | uint64(s.u32()) }
func (s *genSrc) bytes(n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = s.byte()
	}
	return out
}

// genFetch builds a fetch response of version v from src: topics, partitions
// with every field the version has (tags included), some partitions' records
// as regions of f (size bytes), the others inline (empty, null or bytes). It
// returns the response with marks for the regions, the regions, and the same
// response with every region's bytes inline.
func genFetch(t testing.TB, src *genSrc, v int16, f *os.File, file []byte) (*kmsg.FetchResponse, []*fileRegion, *kmsg.FetchResponse) {
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = v
	resp.ThrottleMillis = int32(src.u32())
	resp.ErrorCode = int16(src.u16())
	resp.SessionID = int32(src.u32())
	var regs []*fileRegion
	for range src.byte() % 4 {
		st := kmsg.NewFetchResponseTopic()
		st.Topic = string(src.bytes(int(src.byte() % 20)))
		copy(st.TopicID[:], src.bytes(16))
		if src.byte()%4 == 0 {
			st.UnknownTags.Set(uint32(src.byte()%8)+1, src.bytes(int(src.byte()%5)))
		}
		for range src.byte() % 5 {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = int32(src.u32())
			sp.ErrorCode = int16(src.u16())
			sp.HighWatermark = int64(src.u64())
			sp.LastStableOffset = int64(src.u64())
			sp.LogStartOffset = int64(src.u64())
			if src.byte()%3 == 0 {
				sp.DivergingEpoch.Epoch, sp.DivergingEpoch.EndOffset = int32(src.u32()), int64(src.u64())
				sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = int32(src.u32()), int32(src.u32())
				sp.SnapshotID.EndOffset, sp.SnapshotID.Epoch = int64(src.u64()), int32(src.u32())
			}
			switch src.byte() % 3 {
			case 0:
				sp.AbortedTransactions = nil
			default:
				sp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
				for range src.byte() % 4 {
					at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
					at.ProducerID, at.FirstOffset = int64(src.u64()), int64(src.u64())
					sp.AbortedTransactions = append(sp.AbortedTransactions, at)
				}
			}
			sp.PreferredReadReplica = int32(src.u32())
			switch k := src.byte() % 6; {
			case k == 0:
				sp.RecordBatches = nil
			case k == 1:
				sp.RecordBatches = []byte{}
			case k == 2:
				sp.RecordBatches = src.bytes(int(src.byte()))
			default: // a region: lengths across the uvarint and int32 boundaries
				pos := int64(src.u16()) % int64(len(file))
				n := int64(src.u32()) % (int64(len(file)) - pos + 1)
				if src.byte()%2 == 0 {
					n %= 300
					n = min(n, int64(len(file))-pos)
				}
				fr := &fileRegion{r: commitlog.Region{File: f, Pos: pos, Len: n}}
				crand.Read(fr.mark[:])
				regs = append(regs, fr)
				sp.RecordBatches = fr.mark[:]
			}
			if src.byte()%5 == 0 {
				sp.UnknownTags.Set(uint32(src.byte()%8)+3, src.bytes(int(src.byte()%5)))
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	for range src.byte() % 3 {
		br := kmsg.NewFetchResponseBroker()
		br.NodeID, br.Host, br.Port = int32(src.u32()), string(src.bytes(int(src.byte()%10))), int32(src.u32())
		if src.byte()%2 == 0 {
			rack := string(src.bytes(3))
			br.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, br)
	}
	// The same response with the bytes inline: copy the structure, then
	// replace each mark by the region's bytes.
	inline := *resp
	inline.Topics = make([]kmsg.FetchResponseTopic, len(resp.Topics))
	for i, st := range resp.Topics {
		inline.Topics[i] = st
		inline.Topics[i].Partitions = append([]kmsg.FetchResponseTopicPartition(nil), st.Partitions...)
		for j := range inline.Topics[i].Partitions {
			sp := &inline.Topics[i].Partitions[j]
			for _, fr := range regs {
				if len(sp.RecordBatches) == 16 && &sp.RecordBatches[0] == &fr.mark[0] {
					sp.RecordBatches = file[fr.r.Pos : fr.r.Pos+fr.r.Len]
				}
			}
		}
	}
	return resp, regs, &inline
}

// frameHeader is what writeLoop puts before a response: size, correlation id
// and, for flexible versions, the empty header tags.
func frameHeader(corrID int32, flexible bool) []byte {
	b := binary.BigEndian.AppendUint32(make([]byte, 4), uint32(corrID))
	if flexible {
		b = append(b, 0)
	}
	return b
}

// wantFrame is kmsg's own encoding of resp in a frame.
func wantFrame(resp *kmsg.FetchResponse, corrID int32) []byte {
	b := resp.AppendTo(frameHeader(corrID, resp.IsFlexible()))
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// splicedFrame is the piecewise encoding with the regions' bytes put where
// the writer sendfiles them.
func splicedFrame(t testing.TB, resp *kmsg.FetchResponse, regs []*fileRegion, file []byte, corrID int32) []byte {
	hdr := frameHeader(corrID, resp.IsFlexible())
	enc := resp.AppendTo(hdr)
	ordered, err := orderRegions(resp, regs)
	if err != nil {
		t.Fatal(err)
	}
	out, at, err := spliceRegions(nil, enc, len(hdr), ordered, resp.IsFlexible())
	if err != nil {
		t.Fatalf("v%d: %v", resp.Version, err)
	}
	var got []byte
	last := 0
	for i, fr := range ordered {
		got = append(got, out[last:at[i]]...)
		got = append(got, file[fr.r.Pos:fr.r.Pos+fr.r.Len]...)
		last = at[i]
	}
	got = append(got, out[last:]...)
	binary.BigEndian.PutUint32(got, uint32(len(got)-4))
	return got
}

func regionFile(t testing.TB) (*os.File, []byte) {
	t.Helper()
	file := make([]byte, 70_000)
	crand.Read(file)
	path := filepath.Join(t.TempDir(), "segment.log")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, file
}

// TestSplicedFetchMatchesKmsg: for every Fetch version the broker serves,
// the piecewise encoding (kmsg with marks, prefixes rewritten, regions
// spliced in) is byte for byte kmsg's encoding of the response with the
// records inline; and the same frames written through writeWithRegions to a
// loopback socket (sendfile for the regions) arrive whole and in order.
func TestSplicedFetchMatchesKmsg(t *testing.T) {
	f, file := regionFile(t)
	h := lookupHandler(1)
	rng := rand.New(rand.NewPCG(1, 2))
	for v := h.min; v <= h.max; v++ {
		var want [][]byte
		var resps []*kmsg.FetchResponse
		var regss [][]*fileRegion
		nregs := 0
		for i := range 200 {
			seed := make([]byte, 600)
			for j := range seed {
				seed[j] = byte(rng.Uint32())
			}
			resp, regs, inline := genFetch(t, &genSrc{seed}, v, f, file)
			w := wantFrame(inline, int32(i))
			if got := splicedFrame(t, resp, regs, file, int32(i)); !bytes.Equal(got, w) {
				t.Fatalf("v%d response %d: piecewise encoding differs from kmsg's (%d vs %d bytes)", v, i, len(got), len(w))
			}
			want, resps, regss = append(want, w), append(resps, resp), append(regss, regs)
			nregs += len(regs)
		}
		if nregs < 100 {
			t.Fatalf("v%d: only %d regions generated", v, nregs)
		}
		got := sendOverLoopback(t, resps, regss)
		if !bytes.Equal(got, bytes.Join(want, nil)) {
			t.Fatalf("v%d: the bytes written through sendfile differ from kmsg's frames", v)
		}
	}
}

// sendOverLoopback writes each response with writeWithRegions, as writeLoop
// does, on a real TCP connection, and returns what the peer read.
func sendOverLoopback(t *testing.T, resps []*kmsg.FetchResponse, regss [][]*fileRegion) []byte {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	read := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			read <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		read <- b
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := &conn{nc: nc, sendfile: sendfileConn(nc, &listenerState{})}
	if c.sendfile == nil {
		t.Fatal("a plaintext TCP connection has no sendfile path")
	}
	before := sendfileBytes.Load()
	bw := bufio.NewWriterSize(nc, 64<<10)
	var regionBytes int64
	for i, resp := range resps {
		hdr := frameHeader(int32(i), resp.IsFlexible())
		enc := resp.AppendTo(hdr)
		if len(regss[i]) == 0 {
			binary.BigEndian.PutUint32(enc, uint32(len(enc)-4))
			bw.Write(enc)
			continue
		}
		for _, fr := range regss[i] {
			regionBytes += fr.r.Len
		}
		if _, err := c.writeWithRegions(bw, enc, len(hdr), resp.IsFlexible(), reply{resp: resp, regions: regss[i]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	if sent := sendfileBytes.Load() - before; sent != regionBytes {
		t.Fatalf("sendfile sent %d bytes, the regions hold %d", sent, regionBytes)
	}
	return <-read
}

// FuzzSplicedFetch: random responses and regions, every served version; the
// piecewise encoding must equal kmsg's.
func FuzzSplicedFetch(f *testing.F) {
	f.Add(int16(4), []byte{3, 1, 2, 3, 4})
	f.Add(int16(12), bytes.Repeat([]byte{5, 200, 7, 1}, 100))
	f.Add(int16(18), bytes.Repeat([]byte{255, 3, 9}, 200))
	file, data := regionFile(f)
	h := lookupHandler(1)
	f.Fuzz(func(t *testing.T, v int16, seed []byte) {
		if v < h.min || v > h.max {
			v = h.min + int16(uint16(v)%uint16(h.max-h.min+1))
		}
		resp, regs, inline := genFetch(t, &genSrc{seed}, v, file, data)
		if got, want := splicedFrame(t, resp, regs, data, 7), wantFrame(inline, 7); !bytes.Equal(got, want) {
			t.Fatalf("v%d: piecewise encoding differs from kmsg's (%d vs %d bytes)", v, len(got), len(want))
		}
	})
}
