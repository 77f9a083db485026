package health

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/probe"
)

// HistoryLen is how many transitions Record.History keeps, oldest dropped
// first; older ones live in TTL'd history items written by the store.
const HistoryLen = 50

// Values of RecoveryStatus.LastOutcome.
const (
	RecoverySucceeded = "succeeded"  // an attempt found the integration healthy
	RecoveryFailed    = "failed"     // the last attempt left it unhealthy; more may follow
	RecoveryExhausted = "exhausted"  // max_attempts spent; cooldown running
	RecoveryNotNeeded = "not-needed" // decided, never started, and the integration recovered alone
)

// condition is what one check says about the integration, before thresholds.
type condition int

const (
	condOK condition = iota
	condDegraded
	condFailed
)

// assessment is the condition of a check with the human cause behind it.
type assessment struct {
	cond  condition
	cause string
}

// Evaluate applies one check to the previous record and returns the new record
// and what the caller must do. It is pure: now is the evaluation time (also
// the time of any transition), in.Tick the scheduled time that keys
// idempotency. Evaluate never changes Version; the store does on write.
//
// A tick equal to prev.LastTick returns prev unchanged with Outcome Duplicate;
// an earlier tick returns prev with StaleTicks+1 and Outcome Stale, which the
// caller should write so stale deliveries stay visible. A zero prev (never
// stored) is UNINITIALIZED.
func Evaluate(prev Record, in Check, now time.Time) (Record, Decision) {
	if !prev.LastTick.IsZero() {
		switch {
		case in.Tick.Equal(prev.LastTick):
			return prev, Decision{Outcome: Duplicate}
		case in.Tick.Before(prev.LastTick):
			prev.StaleTicks++
			return prev, Decision{Outcome: Stale}
		}
	}
	cfg := in.Integration
	th := cfg.Thresholds

	rec := prev
	if rec.Integration == "" {
		rec.Integration = cfg.Name
	}
	if !rec.State.Valid() {
		rec.State = Uninitialized
	}
	rec.LastTick = in.Tick
	rec.LastHealthCheck = now
	rec.HealthChecksPerformed++

	comps, weights := components(cfg, in.Results)
	rec.Components = comps
	rec.Score = OverallScore(comps, weights)
	rec.ErrorMessage = errorMessage(comps)
	as := assess(comps, th, metricLimits(cfg))

	if as.cond == condOK {
		rec.ConsecutiveSuccesses++
		rec.ConsecutiveFailures = 0
	} else {
		rec.ConsecutiveFailures++
		rec.ConsecutiveSuccesses = 0
	}

	trans := step(&rec, as, th, now)
	rec.History = appendHistory(prev.History, trans)
	rec.UptimeSeconds = uptime(rec.CurrentUptimeStart, now)
	rec.Availability = prev.Availability.add(in.Tick, as.cond == condOK, in.Duration)
	rec.Flapping = flapping(rec.History, cfg.Flapping, now)
	rec.InMaintenance = cfg.InMaintenance(now)

	dec := Decision{
		Outcome:     Applied,
		Transitions: trans,
		Notify:      len(trans) > 0 && !rec.InMaintenance && !rec.Flapping,
	}
	held := rec.InMaintenance || rec.Flapping
	rs := &rec.Recovery
	switch {
	case rs.Pending && !rs.InProgress:
		// Decided but never started: the integration recovering alone, or
		// recovery being removed from the config, makes the start pointless;
		// otherwise retry it under the same execution name.
		if rec.State == Active || cfg.Recovery == nil {
			rs.Pending = false
			rs.LastOutcome = RecoveryNotNeeded
		} else if !held {
			dec.StartRecovery = true
		}
	case recoveryDue(rec, cfg, now) && !held:
		*rs = RecoveryStatus{
			Pending:       true,
			IncidentID:    fmt.Sprintf("%s-%d", rec.Integration, in.Tick.Unix()),
			DecidedAt:     now,
			CooldownUntil: rs.CooldownUntil,
		}
		rs.ExecutionName = ExecutionName(rs.IncidentID)
		dec.StartRecovery = true
	}
	return rec, dec
}

// recoveryDue is SPEC §3's rule on the new record; maintenance and flapping
// are checked by the caller because they also hold retried starts.
func recoveryDue(rec Record, cfg config.Integration, now time.Time) bool {
	rs := rec.Recovery
	return cfg.Recovery != nil &&
		rec.ConsecutiveFailures >= cfg.Thresholds.FailureCritical &&
		(rec.State == Degraded || rec.State == Failed) &&
		!rs.InProgress && !rs.Pending &&
		!now.Before(rs.CooldownUntil)
}

