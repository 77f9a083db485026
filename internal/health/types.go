// Package health is Vigil's pure health model (SPEC §3): component scores, the
// integration state machine, lifecycle counters, flapping, maintenance and the
// recovery decision. Nothing here does I/O; every function is a function of its
// arguments.
package health

import (
	"time"

	"github.com/vigil-monitor/vigil/internal/probe/outcome"
)

// State is an integration's lifecycle state.
type State string

// The five states of SPEC §3.
const (
	Uninitialized State = "UNINITIALIZED"
	Initializing  State = "INITIALIZING"
	Active        State = "ACTIVE"
	Degraded      State = "DEGRADED"
	Failed        State = "FAILED"
)

// Code is the numeric value published as the State metric:
// 0 UNINITIALIZED, 1 INITIALIZING, 2 ACTIVE, 3 DEGRADED, 4 FAILED.
func (s State) Code() int {
	switch s {
	case Initializing:
		return 1
	case Active:
		return 2
	case Degraded:
		return 3
	case Failed:
		return 4
	}
	return 0
}

// Valid reports whether s is one of the five states.
func (s State) Valid() bool {
	switch s {
	case Uninitialized, Initializing, Active, Degraded, Failed:
		return true
	}
	return false
}

// ComponentStatus is the last observed result of one component.
type ComponentStatus struct {
	Name      string  `json:"name"`
	Healthy   bool    `json:"healthy"`
	Critical  bool    `json:"critical"`
	LatencyMs float64 `json:"latency_ms"`
	Score     float64 `json:"score"`
	Error     string  `json:"error,omitempty"`
	// Side is whose fault an unhealthy result points at (outcome.Side*);
	// empty when healthy.
	Side         outcome.Side       `json:"side,omitempty"`
	Metrics      map[string]float64 `json:"metrics,omitempty"`
	CertDaysLeft *float64           `json:"cert_days_left,omitempty"`
}

// Transition is one entry of the state history.
type Transition struct {
	From  State     `json:"from"`
	To    State     `json:"to"`
	At    time.Time `json:"at"`
	Cause string    `json:"cause"`
}

// Bucket counts checks in one time slot, for availability windows.
type Bucket struct {
	Start   int64 `json:"start"` // unix seconds, slot start
	Checks  int   `json:"checks"`
	Healthy int   `json:"healthy"`
}

// Availability keeps rolling counts cheaply inside the state item (stored,
// like the history and the component results, as one compact JSON
// attribute), so the report needs no history scan: 60 minute slots (1 h),
// 24 hour slots (24 h) and 30 day slots (30 d), plus recent check latencies
// for p95/p99.
type Availability struct {
	Minutes   []Bucket  `json:"minutes,omitempty"`
	Hours     []Bucket  `json:"hours,omitempty"`
	Days      []Bucket  `json:"days,omitempty"`
	LatencyMs []float64 `json:"latency_ms,omitempty"` // last 100 check durations
}

// RecoveryStatus is the recovery bookkeeping of an integration.
type RecoveryStatus struct {
	// Pending: recovery was decided and recorded; the execution named
	// ExecutionName may not have started yet. The next check retries the
	// start with the same name until the Recovery Lambda reports InProgress.
	Pending       bool      `json:"pending" dynamodbav:"pending"`
	InProgress    bool      `json:"in_progress" dynamodbav:"in_progress"`
	IncidentID    string    `json:"incident_id,omitempty" dynamodbav:"incident_id,omitempty"`
	ExecutionName string    `json:"execution_name,omitempty" dynamodbav:"execution_name,omitempty"`
	DecidedAt     time.Time `json:"decided_at,omitzero" dynamodbav:"decided_at,omitempty"`
	StartedAt     time.Time `json:"started_at,omitzero" dynamodbav:"started_at,omitempty"`
	// Attempt is the last attempt applied for IncidentID; an attempt number at
	// or below it is a duplicate delivery and is not counted again.
	Attempt int `json:"attempt" dynamodbav:"attempt"`
	// LastOutcome is the last attempt's outcome while the incident is open
	// (failed), then how it ended: succeeded, exhausted, not-needed, or —
	// for an execution that ended without recording it — aborted,
	// timed_out or execution_failed.
	LastOutcome    string    `json:"last_outcome,omitempty" dynamodbav:"last_outcome,omitempty"`
	LastAttemptAt  time.Time `json:"last_attempt_at,omitzero" dynamodbav:"last_attempt_at,omitempty"`
	LastDurationMs float64   `json:"last_duration_ms,omitempty" dynamodbav:"last_duration_ms,omitempty"`
	LastError      string    `json:"last_error,omitempty" dynamodbav:"last_error,omitempty"`
	CooldownUntil  time.Time `json:"cooldown_until,omitzero" dynamodbav:"cooldown_until,omitempty"`
	StartFailures  int       `json:"start_failures,omitempty" dynamodbav:"start_failures,omitempty"`
}

