// Package report renders Vigil's status and health report (SPEC §7) from
// stored records and the configuration. It is pure: no I/O but the writer it
// is given, and the same inputs with the same now give byte-identical output.
//
// JSON builds the view; Markdown renders the same view as the health report,
// so both formats always agree. Nothing from probe or webhook headers, URLs or
// secret references is ever copied into the view.
package report

import (
	"cmp"
	"slices"
	"time"

	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
)

// Latency targets of the reference report.
const (
	TargetHealthCheck    = time.Second            // p95 of recent check durations
	TargetInitialization = 30 * time.Second       // INITIALIZING → ACTIVE
	TargetRecovery       = 60 * time.Second       // recovery decided → healthy again
	TargetStatusQuery    = 500 * time.Millisecond // this report, measured by its caller
)

// Levels of an alert, metric or target.
const (
	LevelOK       = "ok"
	LevelWarning  = "warning"
	LevelCritical = "critical"
	LevelUnknown  = "no data"
)

// Component statuses in the view.
const (
	StatusHealthy      = "healthy"
	StatusSlow         = "slow"
	StatusUnhealthy    = "unhealthy"
	StatusNeverChecked = "never checked"
)

// Recovery statuses in the view.
const (
	RecoveryNotConfigured = "not configured"
	RecoveryArmed         = "armed"
	RecoveryPending       = "pending"
	RecoveryInProgress    = "in progress"
	RecoveryCooldown      = "cooldown"
)

// CheckInterval is the schedule of the checks: the template's EventBridge
// Scheduler runs rate(1 minute). The report derives the next check and the
// downtime estimate from it; it cannot see the deployed schedule.
const CheckInterval = time.Minute

// Burn levels in the view (health.BurnNone, BurnSlow, BurnFast).
const (
	BurnNone = "none"
	BurnSlow = "slow"
	BurnFast = "fast"
)

// Option tunes JSON and Markdown.
type Option func(*options)

type options struct {
	statusQuery *time.Duration
	unreadable  []Unreadable
}

// WithStatusQuery records how long the caller (the Status function) took to
// read the records, so the report can judge it against TargetStatusQuery.
// Without it the status-query target reads "not measured".
func WithStatusQuery(d time.Duration) Option {
	return func(o *options) { o.statusQuery = &d }
}

// WithUnreadable names stored records the caller could not read (a
// malformed item), with why. The report shows them in a note of their own
// instead of an integration: a configured integration among them is not
// shown as never checked, which would be false. Each name and reason is cut
// to a bounded size and at most MaxUnreadable are listed.
func WithUnreadable(items []Unreadable) Option {
	return func(o *options) { o.unreadable = append(o.unreadable, items...) }
}

// Bounds of the unreadable-records note.
const (
	// MaxUnreadable is the most unreadable records the report names; the
	// rest are counted in Report.UnreadableOmitted.
	MaxUnreadable = 50
	// maxUnreadableError bounds the reason given for each.
	maxUnreadableError = bound.Cause
)

// Unreadable is a stored record that could not be read, and why.
type Unreadable struct {
	Integration string `json:"integration"`
	Error       string `json:"error"`
}

// Report is the JSON view of every integration, sorted by name.
type Report struct {
	GeneratedAt time.Time `json:"generated_at"`
	// SLOPercent is the default objective; each integration's availability
	// carries the one it is judged against.
	SLOPercent    float64       `json:"slo_percent"`
	StatusQueryMs *float64      `json:"status_query_ms,omitempty"`
	Integrations  []Integration `json:"integrations"`
	// Unreadable names the stored records that could not be read, sorted by
	// name (at most MaxUnreadable; UnreadableOmitted counts the rest). The
	// integrations listed are read in full; these are in none of them.
	// Absent when every record was read.
	Unreadable        []Unreadable `json:"unreadable,omitempty"`
	UnreadableOmitted int          `json:"unreadable_omitted,omitempty"`
}

