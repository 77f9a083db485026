package health

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/probe/outcome"
)

var t0 = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC) // a Monday

func tick(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }

// at is the evaluation time of tick i: a check finishes a little after its
// scheduled time.
func at(i int) time.Time { return tick(i).Add(2 * time.Second) }

func dur(d time.Duration) config.Duration { return config.Duration(d) }

// bridge is the reference integration with validated defaults filled in:
// two critical components and one non-critical.
func bridge() config.Integration {
	no := false
	return config.Integration{
		Name: "bridge",
		Components: []config.Component{
			{Name: "orchestrator", Weight: 1},
			{Name: "registry", Weight: 1},
			{Name: "dashboard", Critical: &no, Weight: 1},
		},
		Thresholds: config.Thresholds{
			FailureWarning: 2, FailureCritical: 3,
			LatencyWarning: dur(time.Second), LatencyCritical: dur(5 * time.Second),
			SuccessThreshold: 1, CertWarningDays: 14, CertCriticalDays: 7,
		},
		Recovery: &config.Recovery{
			MaxAttempts: 3, BaseDelay: dur(time.Second), MaxDelay: dur(30 * time.Second),
			Cooldown: dur(15 * time.Minute),
		},
		Flapping: config.Flapping{MaxTransitions: 6, Window: dur(15 * time.Minute)},
	}
}

func res(name string, healthy bool, latency time.Duration, err string) outcome.Result {
	return outcome.Result{Component: name, Healthy: healthy, Latency: latency, Error: err}
}

// withMemory is allOK with the dashboard publishing MemoryMB.
func withMemory(mb float64) []outcome.Result {
	rs := allOK()
	rs[2].Metrics = map[string]float64{"MemoryMB": mb}
	return rs
}

// memoryLimit gives the dashboard a MemoryMB metric with warning 500 and
// critical 800, as the reference bridge has.
func memoryLimit(c *Check) {
	warn, crit := 500.0, 800.0
	comps := slices.Clone(c.Integration.Components)
	comps[2].HTTP = &config.HTTPProbe{Metrics: []config.ExtractedMetric{{Name: "MemoryMB", JSONPath: "memory_mb", Warning: &warn, Critical: &crit}}}
	c.Integration.Components = comps
}

// expiring is allOK with the orchestrator's certificate expiring in days.
func expiring(days float64) []outcome.Result {
	rs := allOK()
	rs[0].CertDaysLeft = &days
	return rs
}

func allOK() []outcome.Result {
	return []outcome.Result{
		res("orchestrator", true, 100*time.Millisecond, ""),
		res("registry", true, 200*time.Millisecond, ""),
		res("dashboard", true, 300*time.Millisecond, ""),
	}
}

func criticalDown() []outcome.Result {
	r := allOK()
	r[0] = res("orchestrator", false, 50*time.Millisecond, "status 503")
	return r
}

func nonCriticalDown() []outcome.Result {
	r := allOK()
	r[2] = res("dashboard", false, 50*time.Millisecond, "status 500")
	return r
}

func slow() []outcome.Result {
	r := allOK()
	r[1] = res("registry", true, 6*time.Second, "")
	return r
}

func check(i int, results []outcome.Result) Check {
	return Check{Integration: bridge(), Tick: tick(i), Results: results, Duration: 250 * time.Millisecond}
}

// stored is a record as the store would hand it back after tick 0.
func stored(s State) Record {
	r := Record{Integration: "bridge", Version: 5, State: s, LastTick: tick(0), HealthChecksPerformed: 4,
		TotalInitializations: 1}
	if s == Active || s == Degraded {
		up := t0.Add(-time.Hour)
		r.CurrentUptimeStart = &up
		r.SuccessfulInitializations = 1
	}
	return r
}

func edges(ts []Transition) [][2]State {
	var out [][2]State
	for _, t := range ts {
		out = append(out, [2]State{t.From, t.To})
	}
	return out
}

