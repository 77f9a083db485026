package health

import (
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/probe"
)

// Check is one scheduled check of one integration: the input of Evaluate.
type Check struct {
	Integration config.Integration
	// Tick is the scheduled time of the check; it keys idempotency.
	Tick     time.Time
	Results  []probe.Result // one per component, in config order
	Duration time.Duration  // wall time of the integration's probes
}

// Outcome tells whether Evaluate applied the check.
type Outcome int

// Outcomes of Evaluate.
const (
	Applied   Outcome = iota // the check changed the record
	Duplicate                // same tick as the last applied: counted once already
	Stale                    // older than the last applied tick: ignored, counted in StaleTicks
)

// Decision tells the caller what to do after a check was evaluated.
type Decision struct {
	Outcome     Outcome
	Transitions []Transition // made by this check, oldest first
	// Notify: publish the transitions (held in maintenance and while flapping).
	Notify bool
	// StartRecovery: call StartExecution with Record.Recovery.ExecutionName.
	// True when recovery became due now, and again on later checks while a
	// decided recovery is Pending and not InProgress (the retried start uses
	// the same name, so it can never run twice).
	StartRecovery bool
}
