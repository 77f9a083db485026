package alerting

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/metrics"
)

// Dashboard limits. CloudWatch takes at most 500 widgets a dashboard and 500
// metrics a graph.
const (
	// MaxWidgets is CloudWatch's limit: integrations get their own row of
	// widgets while it lasts; the fleet row shows every one.
	MaxWidgets = 500
	// fleetChunk is how many integrations one fleet graph holds.
	fleetChunk = 100
	// availabilityStat is the share of checks whose State was 2 (ACTIVE):
	// percentile rank counts values above 1 and at most 2.
	availabilityStat = "PR(1:2)"
	monthSeconds     = 30 * 24 * 60 * 60
)

type widget struct {
	Type       string         `json:"type"`
	X          int            `json:"x"`
	Y          int            `json:"y"`
	Width      int            `json:"width"`
	Height     int            `json:"height"`
	Properties map[string]any `json:"properties"`
}

// layout places widgets left to right in rows 24 units wide.
type layout struct {
	widgets []widget
	x, y, h int
}

func (l *layout) add(w, h int, typ string, props map[string]any) {
	if l.x+w > 24 {
		l.newRow()
	}
	l.widgets = append(l.widgets, widget{Type: typ, X: l.x, Y: l.y, Width: w, Height: h, Properties: props})
	l.x += w
	l.h = max(l.h, h)
}

func (l *layout) newRow() {
	if l.x > 0 {
		l.y += l.h
	}
	l.x, l.h = 0, 0
}

// metric is one row of a graph's "metrics" array.
func metric(ns, name string, dims []metrics.Dim, opts map[string]any) []any {
	row := []any{ns, name}
	for _, d := range dims {
		row = append(row, d.Name, d.Value)
	}
	if len(opts) > 0 {
		row = append(row, opts)
	}
	return row
}

func expression(id, expr, label string) []any {
	return []any{map[string]any{"id": id, "expression": expr, "label": label}}
}

func limits(warning, critical float64, unit string) map[string]any {
	return map[string]any{"horizontal": []map[string]any{
		{"label": "warning " + fmtNum(warning) + unit, "value": warning, "color": "#ff7f0e"},
		{"label": "critical " + fmtNum(critical) + unit, "value": critical, "color": "#d62728"},
	}}
}

// dashboard is the body of the stack's dashboard: a fleet row with every
// integration's state, worst first, then a row per integration.
func dashboard(doc *config.Document, o Options, ns string) string {
	l := &layout{}
	names := make([]string, len(doc.Integrations))
	for i, in := range doc.Integrations {
		names[i] = in.Name
	}
	l.add(24, 2, "text", map[string]any{"markdown": fmt.Sprintf(
		"# Vigil · %s\n%d integrations, from the configuration document. State: 0 uninitialized · 1 initializing · 2 ACTIVE · 3 DEGRADED · 4 FAILED.",
		o.Stack, len(names))})
	for start := 0; start < len(names); start += fleetChunk {
		chunk := names[start:min(start+fleetChunk, len(names))]
		var ms []any
		for i, name := range chunk {
			ms = append(ms, metric(ns, metrics.MetricState, []metrics.Dim{{Name: metrics.DimIntegration, Value: name}},
				map[string]any{"id": fmt.Sprintf("s%d", i), "label": name, "visible": false}))
		}
		// SORT orders the integrations by their worst state in the range.
		ms = append(ms, expression("fleet", `SORT(METRICS("s"), MAX, DESC)`, ""))
		title := "Fleet: state, worst first"
		if len(names) > fleetChunk {
			title += fmt.Sprintf(" (%d–%d)", start+1, start+len(chunk))
		}
		l.newRow()
		l.add(24, 6, "metric", map[string]any{
			"title": title, "region": o.Region, "view": "bar", "stat": "Maximum", "period": 300,
			"metrics": ms, "yAxis": map[string]any{"left": map[string]any{"min": 0, "max": 4}},
		})
	}
	for i, in := range doc.Integrations {
		// Keep one widget for the note below.
		if len(l.widgets)+rowWidgets(in)+1 > MaxWidgets {
			l.newRow()
			l.add(24, 2, "text", map[string]any{"markdown": fmt.Sprintf(
				"%d more integrations are in the fleet row only: a dashboard holds at most %d widgets.", len(names)-i, MaxWidgets)})
			break
		}
		integrationRow(l, in, o, ns)
	}
	body, err := json.Marshal(map[string]any{"widgets": l.widgets})
	if err != nil {
		panic(fmt.Sprintf("alerting: encode dashboard: %v", err))
	}
	return string(body)
}

// rowWidgets is how many widgets integrationRow adds for in.
func rowWidgets(in config.Integration) int {
	n := 4
	for _, c := range in.Components {
		if c.HTTP != nil {
			n += len(c.HTTP.Metrics)
		}
	}
	if in.Recovery != nil {
		n += 2
	}
	return n
}

