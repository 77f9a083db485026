package report

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
)

// maxHistoryRows bounds the state history table; the JSON view has it all.
const maxHistoryRows = 20

// Markdown writes the integration health report of recs and of every
// integration in doc without a record (see JSON, which builds the same view).
// It returns the first write error.
func Markdown(w io.Writer, recs []health.Record, doc *config.Document, now time.Time, opts ...Option) error {
	return RenderMarkdown(w, JSON(recs, doc, now, opts...))
}

// RenderMarkdown writes rep as the health report; it returns the first write
// error.
func RenderMarkdown(w io.Writer, rep Report) error {
	m := &md{w: w}
	m.line("# Integration health report")
	m.line("")
	head := fmt.Sprintf("Generated %s · %s · default SLO %s %%", fmtTime(rep.GeneratedAt), plural(len(rep.Integrations), "integration"), fmtNum(rep.SLOPercent))
	if n := len(rep.Unreadable) + rep.UnreadableOmitted; n > 0 {
		head += fmt.Sprintf(" · **%s could not be read**", plural(n, "stored record"))
	}
	m.line("%s", head)
	if len(rep.Unreadable) > 0 {
		m.line("")
		m.unreadable(rep)
	}
	if len(rep.Integrations) == 0 {
		m.line("")
		m.line("No integrations are configured or stored.")
	}
	for _, in := range rep.Integrations {
		m.line("")
		m.integration(in, rep.GeneratedAt)
	}
	return m.err
}

// unreadable is the note on the stored records that could not be read.
func (m *md) unreadable(rep Report) {
	n := len(rep.Unreadable) + rep.UnreadableOmitted
	m.line("## Unreadable records")
	m.line("")
	if n == 1 {
		m.line("1 stored record could not be read. It is left untouched and is not in this report; every integration below was read in full. Repair or delete its item (partition key `STATE`, sort key the integration's name).")
	} else {
		m.line("%d stored records could not be read. They are left untouched and are not in this report; every integration below was read in full. Repair or delete each item (partition key `STATE`, sort key the integration's name).", n)
	}
	m.line("")
	m.line("| Integration | Why it cannot be read |")
	m.line("|---|---|")
	for _, u := range rep.Unreadable {
		m.row(dash(inert(u.Integration)), inert(u.Error))
	}
	if rep.UnreadableOmitted > 0 {
		m.line("")
		m.line("… and %d more, not listed.", rep.UnreadableOmitted)
	}
}

type md struct {
	w   io.Writer
	err error
}

func (m *md) line(format string, args ...any) {
	if m.err != nil {
		return
	}
	if len(args) > 0 {
		format = fmt.Sprintf(format, args...)
	}
	_, m.err = io.WriteString(m.w, format+"\n")
}

func (m *md) row(cells ...string) {
	for i, c := range cells {
		cells[i] = cell(c)
	}
	m.line("| %s |", strings.Join(cells, " | "))
}

func (m *md) integration(in Integration, now time.Time) {
	m.line("## %s", inert(in.Name))
	m.line("")
	m.overview(in, now)
	m.stateMachine(in, now)
	m.counters(in)
	m.history(in)
	m.latency(in)
	m.regions(in)
	m.metrics(in)
	m.alerts(in)
	m.schedule(in, now)
	m.availability(in)
	m.recovery(in, now)
	m.line("### Recommendations")
	m.line("")
	for _, r := range in.Recommendations {
		m.line("- %s", inert(r))
	}
}

func (m *md) overview(in Integration, now time.Time) {
	healthy, slow := 0, 0
	for _, c := range in.Components {
		switch c.Status {
		case StatusHealthy:
			healthy++
		case StatusSlow:
			healthy++
			slow++
		}
	}
	score := fmt.Sprintf("score %.1f / 100", in.Score)
	if in.Grade != "" {
		score = fmt.Sprintf("%s (%s)", in.Grade, score)
	}
	overall := fmt.Sprintf("**Overall health: %s** — %s, %d of %s healthy", in.State, score, healthy, plural(len(in.Components), "component"))
	if slow > 0 {
		overall += fmt.Sprintf(" (%d slow)", slow)
	}
	if in.NeverChecked {
		overall = fmt.Sprintf("**Overall health: %s** — never checked, %s configured", in.State, plural(len(in.Components), "component"))
	}
	if in.Flapping {
		overall += " · **flapping**"
	}
	if in.InMaintenance {
		overall += " · **in maintenance**"
	}
	if in.Counters.Inconclusive != "" {
		overall += " · **last check inconclusive** (a fault on the checker's side)"
	}
	if !in.Configured {
		overall += " · not in the configuration"
	}
	m.line("%s", overall)
	m.line("")
	last := "never"
	if t := in.Counters.LastHealthCheck; t != nil {
		last = ago(*t, now)
	}
	m.line("| Component | Status | Score | Last check | Issues |")
	m.line("|---|---|---:|---|---|")
	for _, c := range in.Components {
		name := inert(c.Name)
		if !c.Critical {
			name += " (non-critical)"
		}
		score, when := fmt.Sprintf("%.1f", c.Score), last
		if c.Status == StatusNeverChecked {
			score, when = "—", "never"
		}
		m.row(name, c.Status, score, when, dash(inert(strings.Join(c.Issues, "; "))))
	}
	m.line("")
}

