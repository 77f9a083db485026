package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const samplePath = "../../config/vigil.yaml"

// indent prefixes every non-empty line of s with n spaces, so test cases can
// write YAML fragments without caring where they land.
func indent(s string, n int) string {
	if s == "" {
		return ""
	}
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

const okHTTP = "type: http\ntarget: https://example.com/health\n"

// comp is one more component, to append to withComponent.
func comp(name, fields string) string {
	return "      - name: " + name + "\n" + indent(fields, 8)
}

// withComponent is a document with integration "bridge" holding component
// "orchestrator" made of fields, plus integration-level extra fields.
func withComponent(fields, extra string) string {
	return "integrations:\n  - name: bridge\n" + indent(extra, 4) +
		"    components:\n      - name: orchestrator\n" + indent(fields, 8)
}

func TestSampleParsesWithDefaults(t *testing.T) {
	doc, err := LoadFile(samplePath)
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if doc.Namespace != "Vigil" {
		t.Errorf("namespace = %q, want Vigil", doc.Namespace)
	}
	if len(doc.Integrations) != 1 {
		t.Fatalf("integrations = %d, want 1", len(doc.Integrations))
	}
	in := doc.Integrations[0]
	if in.Key() != "agent-bridge" {
		t.Errorf("Key = %q", in.Key())
	}
	wantT := Thresholds{
		FailureWarning: 2, FailureCritical: 3,
		LatencyWarning: Duration(time.Second), LatencyCritical: Duration(5 * time.Second),
		SuccessThreshold: 1, CertWarningDays: 14, CertCriticalDays: 7,
	}
	if in.Thresholds != wantT {
		t.Errorf("thresholds = %+v, want %+v", in.Thresholds, wantT)
	}
	if in.Flapping != (Flapping{MaxTransitions: 6, Window: Duration(15 * time.Minute)}) {
		t.Errorf("flapping = %+v", in.Flapping)
	}
	var names []string
	for _, c := range in.Components {
		names = append(names, c.Name)
		if c.Timeout.D() != 2*time.Second || c.Weight != 1 || !c.AllowLoopback {
			t.Errorf("component %s: timeout %s weight %v allow_loopback %v", c.Name, c.Timeout.D(), c.Weight, c.AllowLoopback)
		}
		wantCritical := c.Name != "agent-registry" && c.Name != "bridge-metrics"
		if c.IsCritical() != wantCritical {
			t.Errorf("component %s: critical = %v, want %v", c.Name, c.IsCritical(), wantCritical)
		}
		if c.Type == TypeHTTP {
			if c.HTTP == nil || c.HTTP.Method != "GET" || !slices.Equal(c.HTTP.ExpectedStatus, []int{200}) || c.HTTP.MaxRedirects != 5 {
				t.Errorf("component %s: http defaults not filled: %+v", c.Name, c.HTTP)
			}
		}
	}
	wantNames := []string{"websocket-manager", "orchestrator", "agent-registry", "supervisor", "bridge-metrics", "websocket"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("components = %v, want %v", names, wantNames)
	}
	m := in.Components[4].HTTP.Metrics
	// The reference's limits: memory 500/800 MB, connections 100, async
	// tasks 50, error rate 0.1 %/1 %.
	if len(m) != 5 || m[0].Name != "MemoryMB" || m[0].Unit != "Megabytes" || *m[0].Warning != 500 || *m[0].Critical != 800 ||
		m[2].Name != "Connections" || *m[2].Warning != 100 || m[2].Critical != nil ||
		m[3].Name != "AsyncTasks" || *m[3].Warning != 50 || m[3].Critical != nil ||
		m[4].Name != "ErrorRatePercent" || *m[4].Warning != 0.1 || *m[4].Critical != 1 {
		t.Errorf("metrics = %+v", m)
	}
	ws := in.Components[5]
	if ws.WebSocket == nil || ws.WebSocket.Send != `{"type":"ping"}` || ws.WebSocket.Expect != "pong" {
		t.Errorf("websocket = %+v", ws.WebSocket)
	}
	r := in.Recovery
	if r == nil || r.Webhook == nil {
		t.Fatalf("recovery = %+v", r)
	}
	if r.MaxAttempts != 3 || r.BaseDelay.D() != time.Second || r.MaxDelay.D() != 30*time.Second || r.Cooldown.D() != 5*time.Minute {
		t.Errorf("recovery = %+v", r)
	}
	if r.Webhook.Method != "POST" || !slices.Equal(r.Webhook.ExpectedStatus, []int{200, 202, 204}) || r.Webhook.Timeout.D() != 10*time.Second {
		t.Errorf("webhook = %+v", r.Webhook)
	}
}

func TestMinimalDocumentDefaults(t *testing.T) {
	doc, err := Parse([]byte(withComponent(okHTTP, "recovery:\n  lambda:\n    function_name: restart-bridge\n")))
	if err != nil {
		t.Fatal(err)
	}
	c := doc.Integrations[0].Components[0]
	if c.Timeout.D() != 5*time.Second || c.Weight != 1 || !c.IsCritical() || c.Critical == nil {
		t.Errorf("component defaults = %+v", c)
	}
	r := doc.Integrations[0].Recovery
	if r.MaxAttempts != 3 || r.BaseDelay.D() != time.Second || r.MaxDelay.D() != 30*time.Second || r.Cooldown.D() != 15*time.Minute {
		t.Errorf("recovery defaults = %+v", r)
	}
	// Validation is idempotent: defaults filled once are valid the second time.
	if err := doc.ValidateAndSetDefaults(); err != nil {
		t.Errorf("second ValidateAndSetDefaults: %v", err)
	}
}

func TestExplicitZeroWeightIsKept(t *testing.T) {
	y := withComponent(okHTTP+"weight: 0\n", "") + comp("supervisor", okHTTP)
	doc, err := Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if w := doc.Integrations[0].Components[0].Weight; w != 0 {
		t.Errorf("explicit weight 0 became %v", w)
	}
	if w := doc.Integrations[0].Components[1].Weight; w != 1 {
		t.Errorf("absent weight became %v, want 1", w)
	}
}

func TestValidationRefuses(t *testing.T) {
	const ic = `integration "bridge": component "orchestrator": `
	const i = `integration "bridge": `
	cases := []struct {
		name     string
		doc      string
		want     string
		sentinel error
	}{
		{"no integrations", "integrations: []\n", "no integrations", ErrNoIntegrations},
		{"empty document", "", "no integrations", ErrNoIntegrations},
		{"namespace reserved", "namespace: AWS/EC2\n" + withComponent(okHTTP, ""), `field "namespace"`, ErrInvalidValue},
		{"integration unnamed", "integrations:\n  - components:\n      - name: a\n" + indent(okHTTP, 8), `integration #1: field "name": must be set`, ErrRequired},
		{"integration bad name", strings.Replace(withComponent(okHTTP, ""), "name: bridge", "name: bad bridge", 1), `integration "bad bridge": field "name"`, ErrInvalidName},
		{"duplicate integration", withComponent(okHTTP, "") + strings.TrimPrefix(withComponent(okHTTP, ""), "integrations:\n"), i + `field "name": duplicate name, also integration #1`, ErrDuplicateName},
		{"no components", "integrations:\n  - name: bridge\n    components: []\n", i + `field "components"`, ErrNoComponents},
		{"duplicate component", withComponent(okHTTP, "") + comp("orchestrator", okHTTP), ic + `field "name": duplicate name`, ErrDuplicateName},
		{"component bad name", strings.Replace(withComponent(okHTTP, ""), "name: orchestrator", "name: -orchestrator", 1), `component "-orchestrator": field "name"`, ErrInvalidName},
		{"component name too long", strings.Replace(withComponent(okHTTP, ""), "name: orchestrator", "name: "+strings.Repeat("a", 65), 1), `field "name"`, ErrInvalidName},
		{"type missing", withComponent("target: https://example.com\n", ""), ic + `field "type": must be set`, ErrRequired},
		{"type unknown", withComponent("type: udp\ntarget: example.com:53\n", ""), ic + `field "type": "udp" is not`, ErrInvalidType},
		{"target missing", withComponent("type: http\n", ""), ic + `field "target": must be set`, ErrRequired},
		{"http target with ws scheme", withComponent("type: http\ntarget: ws://example.com/\n", ""), ic + `field "target": invalid target: scheme "ws"`, ErrInvalidTarget},
		{"websocket target with http scheme", withComponent("type: websocket\ntarget: https://example.com/\n", ""), ic + `field "target"`, ErrInvalidTarget},
		{"http target without host", withComponent("type: http\ntarget: http:///path\n", ""), ic + `field "target"`, ErrInvalidTarget},
		{"http target relative", withComponent("type: http\ntarget: /health\n", ""), ic + `field "target"`, ErrInvalidTarget},
		{"http target credentials", withComponent("type: http\ntarget: https://u:p@example.com/\n", ""), ic + `field "target"`, ErrInvalidTarget},
		{"http target bad port", withComponent("type: http\ntarget: https://example.com:0/\n", ""), ic + `field "target"`, ErrInvalidTarget},
		{"tcp target without port", withComponent("type: tcp\ntarget: example.com\n", ""), ic + `field "target"`, ErrInvalidTarget},
		{"tcp target as URL", withComponent("type: tcp\ntarget: tcp://example.com:5432\n", ""), ic + `field "target"`, ErrInvalidTarget},
		{"tcp port out of range", withComponent("type: tcp\ntarget: example.com:70000\n", ""), ic + `field "target"`, ErrInvalidTarget},
		{"http block on tcp", withComponent("type: tcp\ntarget: example.com:5432\nhttp:\n  method: GET\n", ""), ic + `field "http": only allowed with type http`, ErrConflict},
		{"websocket block on http", withComponent(okHTTP+"websocket:\n  send: hi\n", ""), ic + `field "websocket": only allowed with type websocket`, ErrConflict},
		{"timeout negative", withComponent(okHTTP+"timeout: -1s\n", ""), ic + `field "timeout": must be > 0`, ErrOutOfRange},
		{"timeout too long", withComponent(okHTTP+"timeout: 61s\n", ""), ic + `field "timeout"`, ErrOutOfRange},
		{"weight negative", withComponent(okHTTP+"weight: -1\n", ""), ic + `field "weight"`, ErrOutOfRange},
		{"weight NaN", withComponent(okHTTP+"weight: .nan\n", ""), ic + `field "weight"`, ErrOutOfRange},
		{"all weights zero", withComponent(okHTTP+"weight: 0\n", ""), i + `field "components": every component has weight 0`, ErrOutOfRange},
		{"failure warning above critical", withComponent(okHTTP, "thresholds:\n  failure_warning: 5\n"), i + `field "thresholds.failure_warning": must be <= failure_critical`, ErrOutOfRange},
		{"failure critical negative", withComponent(okHTTP, "thresholds:\n  failure_critical: -1\n"), i + `field "thresholds.failure_critical": must be > 0`, ErrOutOfRange},
		{"latency warning above critical", withComponent(okHTTP, "thresholds:\n  latency_warning: 6s\n"), i + `field "thresholds.latency_warning"`, ErrOutOfRange},
		{"latency critical negative", withComponent(okHTTP, "thresholds:\n  latency_critical: -5s\n"), i + `field "thresholds.latency_critical"`, ErrOutOfRange},
		{"success threshold negative", withComponent(okHTTP, "thresholds:\n  success_threshold: -2\n"), i + `field "thresholds.success_threshold"`, ErrOutOfRange},
		{"cert warning below critical", withComponent(okHTTP, "thresholds:\n  cert_warning_days: 5\n"), i + `field "thresholds.cert_warning_days": must be >= cert_critical_days`, ErrOutOfRange},
		{"flapping window negative", withComponent(okHTTP, "flapping:\n  window: -1m\n"), i + `field "flapping.window"`, ErrOutOfRange},
		{"flapping transitions negative", withComponent(okHTTP, "flapping:\n  max_transitions: -1\n"), i + `field "flapping.max_transitions"`, ErrOutOfRange},
		{"method unknown", withComponent(okHTTP+"http:\n  method: FETCH\n", ""), ic + `field "http.method": "FETCH"`, ErrInvalidValue},
		{"status out of range", withComponent(okHTTP+"http:\n  expected_status: [200, 42]\n", ""), ic + `field "http.expected_status[1]"`, ErrOutOfRange},
		{"max redirects below -1", withComponent(okHTTP+"http:\n  max_redirects: -2\n", ""), ic + `field "http.max_redirects"`, ErrOutOfRange},
		{"assertion empty", withComponent(okHTTP+"http:\n  assertions:\n    - {}\n", ""), ic + `field "http.assertions[0].json_path": exactly one of`, ErrConflict},
		{"assertion two kinds", withComponent(okHTTP+"http:\n  assertions:\n    - contains: ok\n      regex: ok\n", ""), ic + `field "http.assertions[0].json_path": exactly one of`, ErrConflict},
		{"equals without json_path", withComponent(okHTTP+"http:\n  assertions:\n    - contains: ok\n      equals: ok\n", ""), ic + `field "http.assertions[0].equals": only allowed with json_path`, ErrConflict},
		{"regex does not compile", withComponent(okHTTP+"http:\n  assertions:\n    - regex: '('\n", ""), ic + `field "http.assertions[0].regex": does not compile`, ErrInvalidValue},
		{"json path empty segment", withComponent(okHTTP+"http:\n  assertions:\n    - json_path: checks..ok\n", ""), ic + `field "http.assertions[0].json_path"`, ErrInvalidValue},
		{"metric without json_path", withComponent(okHTTP+"http:\n  metrics:\n    - name: MemoryMB\n", ""), ic + `field "http.metrics[0].json_path": must be set`, ErrRequired},
		{"metric bad name", withComponent(okHTTP+"http:\n  metrics:\n    - name: Memory MB\n      json_path: m\n", ""), ic + `field "http.metrics[0].name"`, ErrInvalidName},
		{"metric bad unit", withComponent(okHTTP+"http:\n  metrics:\n    - name: MemoryMB\n      json_path: m\n      unit: MB\n", ""), ic + `field "http.metrics[0].unit": "MB" is not a CloudWatch unit`, ErrInvalidValue},
		{"metric warning above critical", withComponent(okHTTP+"http:\n  metrics:\n    - name: CPU\n      json_path: c\n      warning: 90\n      critical: 70\n", ""), ic + `field "http.metrics[0].warning": must be <= critical`, ErrOutOfRange},
		{"metric infinite", withComponent(okHTTP+"http:\n  metrics:\n    - name: CPU\n      json_path: c\n      critical: .inf\n", ""), ic + `field "http.metrics[0].critical": must be a finite number`, ErrOutOfRange},
		{"metric twice in component", withComponent(okHTTP+"http:\n  metrics:\n    - {name: CPU, json_path: a}\n    - {name: CPU, json_path: b}\n", ""), ic + `field "http.metrics[1].name": metric "CPU" is extracted twice`, ErrDuplicateName},
		{"metric in two components", withComponent(okHTTP+"http:\n  metrics:\n    - {name: CPU, json_path: a}\n", "") + comp("supervisor", okHTTP+"http:\n  metrics:\n    - {name: CPU, json_path: a}\n"), i + `component "supervisor": field "http.metrics[0].name": metric "CPU" is also extracted by component "orchestrator"`, ErrDuplicateName},
		{"header name invalid", withComponent(okHTTP+"http:\n  headers:\n    Bad Header: x\n", ""), ic + `field "http.headers[Bad Header]"`, ErrInvalidValue},
		{"header value with newline", withComponent(okHTTP+"http:\n  headers:\n    X-A: \"a\\nb\"\n", ""), ic + `field "http.headers[X-A]": value contains CR, LF or NUL`, ErrInvalidValue},
		{"secret ref both", withComponent(okHTTP+"http:\n  secret_headers:\n    Authorization: {ssm: /a, secretsmanager: b}\n", ""), ic + `field "http.secret_headers[Authorization]"`, ErrConflict},
		{"secret ref neither", withComponent(okHTTP+"http:\n  secret_headers:\n    Authorization: {}\n", ""), ic + `field "http.secret_headers[Authorization]"`, ErrConflict},
		{"header plain and secret", withComponent(okHTTP+"http:\n  headers:\n    authorization: x\n  secret_headers:\n    Authorization: {ssm: /a}\n", ""), ic + `field "http.secret_headers[Authorization]": header "Authorization" is also set`, ErrConflict},
		{"websocket expect without send", withComponent("type: websocket\ntarget: wss://example.com/ws\nwebsocket:\n  expect: pong\n", ""), ic + `field "websocket.expect"`, ErrConflict},
		{"websocket header invalid", withComponent("type: websocket\ntarget: wss://example.com/ws\nwebsocket:\n  headers:\n    \"a:b\": x\n", ""), ic + `field "websocket.headers[a:b]"`, ErrInvalidValue},
		{"recovery without action", withComponent(okHTTP, "recovery:\n  max_attempts: 2\n"), i + `field "recovery.webhook": one of webhook, lambda must be set`, ErrConflict},
		{"recovery with both actions", withComponent(okHTTP, "recovery:\n  webhook: {url: https://example.com/r}\n  lambda: {function_name: f}\n"), i + `field "recovery.lambda": only one of`, ErrConflict},
		{"recovery attempts too many", withComponent(okHTTP, "recovery:\n  lambda: {function_name: f}\n  max_attempts: 11\n"), i + `field "recovery.max_attempts": must be 1..10`, ErrOutOfRange},
		{"recovery base delay negative", withComponent(okHTTP, "recovery:\n  lambda: {function_name: f}\n  base_delay: -1s\n"), i + `field "recovery.base_delay"`, ErrOutOfRange},
		{"recovery max delay below base", withComponent(okHTTP, "recovery:\n  lambda: {function_name: f}\n  base_delay: 10s\n  max_delay: 5s\n"), i + `field "recovery.max_delay": must be >= base_delay`, ErrOutOfRange},
		{"recovery max delay too long", withComponent(okHTTP, "recovery:\n  lambda: {function_name: f}\n  max_delay: 6m\n"), i + `field "recovery.max_delay"`, ErrOutOfRange},
		{"recovery cooldown negative", withComponent(okHTTP, "recovery:\n  lambda: {function_name: f}\n  cooldown: -1m\n"), i + `field "recovery.cooldown"`, ErrOutOfRange},
		{"webhook without url", withComponent(okHTTP, "recovery:\n  webhook: {method: POST}\n"), i + `field "recovery.webhook.url": must be set`, ErrRequired},
		{"webhook ws scheme", withComponent(okHTTP, "recovery:\n  webhook: {url: 'wss://example.com/r'}\n"), i + `field "recovery.webhook.url"`, ErrInvalidTarget},
		{"webhook timeout too long", withComponent(okHTTP, "recovery:\n  webhook: {url: 'https://example.com/r', timeout: 2m}\n"), i + `field "recovery.webhook.timeout"`, ErrOutOfRange},
		{"webhook status invalid", withComponent(okHTTP, "recovery:\n  webhook: {url: 'https://example.com/r', expected_status: [1000]}\n"), i + `field "recovery.webhook.expected_status[0]"`, ErrOutOfRange},
		{"lambda bad name", withComponent(okHTTP, "recovery:\n  lambda: {function_name: 'no spaces allowed'}\n"), i + `field "recovery.lambda.function_name"`, ErrInvalidValue},
		{"lambda payload not JSON", withComponent(okHTTP, "recovery:\n  lambda: {function_name: f, payload: '{'}\n"), i + `field "recovery.lambda.payload": is not valid JSON`, ErrInvalidValue},
		{"window end before start", withComponent(okHTTP, "maintenance:\n  - start: 2025-06-02T00:00:00Z\n    end: 2025-06-01T00:00:00Z\n"), i + `field "maintenance[0].end": must be after start`, ErrOutOfRange},
		{"window without end", withComponent(okHTTP, "maintenance:\n  - start: 2025-06-02T00:00:00Z\n"), i + `field "maintenance[0].end": must be set`, ErrRequired},
		{"window one-off and recurring", withComponent(okHTTP, "maintenance:\n  - start: 2025-06-01T00:00:00Z\n    end: 2025-06-02T00:00:00Z\n    at: '02:00'\n"), i + `field "maintenance[0].start": a window is either one-off`, ErrConflict},
		{"window empty", withComponent(okHTTP, "maintenance:\n  - name: nothing\n"), i + `field "maintenance[0].start"`, ErrRequired},
		{"window bad at", withComponent(okHTTP, "maintenance:\n  - at: '24:00'\n    duration: 1h\n"), i + `field "maintenance[0].at"`, ErrInvalidValue},
		{"window too long", withComponent(okHTTP, "maintenance:\n  - at: '02:00'\n    duration: 200h\n"), i + `field "maintenance[0].duration"`, ErrOutOfRange},
		{"window without duration", withComponent(okHTTP, "maintenance:\n  - at: '02:00'\n"), i + `field "maintenance[0].duration"`, ErrOutOfRange},
		{"window bad day", withComponent(okHTTP, "maintenance:\n  - at: '02:00'\n    duration: 1h\n    days: [mon, monday]\n"), i + `field "maintenance[0].days[1]": "monday"`, ErrInvalidValue},
		{"window bad time zone", withComponent(okHTTP, "maintenance:\n  - at: '02:00'\n    duration: 1h\n    time_zone: Mars/Olympus\n"), i + `field "maintenance[0].time_zone"`, ErrInvalidValue},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tc.doc)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not contain %q:\n%v", tc.want, err)
			}
			if !errors.Is(err, tc.sentinel) {
				t.Errorf("error is not %v:\n%v", tc.sentinel, err)
			}
		})
	}
}

