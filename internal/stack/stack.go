// Package stack checks Vigil's deployable SAM application (template.yaml,
// integration-alarms.yaml) against the code: its tests lint the templates,
// transform them offline, create the stack on the moto emulator and
// cross-check every metric an alarm or dashboard widget names against the
// metrics the functions publish. The exported helpers read CloudWatch
// dashboard bodies; cost arithmetic lives in COST.md.
package stack

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// MetricRef is one metric a dashboard or alarm refers to: its namespace,
// name and the names (not values) of its dimensions, sorted.
type MetricRef struct {
	Namespace  string
	Name       string
	Dimensions []string
}

// String renders r as namespace/name{dim,dim}.
func (r MetricRef) String() string {
	return fmt.Sprintf("%s/%s{%s}", r.Namespace, r.Name, strings.Join(r.Dimensions, ","))
}

// searchRE matches the schema and metric name of a CloudWatch SEARCH
// expression: SEARCH('{Namespace,Dim1,Dim2} MetricName="Name" ...', ...).
var searchRE = regexp.MustCompile(`SEARCH\(\s*'\{([^}]*)\}[^']*MetricName\s*=\s*"([^"]+)"`)

// DashboardMetrics returns every metric the metric widgets of a dashboard
// body (the JSON of PutDashboard) refer to, including those named by SEARCH
// expressions and the "..." shorthand that repeats the previous metric.
// Math expressions over other metrics add nothing of their own. It also
// returns the alarm ARNs of alarm widgets. A body that is not a dashboard is
// an error.
func DashboardMetrics(body string) (metrics []MetricRef, alarms []string, err error) {
	var dash struct {
		Widgets []struct {
			Type       string `json:"type"`
			Properties struct {
				Metrics [][]any  `json:"metrics"`
				Alarms  []string `json:"alarms"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(body), &dash); err != nil {
		return nil, nil, fmt.Errorf("stack: parse dashboard body: %w", err)
	}
	if len(dash.Widgets) == 0 {
		return nil, nil, fmt.Errorf("stack: dashboard body has no widgets")
	}
	for i, w := range dash.Widgets {
		alarms = append(alarms, w.Properties.Alarms...)
		var prev []string
		for j, entry := range w.Properties.Metrics {
			var parts []string
			for _, e := range entry {
				switch v := e.(type) {
				case string:
					if v == "..." {
						parts = append(parts, prev...)
					} else {
						parts = append(parts, v)
					}
				case map[string]any:
					if expr, ok := v["expression"].(string); ok {
						for _, m := range searchRE.FindAllStringSubmatch(expr, -1) {
							schema := strings.Split(m[1], ",")
							metrics = append(metrics, newRef(strings.TrimSpace(schema[0]), m[2], schema[1:]))
						}
					}
				default:
					return nil, nil, fmt.Errorf("stack: widget %d metric %d: unexpected %T", i, j, e)
				}
			}
			if len(parts) == 0 {
				continue
			}
			if len(parts) < 2 || len(parts)%2 != 0 {
				return nil, nil, fmt.Errorf("stack: widget %d metric %d: want namespace, name and dimension pairs, got %q", i, j, parts)
			}
			prev = parts
			var dims []string
			for k := 2; k < len(parts); k += 2 {
				dims = append(dims, parts[k])
			}
			metrics = append(metrics, newRef(parts[0], parts[1], dims))
		}
	}
	return metrics, alarms, nil
}

func newRef(namespace, name string, dims []string) MetricRef {
	d := make([]string, 0, len(dims))
	for _, s := range dims {
		d = append(d, strings.TrimSpace(s))
	}
	slices.Sort(d)
	return MetricRef{Namespace: namespace, Name: name, Dimensions: d}
}
