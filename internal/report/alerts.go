package report

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
)

// alerts is the live state of every alert the integration has: the check
// thresholds, each configured body metric with a limit (judged by metrics,
// whose rows ms are), the SLO burn and, with recovery configured, its
// exhaustion.
func alerts(r health.Record, in config.Integration, th config.Thresholds, ms []Metric, a Availability, state health.State, now time.Time) []Alert {
	out := []Alert{failuresAlert(r, th), latencyAlert(r, th), certAlert(r, th)}
	out = append(out, metricAlerts(in, ms)...)
	out = append(out, burnAlert(a.Burn))
	if in.Recovery != nil {
		out = append(out, recoveryAlert(r.Recovery, in.Recovery, state, now))
	}
	return out
}

func failuresAlert(r health.Record, th config.Thresholds) Alert {
	fails := float64(r.ConsecutiveFailures)
	warn, crit := float64(th.FailureWarning), float64(th.FailureCritical)
	return Alert{Name: AlertConsecutiveFailures, Warning: &warn, Critical: &crit, Current: &fails, Level: levelUp(fails, &warn, &crit, true)}
}

func latencyAlert(r health.Record, th config.Thresholds) Alert {
	warn, crit := ms(th.LatencyWarning.D()), ms(th.LatencyCritical.D())
	lat := Alert{Name: AlertLatency, Warning: &warn, Critical: &crit, Level: LevelUnknown}
	for _, c := range r.Components {
		if c.Healthy && (lat.Current == nil || c.LatencyMs > *lat.Current) {
			v := c.LatencyMs
			lat.Current, lat.Subject = &v, c.Name
		}
	}
	if lat.Current != nil {
		lat.Level = levelUp(*lat.Current, &warn, &crit, false)
	}
	return lat
}

func certAlert(r health.Record, th config.Thresholds) Alert {
	warn, crit := float64(th.CertWarningDays), float64(th.CertCriticalDays)
	cert := Alert{Name: AlertCertDays, Warning: &warn, Critical: &crit, Level: LevelUnknown}
	for _, c := range r.Components {
		if c.CertDaysLeft != nil && (cert.Current == nil || *c.CertDaysLeft < *cert.Current) {
			v := math.Floor(*c.CertDaysLeft)
			cert.Current, cert.Subject = &v, c.Name
		}
	}
	if cert.Current != nil {
		switch {
		case *cert.Current <= crit:
			cert.Level = LevelCritical
		case *cert.Current <= warn:
			cert.Level = LevelWarning
		default:
			cert.Level = LevelOK
		}
	}
	return cert
}

// metricAlerts has one row per configured body metric with a warning or a
// critical limit, in config order, valued from the extracted figures ms; a
// metric not extracted yet has no data.
func metricAlerts(in config.Integration, ms []Metric) []Alert {
	var out []Alert
	for _, c := range in.Components {
		if c.HTTP == nil {
			continue
		}
		for _, d := range c.HTTP.Metrics {
			if d.Warning == nil && d.Critical == nil {
				continue
			}
			al := Alert{Name: AlertBodyMetric, Metric: d.Name, Unit: unitOf(d.Unit), Warning: d.Warning, Critical: d.Critical, Subject: c.Name, Level: LevelUnknown}
			for _, m := range ms {
				if m.Component == c.Name && m.Name == d.Name {
					v := m.Value
					al.Current, al.Level = &v, m.Level
				}
			}
			out = append(out, al)
		}
	}
	return out
}

// burnAlert is the SLO burn-rate alert: the slow rule warns, the fast rule
// pages. Current is the worst rule's burn, the lesser of its two windows'
// rates (a rule needs both); the level also needs the rule's minimum of
// failed checks, so a single failure never shows as firing.
func burnAlert(b Burn) Alert {
	al := Alert{Name: AlertSLOBurn, Level: LevelUnknown}
	var parts []string
	for _, r := range b.Rules {
		rate := r.Rate
		switch r.Name {
		case health.FastBurn.Name:
			al.Critical = &rate
		case health.SlowBurn.Name:
			al.Warning = &rate
		}
		cur := math.Min(r.Long.Rate, r.Short.Rate)
		if al.Current == nil || cur > *al.Current {
			al.Current = &cur
		}
		state := "not firing"
		switch {
		case r.Firing:
			state = "firing"
		case cur >= r.Rate && r.Long.Failed < r.MinFailed:
			state = fmt.Sprintf("not firing: fewer than %d failed", r.MinFailed)
		}
		if r.Long.Checks == 0 {
			parts = append(parts, fmt.Sprintf("%s: no checks in %s", r.Name, r.Long.Window))
			continue
		}
		al.Level = LevelOK
		parts = append(parts, fmt.Sprintf("%s: %s %s×, %s %s× with %d of %d checks failed (%s)",
			r.Name, r.Long.Window, fmtNum(r.Long.Rate), r.Short.Window, fmtNum(r.Short.Rate), r.Long.Failed, r.Long.Checks, state))
	}
	switch b.Level {
	case BurnFast:
		al.Level = LevelCritical
	case BurnSlow:
		al.Level = LevelWarning
	}
	if al.Level == LevelUnknown {
		al.Current = nil
	}
	al.Detail = strings.Join(parts, "; ")
	return al
}

// recoveryAlert is critical while the integration is not ACTIVE and recovery
// cannot help it: the last incident exhausted its attempts (no new one is
// decided until the cooldown ends), or a cooldown runs after one that ended
// otherwise. Once ACTIVE again the past incident is no alert.
func recoveryAlert(rs health.RecoveryStatus, rc *config.Recovery, state health.State, now time.Time) Alert {
	al := Alert{Name: AlertRecoveryExhausted, Level: LevelOK}
	cooling := now.Before(rs.CooldownUntil)
	exhausted := rs.LastOutcome == health.RecoveryExhausted
	if state != health.Active && state != health.Uninitialized && (exhausted || cooling) {
		al.Level = LevelCritical
	}
	switch {
	case rs.InProgress:
		al.Detail = fmt.Sprintf("in progress, attempt %d of %d", rs.Attempt, rc.MaxAttempts)
	case rs.Pending:
		al.Detail = "decided, not started yet"
	case rs.LastOutcome != "":
		al.Detail = "last recovery " + rs.LastOutcome
		if !rs.LastAttemptAt.IsZero() {
			al.Detail += " at " + fmtTime(rs.LastAttemptAt)
		}
	default:
		al.Detail = "armed, never needed"
	}
	if cooling {
		al.Detail += fmt.Sprintf("; cooldown %s left", fmtDur(rs.CooldownUntil.Sub(now)))
	}
	return al
}

// levelUp grades a value that is bad when high against optional limits;
// inclusive means reaching a limit already counts (failures), otherwise it
// must be exceeded (latency and body metrics, as the state machine and the
// alarms judge them).
func levelUp(v float64, warn, crit *float64, inclusive bool) string {
	over := func(limit *float64) bool {
		if limit == nil {
			return false
		}
		if inclusive {
			return v >= *limit
		}
		return v > *limit
	}
	switch {
	case over(crit):
		return LevelCritical
	case over(warn):
		return LevelWarning
	}
	return LevelOK
}

// unitOf is a metric's unit as the view shows it: none for the default.
func unitOf(u string) string {
	if u == config.DefaultUnit {
		return ""
	}
	return u
}
