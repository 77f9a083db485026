package demobridge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/vigil-monitor/vigil/internal/config"
)

func start(t *testing.T, opts Options) (*Bridge, *httptest.Server) {
	t.Helper()
	b := New(opts)
	srv := httptest.NewServer(b)
	t.Cleanup(func() { b.Close(); srv.Close() })
	return b, srv
}

// call makes a request and decodes the JSON answer.
func call(t *testing.T, method, url string, body any, header http.Header) (int, map[string]any, http.Header) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: body %q is not a JSON object: %v", method, url, raw, err)
	}
	return resp.StatusCode, out, resp.Header
}

func TestHealthInitPhaseThenHealthy(t *testing.T) {
	b, srv := start(t, Options{InitChecks: 2})
	for i := range 2 {
		code, body, _ := call(t, "GET", srv.URL+"/health/orchestrator", nil, nil)
		if code != 503 || body["status"] != "initializing" {
			t.Errorf("request %d: %d %v, want 503 initializing", i+1, code, body)
		}
	}
	code, body, _ := call(t, "GET", srv.URL+"/health/orchestrator", nil, nil)
	if code != 200 || body["status"] != "healthy" || body["component"] != "orchestrator" {
		t.Errorf("after init: %d %v, want 200 healthy", code, body)
	}
	if _, ok := body["uptime_seconds"].(float64); !ok {
		t.Errorf("no uptime_seconds in %v", body)
	}
	// The init phase is per component.
	if code, body, _ := call(t, "GET", srv.URL+"/health/supervisor", nil, nil); code != 503 {
		t.Errorf("supervisor's first request: %d %v, want 503 initializing", code, body)
	}
	if n := b.Snapshot().Counters.HealthRequests; n[Orchestrator] != 3 || n[Supervisor] != 1 || n[AgentRegistry] != 0 {
		t.Errorf("health request counters %v", n)
	}
}

func TestHealthDefaultInitAndNone(t *testing.T) {
	_, srv := start(t, Options{})
	if code, _, _ := call(t, "GET", srv.URL+"/health/agent-registry", nil, nil); code != 503 {
		t.Errorf("default: first request %d, want 503", code)
	}
	if code, _, _ := call(t, "GET", srv.URL+"/health/agent-registry", nil, nil); code != 200 {
		t.Errorf("default: second request %d, want 200", code)
	}
	_, srv = start(t, Options{InitChecks: -1})
	if code, _, _ := call(t, "GET", srv.URL+"/health/agent-registry", nil, nil); code != 200 {
		t.Errorf("no init phase: first request %d, want 200", code)
	}
}

func TestUnknownComponentAndMethod(t *testing.T) {
	_, srv := start(t, Options{InitChecks: -1})
	if code, body, _ := call(t, "GET", srv.URL+"/health/nope", nil, nil); code != 404 || !strings.Contains(body["error"].(string), "nope") {
		t.Errorf("unknown component: %d %v", code, body)
	}
	resp, err := http.Post(srv.URL+"/health/orchestrator", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /health: %d, want 405", resp.StatusCode)
	}
}

