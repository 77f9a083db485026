package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
)

// facts is what the advice rules read about one integration.
type facts struct {
	v   Integration
	r   health.Record
	in  config.Integration
	th  config.Thresholds
	fl  config.Flapping
	now time.Time
	// unhealthy describes each unhealthy component, "name (kind): error".
	unhealthy []string
}

// A rule returns the advice one kind of finding calls for, or nothing.
type rule func(f facts) []string

// rules run in this order, most urgent first.
var rules = []rule{
	notConfigured, failures, slowComponents, metricLevels, certificates, belowSLO,
	func(f facts) []string { return burnAdvice(f.v.Availability) },
	flapping, maintenance, recoveryStatus, noRecovery, initializing, slowHealthCheck, inconclusive,
	func(f facts) []string { return scheduleAdvice(f.v, f.now) },
	staleTicks,
}

// recommend derives the actions the data calls for, most urgent first. Every
// sentence quotes the figures it is based on; when nothing is wrong it says
// why it thinks so.
func recommend(v Integration, r health.Record, in config.Integration, th config.Thresholds, fl config.Flapping, now time.Time) []string {
	f := facts{v: v, r: r, in: in, th: th, fl: fl, now: now, unhealthy: unhealthyComponents(v)}
	if v.NeverChecked {
		return append(notConfigured(f), fmt.Sprintf("Never checked: no health check has been recorded for %s yet; make sure a HealthCheck schedule includes it", v.Name))
	}
	var out []string
	for _, advise := range rules {
		out = append(out, advise(f)...)
	}
	if len(out) > 0 {
		return out
	}
	return []string{allClear(v)}
}

func one(format string, args ...any) []string { return []string{fmt.Sprintf(format, args...)} }

func unhealthyComponents(v Integration) []string {
	var out []string
	for _, c := range v.Components {
		if c.Status == StatusUnhealthy {
			msg := c.LastError
			if msg == "" {
				msg = "unhealthy"
			}
			kind := "critical"
			if !c.Critical {
				kind = "non-critical"
			}
			out = append(out, fmt.Sprintf("%s (%s): %s", c.Name, kind, msg))
		}
	}
	return out
}

func notConfigured(f facts) []string {
	if f.v.Configured {
		return nil
	}
	return one("%s is stored but not in the configuration: it is no longer checked; delete its state item if it was removed on purpose (thresholds shown are the defaults)", f.v.Name)
}

func failures(f facts) []string {
	if len(f.unhealthy) == 0 {
		return nil
	}
	n, th, list := f.r.ConsecutiveFailures, f.th, strings.Join(f.unhealthy, "; ")
	switch {
	case n >= th.FailureCritical:
		return one("%s: failed %d checks in a row (critical at %d): %s", f.v.State, n, th.FailureCritical, list)
	case n >= th.FailureWarning:
		return one("%s: failed %d checks in a row (warning at %d, critical at %d): %s", f.v.State, n, th.FailureWarning, th.FailureCritical, list)
	}
	return one("%s: failed the last check (%d in a row, warning at %d): %s", f.v.State, n, th.FailureWarning, list)
}

func slowComponents(f facts) []string {
	var out []string
	for _, c := range f.v.Components {
		if c.Status == StatusSlow {
			out = append(out, one("%s latency %s above warning %s (critical %s)", c.Name, fmtMs(c.LatencyMs), fmtMs(ms(f.th.LatencyWarning.D())), fmtMs(ms(f.th.LatencyCritical.D())))...)
		}
	}
	return out
}

func metricLevels(f facts) []string {
	var out []string
	for _, m := range f.v.Metrics {
		if m.Level != LevelOK {
			out = append(out, one("%s: %s", m.Component, metricIssue(m))...)
		}
	}
	return out
}

func certificates(f facts) []string {
	var out []string
	for _, c := range f.v.Components {
		if d := c.CertDaysLeft; d != nil && *d <= float64(f.th.CertWarningDays) {
			lvl, limit := LevelWarning, f.th.CertWarningDays
			if *d <= float64(f.th.CertCriticalDays) {
				lvl, limit = LevelCritical, f.th.CertCriticalDays
			}
			out = append(out, one("certificate of %s expires in %s days (%s at %d days): renew it", c.Name, fmtNum(float64(int(*d))), lvl, limit)...)
		}
	}
	return out
}

