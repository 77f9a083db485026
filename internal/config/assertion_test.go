package config

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// assertionDoc is a document whose one component has the assertion a, a
// YAML flow mapping such as `{json_path: status, equals: up}`.
func assertionDoc(a string) string {
	return withComponent(okHTTP+"http:\n  assertions:\n    - "+a+"\n", "")
}

// TestAssertionForms checks each assertion form Parse and the schema accept,
// and what Parse compiles it to.
func TestAssertionForms(t *testing.T) {
	sch := compileSchema(t)
	tests := []struct {
		name      string
		assertion string
		path      string // the compiled path's text; "" for none
		op        string
		want      Operand
		length    bool
		regex     bool
	}{
		{name: "dotted path, exists", assertion: `{json_path: checks.0.ok}`, path: "$.checks[0].ok"},
		{name: "equals shorthand", assertion: `{json_path: status, equals: up}`, path: "$.status", op: "==", want: Operand{Text: "up", IsString: true}},
		{name: "equals unquoted number stays text", assertion: `{json_path: version, equals: 2.50}`, path: "$.version", op: "==", want: Operand{Text: "2.50", IsString: true}},
		{name: "equals unquoted boolean", assertion: `{json_path: ready, equals: true}`, path: "$.ready", op: "==", want: Operand{Text: "true", IsString: true}},
		{name: "value alone means ==", assertion: `{json_path: ready, value: true}`, path: "$.ready", op: "==", want: Operand{Text: "true"}},
		{name: "greater than", assertion: `{json_path: data.count, op: ">", value: 0}`, path: "$.data.count", op: ">", want: Operand{Text: "0", IsNumber: true}},
		{name: "at most, a fraction", assertion: `{json_path: $.load, op: "<=", value: 0.75}`, path: "$.load", op: "<=", want: Operand{Text: "0.75", Number: 0.75, IsNumber: true}},
		{name: "not equal to a string", assertion: `{json_path: status, op: "!=", value: down}`, path: "$.status", op: "!=", want: Operand{Text: "down", IsString: true}},
		{name: "quoted number is a string", assertion: `{json_path: code, op: "==", value: "200"}`, path: "$.code", op: "==", want: Operand{Text: "200", IsString: true}},
		{name: "contains", assertion: `{json_path: $.tags, op: contains, value: primary}`, path: "$.tags", op: "contains", want: Operand{Text: "primary", IsString: true}},
		{name: "length", assertion: `{json_path: $.agents, length: true, op: ">=", value: 2}`, path: "$.agents", op: ">=", want: Operand{Text: "2", Number: 2, IsNumber: true}, length: true},
		{name: "length with value alone", assertion: `{json_path: $.agents, length: true, value: 3}`, path: "$.agents", op: "==", want: Operand{Text: "3", Number: 3, IsNumber: true}, length: true},
		{name: "length false is no length", assertion: `{json_path: status, equals: up, length: false}`, path: "$.status", op: "==", want: Operand{Text: "up", IsString: true}},
		{name: "filter and wildcard", assertion: `{json_path: "$.checks[?@.critical == true].ok", value: true}`, path: "$.checks[?@.critical == true].ok", op: "==", want: Operand{Text: "true"}},
		{name: "descendants", assertion: `{json_path: $..status}`, path: "$..status"},
		{name: "regex", assertion: `{regex: '"version":\s*2'}`, regex: true},
		{name: "contains the body", assertion: `{contains: ok}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := assertionDoc(tt.assertion)
			parsed, err := Parse([]byte(doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if err := sch.Validate(yamlToJSON(t, []byte(doc))); err != nil {
				t.Errorf("schema: %v", err)
			}
			a := parsed.Integrations[0].Components[0].HTTP.Assertions[0]
			c, err := a.Compiled()
			if err != nil {
				t.Fatalf("Compiled: %v", err)
			}
			var path string
			if c.Path != nil {
				path = c.Path.String()
			}
			if path != tt.path || c.Op != tt.op || c.Want != tt.want || c.Length != tt.length || (c.Regexp != nil) != tt.regex {
				t.Errorf("compiled to path %q op %q want %+v length %t regex %v; want path %q op %q want %+v length %t regex %t",
					path, c.Op, c.Want, c.Length, c.Regexp, tt.path, tt.op, tt.want, tt.length, tt.regex)
			}
		})
	}
}

// TestAssertionRefused checks every malformed assertion refuses the
// document, naming integration, component and field. The schema refuses
// them too, but for what it cannot express: JSONPath and regex syntax, and
// YAML's reading of an unquoted date.
func TestAssertionRefused(t *testing.T) {
	sch := compileSchema(t)
	const at = `integration "bridge": component "orchestrator": field "http.assertions[0].`
	tests := []struct {
		name       string
		assertion  string
		want       string
		sentinel   error
		parseAlone bool // the schema cannot tell
	}{
		{"bad JSONPath", `{json_path: "$.checks[", value: 1}`, at + `json_path": invalid value: "$.checks[" is not RFC 9535 JSONPath`, ErrInvalidValue, true},
		{"bad JSONPath function", `{json_path: "$[?nope(@)]"}`, at + `json_path": invalid value: "$[?nope(@)]" is not RFC 9535 JSONPath`, ErrInvalidValue, true},
		{"dotted path with an empty segment", `{json_path: checks..ok}`, at + `json_path": invalid value: "checks..ok" has an empty segment`, ErrInvalidValue, false},
		{"bad regex", `{regex: '('}`, at + `regex": does not compile`, ErrInvalidValue, true},
		{"unknown op", `{json_path: count, op: "=~", value: 1}`, at + `op": "=~" is not one of ==, !=, <, <=, >, >=, contains`, ErrInvalidValue, false},
		{"op without value", `{json_path: count, op: ">"}`, at + `value": must be set with op ">"`, ErrRequired, false},
		{"ordering a string", `{json_path: count, op: ">", value: many}`, at + `value": must be a number with op ">", got "many"`, ErrInvalidValue, false},
		{"ordering a quoted number", `{json_path: count, op: "<", value: "5"}`, at + `value": must be a number with op "<", got "5"`, ErrInvalidValue, false},
		{"ordering a boolean", `{json_path: count, op: ">=", value: true}`, at + `value": must be a number with op ">=", got true`, ErrInvalidValue, false},
		{"value a list", `{json_path: tags, op: contains, value: [a]}`, at + `value": invalid value: must be a string, number or boolean, got a list`, ErrInvalidValue, false},
		{"value a mapping", `{json_path: tags, value: {a: 1}}`, at + `value": invalid value: must be a string, number or boolean, got a mapping`, ErrInvalidValue, false},
		{"value an unquoted date", `{json_path: day, value: 2025-06-01}`, at + `value": invalid value: YAML reads an unquoted date as a timestamp`, ErrInvalidValue, true},
		{"equals with op", `{json_path: status, equals: up, op: "!="}`, at + `equals": is shorthand for op "==" with value`, ErrConflict, false},
		{"equals with value", `{json_path: status, equals: up, value: up}`, at + `equals": is shorthand for op "==" with value`, ErrConflict, false},
		{"equals with length", `{json_path: status, equals: "2", length: true}`, at + `equals": is shorthand for op "==" with value`, ErrConflict, false},
		{"length without op or value", `{json_path: agents, length: true}`, at + `op": must be set with length`, ErrRequired, false},
		{"length with contains", `{json_path: agents, length: true, op: contains, value: 2}`, at + `length": compares a length, which op "contains" cannot`, ErrConflict, false},
		{"length of a string value", `{json_path: agents, length: true, op: ">", value: two}`, at + `value": must be a number with length, got "two"`, ErrInvalidValue, false},
		{"op without json_path", `{contains: ok, op: "==", value: ok}`, at + `op": only allowed with json_path`, ErrConflict, false},
		{"value without json_path", `{regex: ok, value: ok}`, at + `value": only allowed with json_path`, ErrConflict, false},
		{"length without json_path", `{contains: ok, length: true, value: 2}`, at + `length": only allowed with json_path`, ErrConflict, false},
		{"metric bad JSONPath", "", `integration "bridge": component "orchestrator": field "http.metrics[0].json_path": invalid value: "$.mem[" is not RFC 9535 JSONPath`, ErrInvalidValue, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := assertionDoc(tt.assertion)
			if tt.assertion == "" {
				doc = withComponent(okHTTP+"http:\n  metrics:\n    - {name: MemoryMB, json_path: \"$.mem[\"}\n", "")
			}
			_, err := Parse([]byte(doc))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", doc)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v\nwant it to contain %s", err, tt.want)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("error does not wrap %v: %v", tt.sentinel, err)
			}
			if tt.parseAlone {
				return
			}
			if err := sch.Validate(yamlToJSON(t, []byte(doc))); err == nil {
				t.Errorf("schema accepted:\n%s", doc)
			}
		})
	}
}

