package alerting

import (
	"encoding/json"
	"go/token"
	"go/types"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/metrics"
)

// now is a Sunday, noon UTC.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

const (
	warnTopic = "arn:aws:sns:us-east-1:123456789012:vigil-warning"
	critTopic = "arn:aws:sns:us-east-1:123456789012:vigil-critical"
)

var opts = Options{Stack: "vigil", Region: "us-east-1", WarningTopic: warnTopic, CriticalTopic: critTopic}

// threeIntegrations: defaults; tuned thresholds with body metrics and
// recovery; an SLO of 99.5 % inside a maintenance window.
const threeIntegrations = `
integrations:
  - name: agent-bridge
    components:
      - {name: api, type: http, target: "https://bridge.example.com/health"}
  - name: payments
    slo: 99.95
    thresholds: {failure_warning: 3, failure_critical: 5, latency_warning: 800ms, latency_critical: 3s}
    components:
      - name: metrics
        type: http
        target: https://pay.example.com/metrics
        http:
          metrics:
            - {name: MemoryMB, json_path: memory_mb, unit: Megabytes, warning: 500, critical: 800}
            - {name: ErrorRatePercent, json_path: error_rate, unit: Percent, warning: 0.1, critical: 1}
            - {name: Connections, json_path: connections, unit: Count, warning: 100}
            - {name: Queue, json_path: queue}
      - {name: ws, type: websocket, target: "wss://pay.example.com/ws"}
    recovery:
      webhook: {url: "https://ops.example.com/recover", method: POST}
  - name: search
    slo: 99.5
    components:
      - {name: tcp, type: tcp, target: "search.example.com:9200"}
    maintenance:
      - {name: sunday, days: [sun], at: "11:00", duration: 2h}
`

