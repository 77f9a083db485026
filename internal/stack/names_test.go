package stack

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/metrics"
)

// published is every metric the code publishes in namespace ns: the fixed
// list of internal/metrics plus the body metrics the sample configuration
// (config/vigil.yaml, bundled with the functions) extracts.
func published(t *testing.T, ns string) (map[string]bool, *config.Document) {
	t.Helper()
	out := map[string]bool{}
	for _, n := range metrics.Names {
		out[newRef(ns, n.Metric, n.Dimensions).String()] = true
	}
	cfg, err := config.LoadFile(filepath.Join(repoRoot(t), "config", "vigil.yaml"))
	if err != nil {
		t.Fatalf("sample config: %v", err)
	}
	for _, in := range cfg.Integrations {
		for _, c := range in.Components {
			if c.HTTP == nil {
				continue
			}
			for _, m := range c.HTTP.Metrics {
				out[newRef(ns, m.Name, []string{metrics.DimIntegration, metrics.DimComponent}).String()] = true
			}
		}
	}
	return out, cfg
}

// templateDashboard reads the dashboard of template.yaml with parameter
// defaults substituted.
func templateDashboard(t *testing.T, tr *transformed) ([]MetricRef, []string) {
	t.Helper()
	p := tr.Template.resource(t, "VigilDashboard", "AWS::CloudWatch::Dashboard")["Properties"].(map[string]any)
	body, ok := resolve(p["DashboardBody"], rootParams(tr)).(string)
	if !ok {
		t.Fatalf("dashboard body not fully resolved: %v", resolve(p["DashboardBody"], rootParams(tr)))
	}
	refs, alarms, err := DashboardMetrics(body)
	if err != nil {
		t.Fatal(err)
	}
	return refs, alarms
}

// TestMetricNamesPublished checks every Vigil metric an alarm or a
// dashboard widget names, with its dimension set, is one the code
// publishes: a renamed metric would otherwise leave an alarm silent.
func TestMetricNamesPublished(t *testing.T) {
	t.Parallel()
	tr := transform(t)
	ns := metrics.DefaultNamespace
	if got := rootParams(tr)["MetricNamespace"]; got != ns {
		t.Errorf("MetricNamespace default %v, want %s", got, ns)
	}
	known, cfg := published(t, ns)

	var used []MetricRef
	alarms := resolvedAlarms(t, tr)
	for id, a := range alarms {
		p := a["Properties"].(map[string]any)
		var stats []map[string]any
		if _, ok := p["MetricName"]; ok {
			stats = append(stats, p)
		}
		if ms, ok := p["Metrics"].([]any); ok {
			for _, m := range ms {
				if s, ok := m.(map[string]any)["MetricStat"].(map[string]any); ok {
					stats = append(stats, s["Metric"].(map[string]any))
				}
			}
		}
		if len(stats) == 0 {
			t.Errorf("alarm %s names no metric", id)
		}
		for _, s := range stats {
			nsv, _ := s["Namespace"].(string)
			name, _ := s["MetricName"].(string)
			var dims []string
			for k, v := range dimMap(s["Dimensions"]) {
				dims = append(dims, k)
				if k == metrics.DimComponent {
					checkComponentMetric(t, cfg, dimMap(s["Dimensions"])[metrics.DimIntegration], v, name)
				}
			}
			if strings.HasPrefix(nsv, "AWS/") {
				continue // an AWS service's own metric (Lambda, SQS)
			}
			used = append(used, newRef(nsv, name, dims))
		}
	}
	refs, _ := templateDashboard(t, tr)
	used = append(used, refs...)
	if len(used) < len(alarms) {
		t.Fatalf("only %d metric references found", len(used))
	}
	for _, r := range used {
		if !known[r.String()] {
			t.Errorf("%s is referenced by the template but not published (known: %v)", r, keys(known))
		}
	}
}

// checkComponentMetric checks the sample config publishes metric for
// integration/component, so the per-component alarm has data.
func checkComponentMetric(t *testing.T, cfg *config.Document, integration, component any, metric string) {
	t.Helper()
	for _, in := range cfg.Integrations {
		for _, c := range in.Components {
			if in.Name != integration || c.Name != component || c.HTTP == nil {
				continue
			}
			for _, m := range c.HTTP.Metrics {
				if m.Name == metric {
					return
				}
			}
		}
	}
	t.Errorf("alarm on %s of %v/%v, which config/vigil.yaml does not publish", metric, integration, component)
}

// TestDashboardAlarmsExist checks the alarm widget lists exactly the
// alarms both templates create, by ARN built from their names.
func TestDashboardAlarmsExist(t *testing.T) {
	t.Parallel()
	tr := transform(t)
	_, listed := templateDashboard(t, tr)
	var want []string
	for _, a := range resolvedAlarms(t, tr) {
		name, ok := a["Properties"].(map[string]any)["AlarmName"].(string)
		if !ok {
			t.Fatalf("alarm name not resolved: %v", a["Properties"].(map[string]any)["AlarmName"])
		}
		want = append(want, fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", pseudo["AWS::Region"], pseudo["AWS::AccountId"], name))
	}
	slices.Sort(want)
	slices.Sort(listed)
	if !slices.Equal(listed, want) {
		t.Errorf("alarm widget lists\n%s\nwant\n%s", strings.Join(listed, "\n"), strings.Join(want, "\n"))
	}
}

func TestDashboardMetricsParsing(t *testing.T) {
	body := `{"widgets":[{"type":"metric","properties":{"metrics":[
		["NS","A","Integration","x",{"stat":"p50"}],
		["...",{"stat":"p99"}],
		[{"expression":"SEARCH('{NS,Integration,Component} MetricName=\"B\" Integration=\"x\"', 'p95', 300)"}],
		[{"expression":"100 * a"}]]}},
		{"type":"alarm","properties":{"alarms":["arn:1"]}}]}`
	got, alarms, err := DashboardMetrics(body)
	if err != nil {
		t.Fatal(err)
	}
	want := "[NS/A{Integration} NS/A{Integration} NS/B{Component,Integration}]"
	if fmt.Sprint(got) != want || !slices.Equal(alarms, []string{"arn:1"}) {
		t.Errorf("got %v %v, want %s [arn:1]", got, alarms, want)
	}
	for _, bad := range []string{`{}`, `not json`, `{"widgets":[{"type":"metric","properties":{"metrics":[["NS","A","Integration"]]}}]}`} {
		if _, _, err := DashboardMetrics(bad); err == nil {
			t.Errorf("DashboardMetrics(%s): no error", bad)
		}
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// jsonOf marshals a decoded template back to JSON for moto.
func jsonOf(d doc) ([]byte, error) { return json.Marshal(d) }
