package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
)

// recommend derives the actions the data calls for, most urgent first. Every
// sentence quotes the figures it is based on; when nothing is wrong it says
// why it thinks so.
func recommend(v Integration, r health.Record, in config.Integration, th config.Thresholds, fl config.Flapping, now time.Time) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }

	if !v.Configured {
		add("%s is stored but not in the configuration: it is no longer checked; delete its state item if it was removed on purpose (thresholds shown are the defaults)", v.Name)
	}
	if v.NeverChecked {
		add("Never checked: no health check has been recorded for %s yet; make sure a HealthCheck schedule includes it", v.Name)
		return out
	}

	var unhealthy []string
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
			unhealthy = append(unhealthy, fmt.Sprintf("%s (%s): %s", c.Name, kind, msg))
		}
	}
	if len(unhealthy) > 0 {
		n := r.ConsecutiveFailures
		switch {
		case n >= th.FailureCritical:
			add("%s: failed %d checks in a row (critical at %d): %s", v.State, n, th.FailureCritical, strings.Join(unhealthy, "; "))
		case n >= th.FailureWarning:
			add("%s: failed %d checks in a row (warning at %d, critical at %d): %s", v.State, n, th.FailureWarning, th.FailureCritical, strings.Join(unhealthy, "; "))
		default:
			add("%s: failed the last check (%d in a row, warning at %d): %s", v.State, n, th.FailureWarning, strings.Join(unhealthy, "; "))
		}
	}
	for _, c := range v.Components {
		if c.Status == StatusSlow {
			add("%s latency %s above warning %s (critical %s)", c.Name, fmtMs(c.LatencyMs), fmtMs(ms(th.LatencyWarning.D())), fmtMs(ms(th.LatencyCritical.D())))
		}
	}
	for _, m := range v.Metrics {
		if m.Level != LevelOK {
			add("%s: %s", m.Component, metricIssue(m))
		}
	}
	for _, c := range v.Components {
		if d := c.CertDaysLeft; d != nil && *d <= float64(th.CertWarningDays) {
			lvl, limit := LevelWarning, th.CertWarningDays
			if *d <= float64(th.CertCriticalDays) {
				lvl, limit = LevelCritical, th.CertCriticalDays
			}
			add("certificate of %s expires in %s days (%s at %d days): renew it", c.Name, fmtNum(float64(int(*d))), lvl, limit)
		}
	}
	var below []string
	for _, w := range v.Availability.Windows {
		if w.MeetsSLO != nil && !*w.MeetsSLO {
			below = append(below, fmt.Sprintf("%s %s %% (%s)", windowLabel(w.Window), fmtPct(*w.Percent), plural(w.Checks, "check")))
		}
	}
	if len(below) > 0 {
		add("availability below SLO %s %%: %s", fmtNum(v.Availability.SLOPercent), strings.Join(below, ", "))
	}
	out = append(out, burnAdvice(v.Availability)...)
	if r.Flapping {
		add("flapping: %d transitions in %s (limit %d); notifications and recovery starts are held until it settles",
			transitionsIn(r.History, fl.Window.D(), now), fmtDur(fl.Window.D()), fl.MaxTransitions)
	}
	if r.InMaintenance {
		var names []string
		for i, w := range in.Maintenance {
			if w.Active(now) {
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
		add("%s: checks are recorded, notifications and recovery are held", s)
	}

	rec := v.Recovery
	switch {
	case rec.Status == RecoveryInProgress:
		s := fmt.Sprintf("recovery in progress: %d of %d attempts made", rec.Attempt, rec.MaxAttempts)
		if rec.LastOutcome == health.RecoveryFailed && rec.LastError != "" {
			s += ", the last failed: " + rec.LastError
		}
		if rec.ExecutionName != "" {
			s += "; follow execution " + rec.ExecutionName
		}
		add("%s", s)
	case rec.Status == RecoveryPending:
		s := fmt.Sprintf("recovery pending since %s: execution %s not started yet", fmtTime(*rec.DecidedAt), rec.ExecutionName)
		if rec.StartFailures > 0 {
			s += fmt.Sprintf(" (%d failed starts; check the HealthCheck function's Step Functions permissions)", rec.StartFailures)
		}
		add("%s", s)
	case rec.LastOutcome == health.RecoveryAborted || rec.LastOutcome == health.RecoveryTimedOut || rec.LastOutcome == health.RecoveryExecutionFailed:
		s := fmt.Sprintf("recovery ended %s without recording its outcome", rec.LastOutcome)
		if rec.LastError != "" {
			s += " (" + rec.LastError + ")"
		}
		if rec.CooldownUntil != nil && now.Before(*rec.CooldownUntil) {
			s += "; cooldown until " + fmtTime(*rec.CooldownUntil) + ", then recovery is armed again"
		}
		add("%s", s)
	case rec.LastOutcome == health.RecoveryExhausted:
		s := fmt.Sprintf("recovery exhausted after %d attempts", rec.Attempt)
		if rec.LastAttemptAt != nil {
			s += " at " + fmtTime(*rec.LastAttemptAt)
		}
		if rec.LastError != "" {
			s += " (last error: " + rec.LastError + ")"
		}
		if rec.CooldownUntil != nil && now.Before(*rec.CooldownUntil) {
			s += "; cooldown until " + fmtTime(*rec.CooldownUntil) + ", then recovery is armed again"
		}
		add("%s; fix the integration by hand", s)
	}
	if !rec.Configured && r.ConsecutiveFailures >= th.FailureCritical && (v.State == health.Failed || v.State == health.Degraded) {
		add("no recovery configured: %s stays %s until fixed by hand; add a recovery action", v.Name, v.State)
	}
	if v.State == health.Initializing && len(unhealthy) == 0 {
		add("initializing: %d of %d consecutive successes needed for ACTIVE", r.ConsecutiveSuccesses, th.SuccessThreshold)
	}
	for _, t := range v.Latency {
		if t.Name == "health_check" && t.Level == LevelCritical {
			add("health check p95 %s over the %s target: lower component timeouts or split the integrations across schedules", fmtMs(*t.ValueMs), fmtMs(t.TargetMs))
		}
	}
	if r.Inconclusive != "" {
		add("last check inconclusive, nothing counted or recovered: %s; the checker's own resolver, network or secrets failed (CheckerImpaired alarm)", r.Inconclusive)
	}
	out = append(out, scheduleAdvice(v, now)...)
	if r.StaleTicks > 0 {
		add("%d late check deliveries were ignored as stale: the schedule's retry policy or maximum event age may be too generous", r.StaleTicks)
	}
	if len(out) > 0 {
		return out
	}

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
				s += fmt.Sprintf(", availability %s %% over %s (%s)", fmtPct(*win.Percent), windowLabel(w), plural(win.Checks, "check"))
				return []string{s}
			}
		}
	}
	return []string{s}
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
