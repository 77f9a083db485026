package metrics

import (
	"math"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/probe/outcome"
)

// Dim is one dimension of a datum.
type Dim struct {
	Name, Value string
}

// Datum is one value of one metric series at one time.
type Datum struct {
	Name  string
	Dims  []Dim // in the order Names lists them
	Value float64
	Unit  string // a CloudWatch unit, "None" when unitless
	At    time.Time
}

// ForCheck returns the datums of one evaluated check: rec is the record after
// health.Evaluate, results the probe results in config order, at the check's
// scheduled tick (the datums' timestamp).
//
// When at is before rec.LastTick the check was stale (Evaluate ignored it and
// the newer state has been published already): only StaleTicks = 1 is
// returned, without dimension. The caller should not publish a Duplicate outcome at all, since
// CloudWatch would count its samples twice.
func ForCheck(integ config.Integration, rec health.Record, results []outcome.Result, at time.Time) []Datum {
	dimI := []Dim{{DimIntegration, integ.Name}}
	if !rec.LastTick.IsZero() && at.Before(rec.LastTick) {
		// No dimension: one stack-level alarm watches it; the record's
		// stale_ticks counter and the log name the integration.
		return []Datum{{MetricStaleTicks, nil, 1, UnitCount, at}}
	}

	n := 5 + len(results)*2
	for _, r := range results {
		n += len(r.Metrics)
	}
	out := make([]Datum, 0, n)
	out = append(out,
		Datum{MetricHealthScore, dimI, rec.Score, UnitNone, at},
		Datum{MetricState, dimI, float64(rec.State.Code()), UnitNone, at},
		Datum{MetricConsecutiveFailures, dimI, float64(rec.ConsecutiveFailures), UnitCount, at},
		Datum{MetricCheckDuration, dimI, checkDurationMs(rec, results), UnitMilliseconds, at},
		Datum{MetricSLOBurn, dimI, float64(rec.Availability.Burn(integ.SLO, at).Level), UnitNone, at},
	)

	for _, r := range results {
		comp := findComponent(integ, r.Component)
		dimC := []Dim{dimI[0], {DimComponent, r.Component}}
		if integ.ComponentMetrics {
			ok := 0.0
			if r.Healthy {
				ok = 1
			}
			out = append(out,
				Datum{MetricComponentHealthy, dimC, ok, UnitNone, at},
				Datum{MetricComponentLatency, dimC, ms(r.Latency), UnitMilliseconds, at},
			)
		}
		if comp != nil && comp.HTTP != nil {
			// Config order, not map order, so the output is deterministic.
			for _, m := range comp.HTTP.Metrics {
				v, ok := r.Metrics[m.Name]
				if !ok || !publishable(v) {
					continue
				}
				unit := m.Unit
				if unit == "" {
					unit = UnitNone
				}
				out = append(out, Datum{m.Name, dimC, v, unit, at})
			}
		}
		if r.CertDaysLeft != nil && publishable(*r.CertDaysLeft) {
			out = append(out, Datum{MetricCertificateDaysLeft, dimC, *r.CertDaysLeft, UnitNone, at})
		}
	}
	return out
}

// AlertingFailed returns the datum of one failed convergence of the stack's
// alarms and dashboard; like CheckerImpaired it exists only when it happens.
func AlertingFailed(at time.Time) []Datum {
	return []Datum{{MetricAlertingFailed, nil, 1, UnitCount, at}}
}

// CheckerImpaired returns the CheckerImpaired datum when n > 0 integrations'
// checks were inconclusive in this invocation (a fault on the checker's
// side), and nothing otherwise: like StaleTicks, it exists only when it
// happens, and its alarm treats missing data as fine.
func CheckerImpaired(at time.Time, n int) []Datum {
	if n <= 0 {
		return nil
	}
	return []Datum{{MetricCheckerImpaired, nil, float64(n), UnitCount, at}}
}