func (m *md) stateMachine(in Integration, now time.Time) {
	sm := in.StateMachine
	m.line("### State machine")
	m.line("")
	m.line("- Current state: **%s**", sm.Current)
	if sm.Since != nil {
		m.line("- Time in current state: %s (since %s)", fmtDur(now.Sub(*sm.Since)), fmtTime(*sm.Since))
	} else {
		m.line("- Time in current state: — (no transition recorded)")
	}
	prev := make([]string, len(sm.Previous))
	for i, s := range sm.Previous {
		prev[i] = string(s)
	}
	m.line("- Previous states (oldest first): %s", dash(strings.Join(prev, " → ")))
	m.line("- Transitions recorded: %d", sm.Transitions)
	m.line("")
}

func (m *md) counters(in Integration) {
	c := in.Counters
	m.line("### Lifecycle counters")
	m.line("")
	m.line("| Counter | Value |")
	m.line("|---|---|")
	m.row("health_checks_performed", strconv.Itoa(c.HealthChecksPerformed))
	m.row("total_initializations", strconv.Itoa(c.TotalInitializations))
	m.row("successful_initializations", strconv.Itoa(c.SuccessfulInitializations))
	m.row("failed_initializations", strconv.Itoa(c.FailedInitializations))
	m.row("initialization success rate", rate(c.InitializationSuccessPercent, c.SuccessfulInitializations, c.TotalInitializations))
	m.row("recovery_attempts", strconv.Itoa(c.RecoveryAttempts))
	m.row("successful_recoveries", strconv.Itoa(c.SuccessfulRecoveries))
	m.row("total_recoveries", strconv.Itoa(c.TotalRecoveries))
	m.row("recovery success rate", rate(c.RecoverySuccessPercent, c.SuccessfulRecoveries, c.TotalRecoveries))
	m.row("current_uptime_start", optTime(c.CurrentUptimeStart))
	up := fmt.Sprintf("%.0f", math.Floor(c.UptimeSeconds))
	if c.UptimeSeconds >= 1 {
		up += " (" + fmtDur(time.Duration(math.Floor(c.UptimeSeconds))*time.Second) + ")"
	}
	m.row("uptime_seconds", up)
	m.row("consecutive_failures", strconv.Itoa(c.ConsecutiveFailures))
	m.row("consecutive_successes", strconv.Itoa(c.ConsecutiveSuccesses))
	m.row("last_health_check", optTime(c.LastHealthCheck))
	m.row("error_message", dash(inert(c.ErrorMessage)))
	if c.StaleTicks > 0 {
		m.row("stale_ticks", strconv.Itoa(c.StaleTicks))
	}
	if c.InconclusiveChecks > 0 {
		m.row("inconclusive_checks", strconv.Itoa(c.InconclusiveChecks))
	}
	m.line("")
}

func (m *md) history(in Integration) {
	m.line("### State history")
	m.line("")
	if len(in.History) == 0 {
		m.line("No transitions recorded.")
		m.line("")
		return
	}
	rows := in.History
	if len(rows) > maxHistoryRows {
		m.line("Last %d of %d recorded transitions.", maxHistoryRows, len(rows))
		m.line("")
		rows = rows[len(rows)-maxHistoryRows:]
	}
	m.line("| Time | From | To | Cause |")
	m.line("|---|---|---|---|")
	for _, t := range rows {
		m.row(fmtTime(t.At), string(t.From), string(t.To), dash(inert(t.Cause)))
	}
	m.line("")
}

var targetLabels = map[string]string{
	"health_check":   "Health check (p95)",
	"initialization": "Initialization",
	"recovery":       "Recovery",
	"status_query":   "Status query",
}