// Integration is the view of one integration.
type Integration struct {
	Name string `json:"name"`
	// Configured is false for a stored record whose integration is no longer
	// in the configuration; its thresholds are then the defaults.
	Configured   bool         `json:"configured"`
	NeverChecked bool         `json:"never_checked"`
	State        health.State `json:"state"`
	Score        float64      `json:"score"`
	// Grade is the label of the score (see GradeOf); empty when never checked.
	Grade           string              `json:"grade,omitempty"`
	Flapping        bool                `json:"flapping"`
	InMaintenance   bool                `json:"in_maintenance"`
	Components      []Component         `json:"components"`
	StateMachine    StateMachine        `json:"state_machine"`
	Counters        Counters            `json:"counters"`
	Schedule        Schedule            `json:"schedule"`
	History         []health.Transition `json:"history"`
	Latency         []Target            `json:"latency_targets"`
	Metrics         []Metric            `json:"metrics"`
	Alerts          []Alert             `json:"alerts"`
	Availability    Availability        `json:"availability"`
	Recovery        Recovery            `json:"recovery"`
	Recommendations []string            `json:"recommendations"`
	// Regions is what each probing region saw at the last tick, when
	// several probe; omitted with one.
	Regions []health.RegionView `json:"regions,omitempty"`
}

// Component is the last observed result of one component.
type Component struct {
	Name         string             `json:"name"`
	Status       string             `json:"status"` // healthy | slow | unhealthy | never checked
	Critical     bool               `json:"critical"`
	Score        float64            `json:"score"`
	LatencyMs    float64            `json:"latency_ms"`
	LastError    string             `json:"last_error,omitempty"`
	CertDaysLeft *float64           `json:"cert_days_left,omitempty"`
	Metrics      map[string]float64 `json:"metrics,omitempty"`
	Issues       []string           `json:"issues,omitempty"`
}

// StateMachine summarises the integration's state history.
type StateMachine struct {
	Current health.State `json:"current"`
	// Since is the time of the last transition; TimeInStateSeconds runs from it.
	Since              *time.Time     `json:"since,omitempty"`
	TimeInStateSeconds *float64       `json:"time_in_state_seconds,omitempty"`
	Previous           []health.State `json:"previous_states"`
	// Transitions counts the transitions kept in the record (the last
	// health.HistoryLen; older ones are in the history items).
	Transitions int `json:"transitions"`
}

// Counters are the lifecycle counters, named as the reference report names them.
type Counters struct {
	HealthChecksPerformed     int        `json:"health_checks_performed"`
	TotalInitializations      int        `json:"total_initializations"`
	SuccessfulInitializations int        `json:"successful_initializations"`
	FailedInitializations     int        `json:"failed_initializations"`
	RecoveryAttempts          int        `json:"recovery_attempts"`
	SuccessfulRecoveries      int        `json:"successful_recoveries"`
	TotalRecoveries           int        `json:"total_recoveries"`
	CurrentUptimeStart        *time.Time `json:"current_uptime_start,omitempty"`
	// UptimeSeconds runs from CurrentUptimeStart to the report time while
	// ACTIVE or DEGRADED; the stored figure dates from the last write.
	UptimeSeconds        float64    `json:"uptime_seconds"`
	ConsecutiveFailures  int        `json:"consecutive_failures"`
	ConsecutiveSuccesses int        `json:"consecutive_successes"`
	LastHealthCheck      *time.Time `json:"last_health_check,omitempty"`
	ErrorMessage         string     `json:"error_message,omitempty"`
	StaleTicks           int        `json:"stale_ticks"`
	// Inconclusive is why the last check judged nothing (a fault on the
	// checker's side); InconclusiveChecks counts such checks.
	Inconclusive       string `json:"inconclusive,omitempty"`
	InconclusiveChecks int    `json:"inconclusive_checks"`
	// Success rates in percent, floored to three decimals; null when
	// nothing was attempted.
	InitializationSuccessPercent *float64 `json:"initialization_success_percent"`
	RecoverySuccessPercent       *float64 `json:"recovery_success_percent"`
}

// Schedule is when the integration was and will be checked.
type Schedule struct {
	IntervalSeconds float64 `json:"interval_seconds"`
	// NextCheck is the last check plus CheckInterval; null when never checked.
	NextCheck *time.Time `json:"next_check"`
	// Overdue: a whole interval passed after NextCheck without a check.
	Overdue bool `json:"overdue"`
}

