package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

func init() {
	register(&command{name: "schema", summary: "schema registry client: subjects, versions, get, register, check, delete, config", run: runSchema})
}

// refsFlag collects --ref NAME=SUBJECT:VERSION.
type refsFlag []sr.SchemaReference

func (r *refsFlag) String() string { return "" }
func (r *refsFlag) Set(v string) error {
	name, rest, ok := strings.Cut(v, "=")
	subject, version, ok2 := strings.Cut(rest, ":")
	n, err := strconv.Atoi(version)
	if !ok || !ok2 || name == "" || subject == "" || err != nil {
		return fmt.Errorf("%q: want NAME=SUBJECT:VERSION, e.g. com.acme.Money=money-value:1", v)
	}
	*r = append(*r, sr.SchemaReference{Name: name, Subject: subject, Version: n})
	return nil
}

func runSchema(args []string, stdout, stderr io.Writer) error {
	const usage = "A thin client for any Confluent-compatible schema registry (ours by default).\n\n" +
		"  subjects                      list subjects\n" +
		"  versions SUBJECT              list a subject's versions\n" +
		"  get SUBJECT [VERSION]         show a version (default latest); get --id N shows a schema by id\n" +
		"  register SUBJECT FILE         register a schema (- reads stdin); prints its id and version\n" +
		"  check SUBJECT FILE            check compatibility against the subject (exit status 1 if incompatible)\n" +
		"  delete SUBJECT [VERSION]      soft-delete a subject or one version (--permanent after a soft delete)\n" +
		"  config [SUBJECT] [LEVEL]      show or set the compatibility level (global without SUBJECT)\n\n" +
		"FILE is Avro (.avsc), JSON Schema (.json) or Protobuf (.proto), by its extension or --type."
	const examples = `  tickertape schema register trades-value market/schemas/trade.avsc
  tickertape schema register prices-value price.schema.json
  tickertape schema register books-value book.proto --ref money/price.proto=price-value:1
  cat ticker.json | tickertape schema register tickers-value - --type JSON
  tickertape schema get trades-value
  tickertape schema get --id 1
  tickertape schema check trades-value trade-v2.avsc
  tickertape schema config trades-value FULL
  tickertape schema delete trades-value 2 && tickertape schema delete trades-value 2 --permanent
  tickertape schema subjects --registry http://registry.internal:8081`
	var url, typ string
	var id, version int
	var deleted, permanent, normalize bool
	var refs refsFlag
	var timeout time.Duration
	fs := newFlagSet("schema SUBCOMMAND [flags] [ARGS]", usage, examples, stderr)
	fs.StringVar(&url, "registry", "http://127.0.0.1:8081", "schema registry URL")
	fs.IntVar(&id, "id", 0, "get: the schema id to show")
	fs.StringVar(&typ, "type", "", "register, check: AVRO, JSON or PROTOBUF (default: by the file's extension, .json JSON, .proto PROTOBUF, else AVRO)")
	fs.IntVar(&version, "version", 0, "check: the version to check against (default: as the subject's compatibility level says)")
	fs.BoolVar(&deleted, "deleted", false, "subjects, versions: include soft-deleted ones")
	fs.BoolVar(&permanent, "permanent", false, "delete: hard-delete (after a soft delete)")
	fs.BoolVar(&normalize, "normalize", false, "register, check: normalize the schema first")
	fs.Var(&refs, "ref", "register, check: a reference NAME=SUBJECT:VERSION (repeatable)")
	fs.DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for the registry")
	var sec clientSecurity
	sec.registerTLS(fs)
	sec.registerRegistry(fs)
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs.Usage()
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return flag.ErrHelp
		}
		return usageError{errors.New("schema needs a subcommand: subjects, versions, get, register, check, delete or config")}
	}
	sub := args[0]
	pos, err := parseWithArgs(fs, args[1:])
	if err != nil {
		return err
	}
	sopts, err := sec.registryOpts(url)
	if err != nil {
		return err
	}
	cl, err := sr.NewClient(sopts...)
	if err != nil {
		return usageError{fmt.Errorf("--registry %q: %v", url, err)}
	}
	if err := reachRegistry(context.Background(), url, sopts...); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if deleted {
		ctx = sr.WithParams(ctx, sr.ShowDeleted)
	}
	if normalize {
		ctx = sr.WithParams(ctx, sr.Normalize)
	}
	want := func(min, max int, what string) error {
		if len(pos) < min || len(pos) > max {
			return usageError{fmt.Errorf("schema %s takes %s", sub, what)}
		}
		return nil
	}
	readSchema := func(path string) (sr.Schema, error) {
		var b []byte
		var err error
		if path == "-" {
			b, err = io.ReadAll(os.Stdin)
		} else {
			b, err = os.ReadFile(path)
		}
		if err != nil {
			return sr.Schema{}, err
		}
		t, err := schemaTypeOf(path, typ)
		if err != nil {
			return sr.Schema{}, err
		}
		return sr.Schema{Schema: string(b), Type: t, References: refs}, nil
	}
	out := json.NewEncoder(stdout)
	out.SetIndent("", "  ")
	wrap := func(err error) error {
		if err == nil {
			return nil
		}
		var re *sr.ResponseError
		if errors.As(err, &re) {
			return fmt.Errorf("%s (error %d)", re.Message, re.ErrorCode)
		}
		return fmt.Errorf("%w (is the registry running at %s? set --registry)", err, url)
	}
	switch sub {
	case "subjects":
		if err := want(0, 0, "no arguments"); err != nil {
			return err
		}
		subs, err := cl.Subjects(ctx)
		if err != nil {
			return wrap(err)
		}
		for _, s := range subs {
			fmt.Fprintln(stdout, s)
		}
	case "versions":
		if err := want(1, 1, "SUBJECT"); err != nil {
			return err
		}
		vs, err := cl.SubjectVersions(ctx, pos[0])
		if err != nil {
			return wrap(err)
		}
		for _, v := range vs {
			fmt.Fprintln(stdout, v)
		}
	case "get":
		if id > 0 {
			if err := want(0, 0, "no arguments with --id"); err != nil {
				return err
			}
			s, err := cl.SchemaByID(ctx, id)
			if err != nil {
				return wrap(err)
			}
			return out.Encode(s)
		}
		if err := want(1, 2, "SUBJECT [VERSION]"); err != nil {
			return err
		}
		v := -1
		if len(pos) == 2 && pos[1] != "latest" {
			if v, err = strconv.Atoi(pos[1]); err != nil || v < 1 {
				return usageError{fmt.Errorf("version %q: want a number or latest", pos[1])}
			}
		}
		s, err := cl.SchemaByVersion(ctx, pos[0], v)
		if err != nil {
			return wrap(err)
		}
		return out.Encode(s)
	case "register":
		if err := want(2, 2, "SUBJECT FILE"); err != nil {
			return err
		}
		s, err := readSchema(pos[1])
		if err != nil {
			return err
		}
		ss, err := cl.CreateSchema(ctx, pos[0], s)
		if err != nil {
			return wrap(err)
		}
		fmt.Fprintf(stdout, "subject %s version %d id %d\n", ss.Subject, ss.Version, ss.ID)
	case "check":
		if err := want(2, 2, "SUBJECT FILE"); err != nil {
			return err
		}
		s, err := readSchema(pos[1])
		if err != nil {
			return err
		}
		v := -2 // every version the level asks for
		if version > 0 {
			v = version
		}
		res, err := cl.CheckCompatibility(sr.WithParams(ctx, sr.Verbose), pos[0], v, s)
		if err != nil {
			return wrap(err)
		}
		if !res.Is {
			fmt.Fprintln(stdout, "incompatible:")
			for _, m := range res.Messages {
				fmt.Fprintln(stdout, "  "+m)
			}
			return exitStatus(1)
		}
		fmt.Fprintln(stdout, "compatible")
	case "delete":
		if err := want(1, 2, "SUBJECT [VERSION]"); err != nil {
			return err
		}
		how := sr.SoftDelete
		if permanent {
			how = sr.HardDelete
		}
		if len(pos) == 1 {
			vs, err := cl.DeleteSubject(ctx, pos[0], how)
			if err != nil {
				return wrap(err)
			}
			fmt.Fprintf(stdout, "deleted %s versions %v\n", pos[0], vs)
			return nil
		}
		v := -1
		if pos[1] != "latest" {
			if v, err = strconv.Atoi(pos[1]); err != nil || v < 1 {
				return usageError{fmt.Errorf("version %q: want a number or latest", pos[1])}
			}
		}
		if err := cl.DeleteSchema(ctx, pos[0], v, how); err != nil {
			return wrap(err)
		}
		fmt.Fprintf(stdout, "deleted %s version %s\n", pos[0], pos[1])
	case "config":
		if err := want(0, 2, "[SUBJECT] [LEVEL]"); err != nil {
			return err
		}
		var subjects []string
		if len(pos) > 0 && pos[0] != "-" {
			subjects = pos[:1]
		}
		if len(pos) == 2 {
			var level sr.CompatibilityLevel
			if err := level.UnmarshalText([]byte(strings.ToUpper(pos[1]))); err != nil {
				return usageError{fmt.Errorf("level %q: use NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL or FULL_TRANSITIVE", pos[1])}
			}
			res := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: level}, subjects...)
			if res[0].Err != nil {
				return wrap(res[0].Err)
			}
		}
		res := cl.Compatibility(sr.WithParams(ctx, sr.DefaultToGlobal), subjects...)
		if res[0].Err != nil {
			return wrap(res[0].Err)
		}
		fmt.Fprintln(stdout, res[0].Level)
	default:
		return usageError{fmt.Errorf("unknown schema subcommand %q: use subjects, versions, get, register, check, delete or config", sub)}
	}
	return nil
}

// schemaTypeOf is a schema file's type: --type if given, else by extension.
func schemaTypeOf(path, flagType string) (sr.SchemaType, error) {
	switch strings.ToUpper(flagType) {
	case "AVRO":
		return sr.TypeAvro, nil
	case "JSON":
		return sr.TypeJSON, nil
	case "PROTOBUF", "PROTO":
		return sr.TypeProtobuf, nil
	case "":
	default:
		return 0, usageError{fmt.Errorf("--type %q: want AVRO, JSON or PROTOBUF", flagType)}
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return sr.TypeJSON, nil
	case ".proto":
		return sr.TypeProtobuf, nil
	}
	return sr.TypeAvro, nil
}