func (m *md) latency(in Integration) {
	m.line("### Latency against targets")
	m.line("")
	m.line("| Measure | Target | Value | Status | Basis |")
	m.line("|---|---|---|---|---|")
	for _, t := range in.Latency {
		val := "—"
		if t.ValueMs != nil {
			val = fmtMs(*t.ValueMs)
		}
		m.row(targetLabels[t.Name], "< "+fmtMs(t.TargetMs), val, targetStatus(t.Level), t.Basis)
	}
	m.line("")
}

// regions shows each probing region's view of the last tick; nothing with
// one region.
func (m *md) regions(in Integration) {
	if len(in.Regions) == 0 {
		return
	}
	m.line("### Regions")
	m.line("")
	m.line("| Region | Slowest probe | Failing components | Counted |")
	m.line("|---|---:|---:|---|")
	for _, v := range in.Regions {
		counted := "yes"
		if v.Impaired {
			counted = "no — impaired, set aside"
		}
		m.row(inert(v.Region), fmtMs(v.LatencyMs), fmt.Sprint(v.Failing), counted)
	}
	m.line("")
}

func (m *md) metrics(in Integration) {
	m.line("### Extracted metrics")
	m.line("")
	if len(in.Metrics) == 0 {
		m.line("No figures extracted from response bodies.")
		m.line("")
		return
	}
	m.line("| Component | Metric | Value | Warning | Critical | Status |")
	m.line("|---|---|---:|---:|---:|---|")
	for _, x := range in.Metrics {
		m.row(inert(x.Component), inert(x.Name), withUnit(x.Value, x.Unit), optNum(x.Warning), optNum(x.Critical), levelText(x.Level))
	}
	m.line("")
}

func (m *md) alerts(in Integration) {
	m.line("### Alert thresholds")
	m.line("")
	m.line("Current alert status: %s", alertStatus(in))
	m.line("")
	m.line("| Alert | Warning | Critical | Current | Status |")
	m.line("|---|---|---|---|---|")
	for _, a := range in.Alerts {
		label, warn, crit, cur := alertCells(a, in)
		m.row(label, dash(warn), dash(crit), dash(cur), levelText(a.Level))
	}
	m.line("")
}

// alertCells is one row of the alert table: its label, limits and current
// value as text; "" where the alert has none.
func alertCells(a Alert, in Integration) (label, warn, crit, cur string) {
	switch a.Name {
	case AlertConsecutiveFailures:
		label, warn, crit = "Consecutive failures", limit("≥ ", a.Warning, fmtNum), limit("≥ ", a.Critical, fmtNum)
		cur = opt(a.Current, fmtNum)
	case AlertLatency:
		label, warn, crit = "Component latency (slowest healthy)", limit("> ", a.Warning, fmtMs), limit("> ", a.Critical, fmtMs)
		cur = opt(a.Current, fmtMs)
	case AlertCertDays:
		label, warn, crit = "Certificate days left (soonest)", limit("≤ ", a.Warning, fmtNum), limit("≤ ", a.Critical, fmtNum)
		cur = opt(a.Current, fmtNum)
	case AlertBodyMetric:
		unit := func(v float64) string { return withUnit(v, a.Unit) }
		label, warn, crit = fmt.Sprintf("%s (%s)", inert(a.Metric), inert(a.Subject)), limit("> ", a.Warning, unit), limit("> ", a.Critical, unit)
		return label, warn, crit, opt(a.Current, unit)
	case AlertSLOBurn:
		label = "SLO burn rate (× the budget's pace)"
		for _, r := range in.Availability.Burn.Rules {
			s := fmt.Sprintf("≥ %s× over %s and %s", fmtNum(r.Rate), windowLabel(r.Long.Window), windowLabel(r.Short.Window))
			if r.Severity == LevelCritical {
				crit = s
			} else {
				warn = s
			}
		}
		cur = burnCurrent(a, in.Availability.Burn)
	case AlertRecoveryExhausted:
		label, crit = "Recovery exhausted", fmt.Sprintf("all %s failed, or cooldown, while not ACTIVE", plural(in.Recovery.MaxAttempts, "attempt"))
		cur = inert(a.Detail)
	default:
		label = inert(a.Name)
	}
	if a.Subject != "" && cur != "" {
		cur += " (" + inert(a.Subject) + ")"
	}
	return label, warn, crit, cur
}

