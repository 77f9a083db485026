package health

import (
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"time"

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
	if a.IncidentID == "" || a.IncidentID != rs.IncidentID || a.Attempt <= rs.Attempt ||
		rs.LastOutcome == RecoverySucceeded || rs.LastOutcome == RecoveryExhausted {
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
	r.LastError = a.Error
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
// and never to an incident that already succeeded; otherwise prev is returned
// with false.
func ApplyExhausted(prev Record, incidentID string, integ config.Integration, now time.Time) (Record, bool) {
	rs := prev.Recovery
	if incidentID == "" || incidentID != rs.IncidentID ||
		rs.LastOutcome == RecoveryExhausted || rs.LastOutcome == RecoverySucceeded {
		return prev, false
	}
	rec := prev
	rec.TotalRecoveries++
	r := &rec.Recovery
	r.InProgress = false
	r.Pending = false
	r.LastOutcome = RecoveryExhausted
	var cooldown time.Duration
	if integ.Recovery != nil {
		cooldown = integ.Recovery.Cooldown.D()
	}
	r.CooldownUntil = now.Add(cooldown)
	return rec, true
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
