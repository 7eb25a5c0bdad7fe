package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
)

// TestSchemaCommands drives tickertape schema against the embedded registry,
// and tickertape registry (standalone) against the embedded broker.
func TestSchemaCommands(t *testing.T) {
	s, err := app.Start(app.Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Broker: broker.Config{DataDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	dir := t.TempDir()
	v1 := filepath.Join(dir, "v1.avsc")
	v2 := filepath.Join(dir, "v2.avsc")
	bad := filepath.Join(dir, "bad.avsc")
	os.WriteFile(v1, []byte(`{"type":"record","name":"T","fields":[{"name":"a","type":"long"}]}`), 0o644)
	os.WriteFile(v2, []byte(`{"type":"record","name":"T","fields":[{"name":"a","type":"long"},{"name":"b","type":"string","default":""}]}`), 0o644)
	os.WriteFile(bad, []byte(`{"type":"record","name":"T","fields":[{"name":"a","type":"long"},{"name":"c","type":"string"}]}`), 0o644)
	reg := "--registry=" + s.RegistryURL()
	steps := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"schema", "register", "t-value", v1, reg}, 0, "subject t-value version 1 id 1"},
		{[]string{"schema", "check", "t-value", v2, reg}, 0, "compatible"},
		{[]string{"schema", "check", "t-value", bad, reg}, 1, "incompatible"},
		{[]string{"schema", "register", "t-value", bad, reg}, 1, "error 409"},
		{[]string{"schema", "register", "t-value", v2, reg}, 0, "version 2 id 2"},
		{[]string{"schema", "subjects", reg}, 0, "t-value"},
		{[]string{"schema", "versions", "t-value", reg}, 0, "1\n2\n"},
		{[]string{"schema", "get", "t-value", reg}, 0, `"version": 2`},
		{[]string{"schema", "get", "--id", "1", reg}, 0, `\"name\":\"T\"`},
		{[]string{"schema", "config", reg}, 0, "BACKWARD"},
		{[]string{"schema", "config", "t-value", "full", reg}, 0, "FULL"},
		{[]string{"schema", "delete", "t-value", "1", reg}, 0, "deleted t-value version 1"},
		{[]string{"schema", "delete", "t-value", "1", "--permanent", reg}, 0, "deleted"},
		{[]string{"schema", "get", "t-value", "1", reg}, 1, "error 40402"},
		{[]string{"schema", "get", "t-value", "zero", reg}, 2, "want a number"},
		{[]string{"schema", "frobnicate", reg}, 2, "unknown schema subcommand"},
		{[]string{"schema", "subjects", "--registry=http://127.0.0.1:1"}, 1, "cannot reach the schema registry at http://127.0.0.1:1"},
		{[]string{"schema", "--help"}, 0, "Examples:"},
	}
	for _, st := range steps {
		var out, errb bytes.Buffer
		code := run(st.args, &out, &errb)
		all := out.String() + errb.String()
		if code != st.code || !strings.Contains(all, st.want) {
			t.Fatalf("tickertape %v: exit %d (want %d), output %q (want %q)", st.args, code, st.code, all, st.want)
		}
	}

	// The standalone registry's own checks (serving is covered by the
	// registry package's second-instance test).
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"registry"}, 2, "--brokers is required"},
		{[]string{"registry", "--brokers", s.KafkaAddr(), "--listen", "127.0.0.1:99999"}, 1, "--listen"},
		{[]string{"registry", "--help"}, 0, "Examples:"},
	} {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if all := out.String() + errb.String(); code != c.code || !strings.Contains(all, c.want) {
			t.Fatalf("tickertape %v: exit %d (want %d), output %q (want %q)", c.args, code, c.code, all, c.want)
		}
	}
}
