package health

import (
	"fmt"
	"time"

	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/config"
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

	// An execution that ended without recording its outcome, closed by the
	// check that found it (ApplyExecutionEnd).
	RecoveryAborted         = "aborted"          // stopped (by an operator), or no longer known to Step Functions
	RecoveryTimedOut        = "timed_out"        // ran past the state machine's TimeoutSeconds
	RecoveryExecutionFailed = "execution_failed" // failed where nothing recorded it
)

// MaxTickAhead is how far ahead of the evaluation time a tick may lie. The
// scheduler's clock and the function's agree within seconds; the HealthCheck
// refuses an event whose tick is further ahead, and Evaluate repairs a stored
// LastTick that is, so one bad event can never make every later tick stale.
const MaxTickAhead = 5 * time.Minute

// Evaluate applies one check to the previous record and returns the new record
// and what the caller must do. It is pure: now is the evaluation time (also
// the time of any transition), in.Tick the scheduled time that keys
// idempotency. Evaluate never changes Version; the store does on write.
//
// A tick equal to prev.LastTick returns prev unchanged with Outcome Duplicate;
// an earlier tick returns prev with StaleTicks+1 and Outcome Stale, which the
// caller should write so stale deliveries stay visible. A stored LastTick more
// than MaxTickAhead after now cannot be a real tick: it is dropped (Decision
// Repaired says so) and the check applied. A zero prev (never stored) is
// UNINITIALIZED.
//
// A check Judge finds inconclusive (the checker's own fault) is recorded —
// LastTick, the cause in Inconclusive, InconclusiveChecks+1 — but changes no
// state, counter, score or availability and never decides a recovery.
func Evaluate(prev Record, in Check, now time.Time) (Record, Decision) {
	var dec Decision
	if prev.LastTick.After(now.Add(MaxTickAhead)) {
		dec.Repaired = fmt.Sprintf("stored last_tick %s is more than %s ahead of %s; dropped",
			prev.LastTick.UTC().Format(time.RFC3339), MaxTickAhead, now.UTC().Format(time.RFC3339))
		prev.LastTick = time.Time{}
	}
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
	rec.InMaintenance = cfg.InMaintenance(now)
	rec.Regions = in.Regions

	v := Judge(cfg, in.Results, in.Impairment)
	dec.Outcome = Applied
	if v.Condition == ConditionInconclusive {
		rec.Inconclusive = v.Cause
		rec.InconclusiveChecks++
		rec.Flapping = flapping(rec.History, cfg.Flapping, now)
		dec.Inconclusive = true
		dec.CheckerChanged = prev.Inconclusive == ""
		dec.Seen = v.Components
		followUpRecovery(&rec, &dec, cfg, now, false)
		return rec, dec
	}
	dec.CheckerChanged = prev.Inconclusive != ""
	rec.Inconclusive = ""
	rec.Components = v.Components
	rec.Score = v.Score
	rec.ErrorMessage = errorMessage(v.Components)

	if v.Healthy() {
		rec.ConsecutiveSuccesses++
		rec.ConsecutiveFailures = 0
	} else {
		rec.ConsecutiveFailures++
		rec.ConsecutiveSuccesses = 0
	}

	trans := step(&rec, v, th, now)
	rec.History = appendHistory(prev.History, trans)
	rec.UptimeSeconds = uptime(rec.CurrentUptimeStart, now)
	rec.Availability = prev.Availability.add(in.Tick, v.Healthy(), in.Duration)
	rec.Flapping = flapping(rec.History, cfg.Flapping, now)

	dec.Transitions = trans
	dec.Notify = len(trans) > 0 && !rec.InMaintenance && !rec.Flapping
	followUpRecovery(&rec, &dec, cfg, now, true)
	return rec, dec
}

// followUpRecovery decides what the check does about recovery: retry the
// start of a decided one, ask after an execution that has gone quiet, or —
// only on a conclusive check — decide a new incident.
func followUpRecovery(rec *Record, dec *Decision, cfg config.Integration, now time.Time, conclusive bool) {
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
	case rs.InProgress:
		dec.CheckExecution = Stalled(*rs, cfg.Recovery, now)
	case conclusive && !held && recoveryDue(*rec, cfg, now):
		*rs = RecoveryStatus{
			Pending:       true,
			IncidentID:    fmt.Sprintf("%s-%d", rec.Integration, rec.LastTick.Unix()),
			DecidedAt:     now,
			CooldownUntil: rs.CooldownUntil,
		}
		rs.ExecutionName = ExecutionName(rs.IncidentID)
		dec.StartRecovery = true
	}
}

// recoveryDue is SPEC §3's rule on the new record; maintenance and flapping
// are checked by the caller because they also hold retried starts.
func recoveryDue(rec Record, cfg config.Integration, now time.Time) bool {
	rs := rec.Recovery
	return cfg.Recovery != nil &&
		rec.ConsecutiveFailures >= cfg.Thresholds.FailureCritical &&
		(rec.State == Degraded || rec.State == Failed) &&
		!rs.Open() &&
		!now.Before(rs.CooldownUntil)
}

// step runs the state machine for one check on rec (whose consecutive
// counters already include the check) and returns the transitions made.
func step(rec *Record, v Verdict, th config.Thresholds, now time.Time) []Transition {
	var trans []Transition
	move := func(to State, cause string) {
		trans = append(trans, Transition{From: rec.State, To: to, At: now, Cause: bound.Text(cause, bound.Cause)})
		enter(rec, to, now)
	}
	okEnough := v.Healthy() && rec.ConsecutiveSuccesses >= th.SuccessThreshold

	if rec.State == Uninitialized {
		rec.TotalInitializations++
		move(Initializing, "first health check")
	}
	switch rec.State {
	case Initializing:
		switch {
		case okEnough:
			rec.SuccessfulInitializations++
			move(Active, fmt.Sprintf("initialized: %s (%d consecutive successes)", v.Cause, rec.ConsecutiveSuccesses))
		case !v.Healthy() && rec.ConsecutiveFailures >= th.FailureCritical:
			// SPEC §3 defines FAILED as a critical component down; an
			// initialization that fails only on non-critical components or
			// latency lands in DEGRADED, and counts as failed either way.
			rec.FailedInitializations++
			to := Failed
			if v.Condition == ConditionDegraded {
				to = Degraded
			}
			move(to, fmt.Sprintf("initialization failed after %d consecutive failures: %s", rec.ConsecutiveFailures, v.Cause))
		}
	case Active:
		switch v.Condition {
		case ConditionFailed:
			move(Failed, v.Cause)
		case ConditionDegraded:
			move(Degraded, v.Cause)
		}
	case Degraded:
		switch {
		case v.Condition == ConditionFailed:
			move(Failed, v.Cause)
		case okEnough:
			move(Active, recoveredCause(v, rec.ConsecutiveSuccesses))
		}
	case Failed:
		switch {
		case v.Condition == ConditionDegraded:
			move(Degraded, v.Cause)
		case okEnough:
			move(Active, recoveredCause(v, rec.ConsecutiveSuccesses))
		}
	}
	return trans
}

func recoveredCause(v Verdict, successes int) string {
	return fmt.Sprintf("%s (%d consecutive successes)", v.Cause, successes)
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
