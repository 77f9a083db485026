package report

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/health"
)

// render is the Markdown of one record under the base config plus extra.
func render(t *testing.T, rec health.Record, extra ...string) (Integration, string) {
	t.Helper()
	doc := parse(t, extra...)
	rep := JSON([]health.Record{rec}, doc, now)
	var md bytes.Buffer
	if err := RenderMarkdown(&md, rep); err != nil {
		t.Fatal(err)
	}
	return rep.Integrations[0], md.String()
}

func approx(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestGrade(t *testing.T) {
	for _, c := range []struct {
		score float64
		want  string
	}{
		{100, GradeExcellent}, {95, GradeExcellent},
		{94.95, GradeExcellent}, // printed as 95.0
		{94.94, GradeGood}, {80, GradeGood}, {79.9, GradeFair},
		{60, GradeFair}, {59.9, GradePoor}, {0, GradePoor},
	} {
		if got := Grade(c.score); got != c.want {
			t.Errorf("Grade(%v) = %s, want %s", c.score, got, c.want)
		}
	}
}

// The grade of an integration is capped by its state: a weighted mean of 80
// with a critical component down is no GOOD.
func TestGradeOf(t *testing.T) {
	for _, c := range []struct {
		state health.State
		score float64
		want  string
	}{
		{health.Active, 100, GradeExcellent},
		{health.Active, 85, GradeGood},
		{health.Degraded, 98, GradeFair},
		{health.Degraded, 50, GradePoor},
		{health.Initializing, 100, GradeFair},
		{health.Failed, 80, GradePoor},
		{health.Failed, 100, GradePoor},
		{health.Uninitialized, 0, ""},
	} {
		if got := GradeOf(c.state, c.score); got != c.want {
			t.Errorf("GradeOf(%s, %v) = %q, want %q", c.state, c.score, got, c.want)
		}
	}
	// And the report shows it beside the score.
	rec := health.Record{Integration: "agent-bridge", State: health.Failed, Score: 80, HealthChecksPerformed: 9, LastHealthCheck: now}
	in, md := render(t, rec)
	if in.Grade != GradePoor || !strings.Contains(md, "**Overall health: FAILED** — POOR (score 80.0 / 100)") {
		t.Errorf("grade %q; overview:\n%s", in.Grade, md)
	}
}

func TestSuccessRates(t *testing.T) {
	for _, c := range []struct {
		name                  string
		initOK, initTotal     int
		recOK, recTotal       int
		wantInit, wantRec     *float64
		wantInitMd, wantRecMd string
	}{
		{"nothing tried", 0, 0, 0, 0, nil, nil, "| initialization success rate | — (none yet) |", "| recovery success rate | — (none yet) |"},
		{"all succeeded", 3, 3, 2, 2, ptr(100.0), ptr(100.0), "| initialization success rate | 100 % (3 of 3) |", "| recovery success rate | 100 % (2 of 2) |"},
		// Floored: two of three is never shown as 66.667.
		{"some failed", 2, 3, 0, 1, ptr(66.666), ptr(0.0), "| initialization success rate | 66.666 % (2 of 3) |", "| recovery success rate | 0 % (0 of 1) |"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := health.Record{Integration: "agent-bridge", State: health.Active, HealthChecksPerformed: 5, LastHealthCheck: now,
				SuccessfulInitializations: c.initOK, TotalInitializations: c.initTotal, SuccessfulRecoveries: c.recOK, TotalRecoveries: c.recTotal}
			in, md := render(t, rec)
			for _, p := range []struct {
				name      string
				got, want *float64
			}{{"initialization", in.Counters.InitializationSuccessPercent, c.wantInit}, {"recovery", in.Counters.RecoverySuccessPercent, c.wantRec}} {
				if (p.got == nil) != (p.want == nil) || (p.got != nil && !approx(*p.got, *p.want)) {
					t.Errorf("%s success percent %v, want %v", p.name, deref(p.got), deref(p.want))
				}
			}
			for _, want := range []string{c.wantInitMd, c.wantRecMd} {
				if !strings.Contains(md, want) {
					t.Errorf("report lacks %q", want)
				}
			}
		})
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestCheckDurationStats(t *testing.T) {
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(100 - i) // 100 … 1, unsorted on purpose
	}
	for _, c := range []struct {
		name          string
		samples       []float64
		avg, p95, p99 float64
		wantMd        string
	}{
		{"none", nil, 0, 0, 0, "Check duration: average —, p95 —, p99 — (no checks recorded)."},
		{"two", []float64{10, 31}, 20.5, 31, 31, "Check duration: average 20 ms, p95 31 ms, p99 31 ms (last 2 checks)."},
		{"hundred", hundred, 50.5, 95, 99, "Check duration: average 50 ms, p95 95 ms, p99 99 ms (last 100 checks)."},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := health.Record{Integration: "agent-bridge", State: health.Active, HealthChecksPerformed: 1, LastHealthCheck: now,
				Availability: health.Availability{LatencyMs: c.samples}}
			in, md := render(t, rec)
			a := in.Availability
			if !approx(a.AverageMs, c.avg) || a.P95Ms != c.p95 || a.P99Ms != c.p99 || a.Samples != len(c.samples) {
				t.Errorf("average %v p95 %v p99 %v samples %d; want %v %v %v %d", a.AverageMs, a.P95Ms, a.P99Ms, a.Samples, c.avg, c.p95, c.p99, len(c.samples))
			}
			if !strings.Contains(md, c.wantMd) {
				t.Errorf("report lacks %q", c.wantMd)
			}
		})
	}
}