func belowSLO(f facts) []string {
	var below []string
	for _, w := range f.v.Availability.Windows {
		if w.MeetsSLO != nil && !*w.MeetsSLO {
			below = append(below, fmt.Sprintf("%s %s %% (%s)", windowLabel(w.Window), fmtPct(*w.Percent), plural(w.Checks, "check")))
		}
	}
	if len(below) == 0 {
		return nil
	}
	return one("availability below SLO %s %%: %s", fmtNum(f.v.Availability.SLOPercent), strings.Join(below, ", "))
}

func flapping(f facts) []string {
	if !f.r.Flapping {
		return nil
	}
	return one("flapping: %d transitions in %s (limit %d); notifications and recovery starts are held until it settles",
		transitionsIn(f.r.History, f.fl.Window.D(), f.now), fmtDur(f.fl.Window.D()), f.fl.MaxTransitions)
}

func maintenance(f facts) []string {
	if !f.r.InMaintenance {
		return nil
	}
	var names []string
	for i, w := range f.in.Maintenance {
		if w.Active(f.now) {
			name := w.Name
			if name == "" {
				name = fmt.Sprintf("#%d", i+1)
			}
			names = append(names, name)
		}
	}
	s := "in maintenance"
	if len(names) > 0 {
		s += " (window " + strings.Join(names, ", ") + ")"
	}
	return one("%s: checks are recorded, notifications and recovery are held", s)
}

func recoveryStatus(f facts) []string {
	rec, now := f.v.Recovery, f.now
	cooldown := func(s string) string {
		if rec.CooldownUntil != nil && now.Before(*rec.CooldownUntil) {
			s += "; cooldown until " + fmtTime(*rec.CooldownUntil) + ", then recovery is armed again"
		}
		return s
	}
	switch {
	case rec.Status == RecoveryInProgress:
		s := fmt.Sprintf("recovery in progress: %d of %d attempts made", rec.Attempt, rec.MaxAttempts)
		if rec.LastOutcome == health.RecoveryFailed && rec.LastError != "" {
			s += ", the last failed: " + rec.LastError
		}
		if rec.ExecutionName != "" {
			s += "; follow execution " + rec.ExecutionName
		}
		return []string{s}
	case rec.Status == RecoveryPending:
		s := fmt.Sprintf("recovery pending since %s: execution %s not started yet", fmtTime(*rec.DecidedAt), rec.ExecutionName)
		if rec.StartFailures > 0 {
			s += fmt.Sprintf(" (%d failed starts; check the HealthCheck function's Step Functions permissions)", rec.StartFailures)
		}
		return []string{s}
	case rec.LastOutcome == health.RecoveryAborted || rec.LastOutcome == health.RecoveryTimedOut || rec.LastOutcome == health.RecoveryExecutionFailed:
		s := fmt.Sprintf("recovery ended %s without recording its outcome", rec.LastOutcome)
		if rec.LastError != "" {
			s += " (" + rec.LastError + ")"
		}
		return []string{cooldown(s)}
	case rec.LastOutcome == health.RecoveryExhausted:
		s := fmt.Sprintf("recovery exhausted after %d attempts", rec.Attempt)
		if rec.LastAttemptAt != nil {
			s += " at " + fmtTime(*rec.LastAttemptAt)
		}
		if rec.LastError != "" {
			s += " (last error: " + rec.LastError + ")"
		}
		return []string{cooldown(s) + "; fix the integration by hand"}
	}
	return nil
}

func noRecovery(f facts) []string {
	v := f.v
	if v.Recovery.Configured || f.r.ConsecutiveFailures < f.th.FailureCritical || (v.State != health.Failed && v.State != health.Degraded) {
		return nil
	}
	return one("no recovery configured: %s stays %s until fixed by hand; add a recovery action", v.Name, v.State)
}

func initializing(f facts) []string {
	if f.v.State != health.Initializing || len(f.unhealthy) > 0 {
		return nil
	}
	return one("initializing: %d of %d consecutive successes needed for ACTIVE", f.r.ConsecutiveSuccesses, f.th.SuccessThreshold)
}