func TestFaultSwitching(t *testing.T) {
	b, srv := start(t, Options{InitChecks: -1})
	health := srv.URL + "/health/orchestrator"

	code, _, _ := call(t, "POST", srv.URL+"/fault", Fault{Component: Orchestrator, Fault: FaultDown}, nil)
	if code != 200 {
		t.Fatalf("set down: %d", code)
	}
	code, body, _ := call(t, "GET", health, nil, nil)
	if code != 503 || body["status"] != "unhealthy" || body["error"] == "" {
		t.Errorf("down: %d %v, want 503 unhealthy with error", code, body)
	}
	if code, _, _ := call(t, "GET", srv.URL+"/health/supervisor", nil, nil); code != 200 {
		t.Errorf("other component while orchestrator is down: %d, want 200", code)
	}

	call(t, "POST", srv.URL+"/fault", Fault{Component: Orchestrator, Fault: FaultSlow, LatencyMs: 150}, nil)
	began := time.Now()
	code, body, _ = call(t, "GET", health, nil, nil)
	if took := time.Since(began); code != 200 || took < 150*time.Millisecond {
		t.Errorf("slow: %d %v after %s, want 200 after ≥150ms", code, body, took)
	}
	if f := b.Snapshot().Faults[Orchestrator]; f.Fault != FaultSlow || f.LatencyMs != 150 {
		t.Errorf("state fault %+v", f)
	}

	call(t, "POST", srv.URL+"/fault", Fault{Component: Orchestrator, Fault: FaultNone}, nil)
	if code, _, _ := call(t, "GET", health, nil, nil); code != 200 {
		t.Errorf("cleared: %d, want 200", code)
	}
	if f := b.Snapshot().Faults[Orchestrator]; f.Fault != FaultNone && f.Fault != "" {
		t.Errorf("cleared: state fault %+v", f)
	}

	// "*" sets every component.
	call(t, "POST", srv.URL+"/fault", Fault{Component: AllComponents, Fault: FaultDown}, nil)
	for _, c := range Components() {
		if code, _, _ := call(t, "GET", srv.URL+"/health/"+c, nil, nil); code != 503 {
			t.Errorf("%s after * down: %d, want 503", c, code)
		}
	}
}

func TestFaultRejected(t *testing.T) {
	_, srv := start(t, Options{InitChecks: -1})
	tests := []struct {
		body any
		want string
	}{
		{Fault{Component: "mainframe", Fault: FaultDown}, `unknown component "mainframe"`},
		{Fault{Component: Orchestrator, Fault: "melt"}, `unknown fault "melt"`},
		{Fault{Component: Orchestrator, Fault: FaultResist}, `use component "*"`},
		{Fault{Component: Orchestrator, Fault: FaultErrors}, `use component "*"`},
		{map[string]any{"component": "orchestrator", "fault": "down", "extra": 1}, "unknown field"},
	}
	for _, tt := range tests {
		code, body, _ := call(t, "POST", srv.URL+"/fault", tt.body, nil)
		if msg, _ := body["error"].(string); code != 400 || !strings.Contains(msg, tt.want) {
			t.Errorf("POST /fault %v: %d %v, want 400 mentioning %q", tt.body, code, body, tt.want)
		}
	}
}

func TestMetricsAndLeak(t *testing.T) {
	_, srv := start(t, Options{InitChecks: -1})
	_, m, _ := call(t, "GET", srv.URL+"/metrics", nil, nil)
	for _, k := range []string{"memory_mb", "cpu_percent", "connections", "async_tasks"} {
		if _, ok := m[k].(float64); !ok {
			t.Errorf("metrics lack %s: %v", k, m)
		}
	}
	if m["memory_mb"].(float64) >= 500 {
		t.Errorf("healthy memory %v, want below the 500 MB warning", m["memory_mb"])
	}
	call(t, "POST", srv.URL+"/fault", Fault{Component: AllComponents, Fault: FaultLeak}, nil)
	_, m1, _ := call(t, "GET", srv.URL+"/metrics", nil, nil)
	_, m2, _ := call(t, "GET", srv.URL+"/metrics", nil, nil)
	if a, b := m1["memory_mb"].(float64), m2["memory_mb"].(float64); a <= 800 || b <= a {
		t.Errorf("leak: memory %v then %v, want above 800 and rising", a, b)
	}
	call(t, "POST", srv.URL+"/fault", Fault{Component: AllComponents, Fault: FaultNone}, nil)
	if _, m, _ := call(t, "GET", srv.URL+"/metrics", nil, nil); m["memory_mb"].(float64) >= 500 {
		t.Errorf("after clearing: memory %v", m["memory_mb"])
	}
}

