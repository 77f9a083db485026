// Package check runs one scheduled health check of the configured
// integrations: probe every component concurrently, evaluate the health model,
// persist, publish metrics and notifications, and start recovery when due.
package check

import (
	"errors"
	"fmt"
	"time"

	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/shard"
)

// Event is the HealthCheck function's input. Exactly three shapes invoke it:
//
//   - EventBridge Scheduler, with the template's input:
//     {"scheduled_time": "<aws.scheduler.scheduled-time>", "integrations": []}
//   - a classic EventBridge scheduled rule: source "aws.events", detail-type
//     "Scheduled Event" and its time;
//   - a manual check: {"manual": true, "integrations": ["a", "b"]}, keyed by
//     the invocation time to the second.
//
// A CloudFormation custom resource request (RequestType, ResponseURL, …) is
// no check: Handle answers it (stack.go).
//
// Anything else — {}, null, another service's event — is refused by Tick
// with an error naming what is wrong, before any probe or write.
// Integrations, when not empty, limits the check to those names so large
// fleets can be split across schedules.
type Event struct {
	ScheduledTime string `json:"scheduled_time,omitempty"`
	// The EventBridge envelope of a scheduled rule.
	Source     string `json:"source,omitempty"`
	DetailType string `json:"detail-type,omitempty"`
	Time       string `json:"time,omitempty"`
	// Manual marks a check run by hand.
	Manual       bool     `json:"manual,omitempty"`
	Integrations []string `json:"integrations,omitempty"`
	// Shard is set when a coordinator invokes this function for one shard
	// of a tick's plan (fanout.go); Integrations then names the shard's.
	Shard *ShardRef `json:"shard,omitempty"`
	// Decide asks the home region to decide a tick from the regions'
	// observations (regions.go); no other field may be set with it.
	Decide *DecideRequest `json:"decide,omitempty"`
	// StackEvent is set by a CloudFormation custom resource request, which
	// Handle answers instead of checking (stack.go).
	*StackEvent
}

// ShardRef is one shard of a tick's plan, as the coordinator sends it.
type ShardRef struct {
	Index int `json:"index"`
	Count int `json:"count"`
	// BudgetMs is how long the shard may take, so it ends before the
	// coordinator that waits for it.
	BudgetMs int `json:"budget_ms,omitempty"`
}

// Key is the shard's key.
func (r ShardRef) Key() shard.Key { return shard.Key{Index: r.Index, Count: r.Count} }

// DecideRequest names a tick of one shard to decide.
type DecideRequest struct {
	Tick  string   `json:"tick"`
	Shard ShardRef `json:"shard"`
}

// maxShardBudget bounds a shard's budget: Lambda's longest timeout.
const maxShardBudget = 15 * time.Minute

// validateShard refuses a shard reference that names no valid shard or
// integrations, or a budget out of range.
func (e Event) validateShard() error {
	if e.Shard == nil {
		return nil
	}
	if err := e.Shard.Key().Validate(); err != nil {
		return fmt.Errorf("check: %w: %w", ErrBadEvent, err)
	}
	if len(e.Integrations) == 0 {
		return fmt.Errorf("check: %w: shard %s names no integrations", ErrBadEvent, e.Shard.Key())
	}
	if b := time.Duration(e.Shard.BudgetMs) * time.Millisecond; b < 0 || b > maxShardBudget {
		return fmt.Errorf("check: %w: shard budget_ms %d out of range 0..%d", ErrBadEvent, e.Shard.BudgetMs, maxShardBudget.Milliseconds())
	}
	return nil
}