// burnCurrent prints the burn rate the alert watches, and why a rate over a
// rule's limit is not firing: too few failed checks to page on.
func burnCurrent(a Alert, b Burn) string {
	if a.Current == nil {
		return ""
	}
	s := fmtNum(*a.Current) + "×"
	if a.Level != LevelOK {
		return s
	}
	for _, r := range b.Rules {
		if min(r.Long.Rate, r.Short.Rate) >= r.Rate && r.Long.Failed < r.MinFailed {
			return fmt.Sprintf("%s (%s in %s; a rule needs %d)", s, plural(r.Long.Failed, "failed check"), windowLabel(r.Long.Window), r.MinFailed)
		}
	}
	return s
}

// alertNames are the short names of alerts in the status line.
var alertNames = map[string]string{
	AlertConsecutiveFailures: "consecutive failures",
	AlertLatency:             "latency",
	AlertCertDays:            "certificate expiry",
	AlertSLOBurn:             "SLO burn",
	AlertRecoveryExhausted:   "recovery exhausted",
}

// alertStatus sums the alerts up as the reference report does: ALL CLEAR,
// or how many are at each level and which.
func alertStatus(in Integration) string {
	var crit, warn []string
	for _, a := range in.Alerts {
		label := alertNames[a.Name]
		if a.Name == AlertBodyMetric {
			label = inert(a.Metric)
		}
		switch a.Level {
		case LevelCritical:
			crit = append(crit, label)
		case LevelWarning:
			warn = append(warn, label)
		}
	}
	var parts []string
	if len(crit) > 0 {
		parts = append(parts, fmt.Sprintf("**%d CRITICAL** (%s)", len(crit), strings.Join(crit, ", ")))
	}
	if len(warn) > 0 {
		parts = append(parts, fmt.Sprintf("**%d WARNING** (%s)", len(warn), strings.Join(warn, ", ")))
	}
	if len(parts) == 0 {
		return "**ALL CLEAR**"
	}
	return strings.Join(parts, ", ")
}

func (m *md) schedule(in Integration, now time.Time) {
	s := in.Schedule
	m.line("### Health check schedule")
	m.line("")
	m.line("- Interval: %s (one check a minute, the template's schedule)", fmtDur(time.Duration(s.IntervalSeconds*float64(time.Second))))
	last := "never"
	if t := in.Counters.LastHealthCheck; t != nil {
		last = fmt.Sprintf("%s (%s)", fmtTime(*t), ago(*t, now))
	}
	m.line("- Last check: %s", last)
	switch {
	case s.NextCheck == nil:
		m.line("- Next check: unknown (never checked)")
	case s.Overdue:
		m.line("- Next check: was due %s, overdue by %s — is the HealthCheck schedule running?", fmtTime(*s.NextCheck), fmtDur(now.Sub(*s.NextCheck)))
	case s.NextCheck.After(now):
		m.line("- Next check: %s (in %s)", fmtTime(*s.NextCheck), fmtDur(s.NextCheck.Sub(now)))
	default:
		m.line("- Next check: %s (due now)", fmtTime(*s.NextCheck))
	}
	checks := fmt.Sprintf("- Checks performed: %d", in.Counters.HealthChecksPerformed)
	var failed []string
	for _, w := range in.Availability.Windows {
		if w.Window != "1h" && w.Checks > 0 {
			failed = append(failed, fmt.Sprintf("%d of %d in %s", w.Failed, w.Checks, windowLabel(w.Window)))
		}
	}
	if len(failed) > 0 {
		checks += "; failed: " + strings.Join(failed, ", ")
	}
	m.line("%s", checks)
	m.line("")
}

func (m *md) availability(in Integration) {
	a := in.Availability
	m.line("### Availability (SLO %s %%)", fmtNum(a.SLOPercent))
	m.line("")
	m.line("| Window | Availability | Failed / checks | Downtime (est.) | SLO |")
	m.line("|---|---:|---:|---:|---|")
	for _, w := range a.Windows {
		pct, down, slo := "—", "—", "no data"
		if w.Percent != nil {
			pct = fmtPct(*w.Percent) + " %"
			down = fmtDur(time.Duration(*w.EstimatedDowntimeSeconds) * time.Second)
			slo = "met"
			if !*w.MeetsSLO {
				slo = "**below**"
			}
		}
		m.row(windowLabel(w.Window), pct, fmt.Sprintf("%d / %d", w.Failed, w.Checks), down, slo)
	}
	m.line("")
	m.line("Downtime is estimated: failed checks × %s, at one check a minute.", fmtDur(CheckInterval))
	m.line("")
	if a.Samples > 0 {
		m.line("Check duration: average %s, p95 %s, p99 %s (last %s).", fmtMs(a.AverageMs), fmtMs(a.P95Ms), fmtMs(a.P99Ms), plural(a.Samples, "check"))
	} else {
		m.line("Check duration: average —, p95 —, p99 — (no checks recorded).")
	}
	m.line("")
	m.sloBudget(a)
}

