// Package metrics turns check results and recovery events into CloudWatch
// datums (SPEC §5) and publishes them in as few PutMetricData calls as the API
// allows (SPEC §9). The builders are pure; only Publisher does I/O.
package metrics

import "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

// DefaultNamespace is the CloudWatch namespace used when none is configured.
const DefaultNamespace = "Vigil"

// Dimension names.
const (
	DimIntegration = "Integration"
	DimComponent   = "Component"
)

// Metric names. template.yaml's alarms and dashboard refer to exactly these.
const (
	// Per integration (dimension Integration).
	MetricHealthScore         = "HealthScore"         // None, 0–100
	MetricHealthy             = "Healthy"             // None, 1 when the state after the check is ACTIVE, else 0
	MetricState               = "State"               // None, health.State.Code()
	MetricConsecutiveFailures = "ConsecutiveFailures" // Count
	MetricCheckDuration       = "CheckDuration"       // Milliseconds, wall time of the integration's probes

	// No dimensions.
	MetricHeartbeat       = "Heartbeat"              // Count, 1 per invocation
	MetricPublishFailures = "MetricsPublishFailures" // Count, only when > 0
	MetricCheckerImpaired = "CheckerImpaired"        // Count of integrations whose check was inconclusive, only when > 0
	MetricStaleTicks      = "StaleTicks"             // Count, only when a stale tick was seen (one alarm for the stack)

	// Per component (dimensions Integration, Component), only when the
	// integration enables component_metrics.
	MetricComponentHealthy = "ComponentHealthy" // None, 1/0
	MetricComponentLatency = "ComponentLatency" // Milliseconds

	// Per component, always (dimensions Integration, Component).
	MetricCertificateDaysLeft = "CertificateDaysLeft" // None

	// Recovery (dimension Integration).
	MetricRecoveryStarted   = "RecoveryStarted"   // Count
	MetricRecoverySucceeded = "RecoverySucceeded" // Count
	MetricRecoveryFailed    = "RecoveryFailed"    // Count
	MetricRecoveryDuration  = "RecoveryDuration"  // Milliseconds
)

// Name describes one fixed metric: its name, the dimension names it is
// published with (in order) and its unit.
type Name struct {
	Metric     string
	Dimensions []string
	Unit       types.StandardUnit
}

var (
	dimsIntegration = []string{DimIntegration}
	dimsComponent   = []string{DimIntegration, DimComponent}
)

// Names lists every fixed metric Vigil publishes, so the template's alarms
// and dashboard can be cross-checked against it. Extracted body metrics are
// not listed: their names come from the configuration and they are published
// with dimensions Integration, Component. Treat Names as read-only.
var Names = []Name{
	{MetricHealthScore, dimsIntegration, types.StandardUnitNone},
	{MetricHealthy, dimsIntegration, types.StandardUnitNone},
	{MetricState, dimsIntegration, types.StandardUnitNone},
	{MetricConsecutiveFailures, dimsIntegration, types.StandardUnitCount},
	{MetricCheckDuration, dimsIntegration, types.StandardUnitMilliseconds},
	{MetricHeartbeat, nil, types.StandardUnitCount},
	{MetricPublishFailures, nil, types.StandardUnitCount},
	{MetricCheckerImpaired, nil, types.StandardUnitCount},
	{MetricStaleTicks, nil, types.StandardUnitCount},
	{MetricComponentHealthy, dimsComponent, types.StandardUnitNone},
	{MetricComponentLatency, dimsComponent, types.StandardUnitMilliseconds},
	{MetricCertificateDaysLeft, dimsComponent, types.StandardUnitNone},
	{MetricRecoveryStarted, dimsIntegration, types.StandardUnitCount},
	{MetricRecoverySucceeded, dimsIntegration, types.StandardUnitCount},
	{MetricRecoveryFailed, dimsIntegration, types.StandardUnitCount},
	{MetricRecoveryDuration, dimsIntegration, types.StandardUnitMilliseconds},
}
