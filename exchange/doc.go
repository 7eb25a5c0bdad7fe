// Package exchange is the contract between tickertape and an exchange's
// public market-data API (Connector and Session), and the Supervisor that
// every exchange shares: it dials, reconnects with exponential backoff and
// jitter, watches for a stalled connection, checks book sequence numbers and
// asks for a fresh snapshot after a gap, backfills trades over REST after
// every (re)connect, drops duplicate trades by id, and counts all of it.
// A connector (exchange/<name>/) only speaks its venue's protocol; none of
// this logic is repeated per exchange.
package exchange
