// Package check runs one scheduled health check of the configured
// integrations: probe every component concurrently, evaluate the health model,
// persist, publish metrics and notifications, and start recovery when due.
package check

import (
	"fmt"
	"time"
)

// Event is the HealthCheck function's input. EventBridge Scheduler delivers
// the template's input with ScheduledTime filled from
// <aws.scheduler.scheduled-time>; a classic EventBridge scheduled event
// carries Time instead. Integrations, when not empty, limits the check to
// those names so large fleets can be split across schedules.
type Event struct {
	ScheduledTime string   `json:"scheduled_time,omitempty"`
	Time          string   `json:"time,omitempty"`
	Integrations  []string `json:"integrations,omitempty"`
}

// Tick returns the scheduled time that keys this check. A manual invocation
// with neither field set is keyed by now, to the second.
func (e Event) Tick(now time.Time) (time.Time, error) {
	for _, f := range []struct{ name, v string }{{"scheduled_time", e.ScheduledTime}, {"time", e.Time}} {
		if f.v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, f.v)
		if err != nil {
			return time.Time{}, fmt.Errorf("check: event field %q: %q is not an RFC 3339 time", f.name, f.v)
		}
		return t.UTC(), nil
	}
	return now.UTC().Truncate(time.Second), nil
}
