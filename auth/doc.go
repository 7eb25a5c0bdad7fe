// Package auth holds tickertape's users: SCRAM credentials (RFC 5802/7677)
// stored durably in one file of the data directory, and the checks that the
// broker's SASL PLAIN and SCRAM mechanisms and the registry's basic auth make
// against them.
//
// What it owns: the users file (users.json), its format and its atomic,
// fsynced rewrites; deriving stored and server keys from a password or from
// the salted password that Kafka's AlterUserScramCredentials carries.
//
// What it must not touch: the wire. SASL framing lives in package broker and
// HTTP in package registry. A password is never stored, logged or returned:
// only the salt, the iteration count and the two derived keys are kept, and
// PLAIN is verified by deriving the stored key again.
//
// Invariant: the file on disk always holds a complete, parseable state; a
// crash during a rewrite leaves the previous state or the new one.
package auth
