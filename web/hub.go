package web

import (
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
)

// hub fans each event out to the browsers that asked for it. An event is
// encoded once as a Server-Sent Events frame; each subscriber has a bounded
// queue, and a subscriber whose queue is full (a browser that stopped
// reading) is dropped rather than waited for, so a slow or vanished browser
// never holds up the feed, ingest or the broker. EventSource reconnects on
// its own and gets a fresh snapshot.
type hub struct {
	mu      sync.Mutex
	subs    map[string]map[*subscriber]struct{} // by topic
	pending map[string]*pendingTopic            // changes since the last flush, by topic
	count   atomic.Int64                        // open subscribers
	dropped atomic.Int64                        // subscribers dropped for not keeping up
	sent    atomic.Int64                        // frames queued to subscribers
}

// queueLen bounds one browser's backlog (frames); at a few hundred bytes a
// frame, a stuck browser costs at most tens of KiB before it is dropped.
const queueLen = 256

// maxCandlesPerFlush bounds the candle frames of one market and interval
// per flush.
const maxCandlesPerFlush = 2

type subscriber struct {
	topics []string
	ch     chan []byte
	gone   chan struct{} // closed when dropped
	once   sync.Once
}

func newHub() *hub {
	return &hub{subs: map[string]map[*subscriber]struct{}{}, pending: map[string]*pendingTopic{}}
}

// pendingTopic coalesces a topic's changes between flushes: browsers get
// at most one frame per event kind (and per candle) every flush period,
// however fast the topics move, so the cost of a browser does not grow
// with the market's rate.
type pendingTopic struct {
	candles map[int64]any  // by open time: the latest state of each window
	latest  map[string]any // by event: book, bbo, consolidated
	trades  []any          // newest last, at most tradeHistory
}

// coalesce records a change for the next flush; kind "candle" keys by
// open time, "trades" accumulates, anything else keeps the latest.
func (h *hub) coalesce(topic, event string, openTimeUs int64, v any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs[topic]) == 0 {
		return // nobody watches: no work
	}
	pt := h.pending[topic]
	if pt == nil {
		pt = &pendingTopic{candles: map[int64]any{}, latest: map[string]any{}}
		h.pending[topic] = pt
	}
	switch event {
	case "candle":
		pt.candles[openTimeUs] = v
	case "trades":
		pt.trades = append(pt.trades, v)
		if len(pt.trades) > tradeHistory {
			pt.trades = pt.trades[len(pt.trades)-tradeHistory:]
		}
	default:
		pt.latest[event] = v
	}
}

// flush sends what was coalesced since the last flush.
func (h *hub) flush() {
	h.mu.Lock()
	pending := h.pending
	h.pending = map[string]*pendingTopic{}
	h.mu.Unlock()
	for topic, pt := range pending {
		opens := make([]int64, 0, len(pt.candles))
		for t := range pt.candles {
			opens = append(opens, t)
		}
		slices.Sort(opens)
		// Only the newest windows matter to a live chart (it redraws the last
		// bar or adds one); older ones come with the next snapshot. This
		// bounds a browser's frames per flush whatever the topic's rate.
		if len(opens) > maxCandlesPerFlush {
			opens = opens[len(opens)-maxCandlesPerFlush:]
		}
		for _, t := range opens {
			h.publish(topic, "candle", pt.candles[t])
		}
		if len(pt.trades) > 0 {
			h.publish(topic, "trades", pt.trades)
		}
		for _, ev := range []string{"book", "bbo", "consolidated"} {
			if v, ok := pt.latest[ev]; ok {
				h.publish(topic, ev, v)
			}
		}
	}
}

func topicOf(k marketKey, interval string) string {
	if interval == "" {
		return "m|" + k.exchange + "|" + k.symbol
	}
	return "c|" + k.exchange + "|" + k.symbol + "|" + interval
}

func symbolTopic(symbol string) string { return "s|" + symbol }

const healthTopic = "health"

func (h *hub) subscribe(topics ...string) *subscriber {
	s := &subscriber{topics: topics, ch: make(chan []byte, queueLen), gone: make(chan struct{})}
	h.mu.Lock()
	for _, t := range topics {
		if h.subs[t] == nil {
			h.subs[t] = map[*subscriber]struct{}{}
		}
		h.subs[t][s] = struct{}{}
	}
	h.mu.Unlock()
	h.count.Add(1)
	return s
}

func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	for _, t := range s.topics {
		delete(h.subs[t], s)
		if len(h.subs[t]) == 0 {
			delete(h.subs, t)
		}
	}
	h.mu.Unlock()
	s.once.Do(func() { close(s.gone); h.count.Add(-1) })
}

// wanted reports whether anyone listens to topic, so that work for nobody
// is skipped.
func (h *hub) wanted(topic string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[topic]) > 0
}

func (h *hub) publish(topic, event string, v any) {
	if !h.wanted(topic) {
		return
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return
	}
	h.send(topic, frame(event, raw))
}

func (h *hub) send(topic string, fr []byte) {
	var slow []*subscriber
	h.mu.Lock()
	for s := range h.subs[topic] {
		select {
		case s.ch <- fr:
			h.sent.Add(1)
		default:
			slow = append(slow, s)
		}
	}
	h.mu.Unlock()
	for _, s := range slow {
		h.dropped.Add(1)
		h.unsubscribe(s)
	}
}

// frame is one SSE message: event name and a single-line JSON payload.
func frame(event string, data []byte) []byte {
	b := make([]byte, 0, len(event)+len(data)+16)
	b = append(b, "event: "...)
	b = append(b, event...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

// closeAll ends every subscriber's stream (on shutdown).
func (h *hub) closeAll() {
	h.mu.Lock()
	var all []*subscriber
	seen := map[*subscriber]bool{}
	for _, subs := range h.subs {
		for s := range subs {
			if !seen[s] {
				seen[s] = true
				all = append(all, s)
			}
		}
	}
	h.mu.Unlock()
	for _, s := range all {
		h.unsubscribe(s)
	}
}
