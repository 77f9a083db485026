package report

import (
	"fmt"
	"io"
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
	m.line("Generated %s · %s · default SLO %s %%", fmtTime(rep.GeneratedAt), plural(len(rep.Integrations), "integration"), fmtNum(rep.SLOPercent))
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
	m.metrics(in)
	m.alerts(in)
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
	overall := fmt.Sprintf("**Overall health: %s** — score %.1f / 100, %d of %s healthy", in.State, in.Score, healthy, plural(len(in.Components), "component"))
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
	m.row("recovery_attempts", strconv.Itoa(c.RecoveryAttempts))
	m.row("successful_recoveries", strconv.Itoa(c.SuccessfulRecoveries))
	m.row("total_recoveries", strconv.Itoa(c.TotalRecoveries))
	m.row("current_uptime_start", optTime(c.CurrentUptimeStart))
	m.row("uptime_seconds", fmt.Sprintf("%.0f", c.UptimeSeconds))
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
		val := fmtNum(x.Value)
		u, ok := unitSymbols[x.Unit]
		if !ok {
			u = x.Unit
		}
		if u != "" {
			val += " " + u
		}
		m.row(inert(x.Component), inert(x.Name), val, optNum(x.Warning), optNum(x.Critical), levelText(x.Level))
	}
	m.line("")
}

func (m *md) alerts(in Integration) {
	m.line("### Alert thresholds")
	m.line("")
	m.line("| Alert | Warning | Critical | Current | Status |")
	m.line("|---|---|---|---|---|")
	for _, a := range in.Alerts {
		var label, warn, crit, cur string
		switch a.Name {
		case "consecutive_failures":
			label, warn, crit = "Consecutive failures", "≥ "+fmtNum(a.Warning), "≥ "+fmtNum(a.Critical)
			if a.Current != nil {
				cur = fmtNum(*a.Current)
			}
		case "latency_ms":
			label, warn, crit = "Component latency (slowest healthy)", "> "+fmtMs(a.Warning), "> "+fmtMs(a.Critical)
			if a.Current != nil {
				cur = fmtMs(*a.Current)
			}
		case "cert_days_left":
			label, warn, crit = "Certificate days left (soonest)", "≤ "+fmtNum(a.Warning), "≤ "+fmtNum(a.Critical)
			if a.Current != nil {
				cur = fmtNum(*a.Current)
			}
		}
		if a.Subject != "" {
			cur += " (" + a.Subject + ")"
		}
		m.row(label, warn, crit, dash(cur), levelText(a.Level))
	}
	m.line("")
}

func (m *md) availability(in Integration) {
	a := in.Availability
	m.line("### Availability (SLO %s %%)", fmtNum(a.SLOPercent))
	m.line("")
	m.line("| Window | Availability | Checks | SLO |")
	m.line("|---|---:|---:|---|")
	for _, w := range a.Windows {
		pct, slo := "—", "no data"
		if w.Percent != nil {
			pct = fmtPct(*w.Percent) + " %"
			slo = "met"
			if !*w.MeetsSLO {
				slo = "**below**"
			}
		}
		m.row(windowLabel(w.Window), pct, strconv.Itoa(w.Checks), slo)
	}
	m.line("")
	if a.Samples > 0 {
		m.line("Check duration p95 %s, p99 %s (last %s).", fmtMs(a.P95Ms), fmtMs(a.P99Ms), plural(a.Samples, "check"))
	} else {
		m.line("Check duration p95 —, p99 — (no checks recorded).")
	}
	m.line("")
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

func windowLabel(w string) string {
	switch w {
	case "1h":
		return "1 h"
	case "24h":
		return "24 h"
	case "30d":
		return "30 d"
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

func optNum(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmtNum(*v)
}

// fmtPct prints a percentage already floored to three decimals.
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