func TestEvaluateTransitions(t *testing.T) {
	withFailures := func(s State, n int) Record { r := stored(s); r.ConsecutiveFailures = n; return r }
	withSuccesses := func(s State, n int) Record { r := stored(s); r.ConsecutiveSuccesses = n; return r }
	threshold2 := func(c *Check) { c.Integration.Thresholds.SuccessThreshold = 2 }

	tests := []struct {
		name      string
		prev      Record
		results   []outcome.Result
		tweak     func(*Check)
		wantState State
		wantEdges [][2]State
		wantCF    int
		wantCS    int
		wantInit  [3]int // total, successful, failed
		wantCause string // substring of the last transition's cause
		wantUp    string // "kept", "now" or "nil"
	}{
		{
			name: "UNINITIALIZED to INITIALIZING on a failing first check", prev: Record{},
			results: criticalDown(), wantState: Initializing,
			wantEdges: [][2]State{{Uninitialized, Initializing}},
			wantCF:    1, wantInit: [3]int{1, 0, 0}, wantCause: "first health check", wantUp: "nil",
		},
		{
			name: "UNINITIALIZED to INITIALIZING to ACTIVE in the same check", prev: Record{},
			results: allOK(), wantState: Active,
			wantEdges: [][2]State{{Uninitialized, Initializing}, {Initializing, Active}},
			wantCS:    1, wantInit: [3]int{1, 1, 0}, wantCause: "initialized", wantUp: "now",
		},
		{
			name: "UNINITIALIZED stays INITIALIZING when success_threshold is 2", prev: Record{},
			results: allOK(), tweak: threshold2, wantState: Initializing,
			wantEdges: [][2]State{{Uninitialized, Initializing}},
			wantCS:    1, wantInit: [3]int{1, 0, 0}, wantUp: "nil",
		},
		{
			name: "INITIALIZING stays on a failure below critical", prev: withFailures(Initializing, 1),
			results: criticalDown(), wantState: Initializing,
			wantCF: 2, wantInit: [3]int{1, 0, 0}, wantUp: "nil",
		},
		{
			name: "INITIALIZING stays degraded below critical", prev: withFailures(Initializing, 0),
			results: nonCriticalDown(), wantState: Initializing,
			wantCF: 1, wantInit: [3]int{1, 0, 0}, wantUp: "nil",
		},
		{
			name: "INITIALIZING to FAILED at the critical threshold", prev: withFailures(Initializing, 2),
			results: criticalDown(), wantState: Failed,
			wantEdges: [][2]State{{Initializing, Failed}},
			wantCF:    3, wantInit: [3]int{1, 0, 1},
			wantCause: `initialization failed after 3 consecutive failures: critical component "orchestrator" unhealthy: status 503`,
			wantUp:    "nil",
		},
		{
			name: "INITIALIZING to DEGRADED at critical when only non-critical fail", prev: withFailures(Initializing, 2),
			results: nonCriticalDown(), wantState: Degraded,
			wantEdges: [][2]State{{Initializing, Degraded}},
			wantCF:    3, wantInit: [3]int{1, 0, 1}, wantCause: "initialization failed", wantUp: "nil",
		},
		{
			name: "INITIALIZING to ACTIVE", prev: withFailures(Initializing, 2),
			results: allOK(), wantState: Active,
			wantEdges: [][2]State{{Initializing, Active}},
			wantCS:    1, wantInit: [3]int{1, 1, 0}, wantUp: "now",
		},
		{
			name: "ACTIVE stays on an ok check", prev: withSuccesses(Active, 7),
			results: allOK(), wantState: Active, wantCS: 8, wantInit: [3]int{1, 1, 0}, wantUp: "kept",
		},
		{
			name: "ACTIVE to DEGRADED, non-critical component down", prev: withSuccesses(Active, 7),
			results: nonCriticalDown(), wantState: Degraded,
			wantEdges: [][2]State{{Active, Degraded}},
			wantCF:    1, wantInit: [3]int{1, 1, 0},
			wantCause: `non-critical component "dashboard" unhealthy: status 500`, wantUp: "kept",
		},
		{
			name: "ACTIVE to DEGRADED, latency over critical", prev: withSuccesses(Active, 7),
			results: slow(), wantState: Degraded,
			wantEdges: [][2]State{{Active, Degraded}},
			wantCF:    1, wantInit: [3]int{1, 1, 0},
			wantCause: `component "registry" latency 6s over critical 5s`, wantUp: "kept",
		},
		{
			name: "ACTIVE to DEGRADED, certificate within critical days", prev: withSuccesses(Active, 7),
			results: expiring(6.5), wantState: Degraded,
			wantEdges: [][2]State{{Active, Degraded}},
			wantCF:    1, wantInit: [3]int{1, 1, 0},
			wantCause: `component "orchestrator" certificate expires in 6.5 days (critical at 7)`, wantUp: "kept",
		},
		{
			name: "ACTIVE to DEGRADED, extracted metric over its critical limit", prev: withSuccesses(Active, 7),
			results: withMemory(812), tweak: memoryLimit, wantState: Degraded,
			wantEdges: [][2]State{{Active, Degraded}},
			wantCF:    1, wantInit: [3]int{1, 1, 0},
			wantCause: `component "dashboard" MemoryMB 812 over critical 800`, wantUp: "kept",
		},
		{
			name: "ACTIVE stays, extracted metric at its limit", prev: withSuccesses(Active, 7),
			results: withMemory(800), tweak: memoryLimit, wantState: Active,
			wantCS: 8, wantInit: [3]int{1, 1, 0}, wantUp: "kept",
		},
		{
			name: "ACTIVE stays, certificate only within warning days", prev: withSuccesses(Active, 7),
			results: expiring(10), wantState: Active,
			wantCS: 8, wantInit: [3]int{1, 1, 0}, wantUp: "kept",
		},
		{
			name: "ACTIVE to FAILED", prev: withSuccesses(Active, 7),
			results: criticalDown(), wantState: Failed,
			wantEdges: [][2]State{{Active, Failed}},
			wantCF:    1, wantInit: [3]int{1, 1, 0},
			wantCause: `critical component "orchestrator" unhealthy: status 503`, wantUp: "nil",
		},
		{
			name: "DEGRADED to FAILED", prev: withFailures(Degraded, 1),
			results: criticalDown(), wantState: Failed,
			wantEdges: [][2]State{{Degraded, Failed}},
			wantCF:    2, wantInit: [3]int{1, 1, 0}, wantUp: "nil",
		},
		{
			name: "DEGRADED stays degraded", prev: withFailures(Degraded, 1),
			results: slow(), wantState: Degraded, wantCF: 2, wantInit: [3]int{1, 1, 0}, wantUp: "kept",
		},
		{
			name: "DEGRADED to ACTIVE keeps uptime", prev: withFailures(Degraded, 4),
			results: allOK(), wantState: Active,
			wantEdges: [][2]State{{Degraded, Active}},
			wantCS:    1, wantInit: [3]int{1, 1, 0}, wantCause: "all components healthy", wantUp: "kept",
		},
		{
			name: "DEGRADED stays when success_threshold is 2", prev: withFailures(Degraded, 4),
			results: allOK(), tweak: threshold2, wantState: Degraded, wantCS: 1, wantInit: [3]int{1, 1, 0}, wantUp: "kept",
		},
		{
			name: "FAILED to DEGRADED", prev: withFailures(Failed, 3),
			results: nonCriticalDown(), wantState: Degraded,
			wantEdges: [][2]State{{Failed, Degraded}},
			wantCF:    4, wantInit: [3]int{1, 0, 0}, wantUp: "nil",
		},
		{
			name: "FAILED stays failed", prev: withFailures(Failed, 3),
			results: criticalDown(), wantState: Failed, wantCF: 4, wantInit: [3]int{1, 0, 0}, wantUp: "nil",
		},
		{
			name: "FAILED to ACTIVE", prev: withFailures(Failed, 3),
			results: allOK(), wantState: Active,
			wantEdges: [][2]State{{Failed, Active}},
			wantCS:    1, wantInit: [3]int{1, 0, 0}, wantUp: "now",
		},
		{
			name: "FAILED stays on the first success when success_threshold is 2", prev: withFailures(Failed, 3),
			results: allOK(), tweak: threshold2, wantState: Failed, wantCS: 1, wantInit: [3]int{1, 0, 0}, wantUp: "nil",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := check(1, tt.results)
			if tt.tweak != nil {
				tt.tweak(&in)
			}
			now := at(1)
			got, dec := Evaluate(tt.prev, in, now)
			if dec.Outcome != Applied {
				t.Fatalf("outcome = %v, want Applied", dec.Outcome)
			}
			if got.State != tt.wantState {
				t.Errorf("state = %s, want %s", got.State, tt.wantState)
			}
			if e := edges(dec.Transitions); !slices.Equal(e, tt.wantEdges) {
				t.Errorf("transitions = %v, want %v", e, tt.wantEdges)
			}
			if got.ConsecutiveFailures != tt.wantCF || got.ConsecutiveSuccesses != tt.wantCS {
				t.Errorf("consecutive failures/successes = %d/%d, want %d/%d",
					got.ConsecutiveFailures, got.ConsecutiveSuccesses, tt.wantCF, tt.wantCS)
			}
			init := [3]int{got.TotalInitializations, got.SuccessfulInitializations, got.FailedInitializations}
			if init != tt.wantInit {
				t.Errorf("initializations total/successful/failed = %v, want %v", init, tt.wantInit)
			}
			if got.HealthChecksPerformed != tt.prev.HealthChecksPerformed+1 {
				t.Errorf("health_checks_performed = %d, want %d", got.HealthChecksPerformed, tt.prev.HealthChecksPerformed+1)
			}
			if !got.LastTick.Equal(in.Tick) || !got.LastHealthCheck.Equal(now) {
				t.Errorf("last tick/check = %v/%v, want %v/%v", got.LastTick, got.LastHealthCheck, in.Tick, now)
			}
			if got.Version != tt.prev.Version {
				t.Errorf("version changed to %d; only the store may change it", got.Version)
			}
			if tt.wantCause != "" {
				last := dec.Transitions[len(dec.Transitions)-1]
				if !strings.Contains(last.Cause, tt.wantCause) {
					t.Errorf("cause = %q, want it to contain %q", last.Cause, tt.wantCause)
				}
			}
			for _, tr := range dec.Transitions {
				if !tr.At.Equal(now) {
					t.Errorf("transition at %v, want %v", tr.At, now)
				}
			}
			if !slices.Equal(got.History[len(got.History)-len(dec.Transitions):], dec.Transitions) {
				t.Errorf("history does not end with this check's transitions")
			}
			if n := len(dec.Transitions) > 0; dec.Notify != n {
				t.Errorf("notify = %v, want %v", dec.Notify, n)
			}
			switch tt.wantUp {
			case "nil":
				if got.CurrentUptimeStart != nil || got.UptimeSeconds != 0 {
					t.Errorf("uptime start %v, seconds %v; want none", got.CurrentUptimeStart, got.UptimeSeconds)
				}
			case "now":
				if got.CurrentUptimeStart == nil || !got.CurrentUptimeStart.Equal(now) || got.UptimeSeconds != 0 {
					t.Errorf("uptime start %v, seconds %v; want now, 0", got.CurrentUptimeStart, got.UptimeSeconds)
				}
			case "kept":
				want := *tt.prev.CurrentUptimeStart
				if got.CurrentUptimeStart == nil || !got.CurrentUptimeStart.Equal(want) ||
					got.UptimeSeconds != now.Sub(want).Seconds() {
					t.Errorf("uptime start %v, seconds %v; want %v kept", got.CurrentUptimeStart, got.UptimeSeconds, want)
				}
			}
		})
	}
}

