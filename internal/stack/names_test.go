package stack

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-monitor/vigil/internal/metrics"
)

// metricRef names a metric by namespace, name and the names (not values)
// of its dimensions, sorted: namespace/name{dim,dim}.
func metricRef(namespace, name string, dims []string) string {
	d := slices.Clone(dims)
	slices.Sort(d)
	return fmt.Sprintf("%s/%s{%s}", namespace, name, strings.Join(d, ","))
}

// TestMetricNamesPublished checks every Vigil metric an alarm of the
// template names, with its dimension set, is one the code publishes
// (internal/metrics): a renamed metric would otherwise leave an alarm
// silent. The integrations' alarms are internal/alerting's, checked there.
func TestMetricNamesPublished(t *testing.T) {
	t.Parallel()
	tr := transform(t)
	ns := metrics.DefaultNamespace
	if got := rootParams(tr)["MetricNamespace"]; got != ns {
		t.Errorf("MetricNamespace default %v, want %s", got, ns)
	}
	known := map[string]bool{}
	for _, n := range metrics.Names {
		known[metricRef(ns, n.Metric, n.Dimensions)] = true
	}

	var used []string
	// Every alarm any stack may have: a home's, a probe-only stack's.
	for id, a := range resolvedAlarms(tr, tr.Template) {
		p := a["Properties"].(map[string]any)
		name, _ := p["MetricName"].(string)
		nsv, _ := p["Namespace"].(string)
		if name == "" || nsv == "" {
			t.Errorf("alarm %s names no metric", id)
			continue
		}
		if strings.HasPrefix(nsv, "AWS/") {
			continue // an AWS service's own metric (Lambda, SQS)
		}
		var dims []string
		for k := range dimMap(p["Dimensions"]) {
			dims = append(dims, k)
		}
		used = append(used, metricRef(nsv, name, dims))
	}
	if len(used) == 0 {
		t.Fatal("no alarm on a Vigil metric found")
	}
	for _, r := range used {
		if !known[r] {
			t.Errorf("%s is referenced by the template but not published (known: %v)", r, keys(known))
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
