// Package exchangetest holds what every venue's fake shares and the
// conformance suite every connector passes against its fake.
//
// The fakes' machinery: Sim, a deterministic synthetic market (a seeded
// random walk per symbol at its tick size, trades with per-symbol
// consecutive ids, an L2 book with one sequence number per change, and the
// ground truth of all of it); Faults, the fault knobs (stalls, refused
// connections, skipped book messages, REST errors with Retry-After, slow
// REST, a short REST history); and Hub, the WebSocket connections of a fake
// with stall-aware writers. A venue's fake (exchange/<name>/fake.go) only
// speaks its protocol over these.
//
// The suite (package conformance, Run) starts a fake and a Supervisor around the venue's real
// connector, turns every knob, and checks that the trades delivered equal
// the fake's ground truth exactly once (every field), that the book after
// every update equals the fake's book at that sequence (or the book is
// flagged as resyncing and nothing is published), and that losses the venue
// cannot repair are reported, never silent.
//
// Nothing here is used by the live path; tickertape demo uses the fakes.
package exchangetest