func TestEvaluateFailedToActiveNeedsTwoSuccesses(t *testing.T) {
	prev := stored(Failed)
	prev.ConsecutiveFailures = 5
	var steps []State
	for i := 1; i <= 2; i++ {
		in := check(i, allOK())
		in.Integration.Thresholds.SuccessThreshold = 2
		var dec Decision
		prev, dec = Evaluate(prev, in, at(i))
		steps = append(steps, prev.State)
		if i == 2 && !slices.Equal(edges(dec.Transitions), [][2]State{{Failed, Active}}) {
			t.Errorf("second check transitions = %v", edges(dec.Transitions))
		}
	}
	if !slices.Equal(steps, []State{Failed, Active}) {
		t.Errorf("states = %v, want [FAILED ACTIVE]", steps)
	}
	if prev.ConsecutiveSuccesses != 2 || prev.ConsecutiveFailures != 0 {
		t.Errorf("successes/failures = %d/%d, want 2/0", prev.ConsecutiveSuccesses, prev.ConsecutiveFailures)
	}
}

func TestEvaluateComponentsAndMessage(t *testing.T) {
	days := 20.0
	results := criticalDown()
	results[1].Metrics = map[string]float64{"MemoryMB": 420}
	results[1].CertDaysLeft = &days
	results = results[:2] // dashboard's result is missing
	got, _ := Evaluate(Record{}, check(1, results), at(1))

	if len(got.Components) != 3 {
		t.Fatalf("components = %d, want 3 (missing result reported)", len(got.Components))
	}
	orch, reg, dash := got.Components[0], got.Components[1], got.Components[2]
	if orch.Healthy || !orch.Critical || orch.Score != 0 || orch.Error != "status 503" || orch.LatencyMs != 50 {
		t.Errorf("orchestrator = %+v", orch)
	}
	if !reg.Healthy || reg.Score != 100 || reg.Metrics["MemoryMB"] != 420 || reg.CertDaysLeft == nil || *reg.CertDaysLeft != 20 {
		t.Errorf("registry = %+v", reg)
	}
	if dash.Healthy || dash.Critical || dash.Error != "no probe result" {
		t.Errorf("dashboard = %+v", dash)
	}
	if want := "orchestrator: status 503; dashboard: no probe result"; got.ErrorMessage != want {
		t.Errorf("error message = %q, want %q", got.ErrorMessage, want)
	}
	if got.Score != 33.3 {
		t.Errorf("score = %v, want 33.3", got.Score)
	}
	if got.Integration != "bridge" {
		t.Errorf("integration = %q", got.Integration)
	}

	healthy, _ := Evaluate(got, check(2, allOK()), at(2))
	if healthy.ErrorMessage != "" || healthy.Score != 100 {
		t.Errorf("healthy check: message %q score %v", healthy.ErrorMessage, healthy.Score)
	}
}

