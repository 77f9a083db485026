package report

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
)

// maxPrevious bounds the previous states listed in the state machine summary.
const maxPrevious = 5

// build makes the view of one integration from its record and config.
func build(r health.Record, in config.Integration, configured bool, now time.Time, o options) Integration {
	th := thresholds(in.Thresholds)
	fl := flappingCfg(in.Flapping)
	state := r.State
	if !state.Valid() {
		state = health.Uninitialized
	}
	v := Integration{
		Name:          r.Integration,
		Configured:    configured,
		NeverChecked:  r.HealthChecksPerformed == 0 && r.LastHealthCheck.IsZero(),
		State:         state,
		Score:         r.Score,
		Grade:         GradeOf(state, r.Score),
		Flapping:      r.Flapping,
		InMaintenance: r.InMaintenance,
		History:       slices.Clone(r.History),
		Metrics:       []Metric{},
	}
	if v.History == nil {
		v.History = []health.Transition{}
	}
	v.Components = components(r, in, th, v.NeverChecked)
	v.StateMachine = stateMachine(r, state, now)
	v.Counters = Counters{
		HealthChecksPerformed:     r.HealthChecksPerformed,
		TotalInitializations:      r.TotalInitializations,
		SuccessfulInitializations: r.SuccessfulInitializations,
		FailedInitializations:     r.FailedInitializations,
		RecoveryAttempts:          r.RecoveryAttempts,
		SuccessfulRecoveries:      r.SuccessfulRecoveries,
		TotalRecoveries:           r.TotalRecoveries,
		CurrentUptimeStart:        utcPtr(r.CurrentUptimeStart),
		UptimeSeconds:             uptimeAt(r, state, now),
		ConsecutiveFailures:       r.ConsecutiveFailures,
		ConsecutiveSuccesses:      r.ConsecutiveSuccesses,
		LastHealthCheck:           timePtr(r.LastHealthCheck),
		ErrorMessage:              r.ErrorMessage,
		StaleTicks:                r.StaleTicks,
		Inconclusive:              r.Inconclusive,
		InconclusiveChecks:        r.InconclusiveChecks,

		InitializationSuccessPercent: successPercent(r.SuccessfulInitializations, r.TotalInitializations),
		RecoverySuccessPercent:       successPercent(r.SuccessfulRecoveries, r.TotalRecoveries),
	}
	v.Schedule = schedule(r.LastHealthCheck, now)
	v.Metrics = metrics(r, in)
	for i := range v.Components {
		c := &v.Components[i]
		for _, m := range v.Metrics {
			if m.Component == c.Name && m.Level != LevelOK {
				c.Issues = append(c.Issues, metricIssue(m))
			}
		}
	}
	v.Availability = availability(r.Availability, sloOf(in), now)
	v.Alerts = alerts(r, in, th, v.Metrics, v.Availability, state, now)
	v.Recovery = recovery(r, in, fl, now)
	v.Latency = latency(r, now, o)
	v.Regions = slices.Clone(r.Regions)
	v.Recommendations = recommend(v, r, in, th, fl, now)
	return v
}

func thresholds(t config.Thresholds) config.Thresholds {
	setInt(&t.FailureWarning, config.DefaultFailureWarning)
	setInt(&t.FailureCritical, config.DefaultFailureCritical)
	setInt(&t.SuccessThreshold, config.DefaultSuccessThreshold)
	setInt(&t.CertWarningDays, config.DefaultCertWarningDays)
	setInt(&t.CertCriticalDays, config.DefaultCertCriticalDays)
	if t.LatencyWarning <= 0 {
		t.LatencyWarning = config.Duration(config.DefaultLatencyWarning)
	}
	if t.LatencyCritical <= 0 {
		t.LatencyCritical = config.Duration(config.DefaultLatencyCritical)
	}
	return t
}

func flappingCfg(f config.Flapping) config.Flapping {
	setInt(&f.MaxTransitions, config.DefaultMaxTransitions)
	if f.Window <= 0 {
		f.Window = config.Duration(config.DefaultFlappingWindow)
	}
	return f
}

func setInt(v *int, def int) {
	if *v <= 0 {
		*v = def
	}
}

