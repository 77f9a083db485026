package config

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema))
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("vigil.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("vigil.schema.json")
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return sch
}

// yamlToJSON turns a YAML document into the JSON value the schema validates,
// the way an editor's YAML language server sees it.
func yamlToJSON(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func TestSchemaAcceptsSample(t *testing.T) {
	sch := compileSchema(t)
	data, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(yamlToJSON(t, data)); err != nil {
		t.Fatalf("sample refused by schema: %v", err)
	}
	if !strings.HasPrefix(string(data), "# yaml-language-server: $schema=../internal/config/vigil.schema.json") {
		t.Error("sample does not point editors at the schema")
	}
}

func TestSchemaAcceptsValidDocuments(t *testing.T) {
	sch := compileSchema(t)
	for name, doc := range map[string]string{
		"tcp": withComponent("type: tcp\ntarget: db.example.com:5432\n", ""),
		"everything": withComponent(okHTTP+`timeout: 500ms
weight: 0.5
http:
  method: POST
  headers: {X-Probe: vigil}
  secret_headers:
    Authorization: {ssm: /vigil/token}
  body: '{}'
  expected_status: [200, 204]
  max_redirects: -1
  assertions:
    - {json_path: checks.0.ok, equals: "true"}
    - contains: ok
    - regex: '^\{'
`, `thresholds: {failure_warning: 1, failure_critical: 2, latency_warning: 100ms, latency_critical: 1s}
flapping: {max_transitions: 4, window: 10m}
component_metrics: true
recovery:
  lambda: {function_name: 'arn:aws:lambda:eu-west-1:123456789012:function:restart:live', payload: '{"a":1}'}
  jitter: true
maintenance:
  - {start: 2025-06-01T10:00:00Z, end: 2025-06-01T12:00:00Z}
  - {days: [sat, sun], at: "02:00", duration: 1h30m, time_zone: Europe/Paris}
`),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(doc)); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if err := sch.Validate(yamlToJSON(t, []byte(doc))); err != nil {
				t.Fatalf("schema: %v", err)
			}
		})
	}
}

// The schema and Parse must agree on documents an editor can judge.
func TestSchemaAndParseRefuseBadDocuments(t *testing.T) {
	sch := compileSchema(t)
	cases := map[string]string{
		"unknown field":            withComponent(okHTTP+"timout: 2s\n", ""),
		"unknown top-level field":  "region: eu-west-1\n" + withComponent(okHTTP, ""),
		"no integrations":          "integrations: []\n",
		"unknown type":             withComponent("type: udp\ntarget: example.com:53\n", ""),
		"bad name":                 strings.Replace(withComponent(okHTTP, ""), "name: orchestrator", "name: 'orche strator'", 1),
		"http block on tcp":        withComponent("type: tcp\ntarget: example.com:5432\nhttp: {method: GET}\n", ""),
		"websocket target on http": withComponent("type: http\ntarget: wss://example.com/\n", ""),
		"two assertion kinds":      withComponent(okHTTP+"http:\n  assertions:\n    - {contains: a, regex: b}\n", ""),
		"equals without json_path": withComponent(okHTTP+"http:\n  assertions:\n    - {contains: a, equals: b}\n", ""),
		"bad unit":                 withComponent(okHTTP+"http:\n  metrics:\n    - {name: M, json_path: m, unit: MB}\n", ""),
		"bad method":               withComponent(okHTTP+"http: {method: get}\n", ""),
		"duration without unit":    withComponent(okHTTP+"timeout: '5'\n", ""),
		"negative weight":          withComponent(okHTTP+"weight: -1\n", ""),
		"secret ref with both":     withComponent(okHTTP+"http:\n  secret_headers:\n    A: {ssm: a, secretsmanager: b}\n", ""),
		"recovery without action":  withComponent(okHTTP, "recovery: {max_attempts: 2}\n"),
		"recovery with both":       withComponent(okHTTP, "recovery: {webhook: {url: 'https://e.com'}, lambda: {function_name: f}}\n"),
		"too many attempts":        withComponent(okHTTP, "recovery: {lambda: {function_name: f}, max_attempts: 11}\n"),
		"webhook allow_link_local": withComponent(okHTTP, "recovery: {webhook: {url: 'https://e.com', allow_link_local: true}}\n"),
		"window mixed":             withComponent(okHTTP, "maintenance:\n  - {start: 2025-06-01T10:00:00Z, end: 2025-06-01T12:00:00Z, at: '02:00'}\n"),
		"window bad day":           withComponent(okHTTP, "maintenance:\n  - {at: '02:00', duration: 1h, days: [monday]}\n"),
		"window bad at":            withComponent(okHTTP, "maintenance:\n  - {at: '2:00', duration: 1h}\n"),
		"expect without send":      withComponent("type: websocket\ntarget: wss://e.com/\nwebsocket: {expect: pong}\n", ""),
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(doc)); err == nil {
				t.Errorf("Parse accepted:\n%s", doc)
			}
			if err := sch.Validate(yamlToJSON(t, []byte(doc))); err == nil {
				t.Errorf("schema accepted:\n%s", doc)
			}
		})
	}
}
