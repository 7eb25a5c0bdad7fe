package registry

// Protobuf: .proto files (proto2, proto3 and editions) compiled and linked by
// bufbuild/protocompile, with the well-known types (google/protobuf/*.proto)
// built in and every other import resolved through the schema's
// references, by reference name; compatibility by internal/protocompat.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/reporter"
	"github.com/tickertape/tickertape/internal/protocompat"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// protoRootName is the file name the registered schema compiles under; a
// reference cannot take it.
const protoRootName = "tickertape/registered.proto"

type protoCompiled struct {
	fd             protoreflect.FileDescriptor
	text           string
	fromDescriptor bool // given as a base64 FileDescriptorProto; stored as .proto text
}

func checkProtoText(text string) error {
	if !utf8.ValidString(text) {
		return errors.New("the schema is not valid UTF-8")
	}
	if d := nestingDepth(text, "{", "}"); d > maxNesting {
		return fmt.Errorf("the schema nests %d levels deep; the limit is %d", d, maxNesting)
	}
	return nil
}

func compileProto(text string, refs []Reference, resolve resolver) (compiled, error) {
	if err := checkProtoText(text); err != nil {
		return nil, err
	}
	files := map[string]string{}
	err := collectRefs(typeProtobuf, refs, resolve, 0, files, func(s string) (string, error) { return s, checkProtoText(s) })
	if err != nil {
		return nil, err
	}
	if _, clash := files[protoRootName]; clash {
		return nil, fmt.Errorf("a reference cannot be named %q", protoRootName)
	}
	files[protoRootName] = text
	fd, err := compileProtoFiles(files, protoRootName)
	if err != nil {
		return nil, err
	}
	return &protoCompiled{fd: fd, text: text, fromDescriptor: serializedDescriptor(text) != nil}, nil
}

// compileProtoFiles compiles one file of a set (by name), the well-known
// types available to it. A reference named like a well-known file wins.
func compileProtoFiles(files map[string]string, name string) (protoreflect.FileDescriptor, error) {
	src := protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
		s, ok := files[path]
		if !ok {
			return protocompile.SearchResult{}, fmt.Errorf("import %q is not among the schema's references (register it and add a reference named %q)", path, path)
		}
		if fdp := serializedDescriptor(s); fdp != nil {
			fdp.Name = proto.String(path)
			return protocompile.SearchResult{Proto: fdp}, nil
		}
		return protocompile.SearchResult{Source: strings.NewReader(s)}, nil
	})
	var first error
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(src),
		Reporter: reporter.NewReporter(func(err reporter.ErrorWithPos) error {
			if first == nil {
				first = err
			}
			return err
		}, nil),
	}
	fs, err := c.Compile(context.Background(), name)
	if first != nil {
		err = first
	}
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), protoRootName+":", "line:col "))
	}
	return fs[0], nil
}

