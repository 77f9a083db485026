package health

import (
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"time"

	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/config"
)

// AttemptReport is what the Recovery Lambda reports after one attempt: the
// action ran, then the integration was re-probed.
type AttemptReport struct {
	IncidentID string
	Attempt    int // 1-based, increasing within an incident
	Healthy    bool
	Duration   time.Duration // action plus re-probe
	Error      string        // why the attempt failed; empty when healthy
}

// ApplyAttempt records one recovery attempt. It is idempotent per incident and
// attempt: a report for another incident than prev.Recovery.IncidentID, or
// with an Attempt at or below the last one applied (a duplicate delivery),
// returns prev unchanged and applied false, and the caller must not count,
// publish or notify it again.
//
// A healthy attempt returns the integration to ACTIVE (the returned
// transition has cause "recovered by attempt N"), counts a successful
// recovery and closes the incident; an unhealthy one records LastOutcome
// "failed" and leaves the incident in progress for the next attempt or
// ApplyExhausted.
func ApplyAttempt(prev Record, a AttemptReport, integ config.Integration, now time.Time) (Record, []Transition, bool) {
	rs := prev.Recovery
	if a.IncidentID == "" || a.IncidentID != rs.IncidentID || a.Attempt <= rs.Attempt || rs.Closed() {
		return prev, nil, false
	}
	rec := prev
	r := &rec.Recovery
	if r.StartedAt.IsZero() {
		r.StartedAt = now
	}
	r.InProgress = true
	r.Pending = false
	r.Attempt = a.Attempt
	r.LastAttemptAt = now
	r.LastDurationMs = ms(a.Duration)
	r.LastError = bound.Text(a.Error, bound.Message)
	rec.RecoveryAttempts++

	if !a.Healthy {
		r.LastOutcome = RecoveryFailed
		return rec, nil, true
	}
	r.LastError = ""
	r.InProgress = false
	r.LastOutcome = RecoverySucceeded
	rec.SuccessfulRecoveries++
	rec.TotalRecoveries++
	rec.ConsecutiveFailures = 0
	var trans []Transition
	if rec.State != Active {
		trans = []Transition{{From: rec.State, To: Active, At: now, Cause: fmt.Sprintf("recovered by attempt %d", a.Attempt)}}
		enter(&rec, Active, now)
		rec.History = appendHistory(prev.History, trans)
		rec.Flapping = flapping(rec.History, integ.Flapping, now)
	}
	rec.UptimeSeconds = uptime(rec.CurrentUptimeStart, now)
	return rec, trans, true
}

// ApplyExhausted closes an incident whose attempts are all spent: it counts
// the recovery, clears Pending and InProgress, records LastOutcome
// "exhausted" and starts the cooldown (now + recovery.cooldown) during which
// no new recovery is decided. The state is left as it is (normally FAILED).
// It is idempotent: it applies only to the current incident and only once,
// and never to an incident that has ended otherwise; then prev is returned
// with false.
func ApplyExhausted(prev Record, incidentID string, integ config.Integration, now time.Time) (Record, bool) {
	return closeIncident(prev, incidentID, RecoveryExhausted, "", integ, now)
}

// ExecutionEnd is how Step Functions reports a recovery execution that is
// no longer running, or that it no longer knows.
type ExecutionEnd string

// Execution ends, as DescribeExecution's status names them, and Missing for
// an execution Step Functions does not know.
const (
	ExecutionSucceeded ExecutionEnd = "SUCCEEDED"
	ExecutionFailed    ExecutionEnd = "FAILED"
	ExecutionTimedOut  ExecutionEnd = "TIMED_OUT"
	ExecutionAborted   ExecutionEnd = "ABORTED"
	ExecutionMissing   ExecutionEnd = "MISSING"
)

// ApplyExecutionEnd closes an incident whose execution ended without
// recording its outcome — stopped by an operator, timed out, failed where no
// Catch records it, or its function killed before its last write — so no
// record waits on an execution that has ended. It counts the recovery, clears
// Pending and InProgress and records the outcome (aborted, timed_out,
// execution_failed; succeeded when the execution did); any end but success
// starts the cooldown, after which an integration still due opens a new
// incident under a new name.
//
// Like ApplyExhausted it applies only to the current, still open incident and
// only once; otherwise prev is returned with false.
func ApplyExecutionEnd(prev Record, incidentID string, end ExecutionEnd, integ config.Integration, now time.Time) (Record, bool) {
	outcome := RecoveryAborted
	switch end {
	case ExecutionSucceeded:
		outcome = RecoverySucceeded
	case ExecutionFailed:
		outcome = RecoveryExecutionFailed
	case ExecutionTimedOut:
		outcome = RecoveryTimedOut
	}
	why := fmt.Sprintf("execution %s ended %s without recording its outcome", prev.Recovery.ExecutionName, end)
	if end == ExecutionMissing {
		why = fmt.Sprintf("execution %s is not known to Step Functions", prev.Recovery.ExecutionName)
	}
	return closeIncident(prev, incidentID, outcome, why, integ, now)
}

