package config

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"
)

// richDocument writes every kind of field the compiled form has to carry:
// explicit and absent weights, controls, quorum, time zones, assertions
// with numbers and text, extracted metrics, secrets, recovery actions.
const richDocument = `namespace: Vigil/Test
quorum: 2
integrations:
  - name: bridge
    slo: 99.5
    component_metrics: true
    thresholds: {failure_warning: 3, failure_critical: 5, latency_warning: 700ms}
    flapping: {max_transitions: 4, window: 10m}
    maintenance:
      - {name: migration, start: 2025-06-01T10:00:00Z, end: 2025-06-01T14:00:00+02:00}
      - {name: friday-night, days: [fri], at: "23:00", duration: 2h, time_zone: America/New_York}
    components:
      - name: api
        type: http
        target: https://api.example.com/health
        timeout: 1500ms
        weight: 0
        http:
          method: POST
          body: '{"ping":1}'
          headers: {Accept: application/json}
          secret_headers: {Authorization: {ssm: /vigil/token}}
          expected_status: [200, 204]
          max_redirects: -1
          assertions:
            - {json_path: status, equals: healthy}
            - {json_path: "$.data.count", op: ">", value: 0}
            - {json_path: "$.items", length: true, op: ">=", value: 2}
            - {contains: vigil}
            - {json_path: "$.ok", op: "==", value: true}
          metrics:
            - {name: MemoryMB, json_path: memory_mb, unit: Megabytes, warning: 500, critical: 800.5}
      - name: ws
        type: websocket
        target: wss://ws.example.com/socket
        critical: false
        weight: 0.5
        websocket: {subprotocols: [v1], send: ping, expect: pong, secret_headers: {X-Key: {secretsmanager: vigil/key}}}
      - name: db
        type: tcp
        target: db.example.com:5432
    recovery:
      webhook: {url: https://ops.example.com/restart, headers: {X-Why: vigil}, expected_status: [202]}
      max_attempts: 4
      base_delay: 2s
      max_delay: 20s
      jitter: true
      cooldown: 10m
  - name: worker
    components:
      - {name: queue, type: tcp, target: 'mq.example.com:5672'}
    recovery:
      lambda: {function_name: restart-worker, payload: '{"hard":true}'}
controls:
  - {name: ctl, type: tcp, target: 'ctl.example.com:443', weight: 0}
`

// The compiled document is the same document: read back (by the JSON
// path) it equals the parsed YAML in every field, derived ones (time
// zones, compiled paths and patterns) included, and compiling it again
// writes the same bytes.
func TestCompiledDocumentIsTheSame(t *testing.T) {
	sample, err := os.ReadFile("../../config/vigil.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, yml := range map[string]string{"sample": string(sample), "rich": richDocument} {
		t.Run(name, func(t *testing.T) {
			doc, err := Parse([]byte(yml))
			if err != nil {
				t.Fatal(err)
			}
			compiled, err := Compile(doc)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := decodeJSON(compiled); !ok {
				t.Fatalf("compiled document is not read by the JSON path:\n%s", compiled)
			}
			again, err := Parse(compiled)
			if err != nil {
				t.Fatalf("compiled document refused: %v\n%s", err, compiled)
			}
			numbersAsJSONReadsThem(doc)
			if !reflect.DeepEqual(doc, again) {
				t.Errorf("compiled document reads back differently:\nyaml: %+v\njson: %+v", doc, again)
			}
			twice, err := Compile(again)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(compiled, twice) {
				t.Errorf("compiling is not a fixed point:\n%s\n%s", compiled, twice)
			}
		})
	}
}

// numbersAsJSONReadsThem makes the assertion values YAML read as integers
// float64, as JSON reads every number; both give the same compared operand
// (Compiled.Want), which the comparison still checks.
func numbersAsJSONReadsThem(doc *Document) {
	for _, in := range doc.Integrations {
		for _, c := range in.Components {
			if c.HTTP == nil {
				continue
			}
			for i, a := range c.HTTP.Assertions {
				if n, ok := a.Value.(int); ok {
					c.HTTP.Assertions[i].Value = float64(n)
				}
			}
		}
	}
}

// The weights survive compiling as written: an explicit 0 stays 0 and an
// absent weight stays absent (default 1), so a compiled document scores
// like its source.
func TestCompiledWeights(t *testing.T) {
	doc, err := Parse([]byte(richDocument))
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(compiled)
	if err != nil {
		t.Fatal(err)
	}
	wantWeights(t, again, map[string]float64{"api": 0, "ws": 0.5, "db": 1})
}

// JSON is refused as strictly as YAML and with the same words: a JSON
// document the JSON path cannot read goes to the YAML decoder, which names
// the line, integration and component; one that decodes but is invalid is
// refused whole by the same validation.
func TestJSONDocumentErrors(t *testing.T) {
	const head = `{"integrations": [{"name": "bridge", "components": [{"name": "api", "type": "tcp", "target": "db.example.com:5432"`
	for _, tc := range []struct{ name, doc, want string }{
		{"unknown field", head + `,
  "colour": "red"}]}]}`, `integration "bridge": component "api": line 2: field colour not found in type config.Component`},
		{"wrong type", head + `,
  "weight": "heavy"}]}]}`, `integration "bridge": component "api": line 2: cannot unmarshal !!str ` + "`heavy`" + ` into float64`},
		{"number as duration", head + `, "timeout": 5}]}]}`, `duration must be text such as "5s", got "5"`},
		{"invalid value", head + `, "timeout": "90s"}]}]}`, `integration "bridge": component "api": field "timeout": must be > 0`},
		{"second document", head + `}]}]} {"integrations": []}`, `more than one YAML document`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := Parse([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse = %v, %v; want an error containing %q", doc, err, tc.want)
			}
		})
	}
}

// A YAML flow mapping starts with "{" too and is not JSON: it is read by
// the YAML decoder as before.
func TestFlowYAMLIsStillYAML(t *testing.T) {
	doc, err := Parse([]byte(`{integrations: [{name: a, components: [{name: c, type: tcp, target: 'db.example.com:5432', weight: 0.5}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c := doc.Integrations[0].Components[0]; c.Name != "c" || c.Weight != 0.5 {
		t.Errorf("component = %+v", c)
	}
}
