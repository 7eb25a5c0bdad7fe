package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// newFlagSet returns a flag set whose usage prints the summary, the flags and
// examples. Call parseFlags to parse with TICKERTAPE_<FLAG> environment fallback.
func newFlagSet(name, usage, examples string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: tickertape %s\n\n%s\n\nFlags (each may also be set as TICKERTAPE_<FLAG>, e.g. --data-dir as TICKERTAPE_DATA_DIR):\n", name, usage)
		short := map[string]string{} // long name -> its one-letter alias
		fs.VisitAll(func(f *flag.Flag) {
			if long, ok := strings.CutPrefix(f.Usage, aliasMarker); ok {
				short[long] = f.Name
			}
		})
		fs.VisitAll(func(f *flag.Flag) {
			if strings.HasPrefix(f.Usage, aliasMarker) {
				return
			}
			def := ""
			if f.DefValue != "" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			names := "--" + f.Name
			if len(f.Name) == 1 {
				names = "-" + f.Name
			}
			if s, ok := short[f.Name]; ok {
				names = "-" + s + ", " + names
			}
			fmt.Fprintf(out, "  %s\n        %s%s\n", names, f.Usage, def)
		})
		if examples != "" {
			fmt.Fprintf(out, "\nExamples:\n%s\n", examples)
		}
	}
	return fs
}

// aliasMarker starts the usage text of a flag that is another's short alias.
const aliasMarker = "\x00alias of "

// aliasFlag makes -short another name of the already defined --long flag
// (consume -t and --topic); the usage lists them together.
func aliasFlag(fs *flag.FlagSet, short, long string) {
	fs.Var(fs.Lookup(long).Value, short, aliasMarker+long)
}

// parseFlags applies TICKERTAPE_<FLAG> environment variables, then the command
// line (which wins). Usage problems become usageError (exit status 2).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := applyEnv(fs, nil); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q (see tickertape %s --help)", fs.Arg(0), fs.Name())}
	}
	return nil
}

// parseWithArgs parses flags that may be interleaved with positional
// arguments (tickertape groups describe g1 --brokers b g2), with the same
// environment fallback as parseFlags, and returns the positional arguments.
func parseWithArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, err
			}
			return nil, usageError{err}
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	// Environment variables for flags the command line left alone.
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return pos, applyEnv(fs, set)
}

// applyEnv sets every flag not in skip from its TICKERTAPE_<FLAG> variable.
func applyEnv(fs *flag.FlagSet, skip map[string]bool) error {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, aliasMarker) {
			return // its long name has the variable
		}
		env := "TICKERTAPE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && !skip[f.Name] && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = usageError{fmt.Errorf("%s=%q: %v", env, v, err)}
			}
		}
	})
	return envErr
}
