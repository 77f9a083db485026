package check

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

func TestEventTick(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 30, 500, time.UTC)
	tests := []struct {
		name    string
		ev      Event
		want    time.Time
		wantErr string
	}{
		{"scheduler", Event{ScheduledTime: "2026-11-27T12:00:00Z"}, time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), ""},
		{"scheduler wins over time", Event{ScheduledTime: "2026-11-27T12:00:00Z", Time: "2026-11-27T11:00:00Z"}, time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), ""},
		{"classic event", Event{Time: "2026-11-27T12:01:00+01:00"}, time.Date(2026, 11, 27, 11, 1, 0, 0, time.UTC), ""},
		{"manual", Event{}, time.Date(2026, 11, 27, 12, 0, 30, 0, time.UTC), ""},
		{"bad", Event{ScheduledTime: "yesterday"}, time.Time{}, `"scheduled_time"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ev.Tick(now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want mention of %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Fatalf("Tick = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// The sample events in events/ must decode into Event and carry a tick.
func TestSampleEvents(t *testing.T) {
	for _, f := range []string{"../../events/healthcheck-scheduler.json", "../../events/healthcheck-eventbridge.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev Event
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		tick, err := ev.Tick(time.Now())
		if err != nil || tick.Year() != 2026 {
			t.Fatalf("%s: tick %v, %v", f, tick, err)
		}
	}
}