// components rebuilds the component statuses from the results, taking
// criticality and weight from the config. A configured component without a
// result is reported unhealthy rather than silently dropped, so a prober bug
// cannot make an integration look healthy.
func components(cfg config.Integration, results []probe.Result) ([]ComponentStatus, []float64) {
	byName := make(map[string]config.Component, len(cfg.Components))
	for _, c := range cfg.Components {
		byName[c.Name] = c
	}
	seen := make(map[string]bool, len(results))
	comps := make([]ComponentStatus, 0, max(len(results), len(cfg.Components)))
	weights := make([]float64, 0, cap(comps))
	add := func(r probe.Result) {
		c, known := byName[r.Component]
		critical, weight := true, 1.0
		if known {
			critical, weight = c.IsCritical(), c.Weight
		}
		comps = append(comps, ComponentStatus{
			Name:         r.Component,
			Healthy:      r.Healthy,
			Critical:     critical,
			LatencyMs:    ms(r.Latency),
			Score:        Score(r, cfg.Thresholds),
			Error:        r.Error,
			Metrics:      r.Metrics,
			CertDaysLeft: r.CertDaysLeft,
		})
		weights = append(weights, weight)
	}
	for _, r := range results {
		seen[r.Component] = true
		add(r)
	}
	for _, c := range cfg.Components {
		if !seen[c.Name] {
			add(probe.Result{Component: c.Name, Error: "no probe result"})
		}
	}
	return comps, weights
}

// assess classifies a check (SPEC §3): failed when a critical component is
// unhealthy; degraded when only non-critical ones are, when a healthy one is
// slower than LatencyCritical, when its certificate expires within
// CertCriticalDays (it still serves, but will not for long), or when a number
// it publishes from its body is over that metric's critical limit (memory
// about to run out); ok otherwise.
func assess(comps []ComponentStatus, th config.Thresholds, limits map[string]map[string]float64) assessment {
	var critical, other, slow []string
	crit := ms(th.LatencyCritical.D())
	for _, c := range comps {
		switch {
		case !c.Healthy && c.Critical:
			critical = append(critical, fmt.Sprintf("critical component %q unhealthy%s", c.Name, reason(c.Error)))
		case !c.Healthy:
			other = append(other, fmt.Sprintf("non-critical component %q unhealthy%s", c.Name, reason(c.Error)))
		case c.LatencyMs > crit:
			slow = append(slow, fmt.Sprintf("component %q latency %v over critical %v",
				c.Name, time.Duration(c.LatencyMs*float64(time.Millisecond)), th.LatencyCritical.D()))
		case c.CertDaysLeft != nil && th.CertCriticalDays > 0 && *c.CertDaysLeft <= float64(th.CertCriticalDays):
			slow = append(slow, fmt.Sprintf("component %q certificate expires in %.1f days (critical at %d)",
				c.Name, *c.CertDaysLeft, th.CertCriticalDays))
		default:
			slow = append(slow, overLimits(c, limits[c.Name])...)
		}
	}
	switch {
	case len(critical) > 0:
		return assessment{condFailed, strings.Join(critical, "; ")}
	case len(other)+len(slow) > 0:
		return assessment{condDegraded, strings.Join(append(other, slow...), "; ")}
	}
	return assessment{condOK, "all components healthy"}
}

// metricLimits maps component name → extracted metric name → critical limit,
// for the metrics that have one.
func metricLimits(cfg config.Integration) map[string]map[string]float64 {
	var out map[string]map[string]float64
	for _, c := range cfg.Components {
		if c.HTTP == nil {
			continue
		}
		for _, m := range c.HTTP.Metrics {
			if m.Critical == nil {
				continue
			}
			if out == nil {
				out = map[string]map[string]float64{}
			}
			if out[c.Name] == nil {
				out[c.Name] = map[string]float64{}
			}
			out[c.Name][m.Name] = *m.Critical
		}
	}
	return out
}