// Target is one latency figure against its target.
type Target struct {
	Name     string   `json:"name"` // health_check | initialization | recovery | status_query
	TargetMs float64  `json:"target_ms"`
	ValueMs  *float64 `json:"value_ms,omitempty"`
	Level    string   `json:"level"` // ok | critical | no data
	Basis    string   `json:"basis"`
}

// Metric is one figure extracted from a component's body.
type Metric struct {
	Component string   `json:"component"`
	Name      string   `json:"name"`
	Value     float64  `json:"value"`
	Unit      string   `json:"unit,omitempty"`
	Warning   *float64 `json:"warning,omitempty"`
	Critical  *float64 `json:"critical,omitempty"`
	Level     string   `json:"level"`
}

// Alert names.
const (
	AlertConsecutiveFailures = "consecutive_failures"
	AlertLatency             = "latency_ms"
	AlertCertDays            = "cert_days_left"
	AlertBodyMetric          = "body_metric"        // one per configured metric with a threshold
	AlertSLOBurn             = "slo_burn"           // warning: slow burn, critical: fast burn
	AlertRecoveryExhausted   = "recovery_exhausted" // only with recovery configured
)

// Alert is one alarm threshold with the current value it watches. A missing
// Warning or Critical is a level the alert does not have.
type Alert struct {
	Name     string   `json:"name"`
	Metric   string   `json:"metric,omitempty"` // body_metric: the metric's name
	Unit     string   `json:"unit,omitempty"`
	Warning  *float64 `json:"warning,omitempty"`
	Critical *float64 `json:"critical,omitempty"`
	Current  *float64 `json:"current,omitempty"`
	Subject  string   `json:"subject,omitempty"` // the component the current value comes from
	Level    string   `json:"level"`
	Detail   string   `json:"detail,omitempty"` // what the current value means, when a number cannot say it
}

// Availability is the share of healthy checks per window against the SLO.
type Availability struct {
	SLOPercent float64  `json:"slo_percent"`
	Windows    []Window `json:"windows"`
	// Check durations: the last Samples checks (at most health.LatencySamples).
	AverageMs float64 `json:"average_ms"`
	P95Ms     float64 `json:"p95_ms"`
	P99Ms     float64 `json:"p99_ms"`
	Samples   int     `json:"samples"`
	// SLOBufferPoints is the 30-day availability minus the SLO, in
	// percentage points (negative below it); null without checks.
	SLOBufferPoints *float64    `json:"slo_buffer_points"`
	ErrorBudget     ErrorBudget `json:"error_budget"`
	Burn            Burn        `json:"burn"`
}

// Window is one availability window. Percent is floored to three decimals,
// so a window is never shown as 100 % while a check failed in it.
type Window struct {
	Window   string   `json:"window"` // 1h | 24h | 30d
	Percent  *float64 `json:"percent,omitempty"`
	Checks   int      `json:"checks"`
	Failed   int      `json:"failed"`
	MeetsSLO *bool    `json:"meets_slo,omitempty"`
	// EstimatedDowntimeSeconds is Failed × CheckInterval: time not ACTIVE,
	// to the resolution of one check a minute.
	EstimatedDowntimeSeconds *float64 `json:"estimated_downtime_seconds,omitempty"`
}

// ErrorBudget is the share of the last 30 days' checks the SLO allows to
// fail, and what is left of it. The nullable fields are null without checks.
type ErrorBudget struct {
	BudgetPercent       float64  `json:"budget_percent"` // 100 − SLO
	Checks              int      `json:"checks"`
	Failed              int      `json:"failed"`
	AllowedFailedChecks *int     `json:"allowed_failed_checks"` // of Checks, rounded down
	FailedChecksLeft    *int     `json:"failed_checks_left"`    // negative when overspent
	LeftPercent         *float64 `json:"left_percent"`          // 100 untouched, 0 spent, below 0 overspent
}

// Burn is how fast the error budget is being spent, judged by the
// multiwindow rules of health.Availability.Burn.
type Burn struct {
	Level string     `json:"level"` // none | slow | fast
	Rules []BurnRule `json:"rules"`
}

// BurnRule is one burn-rate rule as judged now: it fires when both windows
// burn at least Rate times the sustainable pace and the long window holds at
// least MinFailed failed checks.
type BurnRule struct {
	Name      string     `json:"name"`     // fast | slow
	Severity  string     `json:"severity"` // fast: critical (pages), slow: warning
	Rate      float64    `json:"rate"`
	MinFailed int        `json:"min_failed"`
	Long      BurnWindow `json:"long"`
	Short     BurnWindow `json:"short"`
	Firing    bool       `json:"firing"`
}

