// Package alerting derives every integration's CloudWatch alarms and the
// stack's dashboard from the configuration document (SPEC §5), and converges
// CloudWatch to them. The plan is pure; Converge and Remove do the I/O.
//
// Alarms of integration X in stack S are named "S/X/<name>": "/" occurs in
// no stack or integration name, so "S/X/" is a prefix of X's alarms only,
// and the template's own alarms ("S/<name>", one slash) are never touched.
package alerting

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/metrics"
)

// Severities; each has its own SNS topic.
const (
	Warning  = "warning"
	Critical = "critical"
)

// CloudWatch comparison operators and missing-data treatments the plan uses.
const (
	GreaterOrEqual = "GreaterThanOrEqualToThreshold"
	Greater        = "GreaterThanThreshold"
	Less           = "LessThanThreshold"

	MissingIgnore       = "ignore"
	MissingNotBreaching = "notBreaching"
)

// Windows of the alarms, chosen for one check a minute.
const (
	// LatencyPeriod is the window of the latency percentile: 20 checks, so
	// p95 (the 19th slowest by nearest rank) lets one slow check pass.
	LatencyPeriod = 20 * 60
	// SuccessRatePeriod is the recovery success rate's window: 7 days, the
	// longest an alarm may evaluate (Period × EvaluationPeriods ≤ 604,800 s).
	// The reference's 30 days is the report's figure.
	SuccessRatePeriod = 7 * 24 * 60 * 60
	// SlowRecoveryMs is the reference's recovery-time target.
	SlowRecoveryMs = 60_000
	// MinSuccessRate is the reference's recovery success target.
	MinSuccessRate = 0.95
	// MaxNameLen is CloudWatch's limit on alarm names.
	MaxNameLen = 255
)

// Options are the stack's settings the plan is made for.
type Options struct {
	Stack     string // alarm name prefix and dashboard name; required
	Region    string // for the dashboard's widgets
	Namespace string // default metrics.DefaultNamespace (the document's wins)
	// Topics receive ALARM and OK transitions by severity; an empty ARN
	// sends that severity nowhere.
	WarningTopic, CriticalTopic string
}

// Alarm is one metric alarm as PutMetricAlarm takes it.
type Alarm struct {
	Name        string `json:"name"`
	Integration string `json:"integration"`
	Severity    string `json:"severity"`
	Description string `json:"description"`

	Namespace  string        `json:"namespace"`
	Metric     string        `json:"metric"`
	Dimensions []metrics.Dim `json:"dimensions"`
	// Stat is a statistic (Maximum, Average, Sum) or a percentile ("p95").
	Stat              string  `json:"stat"`
	Period            int32   `json:"period"`
	EvaluationPeriods int32   `json:"evaluation_periods"`
	DatapointsToAlarm int32   `json:"datapoints_to_alarm"`
	Threshold         float64 `json:"threshold"`
	Comparison        string  `json:"comparison"`
	TreatMissingData  string  `json:"treat_missing_data"`
	// ActionsEnabled is false while the integration is in a maintenance
	// window: the alarm keeps evaluating, so the dashboard stays true, but
	// notifies nobody.
	ActionsEnabled bool     `json:"actions_enabled"`
	Actions        []string `json:"actions"` // ALARM and OK actions: the severity's topic
}

// IsPercentile reports whether Stat is an extended statistic.
func (a Alarm) IsPercentile() bool { return strings.HasPrefix(a.Stat, "p") }

// Plan is what CloudWatch should hold for a document.
type Plan struct {
	Stack     string  `json:"stack"`
	Alarms    []Alarm `json:"alarms"` // sorted by name
	Dashboard string  `json:"dashboard"`
	// DashboardBody is the dashboard's JSON.
	DashboardBody string `json:"dashboard_body"`

	hash string // computed once by Build
}

// Hash identifies the plan: equal plans hash equal. The applied hash is
// recorded, so an unchanged document costs no CloudWatch request.
func (p Plan) Hash() string {
	if p.hash != "" {
		return p.hash
	}
	return p.computeHash()
}

