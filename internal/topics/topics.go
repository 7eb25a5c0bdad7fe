// Package topics names the pipeline's Kafka topics and creates them on first
// use with the configs the pipeline relies on.
package topics

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Names are the pipeline's topics.
type Names struct {
	Events     string // every normalized event, keyed exchange:SYMBOL
	Candles    string // candles, keyed exchange:SYMBOL:interval
	Late       string // trades that arrived after their window closed
	DeadLetter string // records that could not be decoded, with headers saying why
	Books      string // verified top-N books, compacted, keyed exchange:SYMBOL
	BBO        string // best bid/ask per venue and consolidated, keyed SYMBOL
}

// Default names.
var Default = Names{Events: "market.events", Candles: "market.candles", Late: "market.late", DeadLetter: "market.deadletter",
	Books: "market.books", BBO: "market.bbo"}

// WithDefaults fills empty names.
func (n Names) WithDefaults() Names {
	if n.Events == "" {
		n.Events = Default.Events
	}
	if n.Candles == "" {
		n.Candles = Default.Candles
	}
	if n.Late == "" {
		n.Late = Default.Late
	}
	if n.DeadLetter == "" {
		n.DeadLetter = Default.DeadLetter
	}
	if n.Books == "" {
		n.Books = Default.Books
	}
	if n.BBO == "" {
		n.BBO = Default.BBO
	}
	return n
}

// Ensure creates the topics that do not exist yet: events and candles with
// partitions partitions, late and dead-letter with one; replication is the
// cluster's default (-1), retention a week (the dead letters a month).
// Existing topics are left as they are.
func Ensure(ctx context.Context, adm *kadm.Client, n Names, partitions int32) error {
	week := "604800000"
	month := "2592000000"
	for _, t := range []struct {
		name  string
		parts int32
		ret   string
	}{{n.Events, partitions, week}, {n.Candles, partitions, week}, {n.Late, 1, week}, {n.DeadLetter, 1, month}} {
		resp, err := adm.CreateTopic(ctx, t.parts, -1, map[string]*string{"retention.ms": &t.ret}, t.name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", t.name, err)
		}
	}
	return nil
}

// EnsureBooks creates the book builder's topics that do not exist yet, with
// partitions partitions: books compacted (one record per book is its
// state), the BBOs kept a day.
func EnsureBooks(ctx context.Context, adm *kadm.Client, n Names, partitions int32) error {
	compact, day := "compact", "86400000"
	for _, t := range []struct {
		name string
		cfg  map[string]*string
	}{{n.Books, map[string]*string{"cleanup.policy": &compact}}, {n.BBO, map[string]*string{"retention.ms": &day}}} {
		resp, err := adm.CreateTopic(ctx, partitions, -1, t.cfg, t.name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", t.name, err)
		}
	}
	return nil
}
