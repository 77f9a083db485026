package health

import (
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/probe/outcome"
)

// Check is one scheduled check of one integration: the input of Evaluate.
type Check struct {
	Integration config.Integration
	// Tick is the scheduled time of the check; it keys idempotency.
	Tick     time.Time
	Results  []outcome.Result // one per component, matched by name
	Duration time.Duration    // wall time of the integration's probes
	// Impairment is the invocation's finding about the checker (Assess);
	// the zero value finds nothing.
	Impairment Impairment
	// Regions is what each probing region saw, when several did; the
	// record keeps it for the report.
	Regions []RegionView
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
	// the same name, so it can never run twice). When the start finds the
	// execution exists already, look it up as for CheckExecution.
	StartRecovery bool
	// CheckExecution: the incident's execution has recorded nothing for
	// longer than the workflow can go quiet (Stalled); look it up and, if it
	// has ended, close the incident with ApplyExecutionEnd.
	CheckExecution bool
	// Inconclusive: the check judged nothing (a fault on the checker's side,
	// in Record.Inconclusive). CheckerChanged: the record went from conclusive
	// to inconclusive or back with this check, so the invocation should
	// notify once.
	Inconclusive   bool
	CheckerChanged bool
	// Seen holds the component statuses of an inconclusive check, which the
	// record does not take (it keeps the last conclusive ones).
	Seen []ComponentStatus
	// Repaired, when set, says what stored value Evaluate had to drop (a
	// LastTick from the future); the caller logs it.
	Repaired string
}
