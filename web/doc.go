// Package web serves the embedded dashboard and Prometheus /metrics on
// --http-addr.
//
// The dashboard is static files embedded in the binary (index.html,
// app.js, style.css and TradingView's lightweight-charts, vendored under
// static/vendor/ at a pinned version with its licence), so it works
// offline. Its live data comes from one Kafka consumer per process (the
// feed), which reads market.candles and market.events like any other
// consumer, without a group and committing nothing, so it works the same
// against the embedded broker and an external cluster. The feed keeps a
// bounded view per market (the last candles per interval, the last trades,
// the L2 book rebuilt from snapshots and updates, best bid/ask from tickers)
// and the hub fans each change out over Server-Sent Events to the browsers
// that asked for that market, encoded once.
//
// Invariants: the feed never waits for a browser (each has a bounded queue
// and is dropped when it is full; EventSource reconnects), so the dashboard
// cannot slow ingest or the broker; nothing is computed for topics nobody
// watches; prices and quantities reach the browser as decimal strings.
// The health view is read from the same Prometheus registry /metrics serves.
//
// It must not touch the broker or registry directly: it is a Kafka and
// registry client like any other.
package web