func (m *md) sloBudget(a Availability) {
	eb := a.ErrorBudget
	if a.SLOBufferPoints == nil || eb.LeftPercent == nil {
		m.line("- SLO buffer (30 d): — (no checks)")
		m.line("- Error budget (30 d, %s %% of checks may fail): — (no checks)", fmtPct(eb.BudgetPercent))
	} else {
		buf := *a.SLOBufferPoints
		side := "above"
		if buf < 0 {
			side = "below"
		}
		m.line("- SLO buffer (30 d): %s points %s the %s %% objective", signed(buf), side, fmtNum(a.SLOPercent))
		left := fmt.Sprintf("%s %% left — %d of %d allowed failed checks left", fmtNum(*eb.LeftPercent), *eb.FailedChecksLeft, *eb.AllowedFailedChecks)
		if *eb.LeftPercent < 0 {
			// The percentage of an overspent young budget (-99900 % after
			// one failed check of one) says less than the counts.
			left = fmt.Sprintf("**overspent** — %s against %d allowed", plural(eb.Failed, "failed check"), *eb.AllowedFailedChecks)
		}
		m.line("- Error budget (30 d, %s %% of checks may fail): %s (%d of %d checks failed)", fmtPct(eb.BudgetPercent), left, eb.Failed, eb.Checks)
	}
	m.line("")
	m.line("| Burn rule | Long window | Short window | Fires at | Status |")
	m.line("|---|---|---|---|---|")
	for _, r := range a.Burn.Rules {
		name := "Fast burn (pages)"
		if r.Severity != LevelCritical {
			name = "Slow burn (warns)"
		}
		status := "not firing"
		if r.Firing {
			status = "**FIRING**"
		}
		m.row(name, burnWindowText(r.Long), burnWindowText(r.Short),
			fmt.Sprintf("≥ %s× in both, ≥ %d failed in %s", fmtNum(r.Rate), r.MinFailed, windowLabel(r.Long.Window)), status)
	}
	m.line("")
}

func burnWindowText(w BurnWindow) string {
	if w.Checks == 0 {
		return windowLabel(w.Window) + ": no checks"
	}
	return fmt.Sprintf("%s: %s× (%d of %d failed)", windowLabel(w.Window), fmtNum(w.Rate), w.Failed, w.Checks)
}

func (m *md) recovery(in Integration, now time.Time) {
	r := in.Recovery
	m.line("### Recovery")
	m.line("")
	if !r.Configured {
		m.line("- Status: **%s**", r.Status)
	} else {
		backoff := make([]string, len(r.BackoffSeconds))
		for i, s := range r.BackoffSeconds {
			backoff[i] = fmtDur(time.Duration(s * float64(time.Second)))
		}
		m.line("- Status: **%s** — %s, up to %s, backoff %s, cooldown %s", r.Status, inert(r.Action),
			plural(r.MaxAttempts, "attempt"), dash(strings.Join(backoff, " → ")), r.Cooldown)
	}
	if r.Held != "" {
		m.line("- Held: a due recovery would not start during %s", r.Held)
	}
	if r.IncidentID != "" {
		label := "Last incident"
		if r.Status == RecoveryPending || r.Status == RecoveryInProgress {
			label = "Incident"
		}
		m.line("- %s: %s (execution %s)", label, inert(r.IncidentID), dash(inert(r.ExecutionName)))
	}
	if r.DecidedAt != nil {
		s := "- Decided: " + fmtTime(*r.DecidedAt)
		if r.StartedAt != nil {
			s += ", started " + fmtTime(*r.StartedAt)
		}
		if r.StartFailures > 0 {
			s += fmt.Sprintf(", %d failed starts", r.StartFailures)
		}
		m.line("%s", s)
	}
	if r.Attempt > 0 {
		if r.MaxAttempts > 0 {
			m.line("- Attempts: %d of %d", r.Attempt, r.MaxAttempts)
		} else {
			m.line("- Attempts: %d", r.Attempt)
		}
	}
	if r.LastOutcome != "" {
		s := "- Last outcome: " + r.LastOutcome
		if r.LastAttemptAt != nil {
			s += " at " + fmtTime(*r.LastAttemptAt)
		}
		if r.LastDurationMs > 0 {
			s += ", attempt took " + fmtMs(r.LastDurationMs)
		}
		if r.LastError != "" {
			s += " — " + inert(r.LastError)
		}
		m.line("%s", s)
	}
	if r.CooldownUntil != nil {
		state := "over"
		if now.Before(*r.CooldownUntil) {
			state = fmt.Sprintf("%s left", fmtDur(r.CooldownUntil.Sub(now)))
		}
		m.line("- Cooldown until: %s (%s)", fmtTime(*r.CooldownUntil), state)
	}
	m.line("")
}

