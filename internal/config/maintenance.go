package config

import (
	"slices"
	"time"
)

// Active reports whether the window covers t. A recurring window is laid out
// in its time zone, so "at 02:00" follows daylight saving time, and a window
// that began on an earlier day (spanning midnight, or lasting days) is still
// active. The window includes its start and excludes its end.
//
// A recurring window is active only once ValidateAndSetDefaults (Parse runs
// it) has accepted it, since that resolves its time zone; a window that
// failed validation is never active.
func (w MaintenanceWindow) Active(t time.Time) bool {
	if w.Start != nil || w.End != nil {
		return w.Start != nil && w.End != nil && !t.Before(*w.Start) && t.Before(*w.End)
	}
	r := w.recurring
	if r == nil {
		return false
	}
	local := t.In(r.loc)
	// A window lasts at most 7 days, so only starts from today back to a week
	// ago can cover t.
	for back := 0; back <= 7; back++ {
		start := time.Date(local.Year(), local.Month(), local.Day()-back, r.hour, r.minute, 0, 0, r.loc)
		if len(w.Days) > 0 && !slices.Contains(w.Days, Weekdays[start.Weekday()]) {
			continue
		}
		if !t.Before(start) && t.Before(start.Add(w.Duration.D())) {
			return true
		}
	}
	return false
}

// InMaintenance reports whether any of the integration's maintenance windows
// covers t. Checks still run in maintenance; callers hold notifications and
// recovery.
func (in Integration) InMaintenance(t time.Time) bool {
	for _, w := range in.Maintenance {
		if w.Active(t) {
			return true
		}
	}
	return false
}