// ShardsFailed is the count of a tick's shards whose check failed; nothing
// when none did.
func ShardsFailed(at time.Time, n int) []Datum {
	if n <= 0 {
		return nil
	}
	return []Datum{{MetricShardsFailed, nil, float64(n), UnitCount, at}}
}

// ForRegions returns a multi-region decision's datums: how many regions were
// set aside and how many had not reported (0 included, so their alarms see
// the trouble end) and each region's slowest probe of each integration.
func ForRegions(at time.Time, impaired, missing int, integrations []string, views [][]health.RegionView) []Datum {
	out := []Datum{{MetricRegionImpaired, nil, float64(impaired), UnitCount, at}, {MetricRegionsMissing, nil, float64(missing), UnitCount, at}}
	for i, vs := range views {
		for _, v := range vs {
			if publishable(v.LatencyMs) {
				out = append(out, Datum{MetricRegionLatency, []Dim{{DimIntegration, integrations[i]}, {DimRegion, v.Region}}, v.LatencyMs, UnitMilliseconds, at})
			}
		}
	}
	return out
}

// RecoveryEvent is a recovery milestone published as metrics.
type RecoveryEvent int

// Recovery events. An exhausted recovery is published as Failed for its last
// attempt.
const (
	Started RecoveryEvent = iota
	Succeeded
	Failed
)

// String names the event as in logs.
func (e RecoveryEvent) String() string {
	switch e {
	case Started:
		return "started"
	case Succeeded:
		return "succeeded"
	case Failed:
		return "failed"
	}
	return "unknown"
}

// ForRecovery returns the datums of one recovery event: RecoveryStarted 1;
// for an incident that ended recovered RecoverySucceeded 1, for one that
// ended unrecovered RecoveryFailed 1 and RecoverySucceeded 0 (so its Average
// is the success rate); and for either outcome the incident's duration as
// RecoveryDuration. An unknown event yields no datums.
func ForRecovery(integration string, ev RecoveryEvent, duration time.Duration, at time.Time) []Datum {
	dimI := []Dim{{DimIntegration, integration}}
	var name string
	switch ev {
	case Started:
		return []Datum{{MetricRecoveryStarted, dimI, 1, UnitCount, at}}
	case Succeeded:
		name = MetricRecoverySucceeded
	case Failed:
		return []Datum{
			{MetricRecoveryFailed, dimI, 1, UnitCount, at},
			{MetricRecoverySucceeded, dimI, 0, UnitCount, at},
			{MetricRecoveryDuration, dimI, max(ms(duration), 0), UnitMilliseconds, at},
		}
	default:
		return nil
	}
	return []Datum{
		{name, dimI, 1, UnitCount, at},
		{MetricRecoveryDuration, dimI, max(ms(duration), 0), UnitMilliseconds, at},
	}
}

// checkDurationMs prefers the duration Evaluate recorded for this check (the
// last entry of the latency window); without it, the probes ran concurrently,
// so the slowest result bounds the check.
func checkDurationMs(rec health.Record, results []outcome.Result) float64 {
	if l := rec.Availability.LatencyMs; len(l) > 0 {
		return l[len(l)-1]
	}
	var slowest time.Duration
	for _, r := range results {
		slowest = max(slowest, r.Latency)
	}
	return ms(slowest)
}

func findComponent(integ config.Integration, name string) *config.Component {
	for i := range integ.Components {
		if integ.Components[i].Name == name {
			return &integ.Components[i]
		}
	}
	return nil
}

// publishable reports whether CloudWatch accepts v: it rejects NaN, ±Inf and
// magnitudes outside 8.515920e-109 … 1.174271e+108 (zero is allowed). One bad
// body number must not make the whole PutMetricData call fail.
func publishable(v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return false
	}
	a := math.Abs(v)
	return a == 0 || (a >= 8.515920e-109 && a <= 1.174271e+108)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