// Failed checks per window and the downtime they stand for: two failures in
// the last hour, five more three hours ago, ten more three days ago.
func TestFailedChecksAndDowntime(t *testing.T) {
	failedAt := func(t time.Time) bool {
		ago := now.Sub(t)
		return (ago >= 10*time.Minute && ago < 12*time.Minute) ||
			(ago >= 3*time.Hour && ago < 3*time.Hour+5*time.Minute) ||
			(ago >= 72*time.Hour && ago < 72*time.Hour+10*time.Minute)
	}
	rec := health.Record{Integration: "agent-bridge", State: health.Active, HealthChecksPerformed: 5761, LastHealthCheck: now,
		Availability: checks(now.Add(-4*24*time.Hour), now, func(t time.Time) bool { return !failedAt(t) }, steady)}
	in, md := render(t, rec)
	want := map[string]int{"1h": 2, "24h": 7, "30d": 17}
	for _, w := range in.Availability.Windows {
		if w.Failed != want[w.Window] || w.EstimatedDowntimeSeconds == nil || *w.EstimatedDowntimeSeconds != float64(60*want[w.Window]) {
			t.Errorf("window %s: failed %d, downtime %v s; want %d and %d s", w.Window, w.Failed, deref(w.EstimatedDowntimeSeconds), want[w.Window], 60*want[w.Window])
		}
	}
	for _, s := range []string{
		"| 24 h | 99.493 % | 7 / 1381 | 7m | **below** |",
		"| 30 d | 99.704 % | 17 / 5761 | 17m | **below** |",
		"Downtime is estimated: failed checks × 1m, at one check a minute.",
		"failed: 7 of 1381 in 24 h, 17 of 5761 in 30 d",
	} {
		if !strings.Contains(md, s) {
			t.Errorf("report lacks %q:\n%s", s, md)
		}
	}
	// A window without checks has no downtime to estimate.
	in, _ = render(t, health.Record{Integration: "agent-bridge", State: health.Uninitialized})
	for _, w := range in.Availability.Windows {
		if w.EstimatedDowntimeSeconds != nil || w.Failed != 0 {
			t.Errorf("never checked: window %+v, want no downtime", w)
		}
	}
}

