package registry_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tickertape/tickertape/registry"
)

// TestConfigValidateReportsEveryProblem: one call names every invalid
// field, each as a *ConfigError a CLI can map to its flag, and New refuses
// the config with the same errors.
func TestConfigValidateReportsEveryProblem(t *testing.T) {
	cfg := registry.Config{
		Brokers:       []string{"127.0.0.1:9092", " "},
		Topic:         "schemas topic",
		WriteTimeout:  -time.Second,
		IdleTimeout:   -time.Minute,
		MaxBodyBytes:  -1,
		AdvertisedURL: "reg1:8081",
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted an invalid config")
	}
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *registry.ConfigError
		if !errors.As(e, &ce) {
			t.Fatalf("%v is not a *registry.ConfigError", e)
		}
		fields = append(fields, ce.Field)
	}
	if got, want := strings.Join(fields, ","), "Brokers,Topic,WriteTimeout,IdleTimeout,MaxBodyBytes,AdvertisedURL"; got != want {
		t.Fatalf("fields reported: %s, want %s (%v)", got, want, err)
	}
	if _, nerr := registry.New(cfg); nerr == nil || nerr.Error() != err.Error() {
		t.Fatalf("New: %v, want the errors of Validate", nerr)
	}
	if err := (&registry.Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "no Kafka brokers") {
		t.Fatalf("no brokers: %v", err)
	}
}

// TestZeroConfigIsTheDefaults: only Brokers is required, and the defaults
// DefaultConfig lists are valid.
func TestZeroConfigIsTheDefaults(t *testing.T) {
	d := registry.DefaultConfig()
	d.Brokers = []string{"127.0.0.1:9092"}
	if err := d.Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	if d.Topic != "_schemas" || d.GroupID != "schema-registry" || d.WriteTimeout <= 0 || d.MaxBodyBytes <= 0 ||
		d.ReadHeaderTimeout <= 0 || d.ReadTimeout <= 0 || d.IdleTimeout <= 0 {
		t.Fatalf("DefaultConfig: %+v", d)
	}
	r, err := registry.New(registry.Config{Brokers: []string{"127.0.0.1:9092"}, AdvertisedURL: "https://reg1:8081"})
	if err != nil {
		t.Fatal(err)
	}
	// Closing a registry that never started, twice, is fine.
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
