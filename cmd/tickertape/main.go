// Command tickertape streams crypto market data through an embedded
// Kafka-compatible broker and schema registry. main only parses flags and wires
// packages together; see package app for the embedded stack.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand: a file per command registers itself in init.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// usageError makes the process exit with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }

// exitStatus ends the process with that status and no further message (the
// command already said why, as tickertape schema check does).
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return exitCode(c.run([]string{"--help"}, stdout, stderr), stderr)
			}
		}
		printUsage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "tickertape: unknown command %q\n\n", args[0])
		printUsage(stderr)
		return 2
	}
	return exitCode(c.run(args[1:], stdout, stderr), stderr)
}

func exitCode(err error, stderr io.Writer) int {
	var ue usageError
	var es exitStatus
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &es):
		return int(es)
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "tickertape: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "tickertape: %v\n", err)
		return 1
	}
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `tickertape streams crypto market data through an embedded Kafka-compatible
broker and schema registry, in one binary.

Usage:
  tickertape <command> [flags]

Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, `
Examples:
  tickertape serve                          # broker on 127.0.0.1:9092, registry on :8081, data in ./data
  kcat -b 127.0.0.1:9092 -L                 # list metadata with any Kafka client
  tickertape schema register t-value s.avsc # register an Avro schema
  curl -s 127.0.0.1:8081/subjects           # any Confluent registry client works too

Run 'tickertape <command> --help' for a command's flags.
`)
}