// The 30-day error budget over ten days of checks (14,401) with failures
// five days ago, against the default 99.9 % and a 98 % objective.
func TestErrorBudget(t *testing.T) {
	for _, c := range []struct {
		name          string
		extra         string
		failed        int
		buffer        float64
		leftPct       float64
		allowed, left int
		wantMd        string
	}{
		{"untouched", "", 0, 0.1, 100, 14, 14, "100 % left — 14 of 14 allowed failed checks left (0 of 14401 checks failed)"},
		// 5/14401 is 34.7 % of a 0.1 % budget.
		{"partly spent", "", 5, 0.065, 65.2, 14, 9, "65.2 % left — 9 of 14 allowed failed checks left (5 of 14401 checks failed)"},
		{"overspent", "", 20, -0.039, -38.9, 14, -6, "**overspent** — 20 failed checks against 14 allowed"},
		// The same 20 failures are 6.9 % of a 2 % budget.
		{"looser SLO", "    slo: 98\n", 20, 1.861, 93, 288, 268, "93 % left — 268 of 288 allowed failed checks left"},
	} {
		t.Run(c.name, func(t *testing.T) {
			from := now.Add(-5 * 24 * time.Hour)
			healthy := func(t time.Time) bool {
				return t.Before(from) || !t.Before(from.Add(time.Duration(c.failed)*time.Minute))
			}
			rec := health.Record{Integration: "agent-bridge", State: health.Active, HealthChecksPerformed: 14401, LastHealthCheck: now,
				Availability: checks(now.Add(-10*24*time.Hour), now, healthy, steady)}
			in, md := render(t, rec, c.extra)
			a := in.Availability
			eb := a.ErrorBudget
			if a.SLOBufferPoints == nil || !approx(*a.SLOBufferPoints, c.buffer) {
				t.Errorf("slo buffer %v points, want %v", deref(a.SLOBufferPoints), c.buffer)
			}
			if eb.LeftPercent == nil || !approx(*eb.LeftPercent, c.leftPct) || *eb.AllowedFailedChecks != c.allowed ||
				*eb.FailedChecksLeft != c.left || eb.Failed != c.failed || eb.Checks != 14401 {
				t.Errorf("error budget %+v (left %v %%), want %v %% left, %d allowed, %d left", eb, deref(eb.LeftPercent), c.leftPct, c.allowed, c.left)
			}
			if !strings.Contains(md, c.wantMd) {
				t.Errorf("report lacks %q", c.wantMd)
			}
			side := "above"
			if c.buffer < 0 {
				side = "below"
			}
			if !strings.Contains(md, "- SLO buffer (30 d): ") || !strings.Contains(md, " points "+side+" the ") {
				t.Errorf("report lacks the SLO buffer %s the objective", side)
			}
		})
	}
	in, md := render(t, health.Record{Integration: "agent-bridge", State: health.Uninitialized})
	if eb := in.Availability.ErrorBudget; in.Availability.SLOBufferPoints != nil || eb.LeftPercent != nil || eb.AllowedFailedChecks != nil || eb.FailedChecksLeft != nil {
		t.Errorf("never checked: buffer %v, budget %+v; want nulls", in.Availability.SLOBufferPoints, eb)
	}
	if !strings.Contains(md, "- Error budget (30 d, 0.1 % of checks may fail): — (no checks)") {
		t.Errorf("never checked: report lacks the empty budget line:\n%s", md)
	}
}