// serializedDescriptor decodes a schema given as a base64
// FileDescriptorProto (what confluent-kafka-python's ProtobufSerializer
// and Confluent's serialized format send); nil when text is not one. .proto
// source is never valid base64 (it has spaces, quotes and semicolons).
func serializedDescriptor(text string) *descriptorpb.FileDescriptorProto {
	t := strings.TrimSpace(text)
	if t == "" || strings.ContainsAny(t, " \n\t;{\"") {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(t)
	if err != nil {
		return nil
	}
	var fdp descriptorpb.FileDescriptorProto
	if proto.Unmarshal(b, &fdp) != nil {
		return nil
	}
	// Descriptors built by hand (protobuf's Python runtime) may lack the
	// json_name protoc always fills in, and the linker then takes "" for a
	// custom name shared by every field: fill in protoc's default.
	var clear func(ms []*descriptorpb.DescriptorProto)
	clearFields := func(fs []*descriptorpb.FieldDescriptorProto) {
		for _, f := range fs {
			if f.GetJsonName() == "" && f.Extendee == nil {
				f.JsonName = proto.String(protoreflectJSONName(f.GetName()))
			}
		}
	}
	clear = func(ms []*descriptorpb.DescriptorProto) {
		for _, m := range ms {
			clearFields(m.Field)
			clearFields(m.Extension)
			clear(m.NestedType)
		}
	}
	clear(fdp.MessageType)
	clearFields(fdp.Extension)
	return &fdp
}

// descriptorProto is the schema as a FileDescriptorProto without source
// info, named as Confluent's serialized format leaves it to the reader.
func (p *protoCompiled) descriptorProto() *descriptorpb.FileDescriptorProto {
	fdp := protodesc.ToFileDescriptorProto(p.fd)
	fdp.SourceCodeInfo = nil
	fdp.Name = nil
	return fdp
}

// identity is the deterministic encoding of the descriptor: formatting,
// comments and declaration order of options aside, the same file.
func (p *protoCompiled) identity() (string, error) {
	fdp := p.descriptorProto()
	canonicalOptions(fdp.ProtoReflect())
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(fdp)
	return string(b), err
}

// canonicalOptions rewrites every *Options message in a descriptor as its
// fields' bytes sorted by field number: custom options are extensions when
// compiled from source but unknown fields when read from a serialized
// descriptor, and are encoded in different orders otherwise.
func canonicalOptions(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := range l.Len() {
				canonicalOptions(l.Get(i).Message())
			}
			return true
		}
		sub := v.Message()
		if name := sub.Descriptor().FullName(); strings.HasPrefix(string(name), "google.protobuf.") && strings.HasSuffix(string(name), "Options") {
			raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(sub.Interface())
			if err != nil {
				return true
			}
			type field struct {
				num protowire.Number
				b   []byte
			}
			var fields []field
			for len(raw) > 0 {
				num, _, n := protowire.ConsumeField(raw)
				if n < 0 {
					return true
				}
				fields = append(fields, field{num, raw[:n]})
				raw = raw[n:]
			}
			sort.SliceStable(fields, func(i, j int) bool { return fields[i].num < fields[j].num })
			var out []byte
			for _, f := range fields {
				out = append(out, f.b...)
			}
			proto.Reset(sub.Interface())
			sub.SetUnknown(out)
			return true
		}
		canonicalOptions(sub)
		return true
	})
}

func (p *protoCompiled) normalized() (string, error) { return printProto(p.fd, true), nil }

// serialized is GET /schemas/ids/{id}?format=serialized: the base64 of the
// FileDescriptorProto.
func (p *protoCompiled) serialized() (string, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(p.descriptorProto())
	return base64.StdEncoding.EncodeToString(b), err
}

func (p *protoCompiled) check(writer compiled) []string {
	w, ok := writer.(*protoCompiled)
	if !ok {
		return []string{"Found incompatible change: Difference{fullPath='#/', type=PACKAGE_CHANGED}"}
	}
	var out []string
	for _, i := range protocompat.Check(p.fd, w.fd) {
		out = append(out, i.String())
	}
	return out
}

// printProto writes a file descriptor as .proto text in one canonical
// layout: syntax, package, imports, options sorted, then messages, enums,
// services and extensions in declaration order. Custom options (extensions)
// are left out when withExtensions is false (format=ignore_extensions).
func printProto(fd protoreflect.FileDescriptor, withExtensions bool) string {
	pr := &protoPrinter{ext: withExtensions}
	switch fd.Syntax() {
	case protoreflect.Proto2:
		pr.line(0, `syntax = "proto2";`)
	case protoreflect.Proto3:
		pr.line(0, `syntax = "proto3";`)
	default:
		pr.line(0, `edition = "2023";`)
	}
	if fd.Package() != "" {
		pr.line(0, "package "+string(fd.Package())+";")
	}
	imps := fd.Imports()
	for i := range imps.Len() {
		imp := imps.Get(i)
		kw := "import "
		if imp.IsPublic {
			kw = "import public "
		} else if imp.IsWeak {
			kw = "import weak "
		}
		pr.line(0, kw+strconv.Quote(imp.Path())+";")
	}
	pr.options(0, fd.Options(), "option %s = %s;")
	for i := range fd.Messages().Len() {
		pr.message(0, fd.Messages().Get(i))
	}
	for i := range fd.Enums().Len() {
		pr.enum(0, fd.Enums().Get(i))
	}
	for i := range fd.Services().Len() {
		s := fd.Services().Get(i)
		pr.line(0, "service "+string(s.Name())+" {")
		pr.options(1, s.Options(), "option %s = %s;")
		for j := range s.Methods().Len() {
			m := s.Methods().Get(j)
			in, out := "."+string(m.Input().FullName()), "."+string(m.Output().FullName())
			if m.IsStreamingClient() {
				in = "stream " + in
			}
			if m.IsStreamingServer() {
				out = "stream " + out
			}
			pr.line(1, fmt.Sprintf("rpc %s(%s) returns (%s);", m.Name(), in, out))
		}
		pr.line(0, "}")
	}
	pr.extensions(0, fd.Extensions())
	return pr.b.String()
}

