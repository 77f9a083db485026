package report

import (
	"math"
	"strconv"
	"time"

	"github.com/vigil-monitor/vigil/internal/health"
)

// budgetWindow is the period of the error budget (health.BudgetLeft's).
const budgetWindow = 30 * 24 * time.Hour

var windows = []struct {
	label string
	d     time.Duration
}{{"1h", time.Hour}, {"24h", 24 * time.Hour}, {"30d", budgetWindow}}

func availability(a health.Availability, slo float64, now time.Time) Availability {
	out := Availability{
		SLOPercent: slo,
		AverageMs:  averageMs(a.LatencyMs),
		P95Ms:      a.LatencyPercentile(95),
		P99Ms:      a.LatencyPercentile(99),
		Samples:    len(a.LatencyMs),
	}
	for _, w := range windows {
		ratio, checks := a.Ratio(w.d, now)
		win := Window{Window: w.label, Checks: checks}
		if checks > 0 {
			p := floorPercent(ratio)
			meets := p >= slo
			win.Failed = failedChecks(ratio, checks)
			down := downtime(win.Failed).Seconds()
			win.Percent, win.MeetsSLO, win.EstimatedDowntimeSeconds = &p, &meets, &down
			if w.d == budgetWindow {
				// Rounded: 99.993 − 99.9 is 0.0929999… in floats.
				buf := math.Round((p-slo)*1000) / 1000
				out.SLOBufferPoints = &buf
			}
		}
		out.Windows = append(out.Windows, win)
	}
	out.ErrorBudget = errorBudget(a, slo, now)
	out.Burn = burn(a.Burn(slo, now))
	return out
}

// averageMs is the mean of the recorded check durations, 0 with none.
func averageMs(samples []float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	sum := 0.0
	for _, v := range samples {
		sum += v
	}
	return sum / float64(len(samples))
}

// failedChecks is how many of checks failed, from Ratio's healthy share of
// whole counts (rounded as health.Availability.Burn does).
func failedChecks(ratio float64, checks int) int {
	return checks - int(math.Round(ratio*float64(checks)))
}

// downtime estimates the time not ACTIVE: each failed check stands for the
// interval until the next one.
func downtime(failed int) time.Duration { return time.Duration(failed) * CheckInterval }

func errorBudget(a health.Availability, slo float64, now time.Time) ErrorBudget {
	budget := health.ErrorBudget(slo)
	eb := ErrorBudget{BudgetPercent: math.Round(budget*100*1e6) / 1e6}
	left, ok := a.BudgetLeft(slo, now)
	if !ok {
		return eb
	}
	ratio, checks := a.Ratio(budgetWindow, now)
	eb.Checks, eb.Failed = checks, failedChecks(ratio, checks)
	// The epsilon keeps 0.001 × 43000 (42.99999…) at 43.
	allowed := int(math.Floor(budget*float64(checks) + 1e-9))
	remaining := allowed - eb.Failed
	pct := math.Floor(left*100*10+1e-9) / 10
	eb.AllowedFailedChecks, eb.FailedChecksLeft, eb.LeftPercent = &allowed, &remaining, &pct
	return eb
}

func burn(b health.Burn) Burn {
	out := Burn{Level: BurnNone, Rules: []BurnRule{burnRule(b.Fast, LevelCritical), burnRule(b.Slow, LevelWarning)}}
	switch b.Level {
	case health.BurnFast:
		out.Level = BurnFast
	case health.BurnSlow:
		out.Level = BurnSlow
	}
	return out
}

func burnRule(r health.RuleBurn, severity string) BurnRule {
	return BurnRule{
		Name: r.Rule.Name, Severity: severity, Rate: r.Rule.Rate, MinFailed: r.Rule.MinFailed,
		Long: burnWindow(r.Long), Short: burnWindow(r.Short), Firing: r.Firing,
	}
}

func burnWindow(w health.WindowBurn) BurnWindow {
	return BurnWindow{Window: durLabel(w.Window), Checks: w.Checks, Failed: w.Failed, Rate: math.Round(w.Rate*100) / 100}
}

// durLabel names a window compactly: 5m, 30m, 1h, 6h, 30d.
func durLabel(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d >= time.Hour && d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return strconv.Itoa(int(d/time.Minute)) + "m"
}

// successPercent is ok out of total in percent, floored like availability so
// 99.99 % never shows as 100; nil when nothing was attempted.
func successPercent(ok, total int) *float64 {
	if total <= 0 {
		return nil
	}
	p := floorPercent(float64(ok) / float64(total))
	return &p
}

// uptimeAt is the uptime as of now. The stored UptimeSeconds is written with
// each check, so it is stale by the time anyone reads it (0 right after a
// recovery): while ACTIVE or DEGRADED it is recomputed from the uptime start,
// and the stored figure is only the fallback for a record without one.
func uptimeAt(r health.Record, state health.State, now time.Time) float64 {
	if (state == health.Active || state == health.Degraded) && r.CurrentUptimeStart != nil {
		return max(now.Sub(*r.CurrentUptimeStart).Seconds(), 0)
	}
	return max(r.UptimeSeconds, 0)
}

func schedule(last, now time.Time) Schedule {
	s := Schedule{IntervalSeconds: CheckInterval.Seconds()}
	if last.IsZero() {
		return s
	}
	next := last.UTC().Add(CheckInterval)
	s.NextCheck = &next
	// One interval of grace: a check runs some seconds after its tick.
	s.Overdue = now.After(next.Add(CheckInterval))
	return s
}
