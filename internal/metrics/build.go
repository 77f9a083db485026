package metrics

import (
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/probe"
)

// ForCheck returns the datums of one evaluated check: rec is the record after
// health.Evaluate, results the probe results in config order, at the check's
// scheduled tick (the datums' timestamp).
//
// When at is before rec.LastTick the check was stale (Evaluate ignored it and
// the newer state has been published already): only StaleTicks = 1 is
// returned, without dimension. The caller should not publish a Duplicate outcome at all, since
// CloudWatch would count its samples twice.
func ForCheck(integ config.Integration, rec health.Record, results []probe.Result, at time.Time) []types.MetricDatum {
	name := integ.Name
	ts := aws.Time(at)
	dimI := []types.Dimension{{Name: aws.String(DimIntegration), Value: aws.String(name)}}
	if !rec.LastTick.IsZero() && at.Before(rec.LastTick) {
		// No dimension: one stack-level alarm watches it; the record's
		// stale_ticks counter and the log name the integration.
		return []types.MetricDatum{datum(MetricStaleTicks, nil, 1, types.StandardUnitCount, ts)}
	}

	n := 5 + len(results)*2
	for _, r := range results {
		n += len(r.Metrics)
	}
	out := make([]types.MetricDatum, 0, n)
	healthy := 0.0
	if rec.State == health.Active {
		healthy = 1
	}
	out = append(out,
		datum(MetricHealthScore, dimI, rec.Score, types.StandardUnitNone, ts),
		datum(MetricHealthy, dimI, healthy, types.StandardUnitNone, ts),
		datum(MetricState, dimI, float64(rec.State.Code()), types.StandardUnitNone, ts),
		datum(MetricConsecutiveFailures, dimI, float64(rec.ConsecutiveFailures), types.StandardUnitCount, ts),
		datum(MetricCheckDuration, dimI, checkDurationMs(rec, results), types.StandardUnitMilliseconds, ts),
	)

	for _, r := range results {
		comp := findComponent(integ, r.Component)
		dimC := []types.Dimension{
			dimI[0],
			{Name: aws.String(DimComponent), Value: aws.String(r.Component)},
		}
		if integ.ComponentMetrics {
			ok := 0.0
			if r.Healthy {
				ok = 1
			}
			out = append(out,
				datum(MetricComponentHealthy, dimC, ok, types.StandardUnitNone, ts),
				datum(MetricComponentLatency, dimC, ms(r.Latency), types.StandardUnitMilliseconds, ts),
			)
		}
		if comp != nil && comp.HTTP != nil {
			// Config order, not map order, so the output is deterministic.
			for _, m := range comp.HTTP.Metrics {
				v, ok := r.Metrics[m.Name]
				if !ok || !publishable(v) {
					continue
				}
				unit := types.StandardUnit(m.Unit)
				if unit == "" {
					unit = types.StandardUnitNone
				}
				out = append(out, datum(m.Name, dimC, v, unit, ts))
			}
		}
		if r.CertDaysLeft != nil && publishable(*r.CertDaysLeft) {
			out = append(out, datum(MetricCertificateDaysLeft, dimC, *r.CertDaysLeft, types.StandardUnitNone, ts))
		}
	}
	return out
}

// Heartbeat returns the invocation's heartbeat and, when publishFailures > 0,
// the count of datums or calls that failed to publish in the previous
// invocation (a failure cannot be published by the call that failed).
func Heartbeat(at time.Time, publishFailures int) []types.MetricDatum {
	ts := aws.Time(at)
	out := []types.MetricDatum{datum(MetricHeartbeat, nil, 1, types.StandardUnitCount, ts)}
	if publishFailures > 0 {
		out = append(out, datum(MetricPublishFailures, nil, float64(publishFailures), types.StandardUnitCount, ts))
	}
	return out
}

// CheckerImpaired returns the CheckerImpaired datum when n > 0 integrations'
// checks were inconclusive in this invocation (a fault on the checker's
// side), and nothing otherwise: like StaleTicks, it exists only when it
// happens, and its alarm treats missing data as fine.
func CheckerImpaired(at time.Time, n int) []types.MetricDatum {
	if n <= 0 {
		return nil
	}
	return []types.MetricDatum{datum(MetricCheckerImpaired, nil, float64(n), types.StandardUnitCount, aws.Time(at))}
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

// ForRecovery returns the datums of one recovery event: a count of 1 under
// RecoveryStarted, RecoverySucceeded or RecoveryFailed, and for an outcome
// (Succeeded, Failed) the attempt's duration as RecoveryDuration. An unknown
// event yields no datums.
func ForRecovery(integration string, ev RecoveryEvent, duration time.Duration, at time.Time) []types.MetricDatum {
	ts := aws.Time(at)
	dimI := []types.Dimension{{Name: aws.String(DimIntegration), Value: aws.String(integration)}}
	var name string
	switch ev {
	case Started:
		return []types.MetricDatum{datum(MetricRecoveryStarted, dimI, 1, types.StandardUnitCount, ts)}
	case Succeeded:
		name = MetricRecoverySucceeded
	case Failed:
		name = MetricRecoveryFailed
	default:
		return nil
	}
	return []types.MetricDatum{
		datum(name, dimI, 1, types.StandardUnitCount, ts),
		datum(MetricRecoveryDuration, dimI, max(ms(duration), 0), types.StandardUnitMilliseconds, ts),
	}
}

func datum(name string, dims []types.Dimension, v float64, unit types.StandardUnit, ts *time.Time) types.MetricDatum {
	return types.MetricDatum{
		MetricName: aws.String(name),
		Dimensions: dims,
		Value:      aws.Float64(v),
		Unit:       unit,
		Timestamp:  ts,
	}
}

// checkDurationMs prefers the duration Evaluate recorded for this check (the
// last entry of the latency window); without it, the probes ran concurrently,
// so the slowest result bounds the check.
func checkDurationMs(rec health.Record, results []probe.Result) float64 {
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