// DecideTick validates a decide request and returns its tick. now is the
// invocation time.
func (e Event) DecideTick(now time.Time) (time.Time, shard.Key, error) {
	d := e.Decide
	if e.ScheduledTime != "" || e.Source != "" || e.Manual || len(e.Integrations) > 0 || e.Shard != nil {
		return time.Time{}, shard.Key{}, fmt.Errorf("check: %w: decide takes no other field", ErrBadEvent)
	}
	key := d.Shard.Key()
	if err := key.Validate(); err != nil {
		return time.Time{}, key, fmt.Errorf("check: %w: decide: %w", ErrBadEvent, err)
	}
	t, err := time.Parse(time.RFC3339Nano, d.Tick)
	if err != nil {
		return time.Time{}, key, fmt.Errorf("check: %w: decide: tick %s is not an RFC 3339 time", ErrBadEvent, bound.Quote(d.Tick))
	}
	t = t.UTC()
	if t.After(now.UTC().Add(health.MaxTickAhead)) {
		return time.Time{}, key, fmt.Errorf("check: %w: decide: tick %s is more than %s after the invocation time", ErrBadEvent, t.Format(time.RFC3339), health.MaxTickAhead)
	}
	return t, key, nil
}

// ErrBadEvent is wrapped by every refusal of an event.
var ErrBadEvent = errors.New("refused event")

// The EventBridge envelope of a scheduled rule's event.
const (
	scheduledSource     = "aws.events"
	scheduledDetailType = "Scheduled Event"
)

// maxSelected bounds the integrations one event may name.
const maxSelected = 1000

// Tick validates the event and returns the scheduled time that keys this
// check. now is the invocation time. A tick more than health.MaxTickAhead
// after now is refused: one such event would make every later real tick
// stale.
func (e Event) Tick(now time.Time) (time.Time, error) {
	now = now.UTC()
	if err := e.validateShard(); err != nil {
		return time.Time{}, err
	}
	if len(e.Integrations) > maxSelected {
		return time.Time{}, fmt.Errorf("check: %w: %d integrations named, at most %d", ErrBadEvent, len(e.Integrations), maxSelected)
	}
	var field, value string
	switch {
	case e.ScheduledTime != "" && e.Manual:
		return time.Time{}, fmt.Errorf("check: %w: scheduled_time and manual are exclusive", ErrBadEvent)
	case e.ScheduledTime != "":
		if e.Source != "" || e.DetailType != "" {
			return time.Time{}, fmt.Errorf("check: %w: scheduled_time in an event from %s", ErrBadEvent, bound.Quote(e.Source))
		}
		field, value = "scheduled_time", e.ScheduledTime
	case e.Source != "" || e.DetailType != "":
		if e.Source != scheduledSource || e.DetailType != scheduledDetailType {
			return time.Time{}, fmt.Errorf("check: %w: EventBridge event from source %s, detail-type %s; only %q %q invokes a check",
				ErrBadEvent, bound.Quote(e.Source), bound.Quote(e.DetailType), scheduledSource, scheduledDetailType)
		}
		if e.Manual {
			return time.Time{}, fmt.Errorf("check: %w: a scheduled event cannot be manual", ErrBadEvent)
		}
		field, value = "time", e.Time
	case e.Manual:
		if e.Time != "" {
			return time.Time{}, fmt.Errorf("check: %w: a manual check is keyed by the invocation time; drop \"time\"", ErrBadEvent)
		}
		return now.Truncate(time.Second), nil
	default:
		return time.Time{}, fmt.Errorf(`check: %w: not a scheduled or manual check (want "scheduled_time" from EventBridge Scheduler, an EventBridge "Scheduled Event", or {"manual": true})`, ErrBadEvent)
	}
	if value == "" {
		return time.Time{}, fmt.Errorf("check: %w: field %q is empty", ErrBadEvent, field)
	}
	t, err := time.Parse(time.RFC3339Nano, value)
	if err != nil {
		return time.Time{}, fmt.Errorf("check: %w: field %q: %s is not an RFC 3339 time", ErrBadEvent, field, bound.Quote(value))
	}
	t = t.UTC()
	if t.After(now.Add(health.MaxTickAhead)) {
		return time.Time{}, fmt.Errorf("check: %w: field %q: %s is more than %s after the invocation time %s",
			ErrBadEvent, field, t.Format(time.RFC3339), health.MaxTickAhead, now.Format(time.RFC3339))
	}
	return t, nil
}