func TestEvaluateIdempotency(t *testing.T) {
	first, _ := Evaluate(Record{}, check(5, allOK()), at(5))
	first.Version = 1

	t.Run("duplicate tick", func(t *testing.T) {
		got, dec := Evaluate(first, check(5, criticalDown()), at(6))
		if dec.Outcome != Duplicate || dec.StartRecovery || dec.Notify || len(dec.Transitions) > 0 {
			t.Errorf("decision = %+v, want Duplicate only", dec)
		}
		if got.HealthChecksPerformed != 1 || got.State != Active || got.ConsecutiveFailures != 0 || got.StaleTicks != 0 {
			t.Errorf("record changed on duplicate: %+v", got)
		}
	})
	t.Run("stale tick", func(t *testing.T) {
		got, dec := Evaluate(first, check(4, criticalDown()), at(6))
		if dec.Outcome != Stale || len(dec.Transitions) > 0 {
			t.Errorf("decision = %+v, want Stale", dec)
		}
		if got.StaleTicks != 1 || got.HealthChecksPerformed != 1 || got.State != Active || !got.LastTick.Equal(tick(5)) {
			t.Errorf("stale changed more than StaleTicks: %+v", got)
		}
	})
	t.Run("next tick applies", func(t *testing.T) {
		got, dec := Evaluate(first, check(6, allOK()), at(6))
		if dec.Outcome != Applied || got.HealthChecksPerformed != 2 {
			t.Errorf("outcome %v, checks %d", dec.Outcome, got.HealthChecksPerformed)
		}
	})
}

func TestEvaluateDoesNotWriteThroughPrev(t *testing.T) {
	prev := stored(Active)
	prev.History = make([]Transition, 1, 10)
	prev.History[0] = Transition{From: Initializing, To: Active, At: t0}
	prev.Availability.LatencyMs = make([]float64, 1, 10)
	prev.Availability.Minutes = make([]Bucket, 1, 10)
	prev.Availability.Minutes[0] = Bucket{Start: t0.Unix(), Checks: 1, Healthy: 1}
	up := *prev.CurrentUptimeStart

	got, _ := Evaluate(prev, check(1, criticalDown()), at(1))
	if got.State != Failed {
		t.Fatalf("state = %s", got.State)
	}
	if full := prev.History[:2]; full[1] != (Transition{}) {
		t.Errorf("Evaluate wrote into prev.History's spare capacity: %+v", full[1])
	}
	if full := prev.Availability.Minutes[:2]; full[1] != (Bucket{}) || full[0].Checks != 1 {
		t.Errorf("Evaluate wrote into prev's buckets: %+v", full)
	}
	if !prev.CurrentUptimeStart.Equal(up) {
		t.Errorf("prev uptime start changed")
	}
}