// The error rate the sample config watches (warning 0.1 %, critical 1 %):
// the reference bridge's 0.02 % normally, over the critical limit under the
// errors fault until it is cleared or a recovery clears it.
func TestMetricsErrorRate(t *testing.T) {
	_, srv := start(t, Options{InitChecks: -1})
	errorRate := func() float64 {
		t.Helper()
		_, m, _ := call(t, "GET", srv.URL+"/metrics", nil, nil)
		v, ok := m["error_rate_percent"].(float64)
		if !ok {
			t.Fatalf("metrics lack error_rate_percent: %v", m)
		}
		for _, k := range []string{"connections", "async_tasks"} {
			if _, ok := m[k].(float64); !ok {
				t.Errorf("metrics lack %s beside the error rate: %v", k, m)
			}
		}
		return v
	}
	for _, step := range []struct {
		name  string
		fault *Fault
		recov bool
		want  float64
	}{
		{name: "normal", want: 0.02},
		{name: "errors fault", fault: &Fault{Component: AllComponents, Fault: FaultErrors}, want: ErrorRateFaulty},
		{name: "a component down leaves it", fault: &Fault{Component: Orchestrator, Fault: FaultDown}, want: ErrorRateFaulty},
		{name: "cleared on *", fault: &Fault{Component: AllComponents, Fault: FaultNone}, want: 0.02},
		{name: "errors again", fault: &Fault{Component: AllComponents, Fault: FaultErrors}, want: ErrorRateFaulty},
		{name: "recovered", recov: true, want: 0.02},
	} {
		if step.fault != nil {
			if code, body, _ := call(t, "POST", srv.URL+"/fault", step.fault, nil); code != 200 {
				t.Fatalf("%s: POST /fault: %d %v", step.name, code, body)
			}
		}
		if step.recov {
			if code, body, _ := call(t, "POST", srv.URL+"/recover", nil, nil); code != 200 || !strings.Contains(fmt.Sprint(body["cleared"]), FaultErrors) {
				t.Fatalf("%s: recover: %d %v, want errors among the cleared faults", step.name, code, body)
			}
		}
		if got := errorRate(); got != step.want {
			t.Errorf("%s: error_rate_percent %v, want %v", step.name, got, step.want)
		}
	}
}

