package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestUsageAndExitCodes(t *testing.T) {
	cases := []struct {
		args     []string
		code     int
		contains string
	}{
		{nil, 2, "Commands:"},
		{[]string{"--help"}, 0, "serve"},
		{[]string{"nosuch"}, 2, `unknown command "nosuch"`},
		{[]string{"serve", "--help"}, 0, "Examples:"},
		{[]string{"serve", "--fsync", "sometimes"}, 2, "--fsync"},
		{[]string{"serve", "--no-such-flag"}, 2, "no-such-flag"},
		{[]string{"serve", "extra"}, 2, "unexpected argument"},
		{[]string{"version"}, 0, "tickertape "},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		all := out.String() + errb.String()
		if code != c.code || !strings.Contains(all, c.contains) {
			t.Errorf("tickertape %v: exit %d (want %d), output %q (want %q)", c.args, code, c.code, all, c.contains)
		}
	}
}

func TestEnvironmentFlags(t *testing.T) {
	t.Setenv("TICKERTAPE_FSYNC", "bogus")
	var out, errb bytes.Buffer
	if code := run([]string{"serve"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--fsync") {
		t.Fatalf("TICKERTAPE_FSYNC=bogus: exit %d, %q", code, errb.String())
	}
}