type protoPrinter struct {
	b   strings.Builder
	ext bool
}

func (pr *protoPrinter) line(indent int, s string) {
	pr.b.WriteString(strings.Repeat("  ", indent))
	pr.b.WriteString(s)
	pr.b.WriteByte('\n')
}

// optionList renders the set fields of an options message, sorted by name.
func (pr *protoPrinter) optionList(opts proto.Message) []string {
	if opts == nil {
		return nil
	}
	var out []string
	opts.ProtoReflect().Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := string(f.Name())
		if f.IsExtension() {
			if !pr.ext {
				return true
			}
			name = "(" + string(f.FullName()) + ")"
		}
		if f.IsList() || f.Kind() == protoreflect.MessageKind || f.Kind() == protoreflect.GroupKind {
			return true // aggregate options are not printed
		}
		out = append(out, name+"\x00"+optionValue(f, v))
		return true
	})
	sort.Strings(out)
	return out
}

func optionValue(f protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch f.Kind() {
	case protoreflect.StringKind:
		return strconv.Quote(v.String())
	case protoreflect.BytesKind:
		return strconv.Quote(string(v.Bytes()))
	case protoreflect.EnumKind:
		if ev := f.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return strconv.Itoa(int(v.Enum()))
	}
	return v.String()
}

func (pr *protoPrinter) options(indent int, opts proto.Message, format string) {
	for _, o := range pr.optionList(opts) {
		name, val, _ := strings.Cut(o, "\x00")
		pr.line(indent, fmt.Sprintf(format, name, val))
	}
}

func typeName(f protoreflect.FieldDescriptor) string {
	switch f.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return "." + string(f.Message().FullName())
	case protoreflect.EnumKind:
		return "." + string(f.Enum().FullName())
	}
	return f.Kind().String()
}

func (pr *protoPrinter) field(indent int, f protoreflect.FieldDescriptor, inOneof bool) {
	var s string
	switch {
	case f.IsMap():
		s = fmt.Sprintf("map<%s, %s> ", typeName(f.MapKey()), typeName(f.MapValue()))
	case inOneof:
		s = typeName(f) + " "
	case f.Cardinality() == protoreflect.Repeated:
		s = "repeated " + typeName(f) + " "
	case f.Cardinality() == protoreflect.Required:
		s = "required " + typeName(f) + " "
	case f.HasOptionalKeyword() || f.Syntax() == protoreflect.Proto2:
		s = "optional " + typeName(f) + " "
	default:
		s = typeName(f) + " "
	}
	if isGroup(f) {
		s = strings.TrimSuffix(s, typeName(f)+" ") + "group " + string(f.Message().Name()) + fmt.Sprintf(" = %d {", f.Number())
		pr.line(indent, s)
		pr.messageBody(indent, f.Message())
		pr.line(indent, "}")
		return
	}
	s += fmt.Sprintf("%s = %d", f.Name(), f.Number())
	var opts []string
	if f.HasDefault() {
		opts = append(opts, "default = "+optionValue(f, f.Default()))
	}
	if !f.IsExtension() && f.HasJSONName() && f.JSONName() != protoreflectJSONName(string(f.Name())) {
		opts = append(opts, "json_name = "+strconv.Quote(f.JSONName()))
	}
	for _, o := range pr.optionList(f.Options()) {
		name, val, _ := strings.Cut(o, "\x00")
		opts = append(opts, name+" = "+val)
	}
	if len(opts) > 0 {
		s += " [" + strings.Join(opts, ", ") + "]"
	}
	pr.line(indent, s+";")
}

// protoreflectJSONName is protoc's default json_name (lowerCamelCase).
func protoreflectJSONName(s string) string {
	var b strings.Builder
	up := false
	for _, r := range s {
		if r == '_' {
			up = true
			continue
		}
		if up && r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		up = false
		b.WriteRune(r)
	}
	return b.String()
}

