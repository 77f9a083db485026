package health

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/config"
)

// maxRegionName bounds a stored region name (AWS's are under 20 bytes).
const maxRegionName = 64

// ErrInvalidRecord is wrapped by Record.Validate; the store refuses to
// overwrite an item that fails validation and reports it instead.
var ErrInvalidRecord = errors.New("invalid health record")

// Validate reports a malformed stored record: empty Integration, Version
// below 1 (every stored item has been written at least once), an unknown
// State, a negative counter, or an active recovery without its incident. The
// error wraps ErrInvalidRecord and lists every problem found.
func (r Record) Validate() error {
	var probs []string
	if r.Integration == "" {
		probs = append(probs, "integration is empty")
	}
	if r.Version < 1 {
		probs = append(probs, fmt.Sprintf("version %d is below 1", r.Version))
	}
	if !r.State.Valid() {
		probs = append(probs, fmt.Sprintf("state %q is unknown", r.State))
	}
	counters := []struct {
		name string
		v    int
	}{
		{"consecutive_failures", r.ConsecutiveFailures},
		{"consecutive_successes", r.ConsecutiveSuccesses},
		{"health_checks_performed", r.HealthChecksPerformed},
		{"total_initializations", r.TotalInitializations},
		{"successful_initializations", r.SuccessfulInitializations},
		{"failed_initializations", r.FailedInitializations},
		{"recovery_attempts", r.RecoveryAttempts},
		{"successful_recoveries", r.SuccessfulRecoveries},
		{"total_recoveries", r.TotalRecoveries},
		{"stale_ticks", r.StaleTicks},
		{"recovery.attempt", r.Recovery.Attempt},
		{"recovery.start_failures", r.Recovery.StartFailures},
	}
	for _, c := range counters {
		if c.v < 0 {
			probs = append(probs, fmt.Sprintf("%s %d is negative", c.name, c.v))
		}
	}
	if r.UptimeSeconds < 0 {
		probs = append(probs, fmt.Sprintf("uptime_seconds %g is negative", r.UptimeSeconds))
	}
	if (r.Recovery.Pending || r.Recovery.InProgress) && (r.Recovery.IncidentID == "" || r.Recovery.ExecutionName == "") {
		probs = append(probs, "recovery pending or in progress without incident_id and execution_name")
	}
	if len(r.Regions) > config.MaxRegions {
		probs = append(probs, fmt.Sprintf("%d regions, at most %d", len(r.Regions), config.MaxRegions))
	}
	for _, v := range r.Regions {
		if v.Region == "" || len(v.Region) > maxRegionName || v.Failing < 0 || v.LatencyMs < 0 {
			probs = append(probs, fmt.Sprintf("region view %q is malformed", bound.Text(v.Region, maxRegionName)))
			break
		}
	}
	if len(probs) == 0 {
		return nil
	}
	return fmt.Errorf("%w %q: %s", ErrInvalidRecord, r.Integration, strings.Join(probs, "; "))
}
