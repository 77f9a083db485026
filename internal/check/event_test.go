package check

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// decode reads an event as the Lambda runtime does: JSON into Event.
func decode(t *testing.T, raw string) Event {
	t.Helper()
	var ev Event
	if err := json.Unmarshal([]byte(raw), &ev); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return ev
}

func TestEventTick(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 30, 500, time.UTC)
	tests := []struct {
		name    string
		raw     string
		want    time.Time
		wantErr string
	}{
		{"scheduler", `{"scheduled_time":"2026-11-27T12:00:00Z","integrations":[]}`, time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), ""},
		{"eventbridge scheduled event", `{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","account":"1","time":"2026-11-27T12:01:00+01:00","region":"us-east-1","resources":[],"detail":{}}`, time.Date(2026, 11, 27, 11, 1, 0, 0, time.UTC), ""},
		{"manual", `{"manual":true,"integrations":["a"]}`, time.Date(2026, 11, 27, 12, 0, 30, 0, time.UTC), ""},
		{"a little ahead (clock skew)", `{"scheduled_time":"2026-11-27T12:03:00Z"}`, time.Date(2026, 11, 27, 12, 3, 0, 0, time.UTC), ""},

		{"empty object", `{}`, time.Time{}, "not a scheduled or manual check"},
		{"null", `null`, time.Time{}, "not a scheduled or manual check"},
		{"integrations only", `{"integrations":["a"]}`, time.Time{}, "not a scheduled or manual check"},
		{"time without envelope", `{"time":"2026-11-27T12:00:00Z"}`, time.Time{}, "not a scheduled or manual check"},
		{"S3 object created", `{"version":"0","detail-type":"Object Created","source":"aws.s3","time":"2026-11-27T12:00:00Z","detail":{"bucket":{"name":"b"}}}`, time.Time{}, `source "aws.s3", detail-type "Object Created"`},
		{"scheduled event from another source", `{"detail-type":"Scheduled Event","source":"custom.app","time":"2026-11-27T12:00:00Z"}`, time.Time{}, `source "custom.app"`},
		{"far future", `{"scheduled_time":"9999-12-31T23:59:59Z"}`, time.Time{}, "more than 5m0s after the invocation time"},
		{"far future eventbridge", `{"detail-type":"Scheduled Event","source":"aws.events","time":"2027-01-01T00:00:00Z"}`, time.Time{}, "more than 5m0s after"},
		{"bad time", `{"scheduled_time":"yesterday"}`, time.Time{}, `field "scheduled_time": "yesterday" is not an RFC 3339 time`},
		{"empty eventbridge time", `{"detail-type":"Scheduled Event","source":"aws.events"}`, time.Time{}, `field "time" is empty`},
		{"manual with a time", `{"manual":true,"time":"2026-11-27T12:00:00Z"}`, time.Time{}, "keyed by the invocation time"},
		{"manual and scheduled", `{"manual":true,"scheduled_time":"2026-11-27T12:00:00Z"}`, time.Time{}, "exclusive"},
		{"huge source bounded", `{"detail-type":"x","source":"` + strings.Repeat("s", 100_000) + `"}`, time.Time{}, "bytes]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode(t, tt.raw).Tick(now)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrBadEvent) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrBadEvent mentioning %s", err, tt.wantErr)
				}
				if len(err.Error()) > 400 {
					t.Fatalf("error not bounded: %d bytes", len(err.Error()))
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
	for _, f := range []string{"../../events/healthcheck-scheduler.json", "../../events/healthcheck-eventbridge.json", "../../events/healthcheck-manual.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev Event
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		tick, err := ev.Tick(time.Now())
		if err != nil || tick.Year() < 2026 {
			t.Fatalf("%s: tick %v, %v", f, tick, err)
		}
	}
}
