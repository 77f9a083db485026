package metrics

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/probe"
)

var tick = time.Date(2025, 11, 27, 14, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// flat renders a datum as "Name{Dim=Val,…}=value unit" for readable tables.
func flat(d Datum) string {
	var b strings.Builder
	b.WriteString(d.Name)
	if len(d.Dims) > 0 {
		var parts []string
		for _, dim := range d.Dims {
			parts = append(parts, dim.Name+"="+dim.Value)
		}
		b.WriteString("{" + strings.Join(parts, ",") + "}")
	}
	b.WriteString("=" + strconv.FormatFloat(d.Value, 'f', -1, 64))
	b.WriteString(" " + d.Unit)
	return b.String()
}

func integration(componentMetrics bool) config.Integration {
	return config.Integration{
		Name:             "agent-bridge",
		ComponentMetrics: componentMetrics,
		Components: []config.Component{
			{Name: "orchestrator", Type: config.TypeHTTP, HTTP: &config.HTTPProbe{Metrics: []config.ExtractedMetric{
				{Name: "MemoryMB", JSONPath: "memory_mb", Unit: "Megabytes"},
				{Name: "AsyncTasks", JSONPath: "async_tasks"},
			}}},
			{Name: "websocket-manager", Type: config.TypeWebSocket},
		},
	}
}

func TestForCheck(t *testing.T) {
	rec := health.Record{
		Integration: "agent-bridge", State: health.Degraded, Score: 75, LastTick: tick,
		ConsecutiveFailures: 2,
		Availability:        health.Availability{LatencyMs: []float64{10, 42.5}},
	}
	results := []probe.Result{
		{Component: "orchestrator", Healthy: true, Latency: 40 * time.Millisecond,
			Metrics: map[string]float64{"MemoryMB": 512, "AsyncTasks": 7, "Unlisted": 1}},
		{Component: "websocket-manager", Healthy: false, Latency: 1500 * time.Millisecond, CertDaysLeft: ptr(12.5)},
	}
	base := []string{
		"HealthScore{Integration=agent-bridge}=75 None",
		"State{Integration=agent-bridge}=3 None",
		"ConsecutiveFailures{Integration=agent-bridge}=2 Count",
		"CheckDuration{Integration=agent-bridge}=42.5 Milliseconds",
		"SLOBurn{Integration=agent-bridge}=0 None",
	}
	// Three failed checks in the hour, one of them in the last five
	// minutes: the fast burn-rate rule fires.
	burning := health.Record{State: health.Degraded, LastTick: tick, Availability: health.Availability{Minutes: []health.Bucket{
		{Start: tick.Add(-40 * time.Minute).Unix(), Checks: 1}, {Start: tick.Add(-30 * time.Minute).Unix(), Checks: 1, Healthy: 1},
		{Start: tick.Add(-20 * time.Minute).Unix(), Checks: 1}, {Start: tick.Add(-2 * time.Minute).Unix(), Checks: 1},
	}}}
	bodyAndCert := []string{
		"MemoryMB{Integration=agent-bridge,Component=orchestrator}=512 Megabytes",
		"AsyncTasks{Integration=agent-bridge,Component=orchestrator}=7 None",
		"CertificateDaysLeft{Integration=agent-bridge,Component=websocket-manager}=12.5 None",
	}
	tests := []struct {
		name    string
		integ   config.Integration
		rec     health.Record
		results []probe.Result
		at      time.Time
		want    []string
	}{
		{
			name:  "integration series, body metrics and certificate, no component series",
			integ: integration(false), rec: rec, results: results, at: tick,
			want: append(slices.Clone(base), bodyAndCert...),
		},
		{
			name:  "component series when enabled",
			integ: integration(true), rec: rec, results: results, at: tick,
			want: append(slices.Clone(base),
				"ComponentHealthy{Integration=agent-bridge,Component=orchestrator}=1 None",
				"ComponentLatency{Integration=agent-bridge,Component=orchestrator}=40 Milliseconds",
				"MemoryMB{Integration=agent-bridge,Component=orchestrator}=512 Megabytes",
				"AsyncTasks{Integration=agent-bridge,Component=orchestrator}=7 None",
				"ComponentHealthy{Integration=agent-bridge,Component=websocket-manager}=0 None",
				"ComponentLatency{Integration=agent-bridge,Component=websocket-manager}=1500 Milliseconds",
				"CertificateDaysLeft{Integration=agent-bridge,Component=websocket-manager}=12.5 None",
			),
		},
		{
			name:  "active is healthy; duration falls back to the slowest probe",
			integ: config.Integration{Name: "x"},
			rec:   health.Record{State: health.Active, Score: 100, LastTick: tick},
			results: []probe.Result{
				{Component: "a", Healthy: true, Latency: 3 * time.Millisecond},
				{Component: "b", Healthy: true, Latency: 9 * time.Millisecond},
			},
			at: tick,
			want: []string{
				"HealthScore{Integration=x}=100 None",
				"State{Integration=x}=2 None",
				"ConsecutiveFailures{Integration=x}=0 Count",
				"CheckDuration{Integration=x}=9 Milliseconds",
				"SLOBurn{Integration=x}=0 None",
			},
		},
		{
			name:  "fast burn",
			integ: config.Integration{Name: "x", SLO: 99.9},
			rec:   burning,
			at:    tick,
			want: []string{
				"HealthScore{Integration=x}=0 None",
				"State{Integration=x}=3 None",
				"ConsecutiveFailures{Integration=x}=0 Count",
				"CheckDuration{Integration=x}=0 Milliseconds",
				"SLOBurn{Integration=x}=2 None",
			},
		},
		{
			name:  "non-finite body values are dropped",
			integ: integration(false),
			rec:   health.Record{State: health.Failed, LastTick: tick},
			results: []probe.Result{
				{Component: "orchestrator", Metrics: map[string]float64{"MemoryMB": math.NaN(), "AsyncTasks": math.Inf(1)}},
			},
			at: tick,
			want: []string{
				"HealthScore{Integration=agent-bridge}=0 None",
				"State{Integration=agent-bridge}=4 None",
				"ConsecutiveFailures{Integration=agent-bridge}=0 Count",
				"CheckDuration{Integration=agent-bridge}=0 Milliseconds",
				"SLOBurn{Integration=agent-bridge}=0 None",
			},
		},
		{
			name:  "stale tick publishes only StaleTicks",
			integ: integration(true), rec: rec, results: results, at: tick.Add(-time.Minute),
			want: []string{"StaleTicks=1 Count"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ForCheck(tt.integ, tt.rec, tt.results, tt.at)
			var flatGot []string
			for _, d := range got {
				flatGot = append(flatGot, flat(d))
				if !d.At.Equal(tt.at) {
					t.Errorf("%s: timestamp %v, want %v", flat(d), d.At, tt.at)
				}
			}
			if !slices.Equal(flatGot, tt.want) {
				t.Errorf("datums:\n got %q\nwant %q", flatGot, tt.want)
			}
		})
	}
}

func TestForRecovery(t *testing.T) {
	tests := []struct {
		ev   RecoveryEvent
		dur  time.Duration
		want []string
	}{
		{Started, 0, []string{"RecoveryStarted{Integration=b}=1 Count"}},
		{Succeeded, 1500 * time.Millisecond, []string{"RecoverySucceeded{Integration=b}=1 Count", "RecoveryDuration{Integration=b}=1500 Milliseconds"}},
		{Failed, 250 * time.Millisecond, []string{"RecoveryFailed{Integration=b}=1 Count", "RecoverySucceeded{Integration=b}=0 Count", "RecoveryDuration{Integration=b}=250 Milliseconds"}},
		{Failed, -time.Second, []string{"RecoveryFailed{Integration=b}=1 Count", "RecoverySucceeded{Integration=b}=0 Count", "RecoveryDuration{Integration=b}=0 Milliseconds"}},
		{RecoveryEvent(9), time.Second, nil},
	}
	for _, tt := range tests {
		t.Run(tt.ev.String(), func(t *testing.T) {
			var got []string
			for _, d := range ForRecovery("b", tt.ev, tt.dur, tick) {
				got = append(got, flat(d))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestNamesMatchBuilders keeps Names honest: every fixed metric a builder can
// emit is listed with the dimensions and unit it is emitted with.
func TestNamesMatchBuilders(t *testing.T) {
	listed := map[string]Name{}
	for _, n := range Names {
		if _, dup := listed[n.Metric]; dup {
			t.Errorf("%s listed twice", n.Metric)
		}
		listed[n.Metric] = n
	}
	integ := integration(true)
	integ.Components[0].HTTP = nil // body metrics are not fixed names
	var all []Datum
	all = append(all, ForCheck(integ, health.Record{LastTick: tick}, []probe.Result{{Component: "orchestrator", CertDaysLeft: ptr(3.0)}}, tick)...)
	all = append(all, ForCheck(integ, health.Record{LastTick: tick}, nil, tick.Add(-time.Second))...)
	all = append(all, CheckerImpaired(tick, 2)...)
	all = append(all, AlertingFailed(tick)...)
	all = append(all, ShardsFailed(tick, 1)...)
	all = append(all, ForRegions(tick, 1, 0, []string{"b"}, [][]health.RegionView{{{Region: "eu-west-1", LatencyMs: 12}}})...)
	for _, ev := range []RecoveryEvent{Started, Succeeded, Failed} {
		all = append(all, ForRecovery("b", ev, time.Second, tick)...)
	}
	seen := map[string]bool{}
	for _, d := range all {
		name := d.Name
		seen[name] = true
		n, ok := listed[name]
		if !ok {
			t.Errorf("%s emitted but not in Names", name)
			continue
		}
		var dims []string
		for _, dim := range d.Dims {
			dims = append(dims, dim.Name)
		}
		if !slices.Equal(dims, n.Dimensions) || d.Unit != n.Unit {
			t.Errorf("%s emitted with %v %s, Names says %v %s", name, dims, d.Unit, n.Dimensions, n.Unit)
		}
	}
	for name := range listed {
		if !seen[name] {
			t.Errorf("%s in Names but never emitted", name)
		}
	}
}

// ShardsFailed exists only when a shard failed; RegionImpaired is published
// at 0 too, so its alarm sees an impairment end, and a region latency is
// published per integration and region.
func TestShardsAndRegions(t *testing.T) {
	if d := ShardsFailed(tick, 0); d != nil {
		t.Errorf("ShardsFailed(0) = %v, want nothing", d)
	}
	if d := ShardsFailed(tick, 2); len(d) != 1 || d[0].Value != 2 || d[0].Dims != nil {
		t.Errorf("ShardsFailed(2) = %+v", d)
	}
	d := ForRegions(tick, 0, 1, []string{"a", "b"}, [][]health.RegionView{
		{{Region: "r1", LatencyMs: 5}, {Region: "r2", LatencyMs: 7}},
		{{Region: "r1", LatencyMs: 9}},
	})
	if len(d) != 5 || d[0].Name != MetricRegionImpaired || d[0].Value != 0 || d[1].Name != MetricRegionsMissing || d[1].Value != 1 {
		t.Fatalf("ForRegions = %+v", d)
	}
	if got := d[3]; got.Value != 7 || got.Dims[0].Value != "a" || got.Dims[1] != (Dim{DimRegion, "r2"}) {
		t.Errorf("second latency datum = %+v", got)
	}
	if got := d[4]; got.Value != 9 || got.Dims[0].Value != "b" {
		t.Errorf("third latency datum = %+v", got)
	}
}

// CheckerImpaired exists only when a check was inconclusive, counting the
// integrations, with no dimension.
func TestCheckerImpaired(t *testing.T) {
	if got := CheckerImpaired(tick, 0); got != nil {
		t.Fatalf("nothing inconclusive: %v", got)
	}
	got := CheckerImpaired(tick, 3)
	if len(got) != 1 || got[0].Name != MetricCheckerImpaired || got[0].Value != 3 || len(got[0].Dims) != 0 {
		t.Fatalf("CheckerImpaired = %+v", got)
	}
}

func BenchmarkForCheck(b *testing.B) {
	integ := integration(true)
	rec := health.Record{Integration: integ.Name, State: health.Active, Score: 100, LastTick: tick,
		Availability: health.Availability{LatencyMs: []float64{12}}}
	results := []probe.Result{
		{Component: "orchestrator", Healthy: true, Latency: 12 * time.Millisecond,
			Metrics: map[string]float64{"MemoryMB": 210, "AsyncTasks": 4}},
		{Component: "websocket-manager", Healthy: true, Latency: 8 * time.Millisecond, CertDaysLeft: ptr(60.0)},
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = ForCheck(integ, rec, results, tick)
	}
}