// overLimits names the component's metrics above their critical limits, in
// name order so causes are stable.
func overLimits(c ComponentStatus, limits map[string]float64) []string {
	var names []string
	for name, limit := range limits {
		if v, ok := c.Metrics[name]; ok && v > limit {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	out := make([]string, 0, len(names))
	for _, name := range names {
		out = append(out, fmt.Sprintf("component %q %s %g over critical %g", c.Name, name, c.Metrics[name], limits[name]))
	}
	return out
}

func reason(err string) string {
	if err == "" {
		return ""
	}
	return ": " + err
}

// errorMessage joins the errors of the unhealthy components, "" when all are
// healthy.
func errorMessage(comps []ComponentStatus) string {
	var parts []string
	for _, c := range comps {
		if !c.Healthy {
			msg := c.Error
			if msg == "" {
				msg = "unhealthy"
			}
			parts = append(parts, c.Name+": "+msg)
		}
	}
	return strings.Join(parts, "; ")
}

// step runs the state machine for one check on rec (whose consecutive
// counters already include the check) and returns the transitions made.
func step(rec *Record, as assessment, th config.Thresholds, now time.Time) []Transition {
	var trans []Transition
	move := func(to State, cause string) {
		trans = append(trans, Transition{From: rec.State, To: to, At: now, Cause: cause})
		enter(rec, to, now)
	}
	okEnough := as.cond == condOK && rec.ConsecutiveSuccesses >= th.SuccessThreshold

	if rec.State == Uninitialized {
		rec.TotalInitializations++
		move(Initializing, "first health check")
	}
	switch rec.State {
	case Initializing:
		switch {
		case okEnough:
			rec.SuccessfulInitializations++
			move(Active, fmt.Sprintf("initialized: %s (%d consecutive successes)", as.cause, rec.ConsecutiveSuccesses))
		case as.cond != condOK && rec.ConsecutiveFailures >= th.FailureCritical:
			// SPEC §3 defines FAILED as a critical component down; an
			// initialization that fails only on non-critical components or
			// latency lands in DEGRADED, and counts as failed either way.
			rec.FailedInitializations++
			to := Failed
			if as.cond == condDegraded {
				to = Degraded
			}
			move(to, fmt.Sprintf("initialization failed after %d consecutive failures: %s", rec.ConsecutiveFailures, as.cause))
		}
	case Active:
		switch as.cond {
		case condFailed:
			move(Failed, as.cause)
		case condDegraded:
			move(Degraded, as.cause)
		}
	case Degraded:
		switch {
		case as.cond == condFailed:
			move(Failed, as.cause)
		case okEnough:
			move(Active, recoveredCause(as, rec.ConsecutiveSuccesses))
		}
	case Failed:
		switch {
		case as.cond == condDegraded:
			move(Degraded, as.cause)
		case okEnough:
			move(Active, recoveredCause(as, rec.ConsecutiveSuccesses))
		}
	}
	return trans
}

func recoveredCause(as assessment, successes int) string {
	return fmt.Sprintf("%s (%d consecutive successes)", as.cause, successes)
}

// enter sets rec.State to to and keeps the uptime start in step: uptime
// begins on entering ACTIVE from anything but DEGRADED, survives DEGRADED
// (the integration still serves), and ends on FAILED or INITIALIZING.
func enter(rec *Record, to State, now time.Time) {
	from := rec.State
	rec.State = to
	switch to {
	case Active:
		if rec.CurrentUptimeStart == nil || (from != Active && from != Degraded) {
			t := now
			rec.CurrentUptimeStart = &t
		}
	case Degraded:
		// kept as is
	default:
		rec.CurrentUptimeStart = nil
	}
}

func uptime(start *time.Time, now time.Time) float64 {
	if start == nil || now.Before(*start) {
		return 0
	}
	return now.Sub(*start).Seconds()
}

// appendHistory returns a new slice of the last HistoryLen transitions; prev
// is never written to.
func appendHistory(prev, add []Transition) []Transition {
	all := make([]Transition, 0, len(prev)+len(add))
	all = append(all, prev...)
	all = append(all, add...)
	if len(all) > HistoryLen {
		all = all[len(all)-HistoryLen:]
	}
	return all
}

// flapping reports more than MaxTransitions transitions in the Window ending
// at now. A zero window or maximum turns detection off instead of marking
// every change as flapping.
func flapping(hist []Transition, f config.Flapping, now time.Time) bool {
	window := f.Window.D()
	if window <= 0 || f.MaxTransitions <= 0 {
		return false
	}
	from := now.Add(-window)
	n := 0
	for _, t := range hist {
		if t.At.After(from) && !t.At.After(now) {
			n++
		}
	}
	return n > f.MaxTransitions
}