func integrationRow(l *layout, in config.Integration, o Options, ns string) {
	th := in.Thresholds
	dims := []metrics.Dim{{Name: metrics.DimIntegration, Value: in.Name}}
	graph := func(title string, props map[string]any) map[string]any {
		props["title"] = in.Name + ": " + title
		props["region"] = o.Region
		if _, ok := props["view"]; !ok {
			props["view"] = "timeSeries"
		}
		if _, ok := props["period"]; !ok {
			props["period"] = 60
		}
		return props
	}
	l.newRow()
	l.add(6, 6, "metric", graph("score and state", map[string]any{"stat": "Minimum", "metrics": []any{
		metric(ns, metrics.MetricHealthScore, dims, map[string]any{"label": "score"}),
		metric(ns, metrics.MetricState, dims, map[string]any{"label": "state", "yAxis": "right", "stat": "Maximum"}),
	}, "yAxis": map[string]any{"left": map[string]any{"min": 0, "max": 100}, "right": map[string]any{"min": 0, "max": 4}}}))
	l.add(6, 6, "metric", graph("consecutive failures", map[string]any{"stat": "Maximum", "metrics": []any{
		metric(ns, metrics.MetricConsecutiveFailures, dims, nil),
	}, "annotations": limits(float64(th.FailureWarning), float64(th.FailureCritical), "")}))
	l.add(6, 6, "metric", graph("check latency (ms)", map[string]any{"period": 300, "metrics": []any{
		metric(ns, metrics.MetricCheckDuration, dims, map[string]any{"stat": "p50", "label": "p50"}),
		metric(ns, metrics.MetricCheckDuration, dims, map[string]any{"stat": "p95", "label": "p95"}),
		metric(ns, metrics.MetricCheckDuration, dims, map[string]any{"stat": "p99", "label": "p99"}),
	}, "annotations": limits(ms(th.LatencyWarning.D()), ms(th.LatencyCritical.D()), " ms")}))
	// Availability over 30 days and the error budget it leaves, derived
	// from State: no series of their own.
	l.add(6, 6, "metric", graph(fmt.Sprintf("availability, SLO %v %%", in.SLO), map[string]any{
		"view": "singleValue", "period": monthSeconds, "metrics": []any{
			metric(ns, metrics.MetricState, dims, map[string]any{"id": "a", "stat": availabilityStat, "label": "availability 30 d (%)"}),
			expression("budget", fmt.Sprintf("100 * (1 - (100 - a) / %v)", 100-in.SLO), "error budget left (%)"),
			metric(ns, metrics.MetricSLOBurn, dims, map[string]any{"stat": "Maximum", "period": 60, "label": fmt.Sprintf("burn: 0 ok · 1 slow (%vx) · 2 fast (%vx)", health.SlowBurn.Rate, health.FastBurn.Rate)}),
		}}))
	for _, c := range in.Components {
		if c.HTTP == nil {
			continue
		}
		cdims := []metrics.Dim{dims[0], {Name: metrics.DimComponent, Value: c.Name}}
		for _, m := range c.HTTP.Metrics {
			props := map[string]any{"stat": "Maximum", "metrics": []any{metric(ns, m.Name, cdims, nil)}}
			var h []map[string]any
			for _, lim := range []struct {
				name, color string
				v           *float64
			}{{Warning, "#ff7f0e", m.Warning}, {Critical, "#d62728", m.Critical}} {
				if lim.v != nil {
					h = append(h, map[string]any{"label": lim.name + " " + fmtNum(*lim.v), "value": *lim.v, "color": lim.color})
				}
			}
			if len(h) > 0 {
				props["annotations"] = map[string]any{"horizontal": h}
			}
			l.add(6, 6, "metric", graph(c.Name+" "+m.Name, props))
		}
	}
	if in.Recovery != nil {
		l.add(6, 6, "metric", graph("recoveries", map[string]any{"stat": "Sum", "period": 3600, "metrics": []any{
			metric(ns, metrics.MetricRecoveryStarted, dims, map[string]any{"label": "started"}),
			metric(ns, metrics.MetricRecoverySucceeded, dims, map[string]any{"label": "succeeded", "color": "#2ca02c"}),
			metric(ns, metrics.MetricRecoveryFailed, dims, map[string]any{"label": "failed", "color": "#d62728"}),
			metric(ns, metrics.MetricRecoveryDuration, dims, map[string]any{"label": "duration (ms)", "stat": "Maximum", "yAxis": "right"}),
		}, "annotations": map[string]any{"horizontal": []map[string]any{
			{"label": "slow recovery", "value": SlowRecoveryMs, "color": "#ff7f0e", "yAxis": "right"},
		}}}))
		l.add(6, 6, "metric", graph("recovery success rate, 7 d", map[string]any{
			"view": "singleValue", "period": SuccessRatePeriod, "metrics": []any{
				metric(ns, metrics.MetricRecoverySucceeded, dims, map[string]any{"id": "r", "stat": "Average", "visible": false}),
				expression("rate", "100 * r", "success rate (%)"),
			}}))
	}
}

func fmtNum(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}