// A firing burn-rate rule shows in the burn table, as an alert (fast
// critical, slow warning) and as a recommendation; a burn too small to page
// on says why it does not fire.
func TestBurnRateInReport(t *testing.T) {
	failedMinutesAgo := func(ks ...int) func(time.Time) bool {
		return func(t time.Time) bool {
			for _, k := range ks {
				if t.Equal(now.Add(-time.Duration(k) * time.Minute)) {
					return false
				}
			}
			return true
		}
	}
	for _, c := range []struct {
		name    string
		healthy func(time.Time) bool
		level   string
		alert   string
		advice  string // substring of a recommendation; "" for none about the burn
		current string // substring of the burn alert row
	}{
		{"all healthy", func(time.Time) bool { return true }, BurnNone, LevelOK, "", "| 0× |"},
		// 1 of 60 is 16.67× and 1 of 5 is 200×: over 14.4×, yet one check never pages.
		{"one failure now", failedMinutesAgo(0), BurnNone, LevelOK, "", "| 16.67× (1 failed check in 1 h; a rule needs 3) | OK |"},
		{"three failures 10–20 min ago", failedMinutesAgo(10, 15, 20), BurnSlow, LevelWarning,
			"SLO slow burn (warns): the last 6 h spends the error budget", "| **WARNING** |"},
		{"outage of the last 8 minutes", failedMinutesAgo(0, 1, 2, 3, 4, 5, 6, 7), BurnFast, LevelCritical,
			"SLO fast burn (pages): the last 1 h spends the error budget 133.33× and the last 5 min 1000×", "| **CRITICAL** |"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := health.Record{Integration: "agent-bridge", State: health.Active, HealthChecksPerformed: 721, LastHealthCheck: now,
				Availability: checks(now.Add(-12*time.Hour), now, c.healthy, steady)}
			in, md := render(t, rec)
			if in.Availability.Burn.Level != c.level {
				t.Errorf("burn level %s, want %s: %+v", in.Availability.Burn.Level, c.level, in.Availability.Burn)
			}
			var burnAl *Alert
			for i, a := range in.Alerts {
				if a.Name == AlertSLOBurn {
					burnAl = &in.Alerts[i]
				}
			}
			if burnAl == nil || burnAl.Level != c.alert || *burnAl.Warning != health.SlowBurn.Rate || *burnAl.Critical != health.FastBurn.Rate {
				t.Fatalf("burn alert %+v, want level %s with limits 6 and 14.4", burnAl, c.alert)
			}
			advice := strings.Join(in.Recommendations, "\n")
			if c.advice == "" && strings.Contains(advice, "burn") {
				t.Errorf("recommendations speak of a burn that does not fire:\n%s", advice)
			}
			if c.advice != "" && !strings.Contains(advice, c.advice) {
				t.Errorf("recommendations lack %q:\n%s", c.advice, advice)
			}
			row := ""
			for _, l := range strings.Split(md, "\n") {
				if strings.HasPrefix(l, "| SLO burn rate") {
					row = l
				}
			}
			if !strings.Contains(row, c.current) {
				t.Errorf("burn alert row %q lacks %q", row, c.current)
			}
			firing := strings.Count(md, "| **FIRING** |")
			if want := map[string]int{BurnNone: 0, BurnSlow: 1, BurnFast: 2}[c.level]; firing != want {
				t.Errorf("%d rules shown firing, want %d", firing, want)
			}
		})
	}
}

func TestNextCheck(t *testing.T) {
	for _, c := range []struct {
		name    string
		last    time.Time
		next    *time.Time
		overdue bool
		wantMd  string
	}{
		{"never checked", time.Time{}, nil, false, "- Next check: unknown (never checked)"},
		{"just checked", now, ptr(now.Add(time.Minute)), false, "- Next check: 2025-06-01T12:01:00Z (in 1m)"},
		{"due", now.Add(-90 * time.Second), ptr(now.Add(-30 * time.Second)), false, "- Next check: 2025-06-01T11:59:30Z (due now)"},
		{"overdue", now.Add(-3 * time.Minute), ptr(now.Add(-2 * time.Minute)), true, "- Next check: was due 2025-06-01T11:58:00Z, overdue by 2m"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := health.Record{Integration: "agent-bridge", State: health.Active, LastHealthCheck: c.last}
			if !c.last.IsZero() {
				rec.HealthChecksPerformed = 10
			}
			in, md := render(t, rec)
			s := in.Schedule
			if s.IntervalSeconds != 60 || (s.NextCheck == nil) != (c.next == nil) || (s.NextCheck != nil && !s.NextCheck.Equal(*c.next)) || s.Overdue != c.overdue {
				t.Errorf("schedule %+v, want next %v overdue %v", s, c.next, c.overdue)
			}
			if !strings.Contains(md, c.wantMd) {
				t.Errorf("report lacks %q", c.wantMd)
			}
			stalled := strings.Contains(strings.Join(in.Recommendations, "\n"), "make sure the HealthCheck schedule is enabled")
			if stalled != c.overdue {
				t.Errorf("recommendations %q; want schedule advice only when overdue", in.Recommendations)
			}
		})
	}
}