// closeIncident ends the current open incident with outcome: counted once,
// the cooldown started unless it succeeded.
func closeIncident(prev Record, incidentID, outcome, why string, integ config.Integration, now time.Time) (Record, bool) {
	rs := prev.Recovery
	if incidentID == "" || incidentID != rs.IncidentID || rs.Closed() {
		return prev, false
	}
	rec := prev
	rec.TotalRecoveries++
	r := &rec.Recovery
	r.InProgress = false
	r.Pending = false
	r.LastOutcome = outcome
	if why != "" {
		r.LastError = why
	}
	if outcome == RecoverySucceeded {
		rec.SuccessfulRecoveries++
		return rec, true
	}
	var cooldown time.Duration
	if integ.Recovery != nil {
		cooldown = integ.Recovery.Cooldown.D()
	}
	r.CooldownUntil = now.Add(cooldown)
	return rec, true
}

// Timing of the recovery workflow (statemachine/recovery.asl.json); the
// recovery package's tests hold the definition to these numbers.
const (
	// TaskTimeout bounds each Task state's Lambda invocation: the Recovery
	// function's own 60 s timeout plus the invocation's overhead.
	TaskTimeout = 70 * time.Second
	// LambdaRetryWaits is the sum of the Retry intervals on Lambda's
	// transient errors: 2 s doubling, 6 retries.
	LambdaRetryWaits = (2 + 4 + 8 + 16 + 32 + 64) * time.Second
	// AttemptBudget is the longest one attempt can take: the Attempt task
	// and, when it fails, the RecordError task, each with its retries.
	AttemptBudget = 2 * (TaskTimeout + LambdaRetryWaits)
)

// MaxRecoveryRun is the longest an execution under cfg can run: every
// attempt at its budget, every backoff at its cap, and the Exhausted task.
// The state machine's TimeoutSeconds is MaxRecoveryRun at the config's
// limits, so no execution outlives it.
func MaxRecoveryRun(cfg config.Recovery) time.Duration {
	n := max(cfg.MaxAttempts, 1)
	waits := time.Duration(0)
	for attempt := 1; attempt < n; attempt++ {
		// A Wait state waits the delay rounded up to whole seconds, at
		// least 1: never a second more than this.
		waits += NextDelay(cfg, attempt, 1) + time.Second
	}
	return time.Duration(n)*AttemptBudget + waits + TaskTimeout + LambdaRetryWaits
}

// Stalled reports whether a running incident has recorded nothing for longer
// than its workflow can go quiet: the longest backoff wait under cfg (nil:
// the config's cap) plus one task. The check then asks Step Functions whether
// the execution still runs. Asking early costs a request, never a recovery:
// only an execution Step Functions reports ended is closed.
func Stalled(rs RecoveryStatus, cfg *config.Recovery, now time.Time) bool {
	if !rs.InProgress {
		return false
	}
	last := rs.LastAttemptAt
	for _, t := range []time.Time{rs.StartedAt, rs.DecidedAt} {
		if t.After(last) {
			last = t
		}
	}
	maxDelay := config.MaxMaxDelay
	if cfg != nil {
		maxDelay = cfg.MaxDelay.D()
	}
	return now.After(last.Add(maxDelay + TaskTimeout))
}

// NextDelay is the wait before attempt+1, after attempt (1-based) failed:
// min(base·2^(attempt-1), max), so 1 s, 2 s, 4 s … 30 s with the defaults. With
// cfg.Jitter the delay is scaled by 0.5+rand01/2, rand01 in [0,1) supplied by
// the caller (keeping this pure), so it stays within [delay/2, delay) and
// concurrent incidents spread out without ever retrying at once. A MaxDelay of
// zero or less means no cap.
func NextDelay(cfg config.Recovery, attempt int, rand01 float64) time.Duration {
	base, limit := cfg.BaseDelay.D(), cfg.MaxDelay.D()
	if base <= 0 {
		return 0
	}
	d := base
	for i := 1; i < attempt; i++ {
		if (limit > 0 && d >= limit) || d > math.MaxInt64/2 {
			break
		}
		d *= 2
	}
	if limit > 0 && d > limit {
		d = limit
	}
	if cfg.Jitter {
		r := min(max(rand01, 0), 1)
		d = time.Duration(float64(d) * (0.5 + r/2))
	}
	return d
}

// maxExecutionName is Step Functions' limit on execution names.
const maxExecutionName = 80

// ExecutionName turns an incident ID into a Step Functions execution name:
// only [A-Za-z0-9-_], at most 80 characters. Step Functions rejects a second
// start under the same name, which is what makes a retried start safe. When
// the ID had to be altered (characters replaced or the integration part cut),
// an FNV hash of the original is inserted so two integrations never collide.
// The trailing tick is always kept.
func ExecutionName(incidentID string) string {
	var b strings.Builder
	for _, c := range incidentID {
		if c == '-' || c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	name := b.String()
	if name == incidentID && len(name) <= maxExecutionName {
		return name
	}
	h := fnv.New32a()
	h.Write([]byte(incidentID))
	tag := fmt.Sprintf("-%08x", h.Sum32())
	head, tick := name, ""
	if i := strings.LastIndexByte(name, '-'); i >= 0 {
		head, tick = name[:i], name[i:]
	}
	if keep := maxExecutionName - len(tag) - len(tick); len(head) > keep {
		head = head[:max(keep, 0)]
	}
	return head + tag + tick
}