func slowHealthCheck(f facts) []string {
	var out []string
	for _, t := range f.v.Latency {
		if t.Name == "health_check" && t.Level == LevelCritical {
			out = append(out, one("health check p95 %s over the %s target: lower component timeouts or split the integrations across schedules", fmtMs(*t.ValueMs), fmtMs(t.TargetMs))...)
		}
	}
	return out
}

func inconclusive(f facts) []string {
	if f.r.Inconclusive == "" {
		return nil
	}
	return one("last check inconclusive, nothing counted or recovered: %s; the checker's own resolver, network or secrets failed (CheckerImpaired alarm)", f.r.Inconclusive)
}

func staleTicks(f facts) []string {
	if f.r.StaleTicks == 0 {
		return nil
	}
	return one("%d late check deliveries were ignored as stale: the schedule's retry policy or maximum event age may be too generous", f.r.StaleTicks)
}

// allClear says why nothing needs doing.
func allClear(v Integration) string {
	ok := 0
	for _, c := range v.Components {
		if c.Status == StatusHealthy {
			ok++
		}
	}
	s := fmt.Sprintf("No action needed: all %d components healthy", ok)
	for _, w := range []string{"24h", "1h"} {
		for _, win := range v.Availability.Windows {
			if win.Window == w && win.Percent != nil {
				return s + fmt.Sprintf(", availability %s %% over %s (%s)", fmtPct(*win.Percent), windowLabel(w), plural(win.Checks, "check"))
			}
		}
	}
	return s
}

// transitionsIn counts the transitions in the window ending at now.
func transitionsIn(hist []health.Transition, window time.Duration, now time.Time) int {
	from := now.Add(-window)
	n := 0
	for _, t := range hist {
		if t.At.After(from) && !t.At.After(now) {
			n++
		}
	}
	return n
}

// burnAdvice speaks for a firing burn-rate rule: the fast one alone when
// both fire, since they count the same failures.
func burnAdvice(a Availability) []string {
	var fired *BurnRule
	for i, r := range a.Burn.Rules {
		if r.Firing && (fired == nil || r.Rate > fired.Rate) {
			fired = &a.Burn.Rules[i]
		}
	}
	if fired == nil {
		return nil
	}
	what := "SLO fast burn (pages)"
	if fired.Severity != LevelCritical {
		what = "SLO slow burn (warns)"
	}
	s := fmt.Sprintf("%s: the last %s spends the error budget %s× and the last %s %s× as fast as SLO %s %% allows (fires at %s× in both; %d of %d checks failed)",
		what, windowLabel(fired.Long.Window), fmtNum(fired.Long.Rate), windowLabel(fired.Short.Window), fmtNum(fired.Short.Rate),
		fmtNum(a.SLOPercent), fmtNum(fired.Rate), fired.Long.Failed, fired.Long.Checks)
	left := a.ErrorBudget.LeftPercent
	if left != nil && *left <= 0 {
		return []string{s + "; the 30-day budget is already spent: find what fails"}
	}
	if left != nil {
		// A rate of 1 spends the whole budget in the 30-day period.
		gone := time.Duration(*left / 100 * float64(budgetWindow) / fired.Long.Rate)
		s += fmt.Sprintf("; at this pace the %s %% of the 30-day budget left is gone in %s", fmtNum(*left), fmtDur(gone))
	}
	return []string{s + "; find what fails before the budget runs out"}
}

// scheduleAdvice notices checks that stopped coming: a monitor that is not
// running reports the last state it saw as if it were current.
func scheduleAdvice(v Integration, now time.Time) []string {
	s := v.Schedule
	if !s.Overdue || v.Counters.LastHealthCheck == nil {
		return nil
	}
	return []string{fmt.Sprintf("no check for %s (the next was due %s): everything above is as of %s; make sure the HealthCheck schedule is enabled and includes %s",
		fmtDur(now.Sub(*v.Counters.LastHealthCheck)), fmtTime(*s.NextCheck), fmtTime(*v.Counters.LastHealthCheck), v.Name)}
}