func TestScore(t *testing.T) {
	th := bridge().Thresholds
	tests := []struct {
		latency time.Duration
		healthy bool
		want    float64
	}{
		{500 * time.Millisecond, true, 100},
		{time.Second, true, 100},
		{3 * time.Second, true, 75},
		{5 * time.Second, true, 50},
		{7 * time.Second, true, 25},
		{1234 * time.Millisecond, true, 97.1},
		{time.Minute, true, 1},
		{100 * time.Millisecond, false, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v healthy=%v", tt.latency, tt.healthy), func(t *testing.T) {
			if got := Score(res("c", tt.healthy, tt.latency, ""), th); got != tt.want {
				t.Errorf("Score = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("critical not above warning", func(t *testing.T) {
		th := config.Thresholds{LatencyWarning: dur(time.Second), LatencyCritical: dur(time.Second)}
		if got := Score(res("c", true, 2*time.Second, ""), th); got != 50 {
			t.Errorf("Score = %v, want 50", got)
		}
	})
}

func TestOverallScore(t *testing.T) {
	comps := []ComponentStatus{{Score: 100}, {Score: 50}, {Score: 0}}
	tests := []struct {
		name    string
		weights []float64
		want    float64
	}{
		{"equal weights", []float64{1, 1, 1}, 50},
		{"weighted", []float64{3, 1, 0}, 87.5},
		{"weighted with rounding", []float64{2, 1, 1}, 62.5},
		{"all zero falls back to plain mean", []float64{0, 0, 0}, 50},
		{"missing weights count as 1", []float64{2}, 62.5},
		{"negative weight counts as 0", []float64{1, -5, 1}, 50},
		{"thirds round to one decimal", []float64{1, 0, 2}, 33.3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := OverallScore(comps, tt.weights); got != tt.want {
				t.Errorf("OverallScore = %v, want %v", got, tt.want)
			}
		})
	}
	if got := OverallScore(nil, nil); got != 0 {
		t.Errorf("no components = %v, want 0", got)
	}
}

func TestEvaluateUsesConfigWeights(t *testing.T) {
	in := check(1, nonCriticalDown())
	in.Integration.Components[2].Weight = 2 // dashboard counts double
	got, _ := Evaluate(Record{}, in, at(1))
	if got.Score != 50 {
		t.Errorf("score = %v, want 50 (100,100,0 weighted 1,1,2)", got.Score)
	}
}

// flapHistory is n alternating transitions ending at end, one minute apart.
func flapHistory(n int, end time.Time) []Transition {
	var h []Transition
	for i := range n {
		from, to := Active, Degraded
		if i%2 == 1 {
			from, to = Degraded, Active
		}
		h = append(h, Transition{From: from, To: to, At: end.Add(-time.Duration(n-1-i) * time.Minute)})
	}
	return h
}

func TestFlapping(t *testing.T) {
	tests := []struct {
		name     string
		history  []Transition
		results  []outcome.Result
		want     bool
		wantNote bool
	}{
		{"seventh change in the window flaps", flapHistory(6, at(0)), nonCriticalDown(), true, false},
		{"sixth change does not", flapHistory(5, at(0)), nonCriticalDown(), false, true},
		{"old changes have left the window", flapHistory(6, at(0).Add(-20*time.Minute)), nonCriticalDown(), false, true},
		{"still flapping without a new change", flapHistory(7, at(0)), allOK(), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev := stored(Active)
			prev.History = tt.history
			got, dec := Evaluate(prev, check(1, tt.results), at(1))
			if got.Flapping != tt.want {
				t.Errorf("flapping = %v, want %v", got.Flapping, tt.want)
			}
			if dec.Notify != tt.wantNote {
				t.Errorf("notify = %v, want %v", dec.Notify, tt.wantNote)
			}
		})
	}
	t.Run("detection off without a window", func(t *testing.T) {
		if flapping(flapHistory(20, at(0)), config.Flapping{MaxTransitions: 6}, at(0)) {
			t.Error("flapping with zero window")
		}
	})
	t.Run("flapping holds recovery", func(t *testing.T) {
		prev := stored(Active)
		prev.History = flapHistory(6, at(0))
		prev.ConsecutiveFailures = 2
		got, dec := Evaluate(prev, check(1, criticalDown()), at(1))
		if !got.Flapping || dec.StartRecovery || got.Recovery.Pending {
			t.Errorf("flapping %v, start %v, pending %v", got.Flapping, dec.StartRecovery, got.Recovery.Pending)
		}
	})
}

// failing runs n failing checks from ACTIVE and returns the record and the
// decision of each check.
func failing(n int, tweak func(*Check)) (Record, []Decision) {
	rec := stored(Active)
	var decs []Decision
	for i := 1; i <= n; i++ {
		in := check(i, criticalDown())
		if tweak != nil {
			tweak(&in)
		}
		var d Decision
		rec, d = Evaluate(rec, in, at(i))
		decs = append(decs, d)
	}
	return rec, decs
}

func TestRecoveryDue(t *testing.T) {
	t.Run("due exactly at the third consecutive failure", func(t *testing.T) {
		rec, decs := failing(3, nil)
		for i, d := range decs {
			if want := i == 2; d.StartRecovery != want {
				t.Errorf("check %d: StartRecovery = %v, want %v", i+1, d.StartRecovery, want)
			}
		}
		rs := rec.Recovery
		wantID := fmt.Sprintf("bridge-%d", tick(3).Unix())
		if !rs.Pending || rs.InProgress || rs.IncidentID != wantID || rs.ExecutionName != wantID ||
			!rs.DecidedAt.Equal(at(3)) || rs.Attempt != 0 || rs.LastError != "" {
			t.Errorf("recovery = %+v, want pending incident %s", rs, wantID)
		}
		if rec.State != Failed || rec.ConsecutiveFailures != 3 {
			t.Errorf("state %s failures %d", rec.State, rec.ConsecutiveFailures)
		}
	})
	t.Run("due when degraded", func(t *testing.T) {
		prev := stored(Degraded)
		prev.ConsecutiveFailures = 2
		_, dec := Evaluate(prev, check(1, slow()), at(1))
		if !dec.StartRecovery {
			t.Error("not due on DEGRADED at the third failure")
		}
	})
	notDue := []struct {
		name string
		prep func(*Record)
		cfg  func(*Check)
	}{
		{"pending", func(r *Record) {
			r.Recovery = RecoveryStatus{Pending: true, InProgress: true, IncidentID: "x", ExecutionName: "x"}
		}, nil},
		{"in progress", func(r *Record) { r.Recovery = RecoveryStatus{InProgress: true, IncidentID: "x", ExecutionName: "x"} }, nil},
		{"cooldown running", func(r *Record) { r.Recovery.CooldownUntil = at(3).Add(time.Second) }, nil},
		{"no recovery config", nil, func(c *Check) { c.Integration.Recovery = nil }},
		{"in maintenance", nil, func(c *Check) {
			s, e := t0, t0.Add(time.Hour)
			c.Integration.Maintenance = []config.MaintenanceWindow{{Start: &s, End: &e}}
		}},
	}
	for _, tt := range notDue {
		t.Run("not due: "+tt.name, func(t *testing.T) {
			prev := stored(Failed)
			prev.ConsecutiveFailures = 2
			if tt.prep != nil {
				tt.prep(&prev)
			}
			in := check(3, criticalDown())
			if tt.cfg != nil {
				tt.cfg(&in)
			}
			got, dec := Evaluate(prev, in, at(3))
			if dec.StartRecovery {
				t.Error("StartRecovery on a check where recovery is not due")
			}
			if got.Recovery.IncidentID != prev.Recovery.IncidentID {
				t.Errorf("incident changed to %q", got.Recovery.IncidentID)
			}
		})
	}
	t.Run("due again when the cooldown ends", func(t *testing.T) {
		prev := stored(Failed)
		prev.ConsecutiveFailures = 9
		prev.Recovery = RecoveryStatus{IncidentID: "bridge-1", LastOutcome: RecoveryExhausted, CooldownUntil: at(3)}
		got, dec := Evaluate(prev, check(3, criticalDown()), at(3))
		if !dec.StartRecovery || got.Recovery.IncidentID == "bridge-1" || got.Recovery.LastOutcome != "" ||
			!got.Recovery.CooldownUntil.Equal(at(3)) {
			t.Errorf("start %v, recovery %+v", dec.StartRecovery, got.Recovery)
		}
	})
}