// A body metric's alert row is the configured limits against the last value
// extracted, judged as the state machine and the alarms judge it: over a
// limit, not at it.
func TestBodyMetricAlerts(t *testing.T) {
	m := comp("bridge-metrics", true, false, 90, 100, "")
	m.Metrics = map[string]float64{"MemoryMB": 500, "CPUPercent": 95, "Connections": 101, "ErrorRatePercent": 1}
	rec := health.Record{Integration: "agent-bridge", State: health.Degraded, HealthChecksPerformed: 3, LastHealthCheck: now,
		Components: []health.ComponentStatus{m}}
	in, md := render(t, rec)
	type row struct {
		metric     string
		warn, crit *float64
		current    *float64
		level      string
	}
	want := []row{ // config order
		{"MemoryMB", ptr(500.0), ptr(800.0), ptr(500.0), LevelOK},
		{"CPUPercent", ptr(70.0), ptr(90.0), ptr(95.0), LevelCritical},
		{"Connections", ptr(100.0), nil, ptr(101.0), LevelWarning},
		{"AsyncTasks", ptr(50.0), nil, nil, LevelUnknown}, // not extracted
		{"ErrorRatePercent", ptr(0.1), ptr(1.0), ptr(1.0), LevelWarning},
	}
	var got []row
	for _, a := range in.Alerts {
		if a.Name == AlertBodyMetric {
			if a.Subject != "bridge-metrics" {
				t.Errorf("%s: subject %q", a.Metric, a.Subject)
			}
			got = append(got, row{a.Metric, a.Warning, a.Critical, a.Current, a.Level})
		}
	}
	eq := func(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	if len(got) != len(want) {
		t.Fatalf("body metric alerts %+v, want %d", got, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.metric != w.metric || !eq(g.warn, w.warn) || !eq(g.crit, w.crit) || !eq(g.current, w.current) || g.level != w.level {
			t.Errorf("row %d: %s warn %v crit %v current %v %s; want %s warn %v crit %v current %v %s", i,
				g.metric, deref(g.warn), deref(g.crit), deref(g.current), g.level, w.metric, deref(w.warn), deref(w.crit), deref(w.current), w.level)
		}
	}
	for _, s := range []string{
		"| Connections (bridge-metrics) | > 100 | — | 101 | **WARNING** |",
		"| AsyncTasks (bridge-metrics) | > 50 | — | — | no data |",
		"| ErrorRatePercent (bridge-metrics) | > 0.1 % | > 1 % | 1 % | **WARNING** |",
		"Current alert status: **1 CRITICAL** (CPUPercent), **2 WARNING** (Connections, ErrorRatePercent)",
	} {
		if !strings.Contains(md, s) {
			t.Errorf("report lacks %q:\n%s", s, md)
		}
	}
}

func TestRecoveryExhaustedAlert(t *testing.T) {
	later, earlier := now.Add(2*time.Minute), now.Add(-2*time.Minute)
	for _, c := range []struct {
		name   string
		extra  string
		state  health.State
		rs     health.RecoveryStatus
		level  string // "" for no row
		detail string
	}{
		{"not configured", "", health.Failed, health.RecoveryStatus{}, "", ""},
		{"armed", recoveryConfig, health.Active, health.RecoveryStatus{}, LevelOK, "armed, never needed"},
		{"exhausted, cooling down", recoveryConfig, health.Failed,
			health.RecoveryStatus{Attempt: 3, LastOutcome: health.RecoveryExhausted, CooldownUntil: later}, LevelCritical, "last recovery exhausted; cooldown 2m left"},
		{"exhausted, cooldown over, no new incident yet", recoveryConfig, health.Failed,
			health.RecoveryStatus{Attempt: 3, LastOutcome: health.RecoveryExhausted, CooldownUntil: earlier}, LevelCritical, "last recovery exhausted"},
		{"exhausted, then recovered alone", recoveryConfig, health.Active,
			health.RecoveryStatus{Attempt: 3, LastOutcome: health.RecoveryExhausted, CooldownUntil: later}, LevelOK, "last recovery exhausted; cooldown 2m left"},
		{"aborted, cooling down", recoveryConfig, health.Degraded,
			health.RecoveryStatus{Attempt: 1, LastOutcome: health.RecoveryAborted, CooldownUntil: later}, LevelCritical, "last recovery aborted; cooldown 2m left"},
		{"aborted, cooldown over", recoveryConfig, health.Failed,
			health.RecoveryStatus{Attempt: 1, LastOutcome: health.RecoveryAborted, CooldownUntil: earlier}, LevelOK, "last recovery aborted"},
		{"in progress", recoveryConfig, health.Failed,
			health.RecoveryStatus{InProgress: true, Attempt: 1, LastOutcome: health.RecoveryFailed}, LevelOK, "in progress, attempt 1 of 3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := health.Record{Integration: "agent-bridge", State: c.state, HealthChecksPerformed: 9, LastHealthCheck: now, Recovery: c.rs}
			in, _ := render(t, rec, c.extra)
			var got *Alert
			for i, a := range in.Alerts {
				if a.Name == AlertRecoveryExhausted {
					got = &in.Alerts[i]
				}
			}
			switch {
			case c.level == "" && got != nil:
				t.Errorf("row %+v without recovery configured", *got)
			case c.level != "" && got == nil:
				t.Errorf("no recovery_exhausted row")
			case got != nil && (got.Level != c.level || got.Detail != c.detail):
				t.Errorf("level %s, detail %q; want %s, %q", got.Level, got.Detail, c.level, c.detail)
			}
		})
	}
}

// Uptime is computed at report time from the uptime start while ACTIVE or
// DEGRADED; the stored figure, written at the last check (0 right after a
// recovery), is only the fallback.
func TestUptimeAtReportTime(t *testing.T) {
	for _, c := range []struct {
		name   string
		state  health.State
		start  *time.Time
		stored float64
		want   float64
		wantMd string
	}{
		{"active, stored at recovery", health.Active, ptr(now.Add(-272 * time.Second)), 0, 272, "| uptime_seconds | 272 (4m 32s) |"},
		{"degraded keeps the uptime", health.Degraded, ptr(now.Add(-2 * time.Hour)), 5, 7200, "| uptime_seconds | 7200 (2h) |"},
		{"failed: no uptime", health.Failed, nil, 0, 0, "| uptime_seconds | 0 |"},
		{"start ahead of the report clock", health.Active, ptr(now.Add(10 * time.Second)), 3, 0, "| uptime_seconds | 0 |"},
		{"no start stored: the stored figure", health.Active, nil, 42, 42, "| uptime_seconds | 42 (42s) |"},
		{"initializing ignores a stray start", health.Initializing, ptr(now.Add(-time.Hour)), 0, 0, "| uptime_seconds | 0 |"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := health.Record{Integration: "agent-bridge", State: c.state, HealthChecksPerformed: 9, LastHealthCheck: now,
				CurrentUptimeStart: c.start, UptimeSeconds: c.stored}
			in, md := render(t, rec)
			if !approx(in.Counters.UptimeSeconds, c.want) {
				t.Errorf("uptime_seconds %v, want %v", in.Counters.UptimeSeconds, c.want)
			}
			if !strings.Contains(md, c.wantMd) {
				t.Errorf("report lacks %q", c.wantMd)
			}
		})
	}
}