// The sample config's body metrics read this bridge's /metrics: each path
// selects one number, all under their limits in steady state, and the errors
// fault takes the error rate over its critical limit.
func TestSampleConfigReadsMetrics(t *testing.T) {
	doc, err := config.LoadFile("../../config/vigil.yaml")
	if err != nil {
		t.Fatalf("sample config: %v", err)
	}
	var defs []config.ExtractedMetric
	for _, c := range doc.Integrations[0].Components {
		if c.HTTP != nil && strings.HasSuffix(c.Target, "/metrics") {
			defs = c.HTTP.Metrics
		}
	}
	want := map[string][2]*float64{ // the reference report's limits
		"MemoryMB": {ptr(500), ptr(800)}, "CPUPercent": {ptr(70), ptr(90)},
		"Connections": {ptr(100), nil}, "AsyncTasks": {ptr(50), nil}, "ErrorRatePercent": {ptr(0.1), ptr(1)},
	}
	if len(defs) != len(want) {
		t.Fatalf("sample extracts %d metrics from /metrics, want %d", len(defs), len(want))
	}
	eq := func(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	_, srv := start(t, Options{InitChecks: -1})
	read := func(d config.ExtractedMetric) float64 {
		t.Helper()
		_, body, _ := call(t, "GET", srv.URL+"/metrics", nil, nil)
		p, err := d.Path()
		if err != nil {
			t.Fatalf("%s: %v", d.Name, err)
		}
		got := p.Select(map[string]any(body))
		if len(got) != 1 {
			t.Fatalf("%s: %s selects %v from %v, want one number", d.Name, d.JSONPath, got, body)
		}
		v, ok := got[0].(float64)
		if !ok {
			t.Fatalf("%s: %s selects %v from %v, want one number", d.Name, d.JSONPath, got, body)
		}
		return v
	}
	for _, d := range defs {
		w, ok := want[d.Name]
		if !ok || !eq(d.Warning, w[0]) || !eq(d.Critical, w[1]) {
			t.Errorf("%s: limits %v / %v, want %v", d.Name, d.Warning, d.Critical, w)
			continue
		}
		if v := read(d); v > *d.Warning {
			t.Errorf("%s: %v in steady state, over its warning %v", d.Name, v, *d.Warning)
		}
	}
	call(t, "POST", srv.URL+"/fault", Fault{Component: AllComponents, Fault: FaultErrors}, nil)
	for _, d := range defs {
		if d.Name == "ErrorRatePercent" {
			if v := read(d); v <= *d.Critical {
				t.Errorf("error rate %v under the errors fault, want over the critical %v", v, *d.Critical)
			}
		}
	}
}

func ptr(v float64) *float64 { return &v }

func TestRecoverClearsFaults(t *testing.T) {
	b, srv := start(t, Options{InitChecks: -1})
	call(t, "POST", srv.URL+"/fault", Fault{Component: Orchestrator, Fault: FaultDown}, nil)
	call(t, "POST", srv.URL+"/fault", Fault{Component: AllComponents, Fault: FaultLeak}, nil)
	code, body, _ := call(t, "POST", srv.URL+"/recover", nil, nil)
	if code != 200 || body["status"] != "recovered" {
		t.Fatalf("recover: %d %v", code, body)
	}
	if code, _, _ := call(t, "GET", srv.URL+"/health/orchestrator", nil, nil); code != 200 {
		t.Errorf("after recover: %d, want 200", code)
	}
	s := b.Snapshot()
	if len(s.Faults) != 0 || s.Leak || s.Counters.RecoverCalls != 1 || s.Counters.RecoveriesApplied != 1 {
		t.Errorf("state after recover %+v", s)
	}
}

func TestRecoverResists(t *testing.T) {
	b, srv := start(t, Options{InitChecks: -1})
	call(t, "POST", srv.URL+"/fault", Fault{Component: Supervisor, Fault: FaultDown}, nil)
	call(t, "POST", srv.URL+"/fault", Fault{Component: AllComponents, Fault: FaultResist, Count: 2}, nil)
	for i := range 2 {
		code, body, _ := call(t, "POST", srv.URL+"/recover", nil, nil)
		if code != 500 || body["error"] != RecoverFailure {
			t.Errorf("resisted call %d: %d %v", i+1, code, body)
		}
		if code, _, _ := call(t, "GET", srv.URL+"/health/supervisor", nil, nil); code != 503 {
			t.Errorf("fault cleared by a refused recovery: %d", code)
		}
	}
	if code, _, _ := call(t, "POST", srv.URL+"/recover", nil, nil); code != 200 {
		t.Errorf("third call: %d, want 200", code)
	}
	s := b.Snapshot()
	if s.Counters.RecoverCalls != 3 || s.Counters.RecoveriesRefused != 2 || s.Counters.RecoveriesApplied != 1 || s.ResistRemaining != 0 {
		t.Errorf("counters %+v, resist %d", s.Counters, s.ResistRemaining)
	}
}

func TestRecoverIdempotencyKey(t *testing.T) {
	b, srv := start(t, Options{InitChecks: -1})
	call(t, "POST", srv.URL+"/fault", Fault{Component: AllComponents, Fault: FaultResist, Count: 1}, nil)
	key := http.Header{IdempotencyKeyHeader: {"incident-1/attempt-1"}}
	c1, b1, _ := call(t, "POST", srv.URL+"/recover", nil, key)
	c2, b2, h2 := call(t, "POST", srv.URL+"/recover", nil, key)
	if c1 != 500 || c2 != 500 || b1["error"] != b2["error"] || h2.Get("Idempotent-Replayed") != "true" {
		t.Errorf("same key: %d %v then %d %v (%v), want the same refusal replayed", c1, b1, c2, b2, h2)
	}
	// A new key acts; its replay does not act again.
	call(t, "POST", srv.URL+"/fault", Fault{Component: Orchestrator, Fault: FaultDown}, nil)
	key2 := http.Header{IdempotencyKeyHeader: {"incident-1/attempt-2"}}
	c3, b3, _ := call(t, "POST", srv.URL+"/recover", nil, key2)
	call(t, "POST", srv.URL+"/fault", Fault{Component: Orchestrator, Fault: FaultDown}, nil)
	c4, b4, _ := call(t, "POST", srv.URL+"/recover", nil, key2)
	if c3 != 200 || c4 != 200 || b3["recovered_at"] != b4["recovered_at"] {
		t.Errorf("second key: %d %v then %d %v, want one recovery replayed", c3, b3, c4, b4)
	}
	if code, _, _ := call(t, "GET", srv.URL+"/health/orchestrator", nil, nil); code != 503 {
		t.Errorf("a replayed recovery acted again: orchestrator %d, want still 503", code)
	}
	s := b.Snapshot().Counters
	if s.RecoverCalls != 4 || s.RecoveriesApplied != 1 || s.RecoveriesRefused != 1 || s.IdempotentReplays != 2 {
		t.Errorf("counters %+v", s)
	}
}

func TestRecoverConcurrentSameKey(t *testing.T) {
	b, srv := start(t, Options{InitChecks: -1})
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", srv.URL+"/recover", nil)
			req.Header.Set(IdempotencyKeyHeader, "k")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if s := b.Snapshot().Counters; s.RecoverCalls != 10 || s.RecoveriesApplied != 1 {
		t.Errorf("counters %+v, want 10 calls and 1 recovery", s)
	}
}

func TestStateRoute(t *testing.T) {
	_, srv := start(t, Options{InitChecks: -1})
	call(t, "POST", srv.URL+"/fault", Fault{Component: AgentRegistry, Fault: FaultSlow}, nil)
	call(t, "GET", srv.URL+"/health/supervisor", nil, nil)
	code, body, _ := call(t, "GET", srv.URL+"/state", nil, nil)
	faults, _ := body["faults"].(map[string]any)
	counters, _ := body["counters"].(map[string]any)
	if code != 200 || faults[AgentRegistry] == nil || counters == nil {
		t.Fatalf("state: %d %v", code, body)
	}
	if f := faults[AgentRegistry].(map[string]any); f["fault"] != "slow" || f["latency_ms"] != 1500.0 {
		t.Errorf("slow fault without latency: %v, want the 1500 ms default", f)
	}
	if hr := counters["health_requests"].(map[string]any); hr[Supervisor] != 1.0 {
		t.Errorf("health_requests %v", hr)
	}
}

func wsURL(srv *httptest.Server) string { return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws" }

func TestWebSocketPingPong(t *testing.T) {
	b, srv := start(t, Options{InitChecks: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, wsURL(srv), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	for range 2 {
		if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)); err != nil {
			t.Fatal(err)
		}
		_, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var reply struct {
			Type string `json:"type"`
			TS   int64  `json:"ts"`
		}
		if err := json.Unmarshal(data, &reply); err != nil || reply.Type != "pong" || reply.TS == 0 {
			t.Errorf("reply %s, want a pong with ts", data)
		}
	}
	if err := conn.Write(ctx, websocket.MessageText, []byte(`hello`)); err != nil {
		t.Fatal(err)
	}
	if _, data, err := conn.Read(ctx); err != nil || !strings.Contains(string(data), `"error"`) {
		t.Errorf("reply to non-ping: %s, %v", data, err)
	}
	if s := b.Snapshot().Counters; s.WSConnections != 1 || s.WSMessages != 3 {
		t.Errorf("counters %+v", s)
	}
	if _, m, _ := call(t, "GET", srv.URL+"/metrics", nil, nil); m["connections"] != 1.0 {
		t.Errorf("metrics connections %v, want 1", m["connections"])
	}

	// Close ends open connections.
	b.Close()
	if _, _, err := conn.Read(ctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("after Close: %v, want going away", err)
	}
}

func TestWebSocketRefusedWhenManagerDown(t *testing.T) {
	b, srv := start(t, Options{InitChecks: -1})
	if err := b.SetFault(Fault{Component: WebSocketManager, Fault: FaultDown}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, wsURL(srv), nil)
	if err == nil {
		conn.CloseNow()
		t.Fatal("upgrade accepted while the websocket manager is down")
	}
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("response %v, want 503", resp)
	}
}