// Open reports whether an incident is waiting on its execution: decided and
// not yet started, or running.
func (rs RecoveryStatus) Open() bool { return rs.Pending || rs.InProgress }

// Closed reports whether the current incident has ended, however it ended.
func (rs RecoveryStatus) Closed() bool {
	switch rs.LastOutcome {
	case RecoverySucceeded, RecoveryExhausted, RecoveryNotNeeded, RecoveryAborted, RecoveryTimedOut, RecoveryExecutionFailed:
		return true
	}
	return false
}

// Record is the persisted state of one integration: one DynamoDB item.
type Record struct {
	Integration string `json:"integration" dynamodbav:"integration"`
	// Version increases by one on every write; writes are conditional on it.
	Version int64   `json:"version" dynamodbav:"version"`
	State   State   `json:"state" dynamodbav:"state"`
	Score   float64 `json:"score" dynamodbav:"score"`
	// LastTick is the scheduled time of the last check applied; a tick equal
	// to it is a duplicate, an earlier one is stale.
	LastTick   time.Time         `json:"last_tick,omitzero" dynamodbav:"last_tick,omitempty"`
	Components []ComponentStatus `json:"components,omitempty" dynamodbav:"components,omitempty"`

	ConsecutiveFailures       int        `json:"consecutive_failures" dynamodbav:"consecutive_failures"`
	ConsecutiveSuccesses      int        `json:"consecutive_successes" dynamodbav:"consecutive_successes"`
	HealthChecksPerformed     int        `json:"health_checks_performed" dynamodbav:"health_checks_performed"`
	TotalInitializations      int        `json:"total_initializations" dynamodbav:"total_initializations"`
	SuccessfulInitializations int        `json:"successful_initializations" dynamodbav:"successful_initializations"`
	FailedInitializations     int        `json:"failed_initializations" dynamodbav:"failed_initializations"`
	RecoveryAttempts          int        `json:"recovery_attempts" dynamodbav:"recovery_attempts"`
	SuccessfulRecoveries      int        `json:"successful_recoveries" dynamodbav:"successful_recoveries"`
	TotalRecoveries           int        `json:"total_recoveries" dynamodbav:"total_recoveries"`
	CurrentUptimeStart        *time.Time `json:"current_uptime_start,omitempty" dynamodbav:"current_uptime_start,omitempty"`
	UptimeSeconds             float64    `json:"uptime_seconds" dynamodbav:"uptime_seconds"`
	LastHealthCheck           time.Time  `json:"last_health_check,omitzero" dynamodbav:"last_health_check,omitempty"`
	ErrorMessage              string     `json:"error_message,omitempty" dynamodbav:"error_message,omitempty"`
	StaleTicks                int        `json:"stale_ticks,omitempty" dynamodbav:"stale_ticks,omitempty"`
	// Inconclusive is why the last check could not judge the targets (a
	// fault on the checker's side); empty after a conclusive check.
	// InconclusiveChecks counts such checks: they change no state, counter
	// or availability, and never start a recovery.
	Inconclusive       string `json:"inconclusive,omitempty" dynamodbav:"inconclusive,omitempty"`
	InconclusiveChecks int    `json:"inconclusive_checks,omitempty" dynamodbav:"inconclusive_checks,omitempty"`

	// History is the most recent transitions, oldest first (bounded; older
	// entries live in TTL'd history items).
	History       []Transition   `json:"history,omitempty" dynamodbav:"history,omitempty"`
	Flapping      bool           `json:"flapping" dynamodbav:"flapping"`
	InMaintenance bool           `json:"in_maintenance" dynamodbav:"in_maintenance"`
	Availability  Availability   `json:"availability" dynamodbav:"availability"`
	Recovery      RecoveryStatus `json:"recovery" dynamodbav:"recovery"`
	// Regions is what each probing region saw at the last tick, when
	// several regions probe (quorum); empty with one region.
	Regions []RegionView `json:"regions,omitempty" dynamodbav:"regions,omitempty"`
}

// RegionView is what one probing region saw of an integration at one tick.
type RegionView struct {
	Region string `json:"region" dynamodbav:"region"`
	// LatencyMs is the region's slowest probe of the integration.
	LatencyMs float64 `json:"latency_ms" dynamodbav:"latency_ms"`
	// Failing counts the components the region saw failing, checker-side
	// faults included.
	Failing int `json:"failing" dynamodbav:"failing"`
	// Impaired: the region disagreed with every other region on everything
	// it saw failing, so its view was taken as its own fault.
	Impaired bool `json:"impaired,omitempty" dynamodbav:"impaired,omitempty"`
}
