package status

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/report"
	"github.com/vigil-monitor/vigil/internal/store"
)

// BenchmarkStatus100 answers the all-integrations request for 100 stored
// integrations of 4 components each. The json and markdown cases run the
// handler end to end against moto (one Query, the report, the encoding), so
// they include the emulator's own speed, which dominates; the render cases
// time what the function itself does with the records once read. SPEC §7's
// budget is 500 ms per answer.
func BenchmarkStatus100(b *testing.B) {
	const n = 100
	var yaml strings.Builder
	yaml.WriteString("integrations:\n")
	for i := range n {
		fmt.Fprintf(&yaml, "  - name: bridge-%03d\n    components:\n", i)
		for _, c := range []string{"websocket-manager", "orchestrator", "agent-registry", "supervisor"} {
			fmt.Fprintf(&yaml, "      - {name: %s, type: http, target: 'https://bridge-%03d.example.com/health/%s'}\n", c, i, c)
		}
	}
	doc, err := config.Parse([]byte(yaml.String()))
	if err != nil {
		b.Fatal(err)
	}
	client, table := newTable(b)
	s := store.New(client, table)
	for i, in := range doc.Integrations {
		r := bridgeRecord()
		r.Integration = in.Name
		r.Components = nil
		for _, c := range in.Components {
			r.Components = append(r.Components, health.ComponentStatus{Name: c.Name, Healthy: true, Critical: true, LatencyMs: float64(100 + i), Score: 100})
		}
		r.State, r.Score, r.ConsecutiveFailures, r.ErrorMessage = health.Active, 100, 0, ""
		r.Availability = fullDay()
		put(b, s, r)
	}
	h := &Handler{
		Store:  s,
		Config: func(context.Context) (*config.Document, error) { return doc, nil },
		Now:    func() time.Time { return now },
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	recs, err := s.List(context.Background())
	if err != nil || len(recs) != n {
		b.Fatalf("list: %d records, %v", len(recs), err)
	}
	b.Run("render-json", func(b *testing.B) {
		for b.Loop() {
			if err := json.NewEncoder(io.Discard).Encode(report.JSON(recs, doc, now)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("render-markdown", func(b *testing.B) {
		for b.Loop() {
			if err := report.Markdown(io.Discard, recs, doc, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, format := range []string{FormatJSON, FormatMarkdown} {
		b.Run(format, func(b *testing.B) {
			req := get(map[string]string{"format": format})
			for b.Loop() {
				resp, err := h.Handle(context.Background(), req)
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("status %d, err %v: %s", resp.StatusCode, err, resp.Body)
				}
			}
		})
	}
}

// fullDay is the availability of a day of one check a minute, the size a
// record carries in steady state.
func fullDay() health.Availability {
	var a health.Availability
	for i := range health.MinuteBuckets {
		a.Minutes = append(a.Minutes, health.Bucket{Start: now.Add(-time.Duration(i) * time.Minute).Unix(), Checks: 1, Healthy: 1})
	}
	for i := range health.HourBuckets {
		a.Hours = append(a.Hours, health.Bucket{Start: now.Add(-time.Duration(i) * time.Hour).Unix(), Checks: 60, Healthy: 60})
	}
	for i := range health.DayBuckets {
		a.Days = append(a.Days, health.Bucket{Start: now.Truncate(24 * time.Hour).Add(-time.Duration(i) * 24 * time.Hour).Unix(), Checks: 1440, Healthy: 1440})
	}
	for i := range health.LatencySamples {
		a.LatencyMs = append(a.LatencyMs, float64(150+i))
	}
	return a
}