func parse(t *testing.T, doc string) *config.Document {
	t.Helper()
	d, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// row renders an alarm's definition for readable tables.
func row(a Alarm) string {
	var dims []string
	for _, d := range a.Dimensions {
		dims = append(dims, d.Value)
	}
	return a.Metric + "{" + strings.Join(dims, ",") + "} " + a.Stat + "/" + strconv.Itoa(int(a.Period)) +
		" " + strconv.Itoa(int(a.DatapointsToAlarm)) + "of" + strconv.Itoa(int(a.EvaluationPeriods)) +
		" " + a.Comparison + " " + strconv.FormatFloat(a.Threshold, 'f', -1, 64) + " " + a.TreatMissingData + " → " + a.Severity
}

func TestBuildAlertTable(t *testing.T) {
	p := Build(parse(t, threeIntegrations), opts, now)
	got := map[string]Alarm{}
	for _, a := range p.Alarms {
		got[a.Name] = a
	}
	want := map[string]string{
		"vigil/agent-bridge/consecutive-failures-warning":  "ConsecutiveFailures{agent-bridge} Maximum/60 1of1 GreaterThanOrEqualToThreshold 2 ignore → warning",
		"vigil/agent-bridge/consecutive-failures-critical": "ConsecutiveFailures{agent-bridge} Maximum/60 1of1 GreaterThanOrEqualToThreshold 3 ignore → critical",
		"vigil/agent-bridge/latency-warning":               "CheckDuration{agent-bridge} p95/1200 1of1 GreaterThanThreshold 1000 ignore → warning",
		"vigil/agent-bridge/latency-critical":              "CheckDuration{agent-bridge} p95/1200 1of1 GreaterThanThreshold 5000 ignore → critical",
		"vigil/agent-bridge/slo-burn-slow":                 "SLOBurn{agent-bridge} Maximum/60 1of1 GreaterThanOrEqualToThreshold 1 ignore → warning",
		"vigil/agent-bridge/slo-burn-fast":                 "SLOBurn{agent-bridge} Maximum/60 1of1 GreaterThanOrEqualToThreshold 2 ignore → critical",

		"vigil/payments/consecutive-failures-warning":      "ConsecutiveFailures{payments} Maximum/60 1of1 GreaterThanOrEqualToThreshold 3 ignore → warning",
		"vigil/payments/consecutive-failures-critical":     "ConsecutiveFailures{payments} Maximum/60 1of1 GreaterThanOrEqualToThreshold 5 ignore → critical",
		"vigil/payments/latency-warning":                   "CheckDuration{payments} p95/1200 1of1 GreaterThanThreshold 800 ignore → warning",
		"vigil/payments/latency-critical":                  "CheckDuration{payments} p95/1200 1of1 GreaterThanThreshold 3000 ignore → critical",
		"vigil/payments/slo-burn-slow":                     "SLOBurn{payments} Maximum/60 1of1 GreaterThanOrEqualToThreshold 1 ignore → warning",
		"vigil/payments/slo-burn-fast":                     "SLOBurn{payments} Maximum/60 1of1 GreaterThanOrEqualToThreshold 2 ignore → critical",
		"vigil/payments/metrics/MemoryMB-warning":          "MemoryMB{payments,metrics} Maximum/60 2of3 GreaterThanThreshold 500 ignore → warning",
		"vigil/payments/metrics/MemoryMB-critical":         "MemoryMB{payments,metrics} Maximum/60 2of3 GreaterThanThreshold 800 ignore → critical",
		"vigil/payments/metrics/ErrorRatePercent-warning":  "ErrorRatePercent{payments,metrics} Maximum/60 2of3 GreaterThanThreshold 0.1 ignore → warning",
		"vigil/payments/metrics/ErrorRatePercent-critical": "ErrorRatePercent{payments,metrics} Maximum/60 2of3 GreaterThanThreshold 1 ignore → critical",
		"vigil/payments/metrics/Connections-warning":       "Connections{payments,metrics} Maximum/60 2of3 GreaterThanThreshold 100 ignore → warning",
		"vigil/payments/recovery-exhausted":                "RecoveryFailed{payments} Sum/60 1of1 GreaterThanOrEqualToThreshold 1 notBreaching → critical",
		"vigil/payments/recovery-slow":                     "RecoveryDuration{payments} Maximum/60 1of1 GreaterThanThreshold 60000 notBreaching → warning",
		"vigil/payments/recovery-success-rate":             "RecoverySucceeded{payments} Average/604800 1of1 LessThanThreshold 0.95 notBreaching → warning",

		"vigil/search/consecutive-failures-warning":  "ConsecutiveFailures{search} Maximum/60 1of1 GreaterThanOrEqualToThreshold 2 ignore → warning",
		"vigil/search/consecutive-failures-critical": "ConsecutiveFailures{search} Maximum/60 1of1 GreaterThanOrEqualToThreshold 3 ignore → critical",
		"vigil/search/latency-warning":               "CheckDuration{search} p95/1200 1of1 GreaterThanThreshold 1000 ignore → warning",
		"vigil/search/latency-critical":              "CheckDuration{search} p95/1200 1of1 GreaterThanThreshold 5000 ignore → critical",
		"vigil/search/slo-burn-slow":                 "SLOBurn{search} Maximum/60 1of1 GreaterThanOrEqualToThreshold 1 ignore → warning",
		"vigil/search/slo-burn-fast":                 "SLOBurn{search} Maximum/60 1of1 GreaterThanOrEqualToThreshold 2 ignore → critical",
	}
	for name, def := range want {
		a, ok := got[name]
		if !ok {
			t.Errorf("missing %s", name)
			continue
		}
		if row(a) != def {
			t.Errorf("%s:\n got %s\nwant %s", name, row(a), def)
		}
		topic := warnTopic
		if a.Severity == Critical {
			topic = critTopic
		}
		if len(a.Actions) != 1 || a.Actions[0] != topic {
			t.Errorf("%s (%s) notifies %v, want %s", name, a.Severity, a.Actions, topic)
		}
		// search is in its Sunday 11:00–13:00 window at noon.
		if a.ActionsEnabled == (a.Integration == "search") {
			t.Errorf("%s: actions enabled %v during search's maintenance", name, a.ActionsEnabled)
		}
		if a.Namespace != metrics.DefaultNamespace {
			t.Errorf("%s: namespace %q", name, a.Namespace)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected alarm %s: %s", name, row(got[name]))
		}
	}
	// The body metric without limits (Queue) has no alarm; one window
	// later search's alarms notify again.
	later := Build(parse(t, threeIntegrations), opts, now.Add(2*time.Hour))
	for _, a := range later.Alarms {
		if !a.ActionsEnabled {
			t.Errorf("%s: actions still disabled after the window", a.Name)
		}
	}
	if later.Hash() == p.Hash() {
		t.Error("the plan's hash does not change when a window closes")
	}
	if again := Build(parse(t, threeIntegrations), opts, now.Add(time.Minute)); again.Hash() != p.Hash() {
		t.Error("the same document and window hash differently a minute later")
	}
}

func TestBuildFollowsTheDocument(t *testing.T) {
	base := Build(parse(t, threeIntegrations), opts, now)
	tuned := Build(parse(t, strings.Replace(threeIntegrations, "failure_critical: 5", "failure_critical: 6", 1)), opts, now)
	if tuned.Hash() == base.Hash() {
		t.Fatal("a threshold change left the plan's hash unchanged")
	}
	for _, a := range tuned.Alarms {
		if a.Name == "vigil/payments/consecutive-failures-critical" && a.Threshold != 6 {
			t.Errorf("threshold %v, want 6", a.Threshold)
		}
	}
	ns := Build(parse(t, "namespace: Custom\n"+threeIntegrations), opts, now)
	if ns.Alarms[0].Namespace != "Custom" {
		t.Errorf("document namespace not used: %q", ns.Alarms[0].Namespace)
	}
	quiet := Build(parse(t, threeIntegrations), Options{Stack: "vigil"}, now)
	if len(quiet.Alarms[0].Actions) != 0 {
		t.Errorf("no topics configured, yet actions %v", quiet.Alarms[0].Actions)
	}
}

func TestOwnedAndNames(t *testing.T) {
	for name, want := range map[string]bool{
		"vigil/agent-bridge/latency-warning":            true,
		"vigil/payments/metrics/MemoryMB-warning":       true,
		"vigil/heartbeat":                               false, // the template's own
		"vigil-prod/agent-bridge/latency-warning":       false, // another stack
		"vigilx/agent-bridge/latency-warning":           false,
		"other/vigil/agent-bridge/consecutive-failures": false,
	} {
		if Owned("vigil", name) != want {
			t.Errorf("Owned(vigil, %s) = %v", name, !want)
		}
	}
	stack := strings.Repeat("s", 128)
	integ := strings.Repeat("i", 64)
	a := alarmName(stack, integ, strings.Repeat("c", 64)+"/"+strings.Repeat("m", 64)+"-critical")
	b := alarmName(stack, integ, strings.Repeat("c", 64)+"/"+strings.Repeat("m", 64)+"-warning")
	if len(a) != MaxNameLen || a == b || !Owned(stack, a) || !strings.HasPrefix(a, stack+"/"+integ+"/") {
		t.Errorf("long names: %d chars, distinct %v, owned %v", len(a), a != b, Owned(stack, a))
	}
}

type decodedDashboard struct {
	Widgets []struct {
		Type                string `json:"type"`
		X, Y, Width, Height int
		Properties          map[string]any `json:"properties"`
	} `json:"widgets"`
}

func decodeDashboard(t *testing.T, body string) decodedDashboard {
	t.Helper()
	var d decodedDashboard
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("dashboard body: %v", err)
	}
	return d
}

