package store

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/probe"
)

// worstText is 400 KB of the character JSON escapes into two: a target's
// answer as large as an item may be, and larger than any text Vigil keeps.
var worstText = strings.Repeat(`"`, 400_000)

// worstIntegration is the largest integration the document's schema allows:
// config.MaxComponents components with the longest names, config.MaxMetrics
// body metrics with the longest names, a recovery.
func worstIntegration(t *testing.T) config.Integration {
	t.Helper()
	var b strings.Builder
	name := func(prefix string, i, n int) string {
		s := fmt.Sprintf("%s%d-", prefix, i)
		return s + strings.Repeat("n", n-len(s))
	}
	fmt.Fprintf(&b, "integrations:\n  - name: %s\n    recovery: {webhook: {url: 'https://recover.example.com/'}}\n    components:\n", name("i", 0, 64))
	for i := range config.MaxComponents {
		fmt.Fprintf(&b, "      - {name: %s, type: http, target: 'https://example.com/%d'", name("c", i, 64), i)
		if i < config.MaxMetrics {
			fmt.Fprintf(&b, ", http: {metrics: [{name: %s, json_path: m, critical: 1}]}", name("M", i, 255))
		}
		b.WriteString("}\n")
	}
	doc, err := config.Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return doc.Integrations[0]
}

// worstResults fails every component with the longest error a target can
// cause, and gives each the largest numbers it can carry.
func worstResults(integ config.Integration, healthy bool) []probe.Result {
	days := -123456.789012345
	out := make([]probe.Result, len(integ.Components))
	for i, c := range integ.Components {
		r := probe.Result{Component: c.Name, Healthy: healthy, Latency: 59999999999 * time.Nanosecond, CertDaysLeft: &days}
		if !healthy {
			r.Error, r.Side, r.Phase = worstText, probe.SideTarget, probe.PhaseAssertion
		}
		if c.HTTP != nil && len(c.HTTP.Metrics) > 0 {
			r.Metrics = map[string]float64{c.HTTP.Metrics[0].Name: -1.2345678901234567e+300}
		}
		out[i] = r
	}
	return out
}

// The document's caps keep the worst-case state item well under DynamoDB's
// 400 KB, whatever the targets answer: the largest integration, every
// component failing with a huge answer, a full history of flapping
// transitions, full availability windows, a recovery with the longest
// error — written through the real Evaluate and the store to the emulator.
func TestWorstCaseItemFits(t *testing.T) {
	client, table := newTable(t)
	s := New(client, table)
	integ := worstIntegration(t)

	var rec health.Record
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ticks []time.Time
	for d := range 31 { // a check a day fills the day slots ...
		ticks = append(ticks, base.Add(time.Duration(d)*24*time.Hour))
	}
	last := ticks[len(ticks)-1]
	for h := 1; h <= 25; h++ { // ... then an hour apart, then a minute apart
		ticks = append(ticks, last.Add(time.Duration(h)*time.Hour))
	}
	last = ticks[len(ticks)-1]
	for m := 1; m <= 120; m++ {
		ticks = append(ticks, last.Add(time.Duration(m)*time.Minute))
	}
	for i, tick := range ticks {
		// Alternate: every check is a transition, so the history fills.
		rec, _ = health.Evaluate(rec, health.Check{Integration: integ, Tick: tick, Results: worstResults(integ, i%2 == 1), Duration: time.Minute}, tick)
	}
	rec, _ = health.Evaluate(rec, health.Check{Integration: integ, Tick: last.Add(121 * time.Minute), Results: worstResults(integ, false), Duration: time.Minute}, last.Add(121*time.Minute))
	rec.Recovery = health.RecoveryStatus{InProgress: true, IncidentID: strings.Repeat("i", 64) + "-1767225600", ExecutionName: strings.Repeat("e", 80),
		DecidedAt: last, StartedAt: last, LastAttemptAt: last}
	rec, _, _ = health.ApplyAttempt(rec, health.AttemptReport{IncidentID: rec.Recovery.IncidentID, Attempt: 1, Error: worstText}, integ, last)
	rec.Inconclusive = bound.Text(worstText, bound.Cause)

	if len(rec.History) != health.HistoryLen || len(rec.Availability.Days) < health.DayBuckets-1 || len(rec.Availability.LatencyMs) != health.LatencySamples {
		t.Fatalf("not the worst case: %d transitions, %d day slots, %d latencies", len(rec.History), len(rec.Availability.Days), len(rec.Availability.LatencyMs))
	}
	item, err := marshalState(rec)
	if err != nil {
		t.Fatal(err)
	}
	size := ItemSize(item)
	t.Logf("worst-case state item: %d components, %d bytes (DynamoDB limit 409,600)", len(rec.Components), size)
	if size > 300_000 {
		t.Fatalf("worst-case item is %d bytes; keep it well under 400 KB (300,000)", size)
	}

	got, err := s.Update(t.Context(), integ.Name, func(health.Record) (health.Record, bool, error) { return rec, true, nil })
	if err != nil {
		t.Fatalf("write the worst case: %v", err)
	}
	back, err := s.Get(t.Context(), integ.Name)
	if err != nil || back.Version != got.Version || len(back.Components) != config.MaxComponents {
		t.Fatalf("read back: %v, %d components", err, len(back.Components))
	}
}

// DynamoDB refuses items over 400 KB: the emulator does too, so the test
// above proves the write, not only the arithmetic.
func TestOversizedItemRefused(t *testing.T) {
	client, table := newTable(t)
	s := New(client, table)
	rec := health.Record{State: health.Active, ErrorMessage: strings.Repeat("x", 420_000)}
	_, err := s.Update(t.Context(), "big", func(health.Record) (health.Record, bool, error) { return rec, true, nil })
	if err == nil {
		t.Fatal("the emulator accepted a 420 KB item; the worst-case test would prove nothing")
	}
}
