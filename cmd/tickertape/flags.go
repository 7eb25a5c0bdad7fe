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
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(out, "  --%s\n        %s%s\n", f.Name, f.Usage, def)
		})
		if examples != "" {
			fmt.Fprintf(out, "\nExamples:\n%s\n", examples)
		}
	}
	return fs
}

// parseFlags applies TICKERTAPE_<FLAG> environment variables, then the command
// line (which wins). Usage problems become usageError (exit status 2).
func parseFlags(fs *flag.FlagSet, args []string) error {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		env := "TICKERTAPE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = usageError{fmt.Errorf("%s=%q: %v", env, v, err)}
			}
		}
	})
	if envErr != nil {
		return envErr
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