func TestDashboard(t *testing.T) {
	d := decodeDashboard(t, Build(parse(t, threeIntegrations), opts, now).DashboardBody)
	titles := map[string]map[string]any{}
	for _, w := range d.Widgets {
		if w.X+w.Width > 24 {
			t.Errorf("widget %v overflows the grid", w.Properties["title"])
		}
		if title, ok := w.Properties["title"].(string); ok {
			titles[title] = w.Properties
		}
	}
	fleet := titles["Fleet: state, worst first"]
	if fleet == nil {
		t.Fatalf("no fleet row in %v", keys(titles))
	}
	rows := fleet["metrics"].([]any)
	var labels []string
	for _, r := range rows[:len(rows)-1] {
		m := r.([]any)
		labels = append(labels, m[len(m)-1].(map[string]any)["label"].(string))
	}
	if strings.Join(labels, ",") != "agent-bridge,payments,search" {
		t.Errorf("fleet holds %v", labels)
	}
	if expr := rows[len(rows)-1].([]any)[0].(map[string]any)["expression"]; expr != `SORT(METRICS("s"), MAX, DESC)` {
		t.Errorf("fleet expression %v", expr)
	}
	for title, limits := range map[string][2]float64{
		"payments: consecutive failures":   {3, 5},
		"payments: check latency (ms)":     {800, 3000},
		"agent-bridge: check latency (ms)": {1000, 5000},
		"payments: metrics MemoryMB":       {500, 800},
	} {
		w := titles[title]
		if w == nil {
			t.Errorf("no widget %q", title)
			continue
		}
		h := w["annotations"].(map[string]any)["horizontal"].([]any)
		if len(h) != 2 || h[0].(map[string]any)["value"] != limits[0] || h[1].(map[string]any)["value"] != limits[1] {
			t.Errorf("%s limits %v, want %v", title, h, limits)
		}
	}
	for _, title := range []string{"payments: availability, SLO 99.95 %", "search: availability, SLO 99.5 %", "payments: recoveries", "payments: recovery success rate, 7 d"} {
		if titles[title] == nil {
			t.Errorf("no widget %q", title)
		}
	}
	if titles["agent-bridge: recoveries"] != nil {
		t.Error("recovery widgets for an integration without recovery")
	}
}

