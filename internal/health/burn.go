package health

import (
	"math"
	"time"
)

// BurnRule is one multiwindow burn-rate alert (The Site Reliability
// Workbook, "Alerting on SLOs", table 5-8): it fires when the long and the
// short window both spend the error budget at least Rate times as fast as the
// SLO allows, and the long window holds at least MinFailed failed checks.
//
// The short window makes the alert stop soon after the failures do. MinFailed
// is the workbook's answer to low traffic: at one check a minute a 1-hour
// window holds 60 checks, so a single failed check is a 1.7 % error rate,
// 16.7× the budget of a 99.9 % SLO; without it one failed check would page.
type BurnRule struct {
	Name      string
	Long      time.Duration
	Short     time.Duration
	Rate      float64
	MinFailed int
}

// The two rules every integration's availability is held to: the fast burn
// spends 2 % of a 30-day budget in an hour and pages; the slow burn spends
// 5 % in six hours and warns.
var (
	FastBurn = BurnRule{Name: "fast", Long: time.Hour, Short: 5 * time.Minute, Rate: 14.4, MinFailed: 3}
	SlowBurn = BurnRule{Name: "slow", Long: 6 * time.Hour, Short: 30 * time.Minute, Rate: 6, MinFailed: 3}
)

// Burn levels, published as the SLOBurn metric that the burn-rate alarms
// watch: the worst rule that fires.
const (
	BurnNone = 0
	BurnSlow = 1
	BurnFast = 2
)

// WindowBurn is one window of a rule as judged.
type WindowBurn struct {
	Window time.Duration
	Checks int
	Failed int
	// Rate is the error rate over the budget: 1 spends the budget exactly
	// over the SLO period, 14.4 spends 2 % of it an hour. 0 with no checks.
	Rate float64
}

// RuleBurn is one rule as judged: both windows and whether it fires.
type RuleBurn struct {
	Rule         BurnRule
	Long, Short  WindowBurn
	MinFailedMet bool
	Firing       bool
}

// Burn is how fast an integration spends its error budget.
type Burn struct {
	SLO   float64 // percent
	Fast  RuleBurn
	Slow  RuleBurn
	Level int // BurnNone, BurnSlow or BurnFast
}

// Burn judges the fast and slow burn-rate rules of slo (a percentage below
// 100) on the checks recorded in a, as of now. Windows use the same slots as
// Ratio: minute slots up to an hour, hour slots up to a day, so the 6-hour
// window holds the current hour's checks and the five hours before it.
func (a Availability) Burn(slo float64, now time.Time) Burn {
	b := Burn{SLO: slo, Fast: a.rule(FastBurn, slo, now), Slow: a.rule(SlowBurn, slo, now)}
	switch {
	case b.Fast.Firing:
		b.Level = BurnFast
	case b.Slow.Firing:
		b.Level = BurnSlow
	}
	return b
}

func (a Availability) rule(r BurnRule, slo float64, now time.Time) RuleBurn {
	out := RuleBurn{Rule: r, Long: a.window(r.Long, slo, now), Short: a.window(r.Short, slo, now)}
	out.MinFailedMet = out.Long.Failed >= r.MinFailed
	out.Firing = out.MinFailedMet && out.Long.Rate >= r.Rate && out.Short.Rate >= r.Rate
	return out
}

func (a Availability) window(d time.Duration, slo float64, now time.Time) WindowBurn {
	ratio, checks := a.Ratio(d, now)
	w := WindowBurn{Window: d, Checks: checks}
	if checks == 0 {
		return w
	}
	// Round the healthy count: ratio is healthy/checks of whole numbers.
	w.Failed = checks - int(math.Round(ratio*float64(checks)))
	if budget := ErrorBudget(slo); budget > 0 {
		w.Rate = float64(w.Failed) / float64(checks) / budget
	}
	return w
}

// ErrorBudget is the share of checks slo (a percentage) allows to fail:
// 0.001 for 99.9. It is 0 for an SLO of 100 % or more, which config refuses.
func ErrorBudget(slo float64) float64 {
	return max(0, (100-slo)/100)
}

// BudgetLeft is the share of the error budget of slo that the last 30 days'
// checks left unspent: 1 untouched, 0 spent, below 0 overspent. ok is false
// with no checks in the window.
func (a Availability) BudgetLeft(slo float64, now time.Time) (left float64, ok bool) {
	ratio, checks := a.Ratio(30*24*time.Hour, now)
	budget := ErrorBudget(slo)
	if checks == 0 || budget == 0 {
		return 0, false
	}
	return 1 - (1-ratio)/budget, true
}