func TestAllProblemsReportedAtOnce(t *testing.T) {
	y := withComponent("type: http\ntarget: http://127.0.0.1/\ntimeout: 90s\n", "thresholds:\n  failure_warning: 9\n") +
		comp("supervisor", "type: udp\ntarget: x:1\n")
	_, err := Parse([]byte(y))
	if err == nil {
		t.Fatal("Parse accepted an invalid document")
	}
	msg := err.Error()
	for _, want := range []string{
		`config: invalid document, 4 problem(s):`,
		`integration "bridge": field "thresholds.failure_warning"`,
		`integration "bridge": component "orchestrator": field "target": refused destination`,
		`integration "bridge": component "orchestrator": field "timeout"`,
		`integration "bridge": component "supervisor": field "type"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	for _, s := range []error{ErrOutOfRange, ErrRefusedDestination, ErrInvalidType} {
		if !errors.Is(err, s) {
			t.Errorf("error is not %v", s)
		}
	}
	// Every problem is on its own line and carries its full identity.
	for _, line := range strings.Split(msg, "\n")[1:] {
		if !strings.HasPrefix(line, `integration "bridge": `) {
			t.Errorf("line without identity: %q", line)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want []string
	}{
		{"unknown component field", withComponent(okHTTP+"timout: 2s\n", ""), []string{"line 7", "field timout not found"}},
		{"unknown top-level field", "integration: []\n", []string{"line 1", "field integration not found"}},
		{"unknown fields reported together", withComponent(okHTTP+"timout: 2s\nhttp:\n  metod: GET\n", ""), []string{"line 7: field timout", "line 9: field metod"}},
		{"duration without unit", withComponent(okHTTP+"timeout: 5\n", ""), []string{"line 7", `duration must be text such as "5s"`}},
		{"duration malformed", withComponent(okHTTP+"timeout: 5 seconds\n", ""), []string{"line 7", `invalid duration "5 seconds"`}},
		{"second document", withComponent(okHTTP, "") + "---\nintegrations: []\n", []string{"more than one YAML document"}},
		{"not a mapping", "- a\n- b\n", []string{"cannot unmarshal"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tc.doc)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q: %v", w, err)
				}
			}
		})
	}
}

func TestDestinations(t *testing.T) {
	cases := []struct {
		name    string
		fields  string
		wantErr error // nil: accepted
	}{
		{"public https", "type: http\ntarget: https://example.com/\n", nil},
		{"loopback v4", "type: http\ntarget: http://127.0.0.1:8765/health\n", ErrRefusedDestination},
		{"loopback v4 elsewhere in 127/8", "type: http\ntarget: http://127.3.2.1/\n", ErrRefusedDestination},
		{"loopback v4 allowed", "type: http\ntarget: http://127.0.0.1:8765/health\nallow_loopback: true\n", nil},
		{"localhost", "type: http\ntarget: http://localhost:8080/\n", ErrRefusedDestination},
		{"localhost upper case with dot", "type: http\ntarget: http://LOCALHOST./\n", ErrRefusedDestination},
		{"localhost subdomain", "type: http\ntarget: http://api.localhost/\n", ErrRefusedDestination},
		{"localhost allowed", "type: http\ntarget: http://localhost:8080/\nallow_loopback: true\n", nil},
		{"loopback v6", "type: http\ntarget: http://[::1]:8080/\n", ErrRefusedDestination},
		{"loopback v6 allowed", "type: http\ntarget: http://[::1]:8080/\nallow_loopback: true\n", nil},
		{"v4-mapped loopback", "type: http\ntarget: http://[::ffff:127.0.0.1]/\n", ErrRefusedDestination},
		{"unspecified", "type: http\ntarget: http://0.0.0.0:8080/\n", ErrRefusedDestination},
		{"short numeric form", "type: http\ntarget: http://127.1/\n", ErrInvalidTarget},
		{"decimal numeric form", "type: http\ntarget: http://2130706433/\n", ErrInvalidTarget},
		{"hex numeric form", "type: http\ntarget: http://0x7f.1/\n", ErrInvalidTarget},
		{"hex-looking name", "type: http\ntarget: http://cafe.example/\n", nil},
		{"instance metadata", "type: http\ntarget: http://169.254.169.254/latest/meta-data/\n", ErrRefusedDestination},
		{"instance metadata allowed", "type: http\ntarget: http://169.254.169.254/latest/meta-data/\nallow_link_local: true\n", nil},
		{"loopback flag does not allow link-local", "type: http\ntarget: http://169.254.169.254/\nallow_loopback: true\n", ErrRefusedDestination},
		{"link-local v6", "type: http\ntarget: http://[fe80::1]/\n", ErrRefusedDestination},
		{"instance metadata v6", "type: http\ntarget: http://[fd00:ec2::254]/\n", ErrRefusedDestination},
		{"instance metadata v6 allowed", "type: http\ntarget: http://[fd00:ec2::254]/\nallow_link_local: true\n", nil},
		{"file scheme", "type: http\ntarget: file:///etc/passwd\n", ErrRefusedDestination},
		{"file scheme even with flags", "type: http\ntarget: file:///etc/passwd\nallow_loopback: true\nallow_link_local: true\n", ErrRefusedDestination},
		{"gopher scheme", "type: http\ntarget: gopher://example.com/\n", ErrRefusedDestination},
		{"websocket loopback", "type: websocket\ntarget: ws://localhost/ws\n", ErrRefusedDestination},
		{"websocket loopback allowed", "type: websocket\ntarget: ws://localhost/ws\nallow_loopback: true\n", nil},
		{"tcp loopback", "type: tcp\ntarget: 127.0.0.1:22\n", ErrRefusedDestination},
		{"tcp link-local", "type: tcp\ntarget: '[fe80::1%eth0]:22'\n", ErrRefusedDestination},
		{"tcp loopback allowed", "type: tcp\ntarget: 127.0.0.1:22\nallow_loopback: true\n", nil},
		{"tcp public", "type: tcp\ntarget: db.example.com:5432\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(withComponent(tc.fields, "")))
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), `integration "bridge": component "orchestrator": field "target"`) {
				t.Errorf("error does not name the field: %v", err)
			}
		})
	}
}

func TestWebhookDestinations(t *testing.T) {
	cases := []struct {
		name    string
		webhook string
		wantErr error
	}{
		{"public", "{url: 'https://example.com/recover'}", nil},
		{"loopback", "{url: 'http://127.0.0.1:8765/recover'}", ErrRefusedDestination},
		{"loopback allowed", "{url: 'http://127.0.0.1:8765/recover', allow_loopback: true}", nil},
		{"link-local always refused", "{url: 'http://169.254.169.254/', allow_loopback: true}", ErrRefusedDestination},
		{"metadata v6 always refused", "{url: 'http://[fd00:ec2::254]/', allow_loopback: true}", ErrRefusedDestination},
		{"metadata through 6to4 always refused", "{url: 'http://[2002:a9fe:a9fe::]/', allow_loopback: true}", ErrRefusedDestination},
		{"site-local always refused", "{url: 'http://[fec0::1]/', allow_loopback: true}", ErrRefusedDestination},
		{"NAT64 loopback", "{url: 'http://[64:ff9b::127.0.0.1]/'}", ErrRefusedDestination},
		{"NAT64 loopback allowed", "{url: 'http://[64:ff9b::127.0.0.1]/', allow_loopback: true}", nil},
		{"multicast always refused", "{url: 'http://224.0.0.1/', allow_loopback: true}", ErrRefusedDestination},
		{"allow_link_local does not exist", "{url: 'http://169.254.169.254/', allow_link_local: true}", nil}, // decode error, checked below
		{"file scheme", "{url: 'file:///tmp/x'}", ErrRefusedDestination},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(withComponent(okHTTP, "recovery:\n  webhook: "+tc.webhook+"\n")))
			switch {
			case tc.name == "allow_link_local does not exist":
				if err == nil || !strings.Contains(err.Error(), "field allow_link_local not found") {
					t.Fatalf("error = %v, want unknown field", err)
				}
			case tc.wantErr == nil:
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
			default:
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), `integration "bridge": field "recovery.webhook.url"`) {
					t.Fatalf("error = %v, want %v naming recovery.webhook.url", err, tc.wantErr)
				}
			}
		})
	}
}

// TestDestinationForms gives a literal target of every refused address form
// (the table destination.Check implements): each is refused at load with
// the field named and the policy's reason, and accepted with the flag that
// covers it, where one does.
func TestDestinationForms(t *testing.T) {
	cases := []struct {
		host   string // as written in a URL
		flag   string // the field that allows it; "" when nothing does
		reason string
	}{
		{"127.0.0.1", "allow_loopback", "127.0.0.1 is a loopback address"},
		{"0.0.0.0", "allow_loopback", "0.0.0.0 is a loopback address"},
		{"0.1.2.3", "allow_loopback", "0.1.2.3 is a loopback address"},
		{"[::1]", "allow_loopback", "::1 is a loopback address"},
		{"[::]", "allow_loopback", ":: is a loopback address"},
		{"[::ffff:127.0.0.1]", "allow_loopback", "embeds 127.0.0.1 (IPv4-mapped)"},
		{"[::127.0.0.1]", "allow_loopback", "embeds 127.0.0.1 (IPv4-compatible)"},
		{"[64:ff9b::127.0.0.1]", "allow_loopback", "embeds 127.0.0.1 (NAT64)"},
		{"[64:ff9b:1::7f00:1]", "allow_loopback", "embeds 127.0.0.1 (NAT64)"},
		{"[2002:7f00:1::]", "allow_loopback", "embeds 127.0.0.1 (6to4)"},
		{"169.254.169.254", "allow_link_local", "169.254.169.254 is a link-local or instance metadata address"},
		{"[fe80::1]", "allow_link_local", "fe80::1 is a link-local"},
		{"[fec0::1]", "allow_link_local", "fec0::1 is a site-local address"},
		{"[fd00:ec2::254]", "allow_link_local", "fd00:ec2::254 is a link-local or instance metadata address"},
		{"[::ffff:169.254.169.254]", "allow_link_local", "embeds 169.254.169.254 (IPv4-mapped)"},
		{"[64:ff9b::169.254.169.254]", "allow_link_local", "embeds 169.254.169.254 (NAT64)"},
		{"[2002:a9fe:a9fe::]", "allow_link_local", "2002:a9fe:a9fe:: embeds 169.254.169.254 (6to4)"},
		{"224.0.0.1", "", "224.0.0.1 is a multicast address"},
		{"[ff02::1]", "", "ff02::1 is a multicast address"},
		{"255.255.255.255", "", "255.255.255.255 is the broadcast address"},
		{"[64:ff9b::224.0.0.1]", "", "embeds 224.0.0.1 (NAT64), a multicast address"},
	}
	for _, tc := range cases {
		t.Run(tc.host, func(t *testing.T) {
			for _, target := range []string{"type: http\ntarget: http://" + tc.host + ":8080/health\n", "type: tcp\ntarget: '" + tc.host + ":5432'\n"} {
				_, err := Parse([]byte(withComponent(target, "")))
				want := `integration "bridge": component "orchestrator": field "target": refused destination: `
				if !errors.Is(err, ErrRefusedDestination) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tc.reason) {
					t.Fatalf("%serror = %v, want %q and %q", target, err, want, tc.reason)
				}
				all := target + "allow_loopback: true\nallow_link_local: true\n"
				if tc.flag != "" {
					all = target + tc.flag + ": true\n"
				}
				_, err = Parse([]byte(withComponent(all, "")))
				switch {
				case tc.flag == "" && !errors.Is(err, ErrRefusedDestination):
					t.Errorf("refused always, yet with both flags: %v", err)
				case tc.flag != "" && err != nil:
					t.Errorf("refused with %s: %v", tc.flag, err)
				}
			}
		})
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMaintenanceWindows(t *testing.T) {
	doc, err := Parse([]byte(withComponent(okHTTP, `maintenance:
  - name: migration
    start: 2025-06-01T10:00:00Z
    end: 2025-06-01T12:00:00+00:00
  - name: friday-night
    days: [fri]
    at: "23:00"
    duration: 2h
    time_zone: America/New_York
  - name: nightly-utc
    at: "03:00"
    duration: 30m
`)))
	if err != nil {
		t.Fatal(err)
	}
	w := doc.Integrations[0].Maintenance
	if w[2].TimeZone != "UTC" {
		t.Errorf("default time zone = %q", w[2].TimeZone)
	}
	cases := []struct {
		name   string
		window MaintenanceWindow
		at     string
		want   bool
	}{
		{"one-off before", w[0], "2025-06-01T09:59:59Z", false},
		{"one-off at start", w[0], "2025-06-01T10:00:00Z", true},
		{"one-off inside, other offset", w[0], "2025-06-01T13:30:00+02:00", true},
		{"one-off at end", w[0], "2025-06-01T12:00:00Z", false},
		// 2025-06-13 is a Friday; New York is at UTC-4 in June.
		{"recurring before start", w[1], "2025-06-13T22:59:00-04:00", false},
		{"recurring at start", w[1], "2025-06-13T23:00:00-04:00", true},
		{"recurring after midnight, started the previous day", w[1], "2025-06-14T00:30:00-04:00", true},
		{"recurring after midnight given in UTC", w[1], "2025-06-14T04:30:00Z", true},
		{"recurring at end", w[1], "2025-06-14T01:00:00-04:00", false},
		{"recurring on a day not listed", w[1], "2025-06-14T23:30:00-04:00", false},
		{"recurring the day before", w[1], "2025-06-12T23:30:00-04:00", false},
		{"recurring friday UTC is thursday in New York", w[1], "2025-06-13T03:30:00Z", false},
		// 2025-01-17 is a Friday; New York is at UTC-5 in January, so the
		// same local window sits an hour later in UTC.
		{"recurring in winter", w[1], "2025-01-18T04:30:00Z", true},
		{"recurring in winter, summer offset would be wrong", w[1], "2025-01-18T03:30:00Z", false},
		{"recurring in winter, last second", w[1], "2025-01-18T05:59:59Z", true},
		{"recurring in winter, end", w[1], "2025-01-18T06:00:00Z", false},
		{"every day", w[2], "2025-06-15T03:10:00Z", true},
		{"every day, outside", w[2], "2025-06-15T03:30:00Z", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.window.Active(mustTime(t, tc.at)); got != tc.want {
				t.Errorf("Active(%s) = %v, want %v", tc.at, got, tc.want)
			}
		})
	}

	in := doc.Integrations[0]
	if !in.InMaintenance(mustTime(t, "2025-06-01T11:00:00Z")) {
		t.Error("InMaintenance false inside the one-off window")
	}
	if !in.InMaintenance(mustTime(t, "2025-06-14T04:30:00Z")) {
		t.Error("InMaintenance false inside the recurring window")
	}
	if in.InMaintenance(mustTime(t, "2025-06-02T11:00:00Z")) {
		t.Error("InMaintenance true outside every window")
	}
	if (Integration{}).InMaintenance(time.Now()) {
		t.Error("InMaintenance true without windows")
	}
}

func TestInvalidWindowIsNeverActive(t *testing.T) {
	start := mustTime(t, "2025-06-01T10:00:00Z")
	for _, w := range []MaintenanceWindow{
		{Start: &start},
		{At: "25:00", Duration: Duration(time.Hour)},
		{At: "02:00"},
		{At: "02:00", Duration: Duration(time.Hour), TimeZone: "Mars/Olympus"},
	} {
		if w.Active(start) {
			t.Errorf("%+v is active", w)
		}
	}
}

func TestSelect(t *testing.T) {
	y := withComponent(okHTTP, "") +
		"  - name: payments\n    components:\n      - name: api\n" + indent(okHTTP, 8) +
		"  - name: search\n    components:\n      - name: api\n" + indent(okHTTP, 8)
	doc, err := Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	keys := func(ins []Integration) []string {
		var out []string
		for _, in := range ins {
			out = append(out, in.Key())
		}
		return out
	}
	all, err := doc.Select(nil)
	if err != nil || !slices.Equal(keys(all), []string{"bridge", "payments", "search"}) {
		t.Errorf("Select(nil) = %v, %v", keys(all), err)
	}
	some, err := doc.Select([]string{"search", "bridge", "search"})
	if err != nil || !slices.Equal(keys(some), []string{"bridge", "search"}) {
		t.Errorf("Select(search, bridge) = %v, %v", keys(some), err)
	}
	_, err = doc.Select([]string{"bridge", "nope", "gone"})
	if !errors.Is(err, ErrUnknownIntegration) || !strings.Contains(err.Error(), `"gone", "nope"`) {
		t.Errorf("Select with unknown names: %v", err)
	}
}

func TestLoadFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent.yaml")
	_, err := LoadFile(missing)
	if err == nil || !strings.Contains(err.Error(), missing) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte(withComponent("type: udp\ntarget: x:1\n", "")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadFile(bad)
	if err == nil || !strings.Contains(err.Error(), bad) || !errors.Is(err, ErrInvalidType) {
		t.Errorf("invalid file: %v", err)
	}
}

// A decode error (unknown field, wrong type) names the integration and
// component like a validation error does, with its line.
func TestDecodeErrorsNameTheirPlace(t *testing.T) {
	doc := `integrations:
  - name: first
    components:
      - {name: web, type: http, target: "http://example.com/"}
  - name: second
    components:
      - {name: ok, type: tcp, target: "db.example.com:5432"}
      - name: db
        type: tcp
        target: "db.example.com:5432"
        colour: blue
      - {name: w, type: http, target: "http://example.com/", weight: heavy}
`
	_, err := Parse([]byte(doc))
	if err == nil {
		t.Fatal("document with an unknown field accepted")
	}
	for _, want := range []string{
		`integration "second": component "db": line 11: field colour not found`,
		`integration "second": component "w": line 12:`,
		"2 problem(s)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