func keys(m map[string]map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A fleet larger than a dashboard holds: every integration in the fleet
// row, detail rows until the 500-widget limit, then a note.
func TestDashboardLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("integrations:\n")
	for i := range 150 {
		b.WriteString("  - name: i" + strconv.Itoa(i) + "\n    components:\n      - {name: c, type: tcp, target: \"x.example.com:1\"}\n")
	}
	d := decodeDashboard(t, Build(parse(t, b.String()), opts, now).DashboardBody)
	if len(d.Widgets) > MaxWidgets {
		t.Fatalf("%d widgets", len(d.Widgets))
	}
	fleet := 0
	for _, w := range d.Widgets {
		if title, _ := w.Properties["title"].(string); strings.HasPrefix(title, "Fleet") {
			fleet += len(w.Properties["metrics"].([]any)) - 1
		}
	}
	last := d.Widgets[len(d.Widgets)-1].Properties["markdown"]
	if fleet != 150 || !strings.Contains(last.(string), "more integrations are in the fleet row only") {
		t.Errorf("fleet shows %d of 150; last widget %v", fleet, last)
	}
}

// evalExpr evaluates a metric-math expression whose ids were replaced by
// numbers; its arithmetic is Go's constant arithmetic.
func evalExpr(t *testing.T, expr string, ids map[string]float64) float64 {
	t.Helper()
	for id, v := range ids {
		expr = strings.ReplaceAll(expr, id, strconv.FormatFloat(v, 'f', -1, 64))
	}
	tv, err := types.Eval(token.NewFileSet(), nil, token.NoPos, expr)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	f, _ := strconv.ParseFloat(tv.Value.ExactString(), 64)
	if strings.Contains(tv.Value.ExactString(), "/") {
		num, den, _ := strings.Cut(tv.Value.ExactString(), "/")
		n, _ := strconv.ParseFloat(num, 64)
		d, _ := strconv.ParseFloat(den, 64)
		f = n / d
	}
	return f
}

// The dashboard's error-budget expression means what the report's
// health.BudgetLeft computes, on the same synthetic month of checks.
func TestBudgetExpressionMeaning(t *testing.T) {
	doc := parse(t, threeIntegrations)
	var expr string
	for _, w := range decodeDashboard(t, Build(doc, opts, now).DashboardBody).Widgets {
		if w.Properties["title"] == "payments: availability, SLO 99.95 %" {
			for _, r := range w.Properties["metrics"].([]any) {
				if m, ok := r.([]any)[0].(map[string]any); ok && m["id"] == "budget" {
					expr = m["expression"].(string)
				}
			}
		}
	}
	if expr == "" {
		t.Fatal("no budget expression")
	}
	for _, failed := range []int{0, 5, 10, 30} {
		// 10,000 checks over the last 30 days, failed of them not ACTIVE.
		var a health.Availability
		for day := range 10 {
			bucket := health.Bucket{Start: now.Add(-time.Duration(day) * 24 * time.Hour).Truncate(24 * time.Hour).Unix(), Checks: 1000, Healthy: 1000}
			if day == 0 {
				bucket.Healthy -= failed
			}
			a.Days = append([]health.Bucket{bucket}, a.Days...)
		}
		ratio, _ := a.Ratio(30*24*time.Hour, now)
		pr := ratio * 100 // PR(1:2): the percentage of samples with State 2
		got := evalExpr(t, expr, map[string]float64{"a": pr})
		left, _ := a.BudgetLeft(99.95, now)
		if math.Abs(got-100*left) > 1e-6 {
			t.Errorf("%d failed of 10,000: expression %v, BudgetLeft %v %%", failed, got, 100*left)
		}
	}
}

// The converger keeps its last plan only while the document and the
// maintenance windows open stay the same.
func TestConvergerPlanFollowsDocumentAndWindows(t *testing.T) {
	c := NewConverger(nil, opts)
	doc := parse(t, threeIntegrations)
	inWindow := c.Plan(doc, now)
	if got := c.Plan(doc, now.Add(time.Minute)); got.Hash() != inWindow.Hash() {
		t.Error("same document and windows, another plan")
	}
	after := c.Plan(doc, now.Add(2*time.Hour))
	if after.Hash() == inWindow.Hash() || after.Hash() != Build(doc, opts, now.Add(2*time.Hour)).Hash() {
		t.Error("the closed window did not change the plan")
	}
	tuned := parse(t, strings.Replace(threeIntegrations, "failure_critical: 5", "failure_critical: 6", 1))
	if c.Plan(tuned, now.Add(2*time.Hour)).Hash() == after.Hash() {
		t.Error("a new document kept the old plan")
	}
	if NewConverger(nil, Options{}) != nil {
		t.Error("a converger without a stack")
	}
}