func (pr *protoPrinter) message(indent int, m protoreflect.MessageDescriptor) {
	if m.IsMapEntry() {
		return
	}
	pr.line(indent, "message "+string(m.Name())+" {")
	pr.messageBody(indent, m)
	pr.line(indent, "}")
}

// isGroup reports whether f is a proto2 group, printed inline with its
// message.
func isGroup(f protoreflect.FieldDescriptor) bool {
	return f.Kind() == protoreflect.GroupKind && f.Syntax() == protoreflect.Proto2
}

func (pr *protoPrinter) messageBody(indent int, m protoreflect.MessageDescriptor) {
	pr.options(indent+1, m.Options(), "option %s = %s;")
	groups := map[protoreflect.FullName]bool{}
	for i := range m.Fields().Len() {
		if f := m.Fields().Get(i); isGroup(f) {
			groups[f.Message().FullName()] = true
		}
	}
	printed := map[int]bool{}
	fs := m.Fields()
	for i := range fs.Len() {
		f := fs.Get(i)
		if od := f.ContainingOneof(); od != nil && !od.IsSynthetic() {
			if printed[od.Index()] {
				continue
			}
			printed[od.Index()] = true
			pr.line(indent+1, "oneof "+string(od.Name())+" {")
			pr.options(indent+2, od.Options(), "option %s = %s;")
			for j := range od.Fields().Len() {
				pr.field(indent+2, od.Fields().Get(j), true)
			}
			pr.line(indent+1, "}")
			continue
		}
		pr.field(indent+1, f, false)
	}
	rr := m.ReservedRanges()
	for i := range rr.Len() {
		r := rr.Get(i)
		if r[1]-1 == r[0] {
			pr.line(indent+1, fmt.Sprintf("reserved %d;", r[0]))
		} else {
			pr.line(indent+1, fmt.Sprintf("reserved %d to %d;", r[0], r[1]-1))
		}
	}
	rn := m.ReservedNames()
	for i := range rn.Len() {
		pr.line(indent+1, "reserved "+strconv.Quote(string(rn.Get(i)))+";")
	}
	er := m.ExtensionRanges()
	for i := range er.Len() {
		r := er.Get(i)
		pr.line(indent+1, fmt.Sprintf("extensions %d to %d;", r[0], r[1]-1))
	}
	for i := range m.Messages().Len() {
		if !groups[m.Messages().Get(i).FullName()] {
			pr.message(indent+1, m.Messages().Get(i))
		}
	}
	for i := range m.Enums().Len() {
		pr.enum(indent+1, m.Enums().Get(i))
	}
	pr.extensions(indent+1, m.Extensions())
}

func (pr *protoPrinter) enum(indent int, e protoreflect.EnumDescriptor) {
	pr.line(indent, "enum "+string(e.Name())+" {")
	pr.options(indent+1, e.Options(), "option %s = %s;")
	for i := range e.Values().Len() {
		v := e.Values().Get(i)
		s := fmt.Sprintf("%s = %d", v.Name(), v.Number())
		var opts []string
		for _, o := range pr.optionList(v.Options()) {
			name, val, _ := strings.Cut(o, "\x00")
			opts = append(opts, name+" = "+val)
		}
		if len(opts) > 0 {
			s += " [" + strings.Join(opts, ", ") + "]"
		}
		pr.line(indent+1, s+";")
	}
	rr := e.ReservedRanges()
	for i := range rr.Len() {
		r := rr.Get(i)
		if r[0] == r[1] {
			pr.line(indent+1, fmt.Sprintf("reserved %d;", r[0]))
		} else {
			pr.line(indent+1, fmt.Sprintf("reserved %d to %d;", r[0], r[1]))
		}
	}
	pr.line(indent, "}")
}

func (pr *protoPrinter) extensions(indent int, xs protoreflect.ExtensionDescriptors) {
	if !pr.ext {
		return
	}
	for i := range xs.Len() {
		x := xs.Get(i)
		pr.line(indent, "extend ."+string(x.ContainingMessage().FullName())+" {")
		pr.field(indent+1, x, false)
		pr.line(indent, "}")
	}
}
