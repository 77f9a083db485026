// Package metrics turns check results and recovery events into CloudWatch
// datums (SPEC §5) and writes them as CloudWatch Embedded Metric Format log
// lines (SPEC §9: no metrics API call on a check's path; CloudWatch Logs
// extracts the metrics). The builders are pure; only EMF does I/O.
package metrics

// DefaultNamespace is the CloudWatch namespace used when none is configured.
const DefaultNamespace = "Vigil"

// Dimension names.
const (
	DimIntegration = "Integration"
	DimComponent   = "Component"
	// DimRegion is the probing region, only when several regions probe.
	DimRegion = "Region"
)

// Metric names. template.yaml's alarms and dashboard refer to exactly these.
const (
	// Per integration (dimension Integration).
	MetricHealthScore         = "HealthScore"         // None, 0–100
	MetricState               = "State"               // None, health.State.Code(); availability is its share of 2 (ACTIVE)
	MetricConsecutiveFailures = "ConsecutiveFailures" // Count
	MetricCheckDuration       = "CheckDuration"       // Milliseconds, wall time of the integration's probes
	// MetricSLOBurn is the worst multiwindow burn-rate rule of the
	// integration's SLO that fires (health.Burn): 0 none, 1 slow, 2 fast.
	// CloudWatch cannot AND two windows of different lengths in one metric
	// alarm; the checker judges them from the availability it keeps anyway.
	MetricSLOBurn = "SLOBurn" // None, health.BurnNone/BurnSlow/BurnFast

	// No dimensions. The heartbeat is the HealthCheck function's own
	// AWS/Lambda Invocations metric: nothing to publish.
	MetricCheckerImpaired = "CheckerImpaired" // Count of integrations whose check was inconclusive, only when > 0
	MetricStaleTicks      = "StaleTicks"      // Count, only when a stale tick was seen (one alarm for the stack)
	MetricAlertingFailed  = "AlertingFailed"  // Count, only when converging the alarms and dashboard failed
	// ShardsFailed counts the shards of a tick whose check failed twice
	// (the coordinator retries once), only when > 0.
	MetricShardsFailed = "ShardsFailed" // Count
	// RegionImpaired counts the regions whose view a tick's decision set
	// aside (quorum.Merge), published with every multi-region decision.
	MetricRegionImpaired = "RegionImpaired" // Count
	// RegionsMissing counts the probing regions that had not reported a
	// tick when it was decided (a late or silent region), published with
	// every multi-region decision.
	MetricRegionsMissing = "RegionsMissing" // Count

	// Per integration and probing region (dimensions Integration, Region),
	// only when several regions probe: the region's slowest probe.
	MetricRegionLatency = "RegionLatency" // Milliseconds

	// Per component (dimensions Integration, Component), only when the
	// integration enables component_metrics.
	MetricComponentHealthy = "ComponentHealthy" // None, 1/0
	MetricComponentLatency = "ComponentLatency" // Milliseconds

	// Per component, always (dimensions Integration, Component).
	MetricCertificateDaysLeft = "CertificateDaysLeft" // None

	// Recovery (dimension Integration).
	MetricRecoveryStarted = "RecoveryStarted" // Count
	// RecoverySucceeded is 1 when an incident ends recovered and 0 when it
	// ends unrecovered: its Sum counts recoveries, its Average is the
	// success rate, so one alarm metric watches the rate.
	MetricRecoverySucceeded = "RecoverySucceeded" // Count
	MetricRecoveryFailed    = "RecoveryFailed"    // Count, 1 when an incident ends unrecovered
	MetricRecoveryDuration  = "RecoveryDuration"  // Milliseconds
)

// CloudWatch units the builders use.
const (
	UnitNone         = "None"
	UnitCount        = "Count"
	UnitMilliseconds = "Milliseconds"
)

// Name describes one fixed metric: its name, the dimension names it is
// published with (in order) and its unit.
type Name struct {
	Metric     string
	Dimensions []string
	Unit       string
}

var (
	dimsIntegration = []string{DimIntegration}
	dimsComponent   = []string{DimIntegration, DimComponent}
	dimsRegion      = []string{DimIntegration, DimRegion}
)

// Names lists every fixed metric Vigil publishes, so the template's alarms
// and dashboard can be cross-checked against it. Extracted body metrics are
// not listed: their names come from the configuration and they are published
// with dimensions Integration, Component. Treat Names as read-only.
var Names = []Name{
	{MetricHealthScore, dimsIntegration, UnitNone},
	{MetricState, dimsIntegration, UnitNone},
	{MetricConsecutiveFailures, dimsIntegration, UnitCount},
	{MetricCheckDuration, dimsIntegration, UnitMilliseconds},
	{MetricSLOBurn, dimsIntegration, UnitNone},
	{MetricCheckerImpaired, nil, UnitCount},
	{MetricStaleTicks, nil, UnitCount},
	{MetricAlertingFailed, nil, UnitCount},
	{MetricShardsFailed, nil, UnitCount},
	{MetricRegionImpaired, nil, UnitCount},
	{MetricRegionsMissing, nil, UnitCount},
	{MetricRegionLatency, dimsRegion, UnitMilliseconds},
	{MetricComponentHealthy, dimsComponent, UnitNone},
	{MetricComponentLatency, dimsComponent, UnitMilliseconds},
	{MetricCertificateDaysLeft, dimsComponent, UnitNone},
	{MetricRecoveryStarted, dimsIntegration, UnitCount},
	{MetricRecoverySucceeded, dimsIntegration, UnitCount},
	{MetricRecoveryFailed, dimsIntegration, UnitCount},
	{MetricRecoveryDuration, dimsIntegration, UnitMilliseconds},
}