// BurnWindow is one window of a burn rule. Rate is the error rate over the
// budget, rounded to two decimals: 1 spends the 30-day budget in 30 days.
type BurnWindow struct {
	Window string  `json:"window"` // 5m | 30m | 1h | 6h
	Checks int     `json:"checks"`
	Failed int     `json:"failed"`
	Rate   float64 `json:"rate"`
}

// Recovery is the recovery bookkeeping and what it means now.
type Recovery struct {
	Configured     bool       `json:"configured"`
	Action         string     `json:"action,omitempty"` // webhook | lambda <name>
	Status         string     `json:"status"`
	Held           string     `json:"held,omitempty"` // why a due recovery would not start
	MaxAttempts    int        `json:"max_attempts,omitempty"`
	BackoffSeconds []float64  `json:"backoff_seconds,omitempty"`
	Cooldown       string     `json:"cooldown,omitempty"`
	IncidentID     string     `json:"incident_id,omitempty"`
	ExecutionName  string     `json:"execution_name,omitempty"`
	Attempt        int        `json:"attempt"`
	DecidedAt      *time.Time `json:"decided_at,omitempty"`
	StartedAt      *time.Time `json:"started_at,omitempty"`
	LastOutcome    string     `json:"last_outcome,omitempty"`
	LastAttemptAt  *time.Time `json:"last_attempt_at,omitempty"`
	LastDurationMs float64    `json:"last_duration_ms,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	CooldownUntil  *time.Time `json:"cooldown_until,omitempty"`
	StartFailures  int        `json:"start_failures,omitempty"`
}

// JSON builds the view of recs and of every integration in doc that has no
// record (shown UNINITIALIZED, never checked), sorted by name. doc may be nil:
// stored records are then judged against the default thresholds.
func JSON(recs []health.Record, doc *config.Document, now time.Time, opts ...Option) Report {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	now = now.UTC()
	rep := Report{GeneratedAt: now, SLOPercent: config.DefaultSLO, Integrations: []Integration{}}
	if o.statusQuery != nil {
		v := ms(*o.statusQuery)
		rep.StatusQueryMs = &v
	}

	cfgs := map[string]config.Integration{}
	if doc != nil {
		for _, in := range doc.Integrations {
			cfgs[in.Name] = in
		}
	}
	seen := map[string]bool{}
	// An unreadable record's integration is neither shown from a record nor
	// as never checked: the note names it.
	for _, u := range o.unreadable {
		seen[u.Integration] = true
	}
	rep.Unreadable, rep.UnreadableOmitted = unreadable(o.unreadable)
	for _, r := range recs {
		in, ok := cfgs[r.Integration]
		if !ok {
			in = config.Integration{Name: r.Integration}
		}
		seen[r.Integration] = true
		rep.Integrations = append(rep.Integrations, build(r, in, ok, now, o))
	}
	for name, in := range cfgs {
		if !seen[name] {
			r := health.Record{Integration: name, State: health.Uninitialized}
			rep.Integrations = append(rep.Integrations, build(r, in, true, now, o))
		}
	}
	slices.SortFunc(rep.Integrations, func(a, b Integration) int { return cmp.Compare(a.Name, b.Name) })
	return rep
}

// unreadable bounds the note: sorted by name, names and reasons cut, at
// most MaxUnreadable listed and the number left out.
func unreadable(items []Unreadable) ([]Unreadable, int) {
	if len(items) == 0 {
		return nil, 0
	}
	out := make([]Unreadable, 0, min(len(items), MaxUnreadable))
	sorted := slices.Clone(items)
	slices.SortStableFunc(sorted, func(a, b Unreadable) int { return cmp.Compare(a.Integration, b.Integration) })
	for _, u := range sorted[:min(len(sorted), MaxUnreadable)] {
		out = append(out, Unreadable{
			Integration: bound.Text(u.Integration, bound.Value),
			Error:       bound.Text(u.Error, maxUnreadableError),
		})
	}
	return out, len(sorted) - len(out)
}