// components lists the stored component results in their stored (config)
// order, then configured components that have no result yet.
func components(r health.Record, in config.Integration, th config.Thresholds, never bool) []Component {
	warn := ms(th.LatencyWarning.D())
	out := []Component{}
	have := map[string]bool{}
	for _, c := range r.Components {
		have[c.Name] = true
		v := Component{
			Name:         c.Name,
			Critical:     c.Critical,
			Score:        c.Score,
			LatencyMs:    c.LatencyMs,
			LastError:    c.Error,
			CertDaysLeft: c.CertDaysLeft,
			Metrics:      c.Metrics,
			Status:       StatusHealthy,
		}
		switch {
		case !c.Healthy:
			v.Status = StatusUnhealthy
			msg := c.Error
			if msg == "" {
				msg = "unhealthy"
			}
			v.Issues = append(v.Issues, msg)
		case c.LatencyMs > warn:
			v.Status = StatusSlow
			v.Issues = append(v.Issues, fmt.Sprintf("latency %s over warning %s", fmtMs(c.LatencyMs), fmtMs(ms(th.LatencyWarning.D()))))
		}
		if d := c.CertDaysLeft; d != nil && *d <= float64(th.CertWarningDays) {
			v.Issues = append(v.Issues, fmt.Sprintf("certificate expires in %s days", fmtNum(math.Floor(*d))))
		}
		out = append(out, v)
	}
	for _, c := range in.Components {
		if !have[c.Name] {
			s := Component{Name: c.Name, Critical: c.IsCritical(), Status: StatusNeverChecked}
			if !never {
				s.Issues = []string{"no result yet (added since the last check)"}
			}
			out = append(out, s)
		}
	}
	return out
}

func stateMachine(r health.Record, state health.State, now time.Time) StateMachine {
	sm := StateMachine{Current: state, Previous: []health.State{}, Transitions: len(r.History)}
	if n := len(r.History); n > 0 {
		last := r.History[n-1].At.UTC()
		sm.Since = &last
		secs := math.Max(now.Sub(last).Seconds(), 0)
		sm.TimeInStateSeconds = &secs
		from := max(n-maxPrevious, 0)
		for _, t := range r.History[from:] {
			sm.Previous = append(sm.Previous, t.From)
		}
	}
	return sm
}

// metrics pairs every extracted figure with the thresholds its component's
// config declares, sorted by component (stored order) then name.
func metrics(r health.Record, in config.Integration) []Metric {
	defs := map[string]config.ExtractedMetric{}
	for _, c := range in.Components {
		if c.HTTP == nil {
			continue
		}
		for _, m := range c.HTTP.Metrics {
			defs[c.Name+"\x00"+m.Name] = m
		}
	}
	out := []Metric{}
	for _, c := range r.Components {
		names := make([]string, 0, len(c.Metrics))
		for n := range c.Metrics {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			d := defs[c.Name+"\x00"+n]
			v := c.Metrics[n]
			// Exceeding a limit counts, not reaching it: the state machine
			// (health.Judge) and the body-metric alarms judge so.
			out = append(out, Metric{Component: c.Name, Name: n, Value: v, Unit: unitOf(d.Unit), Warning: d.Warning, Critical: d.Critical,
				Level: levelUp(v, d.Warning, d.Critical, false)})
		}
	}
	return out
}

func metricIssue(m Metric) string {
	limit := m.Warning
	if m.Level == LevelCritical {
		limit = m.Critical
	}
	return fmt.Sprintf("%s %s above %s %s", m.Name, fmtNum(m.Value), m.Level, fmtNum(*limit))
}

// sloOf is the integration's objective; records with no config (removed
// from the document) are judged against the default.
func sloOf(in config.Integration) float64 {
	if in.SLO == 0 {
		return config.DefaultSLO
	}
	return in.SLO
}

func floorPercent(ratio float64) float64 {
	// The epsilon absorbs float error (0.999*100000 is 99899.99…), so only a
	// real shortfall rounds down.
	return math.Floor(ratio*100*1000+1e-6) / 1000
}

func recovery(r health.Record, in config.Integration, fl config.Flapping, now time.Time) Recovery {
	rs := r.Recovery
	v := Recovery{
		Configured:     in.Recovery != nil,
		Status:         RecoveryNotConfigured,
		IncidentID:     rs.IncidentID,
		ExecutionName:  rs.ExecutionName,
		Attempt:        rs.Attempt,
		DecidedAt:      timePtr(rs.DecidedAt),
		StartedAt:      timePtr(rs.StartedAt),
		LastOutcome:    rs.LastOutcome,
		LastAttemptAt:  timePtr(rs.LastAttemptAt),
		LastDurationMs: rs.LastDurationMs,
		LastError:      rs.LastError,
		CooldownUntil:  timePtr(rs.CooldownUntil),
		StartFailures:  rs.StartFailures,
	}
	if rc := in.Recovery; rc != nil {
		switch {
		case rc.Lambda != nil:
			v.Action = "lambda " + rc.Lambda.FunctionName
		case rc.Webhook != nil:
			v.Action = "webhook"
		}
		v.MaxAttempts = rc.MaxAttempts
		for n := 1; n < rc.MaxAttempts; n++ {
			v.BackoffSeconds = append(v.BackoffSeconds, health.NextDelay(*rc, n, 1).Seconds())
		}
		v.Cooldown = fmtDur(rc.Cooldown.D())
	}
	switch {
	case rs.InProgress:
		v.Status = RecoveryInProgress
	case rs.Pending:
		v.Status = RecoveryPending
	case now.Before(rs.CooldownUntil):
		v.Status = RecoveryCooldown
	case v.Configured:
		v.Status = RecoveryArmed
	}
	switch {
	case r.InMaintenance:
		v.Held = "the maintenance window"
	case r.Flapping:
		v.Held = fmt.Sprintf("flapping (more than %d transitions in %s)", fl.MaxTransitions, fmtDur(fl.Window.D()))
	}
	return v
}