func (p Plan) computeHash() string {
	b, err := json.Marshal(p)
	if err != nil {
		// A Plan holds only strings, numbers and bools.
		panic(fmt.Sprintf("alerting: encode plan: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// AlarmMetrics is how many metrics p's alarms read, which is what
// CloudWatch bills: one each, as no alarm uses metric math.
func (p Plan) AlarmMetrics() int { return len(p.Alarms) }

// Prefix is the name prefix of every alarm Plan owns in stack.
func Prefix(stack string) string { return stack + "/" }

// Owned reports whether the alarm named name is an integration alarm of
// stack, which a plan creates and deletes; the template's own alarms are
// "stack/<name>" and are not.
func Owned(stack, name string) bool {
	rest, ok := strings.CutPrefix(name, Prefix(stack))
	return ok && strings.Contains(rest, "/")
}

// Build derives the plan for doc at now (maintenance windows open at now
// disable their integration's alarm actions). doc must have been validated,
// so its defaults are filled.
func Build(doc *config.Document, o Options, now time.Time) Plan {
	ns := o.Namespace
	if doc.Namespace != "" {
		ns = doc.Namespace
	}
	if ns == "" {
		ns = metrics.DefaultNamespace
	}
	p := Plan{Stack: o.Stack, Dashboard: o.Stack, Alarms: []Alarm{}}
	for _, in := range doc.Integrations {
		p.Alarms = append(p.Alarms, integrationAlarms(in, o, ns, now)...)
	}
	slices.SortFunc(p.Alarms, func(a, b Alarm) int { return strings.Compare(a.Name, b.Name) })
	p.DashboardBody = dashboard(doc, o, ns)
	p.hash = p.computeHash()
	return p
}

// integrationAlarms is the reference alert table for one integration.
func integrationAlarms(in config.Integration, o Options, ns string, now time.Time) []Alarm {
	th := in.Thresholds
	dims := []metrics.Dim{{Name: metrics.DimIntegration, Value: in.Name}}
	enabled := !in.InMaintenance(now)
	mk := func(suffix, severity, desc, metric string, d []metrics.Dim, stat string, period, evals, datapoints int32, threshold float64, cmp, missing string) Alarm {
		a := Alarm{
			Name: alarmName(o.Stack, in.Name, suffix), Integration: in.Name, Severity: severity,
			Description: strings.ToUpper(severity) + ": " + desc,
			Namespace:   ns, Metric: metric, Dimensions: d, Stat: stat,
			Period: period, EvaluationPeriods: evals, DatapointsToAlarm: datapoints,
			Threshold: threshold, Comparison: cmp, TreatMissingData: missing,
			ActionsEnabled: enabled, Actions: []string{},
		}
		if t := o.topic(severity); t != "" {
			a.Actions = []string{t}
		}
		return a
	}
	// Series written on every check treat missing data as "ignore": when
	// checks stop, the stack's heartbeat alarm fires and these keep their
	// state. Event series (recovery) are missing when nothing happens,
	// which is not breaching.
	out := []Alarm{
		mk("consecutive-failures-warning", Warning, fmt.Sprintf("%s failed %d checks in a row.", in.Name, th.FailureWarning),
			metrics.MetricConsecutiveFailures, dims, "Maximum", 60, 1, 1, float64(th.FailureWarning), GreaterOrEqual, MissingIgnore),
		mk("consecutive-failures-critical", Critical, fmt.Sprintf("%s failed %d checks in a row; recovery is due.", in.Name, th.FailureCritical),
			metrics.MetricConsecutiveFailures, dims, "Maximum", 60, 1, 1, float64(th.FailureCritical), GreaterOrEqual, MissingIgnore),
		mk("latency-warning", Warning, fmt.Sprintf("%s checks take over %v at p95 over 20 minutes.", in.Name, th.LatencyWarning.D()),
			metrics.MetricCheckDuration, dims, "p95", LatencyPeriod, 1, 1, ms(th.LatencyWarning.D()), Greater, MissingIgnore),
		mk("latency-critical", Critical, fmt.Sprintf("%s checks take over %v at p95 over 20 minutes.", in.Name, th.LatencyCritical.D()),
			metrics.MetricCheckDuration, dims, "p95", LatencyPeriod, 1, 1, ms(th.LatencyCritical.D()), Greater, MissingIgnore),
		mk("slo-burn-slow", Warning, fmt.Sprintf("%s spends its %v %% SLO's error budget %vx too fast over 6 h and 30 min.", in.Name, in.SLO, health.SlowBurn.Rate),
			metrics.MetricSLOBurn, dims, "Maximum", 60, 1, 1, health.BurnSlow, GreaterOrEqual, MissingIgnore),
		mk("slo-burn-fast", Critical, fmt.Sprintf("%s spends its %v %% SLO's error budget %vx too fast over 1 h and 5 min.", in.Name, in.SLO, health.FastBurn.Rate),
			metrics.MetricSLOBurn, dims, "Maximum", 60, 1, 1, health.BurnFast, GreaterOrEqual, MissingIgnore),
	}
	for _, c := range in.Components {
		if c.HTTP == nil {
			continue
		}
		cdims := []metrics.Dim{dims[0], {Name: metrics.DimComponent, Value: c.Name}}
		for _, m := range c.HTTP.Metrics {
			// Two of three checks over the limit, so one reading does not page.
			for _, lim := range []struct {
				severity string
				v        *float64
			}{{Warning, m.Warning}, {Critical, m.Critical}} {
				if lim.v == nil {
					continue
				}
				out = append(out, mk(c.Name+"/"+m.Name+"-"+lim.severity, lim.severity,
					fmt.Sprintf("%s/%s reports %s over %v.", in.Name, c.Name, m.Name, *lim.v),
					m.Name, cdims, "Maximum", 60, 3, 2, *lim.v, Greater, MissingIgnore))
			}
		}
	}
	if in.Recovery != nil {
		out = append(out,
			mk("recovery-exhausted", Critical, fmt.Sprintf("automatic recovery of %s ended without recovering it.", in.Name),
				metrics.MetricRecoveryFailed, dims, "Sum", 60, 1, 1, 1, GreaterOrEqual, MissingNotBreaching),
			mk("recovery-slow", Warning, fmt.Sprintf("recovering %s took over %d s.", in.Name, SlowRecoveryMs/1000),
				metrics.MetricRecoveryDuration, dims, "Maximum", 60, 1, 1, SlowRecoveryMs, Greater, MissingNotBreaching),
			mk("recovery-success-rate", Warning, fmt.Sprintf("under %v %% of %s's recoveries succeeded over 7 days.", MinSuccessRate*100, in.Name),
				metrics.MetricRecoverySucceeded, dims, "Average", SuccessRatePeriod, 1, 1, MinSuccessRate, Less, MissingNotBreaching),
		)
	}
	return out
}

func (o Options) topic(severity string) string {
	if severity == Critical {
		return o.CriticalTopic
	}
	return o.WarningTopic
}

// alarmName is stack/integration/suffix, cut to CloudWatch's 255 characters
// with a digest of the whole name, so two long names stay distinct and the
// "stack/integration/" prefix (at most 128+1+64+1) stays whole.
func alarmName(stack, integration, suffix string) string {
	name := Prefix(stack) + integration + "/" + suffix
	if len(name) <= MaxNameLen {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	tag := "~" + hex.EncodeToString(sum[:])[:12]
	return name[:MaxNameLen-len(tag)] + tag
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Converger plans and converges one stack's alerting; the check runs it.
// It is safe for concurrent use.
type Converger struct {
	CW      CloudWatchAPI
	Options Options

	// The last plan, kept while the document (the same pointer: a config
	// source returns one document until it changes) and the set of
	// integrations in maintenance stay the same, so a check of a large
	// fleet does not rebuild thousands of alarms to learn nothing changed.
	mu       sync.Mutex
	lastDoc  *config.Document
	lastHeld string
	last     Plan
}

// NewConverger returns a Converger for o's stack, or nil when o.Stack is
// empty (nothing deployed to converge, e.g. a bare local run).
func NewConverger(cw CloudWatchAPI, o Options) *Converger {
	if o.Stack == "" {
		return nil
	}
	return &Converger{CW: cw, Options: o}
}

// Plan is Build with the stack's options.
func (c *Converger) Plan(doc *config.Document, at time.Time) Plan {
	var held strings.Builder
	for i, in := range doc.Integrations {
		if in.InMaintenance(at) {
			fmt.Fprintf(&held, "%d,", i)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastDoc != doc || c.lastHeld != held.String() {
		c.lastDoc, c.lastHeld, c.last = doc, held.String(), Build(doc, c.Options, at)
	}
	return c.last
}

// Remove is Remove of the stack.
func (c *Converger) Remove(ctx context.Context) ([]Change, error) {
	return Remove(ctx, c.CW, c.Options.Stack)
}

// Converge is Converge on the stack's client.
func (c *Converger) Converge(ctx context.Context, p Plan) ([]Change, error) {
	return Converge(ctx, c.CW, p)
}