func TestRecoveryPendingRetry(t *testing.T) {
	decided, _ := failing(3, nil)
	name := decided.Recovery.ExecutionName

	t.Run("start retried under the same name", func(t *testing.T) {
		got, dec := Evaluate(decided, check(4, criticalDown()), at(4))
		if !dec.StartRecovery || got.Recovery.ExecutionName != name || !got.Recovery.Pending {
			t.Errorf("start %v, recovery %+v", dec.StartRecovery, got.Recovery)
		}
	})
	t.Run("retry held in maintenance", func(t *testing.T) {
		in := check(4, criticalDown())
		s, e := t0, t0.Add(time.Hour)
		in.Integration.Maintenance = []config.MaintenanceWindow{{Start: &s, End: &e}}
		got, dec := Evaluate(decided, in, at(4))
		if dec.StartRecovery || !got.Recovery.Pending {
			t.Errorf("start %v, pending %v", dec.StartRecovery, got.Recovery.Pending)
		}
	})
	t.Run("never-started recovery dropped when ACTIVE again", func(t *testing.T) {
		got, dec := Evaluate(decided, check(4, allOK()), at(4))
		if dec.StartRecovery || got.Recovery.Pending || got.Recovery.LastOutcome != RecoveryNotNeeded || got.State != Active {
			t.Errorf("start %v, state %s, recovery %+v", dec.StartRecovery, got.State, got.Recovery)
		}
	})
	t.Run("in-progress recovery left to the workflow", func(t *testing.T) {
		running := decided
		running.Recovery.Pending, running.Recovery.InProgress = false, true
		got, dec := Evaluate(running, check(4, allOK()), at(4))
		if dec.StartRecovery || !got.Recovery.InProgress || got.State != Active {
			t.Errorf("start %v, state %s, recovery %+v", dec.StartRecovery, got.State, got.Recovery)
		}
	})
}

func TestMaintenance(t *testing.T) {
	start, end := t0, t0.Add(time.Hour)
	in := check(1, criticalDown())
	in.Integration.Maintenance = []config.MaintenanceWindow{{Start: &start, End: &end}}
	prev := stored(Active)
	prev.ConsecutiveFailures = 2
	got, dec := Evaluate(prev, in, at(1))
	if !got.InMaintenance || dec.Notify || dec.StartRecovery || got.Recovery.Pending {
		t.Errorf("maintenance %v notify %v start %v pending %v", got.InMaintenance, dec.Notify, dec.StartRecovery, got.Recovery.Pending)
	}
	if got.State != Failed || len(dec.Transitions) != 1 || got.HealthChecksPerformed != prev.HealthChecksPerformed+1 {
		t.Errorf("checks must still be recorded in maintenance: state %s transitions %d", got.State, len(dec.Transitions))
	}

	// Leaving the window: recovery is decided on the next failing check.
	after, dec := Evaluate(got, check(61, criticalDown()), tick(61))
	if after.InMaintenance || !dec.StartRecovery {
		t.Errorf("after the window: maintenance %v start %v", after.InMaintenance, dec.StartRecovery)
	}
}