// unitSymbols abbreviates the CloudWatch units of extracted metrics; a count
// needs no unit.
var unitSymbols = map[string]string{
	"Count": "", "Percent": "%", "Seconds": "s", "Microseconds": "µs", "Milliseconds": "ms",
	"Bytes": "B", "Kilobytes": "KB", "Megabytes": "MB", "Gigabytes": "GB", "Terabytes": "TB",
	"Bits": "bit", "Kilobits": "kbit", "Megabits": "Mbit", "Gigabits": "Gbit", "Terabits": "Tbit",
	"Bytes/Second": "B/s", "Kilobytes/Second": "KB/s", "Megabytes/Second": "MB/s", "Gigabytes/Second": "GB/s",
	"Count/Second": "/s",
}

// windowLabel spells a compact window label out: "1h" → "1 h", "5m" →
// "5 min".
func windowLabel(w string) string {
	for _, u := range []struct{ short, long string }{{"m", " min"}, {"h", " h"}, {"d", " d"}} {
		if n, ok := strings.CutSuffix(w, u.short); ok && n != "" {
			return n + u.long
		}
	}
	return w
}

func targetStatus(level string) string {
	switch level {
	case LevelOK:
		return "met"
	case LevelCritical:
		return "**missed**"
	}
	return level
}

func levelText(level string) string {
	switch level {
	case LevelOK:
		return "OK"
	case LevelWarning:
		return "**WARNING**"
	case LevelCritical:
		return "**CRITICAL**"
	}
	return level
}

// fmtTime prints t in UTC, RFC 3339 to the second.
func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func optTime(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return fmtTime(*t)
}

// limit prints an optional alert limit with its comparison; "" when the
// alert has no such level.
func limit(op string, v *float64, f func(float64) string) string {
	if v == nil {
		return ""
	}
	return op + f(*v)
}

func opt(v *float64, f func(float64) string) string {
	if v == nil {
		return ""
	}
	return f(*v)
}

// withUnit prints a body metric's figure with its unit's symbol.
func withUnit(v float64, unit string) string {
	s := fmtNum(v)
	u, ok := unitSymbols[unit]
	if !ok {
		u = unit
	}
	if u != "" {
		s += " " + u
	}
	return s
}

// rate prints a success rate with what it is of; — when nothing was tried.
func rate(p *float64, ok, total int) string {
	if p == nil {
		return "— (none yet)"
	}
	return fmt.Sprintf("%s %% (%d of %d)", fmtPct(*p), ok, total)
}

// signed prints a figure with its sign: +0.09, −1.5.
func signed(v float64) string {
	if v < 0 {
		return "−" + fmtPct(-v)
	}
	return "+" + fmtPct(v)
}

func optNum(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmtNum(*v)
}

// fmtPct prints a percentage already floored or rounded to a few decimals,
// all of them.
func fmtPct(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) }

func ago(t, now time.Time) string {
	if d := now.Sub(t); d >= time.Second {
		return fmtDur(d) + " ago"
	}
	return "just now"
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// oneLine folds a message onto one line, so a multi-line error cannot break
// the list or table it is in.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// inert makes text that came from outside — a target's error, a cause, a
// name from a stored record — render as the text it is: on one line, HTML's
// <, > and & as entities, and the Markdown characters that start a link, an
// image, code or emphasis backslash-escaped, so `<img onerror=…>` or
// `[x](javascript:…)` in a target's answer shows as written and does nothing
// where the report is rendered.
func inert(s string) string {
	s = oneLine(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\\', '`', '*', '_', '[', ']', '~':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cell makes s safe inside a table cell.
func cell(s string) string {
	return strings.ReplaceAll(oneLine(s), "|", `\|`)
}
