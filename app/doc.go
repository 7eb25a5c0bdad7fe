// Package app starts and stops tickertape's embedded stack in-process: the Kafka
// broker, the schema registry and the HTTP endpoint (health, and later metrics and
// the dashboard). The CLI and the tests use the same entry point, Start, so a test
// runs exactly what `tickertape serve` runs.
//
// It owns listeners and lifecycles only; protocol and storage logic live in
// broker/, commitlog/ and registry/.
package app