func latency(r health.Record, now time.Time, o options) []Target {
	out := []Target{}

	hc := Target{Name: "health_check", TargetMs: ms(TargetHealthCheck), Level: LevelUnknown, Basis: "p95 of recent check durations"}
	if n := len(r.Availability.LatencyMs); n > 0 {
		p := r.Availability.LatencyPercentile(95)
		hc.ValueMs, hc.Level = &p, meets(p, hc.TargetMs)
		hc.Basis = fmt.Sprintf("p95 of the last %d check durations", n)
	}
	out = append(out, hc)

	ini := Target{Name: "initialization", TargetMs: ms(TargetInitialization), Level: LevelUnknown, Basis: "no INITIALIZING → ACTIVE in the recorded history"}
	if d, ok := initialization(r.History); ok {
		v := ms(d)
		ini.ValueMs, ini.Level = &v, meets(v, ini.TargetMs)
		ini.Basis = "first check to ACTIVE, last initialization"
		if d == 0 {
			ini.Basis = "ACTIVE from the first check"
		}
	}
	out = append(out, ini)

	rec := Target{Name: "recovery", TargetMs: ms(TargetRecovery), Level: LevelUnknown, Basis: "no recovery recorded"}
	rs := r.Recovery
	switch {
	case !rs.DecidedAt.IsZero() && (rs.InProgress || rs.Pending):
		v := ms(now.Sub(rs.DecidedAt))
		rec.ValueMs, rec.Level = &v, meets(v, rec.TargetMs)
		rec.Basis = "decided to now, still running"
	case !rs.DecidedAt.IsZero() && !rs.LastAttemptAt.IsZero() && rs.LastOutcome == health.RecoverySucceeded:
		v := ms(rs.LastAttemptAt.Sub(rs.DecidedAt))
		rec.ValueMs, rec.Level = &v, meets(v, rec.TargetMs)
		rec.Basis = "decided to healthy, last recovery"
	case !rs.DecidedAt.IsZero() && !rs.LastAttemptAt.IsZero():
		v := ms(rs.LastAttemptAt.Sub(rs.DecidedAt))
		rec.ValueMs, rec.Level = &v, LevelCritical
		rec.Basis = fmt.Sprintf("decided to last attempt, last recovery %s without recovering", rs.LastOutcome)
	}
	out = append(out, rec)

	sq := Target{Name: "status_query", TargetMs: ms(TargetStatusQuery), Level: LevelUnknown, Basis: "not measured (rendered outside the Status function)"}
	if o.statusQuery != nil {
		v := ms(*o.statusQuery)
		sq.ValueMs, sq.Level = &v, meets(v, sq.TargetMs)
		sq.Basis = "this request, measured by the Status function"
	}
	return append(out, sq)
}

func meets(v, target float64) string {
	if v < target {
		return LevelOK
	}
	return LevelCritical
}

// initialization is the time from the last entry into INITIALIZING to the
// ACTIVE that ended it, when both are in the history.
func initialization(hist []health.Transition) (time.Duration, bool) {
	for i := len(hist) - 1; i >= 0; i-- {
		t := hist[i]
		if t.From != health.Initializing || t.To != health.Active {
			continue
		}
		for j := i; j >= 0; j-- {
			if hist[j].To == health.Initializing {
				return t.At.Sub(hist[j].At), true
			}
		}
		return 0, false
	}
	return 0, false
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	return timePtr(*t)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fmtNum prints a figure with at most two decimals and no trailing zeros.
func fmtNum(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}

// fmtMs prints milliseconds: "230 ms" below a second, "1.8 s" above.
func fmtMs(v float64) string {
	switch {
	case v > 0 && v < 1:
		return "<1 ms"
	case v < 1000:
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmtNum(math.Round(v/100)/10) + " s"
}

// fmtDur prints a duration to the second, largest two units: "15m",
// "2h 5m", "3d 4h", "42s".
func fmtDur(d time.Duration) string {
	if d < time.Second {
		if d <= 0 {
			return "0s"
		}
		return fmtMs(ms(d))
	}
	d = d.Round(time.Second)
	units := []struct {
		n    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}}
	var parts []string
	for _, u := range units {
		if q := d / u.n; q > 0 {
			parts = append(parts, fmt.Sprintf("%d%s", q, u.name))
			d -= q * u.n
		} else if len(parts) > 0 {
			break
		}
		if len(parts) == 2 {
			break
		}
	}
	return strings.Join(parts, " ")
}