// TestDottedPaths checks the dotted paths of earlier documents read as the
// JSONPath they always meant, and select what they always selected.
func TestDottedPaths(t *testing.T) {
	doc := map[string]any{
		"status":  "up",
		"checks":  []any{map[string]any{"ok": true}, map[string]any{"ok": false}},
		"used-mb": 312.5,
		"a'b":     map[string]any{`c\d`: "quoted"},
		"é":       "accent",
		"_x1":     "underscore",
	}
	tests := []struct {
		dotted string
		path   string
		want   any // nil: selects nothing
	}{
		{"status", "$.status", "up"},
		{"checks.1.ok", "$.checks[1].ok", false},
		{"checks.01.ok", "$.checks[1].ok", false},
		{"checks.5.ok", "$.checks[5].ok", nil},
		{"used-mb", "$['used-mb']", 312.5},
		{`a'b.c\d`, `$['a\'b']['c\\d']`, "quoted"},
		{"é", "$.é", "accent"},
		{"_x1", "$._x1", "underscore"},
		{"status.0", "$.status[0]", nil},
	}
	for _, tt := range tests {
		t.Run(tt.dotted, func(t *testing.T) {
			p, err := parsePath(tt.dotted)
			if err != nil {
				t.Fatal(err)
			}
			if p.String() != tt.path {
				t.Errorf("path = %s, want %s", p, tt.path)
			}
			got := p.Select(doc)
			switch {
			case tt.want == nil && len(got) != 0:
				t.Errorf("selected %v, want nothing", got)
			case tt.want != nil && (len(got) != 1 || got[0] != tt.want):
				t.Errorf("selected %v, want [%v]", got, tt.want)
			}
		})
	}
}

