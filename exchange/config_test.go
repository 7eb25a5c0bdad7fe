package exchange

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestSupervisorConfigValidateReportsEveryProblem: one call names every
// invalid field, and NewSupervisor refuses the config with the same errors.
func TestSupervisorConfigValidateReportsEveryProblem(t *testing.T) {
	cfg := SupervisorConfig{
		Subscription:  Subscription{Symbols: []string{"BTC_USDT", ""}},
		StaleAfter:    -time.Second,
		BackoffMin:    time.Second,
		BackoffMax:    time.Millisecond,
		BackfillPages: -1,
		MaxConnAge:    time.Hour,
		NoRollOver:    true,
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted an invalid config")
	}
	want := []string{"needs a Connector", "needs a Handler", "symbol 2 of 2 is empty", "StaleAfter -1s is negative",
		"BackfillPages -1 is negative", "BackoffMax 1ms is below BackoffMin 1s", "MaxConnAge 1h0m0s with NoRollOver"}
	got := err.(interface{ Unwrap() []error }).Unwrap()
	if len(got) != len(want) {
		t.Fatalf("%d problems reported, want %d: %v", len(got), len(want), err)
	}
	for i, w := range want {
		if !strings.Contains(got[i].Error(), w) {
			t.Errorf("problem %d: %q, want it to say %q", i+1, got[i], w)
		}
	}
	if _, nerr := NewSupervisor(cfg); nerr == nil || nerr.Error() != err.Error() {
		t.Fatalf("NewSupervisor: %v, want the errors of Validate", nerr)
	}
}

// rollingVenue is a connector whose venue ends connections after an hour.
type rollingVenue struct{ scripted }

func (*rollingVenue) Info() Info { return Info{Name: "scripted", MaxConnAge: time.Hour} }

// TestSupervisorConfigDefaults: zero fields take DefaultSupervisorConfig,
// MaxConnAge the connector's unless NoRollOver, and a BackoffMin above the
// default BackoffMax raises it.
func TestSupervisorConfigDefaults(t *testing.T) {
	base := SupervisorConfig{Connector: &rollingVenue{}, Subscription: Subscription{Symbols: []string{"X"}},
		Handler: func(context.Context, Event) error { return nil }}
	s, err := NewSupervisor(base)
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultSupervisorConfig()
	if s.cfg.StaleAfter != d.StaleAfter || s.cfg.BackoffMin != d.BackoffMin || s.cfg.BackoffMax != d.BackoffMax ||
		s.cfg.BackfillLimit != d.BackfillLimit || s.cfg.BackfillPages != d.BackfillPages || s.cfg.DedupeWindow != d.DedupeWindow {
		t.Fatalf("defaults not filled: %+v", s.cfg)
	}
	if s.cfg.MaxConnAge != time.Hour {
		t.Fatalf("MaxConnAge %s, want the connector's 1h", s.cfg.MaxConnAge)
	}
	off := base
	off.NoRollOver = true
	if s, err = NewSupervisor(off); err != nil || s.cfg.MaxConnAge != 0 {
		t.Fatalf("NoRollOver: MaxConnAge %s, %v", s.cfg.MaxConnAge, err)
	}
	slow := base
	slow.BackoffMin = time.Minute
	if s, err = NewSupervisor(slow); err != nil || s.cfg.BackoffMax != time.Minute {
		t.Fatalf("BackoffMin 1m: BackoffMax %s, %v", s.cfg.BackoffMax, err)
	}
}