func TestApplyAttempt(t *testing.T) {
	decided, _ := failing(3, nil)
	id := decided.Recovery.IncidentID
	integ := bridge()

	t.Run("wrong incident", func(t *testing.T) {
		got, tr, ok := ApplyAttempt(decided, AttemptReport{IncidentID: "other-1", Attempt: 1, Healthy: true}, integ, at(4))
		if ok || tr != nil || got.RecoveryAttempts != 0 || got.State != Failed {
			t.Errorf("applied %v: %+v", ok, got.Recovery)
		}
	})

	failed1, tr, ok := ApplyAttempt(decided, AttemptReport{IncidentID: id, Attempt: 1, Duration: 1500 * time.Millisecond, Error: "webhook status 500"}, integ, at(4))
	t.Run("failed attempt", func(t *testing.T) {
		rs := failed1.Recovery
		if !ok || tr != nil || !rs.InProgress || rs.Pending || rs.Attempt != 1 || rs.LastOutcome != RecoveryFailed ||
			rs.LastError != "webhook status 500" || rs.LastDurationMs != 1500 || !rs.StartedAt.Equal(at(4)) ||
			!rs.LastAttemptAt.Equal(at(4)) || failed1.RecoveryAttempts != 1 || failed1.State != Failed ||
			failed1.TotalRecoveries != 0 {
			t.Errorf("applied %v, record %+v", ok, failed1)
		}
	})
	t.Run("duplicate delivery", func(t *testing.T) {
		got, _, ok := ApplyAttempt(failed1, AttemptReport{IncidentID: id, Attempt: 1, Healthy: true}, integ, at(5))
		if ok || got.RecoveryAttempts != 1 || got.State != Failed {
			t.Errorf("duplicate applied: %v %+v", ok, got.Recovery)
		}
	})
	t.Run("successful attempt", func(t *testing.T) {
		got, tr, ok := ApplyAttempt(failed1, AttemptReport{IncidentID: id, Attempt: 2, Healthy: true, Duration: time.Second}, integ, at(5))
		rs := got.Recovery
		if !ok || got.State != Active || rs.InProgress || rs.Pending || rs.LastOutcome != RecoverySucceeded ||
			rs.Attempt != 2 || !rs.StartedAt.Equal(at(4)) || got.RecoveryAttempts != 2 ||
			got.SuccessfulRecoveries != 1 || got.TotalRecoveries != 1 || got.ConsecutiveFailures != 0 ||
			got.CurrentUptimeStart == nil || !got.CurrentUptimeStart.Equal(at(5)) {
			t.Errorf("applied %v, record %+v", ok, got)
		}
		if len(tr) != 1 || tr[0].From != Failed || tr[0].To != Active || tr[0].Cause != "recovered by attempt 2" ||
			got.History[len(got.History)-1] != tr[0] {
			t.Errorf("transitions %+v", tr)
		}
		again, _, ok := ApplyAttempt(got, AttemptReport{IncidentID: id, Attempt: 3, Healthy: true}, integ, at(6))
		if ok || again.SuccessfulRecoveries != 1 {
			t.Errorf("attempt after success applied")
		}
	})
}

func TestApplyExhausted(t *testing.T) {
	decided, _ := failing(3, nil)
	id := decided.Recovery.IncidentID
	integ := bridge()
	rec := decided
	for i := 1; i <= 3; i++ {
		rec, _, _ = ApplyAttempt(rec, AttemptReport{IncidentID: id, Attempt: i, Error: "still down"}, integ, at(3+i))
	}

	got, ok := ApplyExhausted(rec, "other-1", integ, at(7))
	if ok || got.TotalRecoveries != 0 {
		t.Errorf("wrong incident applied")
	}
	got, ok = ApplyExhausted(rec, id, integ, at(7))
	rs := got.Recovery
	if !ok || got.TotalRecoveries != 1 || got.SuccessfulRecoveries != 0 || rs.InProgress || rs.Pending ||
		rs.LastOutcome != RecoveryExhausted || !rs.CooldownUntil.Equal(at(7).Add(15*time.Minute)) || got.State != Failed {
		t.Errorf("applied %v, record %+v", ok, got)
	}
	again, ok := ApplyExhausted(got, id, integ, at(8))
	if ok || again.TotalRecoveries != 1 || !again.Recovery.CooldownUntil.Equal(rs.CooldownUntil) {
		t.Errorf("second exhaustion applied")
	}

	// No new recovery during the cooldown; one as soon as it ends.
	cur := got
	var dec Decision
	cur, dec = Evaluate(cur, check(8, criticalDown()), at(8))
	if dec.StartRecovery {
		t.Error("recovery started during cooldown")
	}
	cur, dec = Evaluate(cur, check(22, criticalDown()), at(7).Add(15*time.Minute))
	if !dec.StartRecovery || cur.Recovery.IncidentID == id {
		t.Errorf("no new incident after cooldown: %+v", cur.Recovery)
	}
}

func TestNextDelay(t *testing.T) {
	cfg := config.Recovery{BaseDelay: dur(time.Second), MaxDelay: dur(30 * time.Second)}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30}
	for i, w := range want {
		t.Run(fmt.Sprintf("attempt %d", i+1), func(t *testing.T) {
			if got := NextDelay(cfg, i+1, 0.7); got != w*time.Second {
				t.Errorf("NextDelay = %v, want %v", got, w*time.Second)
			}
		})
	}
	jit := cfg
	jit.Jitter = true
	jitter := []struct {
		attempt int
		r       float64
		want    time.Duration
	}{
		{1, 0, 500 * time.Millisecond},
		{3, 0.5, 3 * time.Second},
		{6, 0, 15 * time.Second},
		{6, 2, 30 * time.Second}, // out-of-range random clamped
	}
	for _, tt := range jitter {
		t.Run(fmt.Sprintf("jitter attempt %d rand %v", tt.attempt, tt.r), func(t *testing.T) {
			if got := NextDelay(jit, tt.attempt, tt.r); got != tt.want {
				t.Errorf("NextDelay = %v, want %v", got, tt.want)
			}
		})
	}
	if got := NextDelay(config.Recovery{BaseDelay: dur(time.Second)}, 500, 0); got <= 0 {
		t.Errorf("uncapped large attempt overflowed: %v", got)
	}
}

func TestExecutionName(t *testing.T) {
	long := strings.Repeat("a", 100) + "-1741608000"
	tests := []struct {
		id   string
		want func(string) bool
	}{
		{"bridge-1741608000", func(s string) bool { return s == "bridge-1741608000" }},
		{"my.bridge/eu-1741608000", func(s string) bool {
			return strings.HasPrefix(s, "my_bridge_eu-") && strings.HasSuffix(s, "-1741608000")
		}},
		{long, func(s string) bool { return len(s) == 80 && strings.HasSuffix(s, "-1741608000") }},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			got := ExecutionName(tt.id)
			if !tt.want(got) || len(got) > 80 || strings.Trim(got, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
				t.Errorf("ExecutionName(%q) = %q", tt.id, got)
			}
		})
	}
	if ExecutionName("a.b-1") == ExecutionName("a_b-1") {
		t.Error("sanitized names collide")
	}
}