// TestPathsParsedOnce checks a loaded document keeps its parsed paths and
// regexes, so probes never parse, and that an assertion built without
// validation (a test's) is parsed when asked.
func TestPathsParsedOnce(t *testing.T) {
	doc, err := Parse([]byte(withComponent(okHTTP+`http:
  assertions:
    - {json_path: status, equals: up}
    - {regex: up}
  metrics:
    - {name: MemoryMB, json_path: mem.used_mb}
`, "")))
	if err != nil {
		t.Fatal(err)
	}
	h := doc.Integrations[0].Components[0].HTTP
	first, _ := h.Assertions[0].Compiled()
	again, _ := h.Assertions[0].Compiled()
	if first.Path == nil || first.Path != again.Path {
		t.Errorf("json_path parsed anew on each call: %p, %p", first.Path, again.Path)
	}
	re1, _ := h.Assertions[1].Compiled()
	re2, _ := h.Assertions[1].Compiled()
	if re1.Regexp == nil || re1.Regexp != re2.Regexp {
		t.Errorf("regex compiled anew on each call: %p, %p", re1.Regexp, re2.Regexp)
	}
	m1, _ := h.Metrics[0].Path()
	m2, _ := h.Metrics[0].Path()
	if m1 == nil || m1 != m2 {
		t.Errorf("metric json_path parsed anew on each call: %p, %p", m1, m2)
	}

	unvalidated := Assertion{JSONPath: "data.count", Op: OpGreater, Value: 0}
	c, err := unvalidated.Compiled()
	if err != nil || c.Path.String() != "$.data.count" || c.Op != OpGreater || !c.Want.IsNumber {
		t.Errorf("unvalidated assertion compiled to %+v, %v", c, err)
	}
	if _, err := (Assertion{JSONPath: "count", Op: OpGreater, Value: "x"}).Compiled(); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("invalid unvalidated assertion: err = %v, want ErrInvalidValue", err)
	}
	if p, err := (ExtractedMetric{Name: "M", JSONPath: "mem.used_mb"}).Path(); err != nil || p.String() != "$.mem.used_mb" {
		t.Errorf("unvalidated metric path = %v, %v", p, err)
	}
}

// TestSingularPathsSelectAsTheLibrary checks the walk Path.Select takes for
// singular queries selects exactly what the library's general selection
// does.
func TestSingularPathsSelectAsTheLibrary(t *testing.T) {
	var doc any
	if err := json.Unmarshal([]byte(`{"a":{"b":[10,{"c":null},[true]]},"0":"zero","arr":[1,2,3],"":"empty"}`), &doc); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{
		"$", "$.a", "$.a.b", "$.a.b[0]", "$.a.b[1].c", "$.a.b[2][0]", "$.a.b[-1][-1]", "$.a.b[-3]",
		"$.a.b[-4]", "$.a.b[3]", "$.a.x", "$.a.b.c", "$.arr[0].x", "$['0']", "$[0]", "$['']", "$.a[0]",
	} {
		t.Run(text, func(t *testing.T) {
			p, err := parsePath(text)
			if err != nil {
				t.Fatal(err)
			}
			if p.steps == nil {
				t.Fatalf("%s is singular but was not walked", text)
			}
			got, want := p.Select(doc), []any(p.query.Select(doc))
			if len(got) != len(want) || len(got) > 0 && !reflect.DeepEqual(got, want) {
				t.Errorf("Select = %#v, library selects %#v", got, want)
			}
		})
	}
}
