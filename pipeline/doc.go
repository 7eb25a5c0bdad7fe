// Package pipeline owns one running tickertape pipeline: the Kafka cluster
// and schema registry it writes to (the embedded stack, started and stopped
// here, or existing ones given by address), ingest from one or more venues
// (each venue's connector built by a Factory from its name, run under its
// own exchange.Supervisor), and the candle processor. Every command that
// runs the pipeline (run, demo, ingest, process), the end-to-end benchmark
// and the end-to-end tests build a Config and call Run; nothing else wires
// these parts together.
//
// Run owns every goroutine it starts (an errgroup) and returns only after
// all of them stopped and everything it opened is closed. Snapshot is the
// typed state of the running pipeline (rates, latencies, lag, gaps,
// backfills, latest candles, per venue); the terminal panel renders it, and
// /metrics and the dashboard are meant to serve it.
//
// The package does not parse flags, print, or handle signals: that is the
// caller's (cmd/tickertape's) part.
package pipeline