func TestAvailability(t *testing.T) {
	var a Availability
	// 90 checks, one a minute; every tenth unhealthy.
	for i := range 90 {
		a = a.add(tick(i), i%10 != 0, time.Duration(i+1)*time.Millisecond)
	}
	now := tick(89).Add(30 * time.Second)
	if len(a.Minutes) != MinuteBuckets {
		t.Errorf("minute buckets = %d, want %d", len(a.Minutes), MinuteBuckets)
	}
	if len(a.Hours) != 2 || len(a.Days) != 1 || len(a.LatencyMs) != 90 {
		t.Errorf("hours %d days %d latencies %d", len(a.Hours), len(a.Days), len(a.LatencyMs))
	}
	tests := []struct {
		window     time.Duration
		wantRatio  float64
		wantChecks int
	}{
		{time.Hour, 54.0 / 60, 60},
		{24 * time.Hour, 81.0 / 90, 90},
		{30 * 24 * time.Hour, 81.0 / 90, 90},
	}
	for _, tt := range tests {
		t.Run(tt.window.String(), func(t *testing.T) {
			r, n := a.Ratio(tt.window, now)
			if n != tt.wantChecks || math.Abs(r-tt.wantRatio) > 1e-9 {
				t.Errorf("Ratio = %v over %d, want %v over %d", r, n, tt.wantRatio, tt.wantChecks)
			}
		})
	}
	if r, n := a.Ratio(time.Hour, now.Add(48*time.Hour)); r != 0 || n != 0 {
		t.Errorf("empty window = %v/%d, want 0/0", r, n)
	}

	for i := 90; i < 150; i++ {
		a = a.add(tick(i), true, time.Duration(i+1)*time.Millisecond)
	}
	if len(a.LatencyMs) != LatencySamples || a.LatencyMs[0] != 51 || a.LatencyMs[99] != 150 {
		t.Errorf("latencies kept %d, first %v last %v", len(a.LatencyMs), a.LatencyMs[0], a.LatencyMs[len(a.LatencyMs)-1])
	}
	pct := []struct{ p, want float64 }{{50, 100}, {95, 145}, {99, 149}, {100, 150}, {0, 51}}
	for _, tt := range pct {
		if got := a.LatencyPercentile(tt.p); got != tt.want {
			t.Errorf("p%v = %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := (Availability{}).LatencyPercentile(99); got != 0 {
		t.Errorf("empty p99 = %v", got)
	}

	// Day buckets are kept for 30 days.
	var d Availability
	for i := range 40 {
		d = d.add(t0.Add(time.Duration(i)*24*time.Hour), true, 0)
	}
	if len(d.Days) != DayBuckets || len(d.Hours) != 1 {
		t.Errorf("days %d hours %d", len(d.Days), len(d.Hours))
	}
}

func TestEvaluateRecordsAvailability(t *testing.T) {
	rec, _ := failing(2, nil)
	rec, _ = Evaluate(rec, check(3, allOK()), at(3))
	r, n := rec.Availability.Ratio(time.Hour, at(3))
	if n != 3 || math.Abs(r-1.0/3) > 1e-9 || len(rec.Availability.LatencyMs) != 3 || rec.Availability.LatencyMs[0] != 250 {
		t.Errorf("ratio %v over %d, latencies %v", r, n, rec.Availability.LatencyMs)
	}
	// A degraded check is not healthy for availability.
	rec, _ = Evaluate(rec, check(4, slow()), at(4))
	if r, n := rec.Availability.Ratio(time.Hour, at(4)); n != 4 || r != 0.25 {
		t.Errorf("ratio %v over %d after degraded", r, n)
	}
}

func TestValidate(t *testing.T) {
	good := stored(Active)
	if err := good.Validate(); err != nil {
		t.Fatalf("valid record: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*Record)
		want string
	}{
		{"empty integration", func(r *Record) { r.Integration = "" }, "integration is empty"},
		{"version zero", func(r *Record) { r.Version = 0 }, "version 0 is below 1"},
		{"unknown state", func(r *Record) { r.State = "HEALTHY" }, `state "HEALTHY" is unknown`},
		{"empty state", func(r *Record) { r.State = "" }, `state "" is unknown`},
		{"negative counter", func(r *Record) { r.ConsecutiveFailures = -1 }, "consecutive_failures -1 is negative"},
		{"negative recovery attempt", func(r *Record) { r.Recovery.Attempt = -2 }, "recovery.attempt -2 is negative"},
		{"pending without incident", func(r *Record) { r.Recovery.Pending = true }, "without incident_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			tt.mod(&r)
			err := r.Validate()
			if !errors.Is(err, ErrInvalidRecord) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want ErrInvalidRecord mentioning %q", err, tt.want)
			}
		})
	}
	t.Run("all problems listed", func(t *testing.T) {
		err := Record{State: "X", StaleTicks: -1}.Validate()
		for _, want := range []string{"integration", "version", "state", "stale_ticks"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Validate = %v, missing %q", err, want)
			}
		}
	})
	t.Run("records produced by Evaluate validate once stored", func(t *testing.T) {
		rec, _ := failing(3, nil)
		rec.Version++
		if err := rec.Validate(); err != nil {
			t.Error(err)
		}
	})
}

func BenchmarkEvaluate(b *testing.B) {
	rec, _ := failing(3, nil)
	for i := range 60 {
		rec, _ = Evaluate(rec, check(10+i, allOK()), at(10+i))
	}
	in := check(100, slow())
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(rec, in, at(100))
	}
}
