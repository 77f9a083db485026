package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// now is the fixed report time of every case: Sunday 1 June 2025, noon UTC.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// plantedSecret sits in the config's probe headers; no report may show it.
const plantedSecret = "sk-PLANTED-SECRET"

const baseConfig = `
integrations:
  - name: agent-bridge
    components:
      - name: websocket-manager
        type: http
        target: https://bridge.example.com/health/websocket-manager
        http:
          headers:
            Authorization: Bearer sk-PLANTED-SECRET
          secret_headers:
            X-Api-Key: {ssm: /vigil/bridge/api-key}
      - name: orchestrator
        type: http
        target: https://bridge.example.com/health/orchestrator
      - name: agent-registry
        type: http
        target: https://bridge.example.com/health/agent-registry
        critical: false
      - name: bridge-metrics
        type: http
        target: https://bridge.example.com/metrics
        critical: false
        http:
          metrics:
            - {name: MemoryMB, json_path: memory_mb, unit: Megabytes, warning: 500, critical: 800}
            - {name: CPUPercent, json_path: cpu_percent, unit: Percent, warning: 70, critical: 90}
            - {name: Connections, json_path: connections, unit: Count, warning: 100}
            - {name: AsyncTasks, json_path: async_tasks, unit: Count, warning: 50}
            - {name: ErrorRatePercent, json_path: error_rate_percent, unit: Percent, warning: 0.1, critical: 1}
      - name: websocket
        type: websocket
        target: wss://bridge.example.com/ws
`

const recoveryConfig = `
    recovery:
      webhook:
        url: https://ops.example.com/recover?token=sk-PLANTED-SECRET
        method: POST
        secret_headers:
          Authorization: {secretsmanager: vigil/ops-webhook}
      max_attempts: 3
      base_delay: 1s
      max_delay: 30s
      cooldown: 5m
`

const maintenanceConfig = `
    maintenance:
      - name: sunday-upgrade
        days: [sun]
        at: "11:00"
        duration: 2h
        time_zone: UTC
`

func parse(t *testing.T, extra ...string) *config.Document {
	t.Helper()
	doc, err := config.Parse([]byte(baseConfig + strings.Join(extra, "")))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// checks replays one check a minute from start to end (inclusive) into the
// availability buckets, with the same slot rules as the health package:
// 60 minute, 24 hour and 30 day slots, and the last 100 durations.
func checks(start, end time.Time, healthy func(time.Time) bool, durationMs func(i int) float64) health.Availability {
	var a health.Availability
	add := func(bs []health.Bucket, slot time.Time, ok bool) []health.Bucket {
		s := slot.Unix()
		if n := len(bs); n > 0 && bs[n-1].Start == s {
			bs[n-1].Checks++
			if ok {
				bs[n-1].Healthy++
			}
			return bs
		}
		b := health.Bucket{Start: s, Checks: 1}
		if ok {
			b.Healthy = 1
		}
		return append(bs, b)
	}
	i := 0
	for t := start; !t.After(end); t = t.Add(time.Minute) {
		ok := healthy(t)
		if t.After(end.Add(-health.MinuteBuckets * time.Minute)) {
			a.Minutes = add(a.Minutes, t.Truncate(time.Minute), ok)
		}
		if t.After(end.Truncate(time.Hour).Add(-health.HourBuckets * time.Hour)) {
			a.Hours = add(a.Hours, t.Truncate(time.Hour), ok)
		}
		day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		if day.After(end.Add(-health.DayBuckets * 24 * time.Hour)) {
			a.Days = add(a.Days, day, ok)
		}
		a.LatencyMs = append(a.LatencyMs, durationMs(i))
		if len(a.LatencyMs) > health.LatencySamples {
			a.LatencyMs = a.LatencyMs[1:]
		}
		i++
	}
	return a
}

// steady is a check duration between 180 and 329 ms, varying by check.
func steady(i int) float64 { return float64(180 + (i*37)%150) }

// failingSince is healthy before from and unhealthy from it on.
func failingSince(from time.Time) func(time.Time) bool {
	return func(t time.Time) bool { return t.Before(from) }
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr[T any](v T) *T { return &v }

func comp(name string, healthy, critical bool, latency, score float64, err string) health.ComponentStatus {
	return health.ComponentStatus{Name: name, Healthy: healthy, Critical: critical, LatencyMs: latency, Score: score, Error: err}
}

// healthyComponents is the bridge answering well: every figure under its
// warning, the certificate 45 days from expiry.
func healthyComponents() []health.ComponentStatus {
	m := comp("bridge-metrics", true, false, 95, 100, "")
	m.Metrics = map[string]float64{"MemoryMB": 312, "CPUPercent": 23.5, "Connections": 42, "AsyncTasks": 12, "ErrorRatePercent": 0.02}
	ws := comp("websocket", true, true, 210, 100, "")
	ws.CertDaysLeft = ptr(45.6)
	return []health.ComponentStatus{
		comp("websocket-manager", true, true, 120, 100, ""),
		comp("orchestrator", true, true, 140, 100, ""),
		comp("agent-registry", true, false, 88, 100, ""),
		m,
		ws,
	}
}

// boot is the history of an integration first checked on 1 May and healthy
// from its first check.
var boot = []health.Transition{
	{From: health.Uninitialized, To: health.Initializing, At: at("2025-05-01T08:00:00Z"), Cause: "first health check"},
	{From: health.Initializing, To: health.Active, At: at("2025-05-01T08:00:00Z"), Cause: "initialized: all components healthy (1 consecutive successes)"},
}

const orchestratorDown = "dial tcp 10.0.3.17:8080: connect: connection refused"

type goldenCase struct {
	name string
	doc  *config.Document
	recs []health.Record
	now  time.Time // report time; zero means now
}

func (c goldenCase) at() time.Time {
	if c.now.IsZero() {
		return now
	}
	return c.now
}

func cases(t *testing.T) []goldenCase {
	firstCheck := at("2025-05-01T08:00:00Z")
	uptimeStart := at("2025-05-30T09:12:07Z")
	// One check a minute since the first, this minute included.
	performed := int(now.Sub(firstCheck)/time.Minute) + 1
	since := func(t time.Time) int { return int(now.Sub(t)/time.Minute) + 1 }

	// active: healthy for two days after a recovery on 30 May that took 7 s.
	active := health.Record{
		Integration: "agent-bridge", Version: 43_561, State: health.Active, Score: 100,
		LastTick: now, Components: healthyComponents(),
		ConsecutiveSuccesses: since(at("2025-05-30T09:13:00Z")), HealthChecksPerformed: performed,
		TotalInitializations: 1, SuccessfulInitializations: 1,
		RecoveryAttempts: 2, SuccessfulRecoveries: 1, TotalRecoveries: 1,
		CurrentUptimeStart: &uptimeStart, UptimeSeconds: now.Sub(uptimeStart).Seconds(),
		LastHealthCheck: now,
		History: append(append([]health.Transition{}, boot...),
			health.Transition{From: health.Active, To: health.Failed, At: at("2025-05-30T09:10:00Z"), Cause: `critical component "orchestrator" unhealthy: ` + orchestratorDown},
			health.Transition{From: health.Failed, To: health.Active, At: uptimeStart, Cause: "recovered by attempt 2"},
		),
		Availability: checks(firstCheck, now, func(t time.Time) bool {
			return t.Before(at("2025-05-30T09:10:00Z")) || !t.Before(at("2025-05-30T09:13:00Z"))
		}, steady),
		Recovery: health.RecoveryStatus{
			IncidentID: "agent-bridge-1748596320", ExecutionName: "agent-bridge-1748596320",
			DecidedAt: at("2025-05-30T09:12:00Z"), StartedAt: at("2025-05-30T09:12:01Z"),
			Attempt: 2, LastOutcome: health.RecoverySucceeded, LastAttemptAt: uptimeStart, LastDurationMs: 1_840,
		},
	}

	// initializing: the first check found the orchestrator down.
	initializing := health.Record{
		Integration: "agent-bridge", Version: 1, State: health.Initializing, Score: 80,
		LastTick: now.Add(-time.Minute),
		Components: []health.ComponentStatus{
			comp("websocket-manager", true, true, 130, 100, ""),
			comp("orchestrator", false, true, 2.4, 0, orchestratorDown),
			comp("agent-registry", true, false, 91, 100, ""),
			comp("bridge-metrics", true, false, 102, 100, ""),
			comp("websocket", true, true, 250, 100, ""),
		},
		ConsecutiveFailures: 1, HealthChecksPerformed: 1, TotalInitializations: 1,
		LastHealthCheck: now.Add(-time.Minute),
		ErrorMessage:    "orchestrator: " + orchestratorDown,
		History: []health.Transition{
			{From: health.Uninitialized, To: health.Initializing, At: now.Add(-time.Minute), Cause: "first health check"},
		},
		Availability: checks(now.Add(-time.Minute), now.Add(-time.Minute), func(time.Time) bool { return false }, func(int) float64 { return 412 }),
	}

	// degraded: the registry answers 503 for two checks, the orchestrator
	// is slow, memory is over its critical limit and the certificate runs out.
	degradedSince := at("2025-06-01T11:59:00Z")
	degComps := healthyComponents()
	degComps[1] = comp("orchestrator", true, true, 1_800, 90, "")
	degComps[2] = comp("agent-registry", false, false, 5_000, 0, "GET https://bridge.example.com/health/agent-registry: status 503, want 200")
	degComps[3].Metrics = map[string]float64{"MemoryMB": 812, "CPUPercent": 74.25, "Connections": 130, "AsyncTasks": 64, "ErrorRatePercent": 0.4}
	degComps[3].Score = 100
	degComps[4].CertDaysLeft = ptr(5.2)
	degraded := health.Record{
		Integration: "agent-bridge", Version: 44_642, State: health.Degraded, Score: 78,
		LastTick: now, Components: degComps,
		ConsecutiveFailures: 2, HealthChecksPerformed: performed,
		TotalInitializations: 1, SuccessfulInitializations: 1,
		CurrentUptimeStart: &firstCheck, UptimeSeconds: now.Sub(firstCheck).Seconds(),
		LastHealthCheck: now,
		ErrorMessage:    "agent-registry: GET https://bridge.example.com/health/agent-registry: status 503, want 200",
		History: append(append([]health.Transition{}, boot...),
			health.Transition{From: health.Active, To: health.Degraded, At: degradedSince, Cause: `non-critical component "agent-registry" unhealthy: GET https://bridge.example.com/health/agent-registry: status 503, want 200`},
		),
		Availability: checks(firstCheck, now, failingSince(degradedSince), steady),
	}

	// failed: no recovery configured, the orchestrator refused connections
	// for the last four checks.
	failedAt := at("2025-06-01T11:57:00Z")
	failComps := healthyComponents()
	failComps[1] = comp("orchestrator", false, true, 1.2, 0, orchestratorDown)
	failed := health.Record{
		Integration: "agent-bridge", Version: 44_642, State: health.Failed, Score: 80,
		LastTick: now, Components: failComps,
		ConsecutiveFailures: 4, HealthChecksPerformed: performed,
		TotalInitializations: 1, SuccessfulInitializations: 1,
		LastHealthCheck: now,
		ErrorMessage:    "orchestrator: " + orchestratorDown,
		History: append(append([]health.Transition{}, boot...),
			health.Transition{From: health.Active, To: health.Failed, At: failedAt, Cause: `critical component "orchestrator" unhealthy: ` + orchestratorDown},
		),
		Availability: checks(firstCheck, now, failingSince(failedAt), steady),
	}

	// flapping: the registry comes and goes; 7 transitions in 15 minutes.
	flapHist := append([]health.Transition{}, boot...)
	state := health.Active
	for _, m := range []int{46, 48, 50, 52, 54, 56, 58} {
		to := health.Degraded
		cause := `non-critical component "agent-registry" unhealthy: read: connection reset by peer`
		if state == health.Degraded {
			to, cause = health.Active, "all components healthy (1 consecutive successes)"
		}
		flapHist = append(flapHist, health.Transition{From: state, To: to, At: time.Date(2025, 6, 1, 11, m, 0, 0, time.UTC), Cause: cause})
		state = to
	}
	flapComps := healthyComponents()
	flapComps[2] = comp("agent-registry", false, false, 3.1, 0, "read: connection reset by peer")
	flapping := health.Record{
		Integration: "agent-bridge", Version: 44_642, State: state, Score: 80,
		LastTick: now, Components: flapComps,
		ConsecutiveFailures: since(at("2025-06-01T11:58:00Z")), HealthChecksPerformed: performed,
		TotalInitializations: 1, SuccessfulInitializations: 1,
		CurrentUptimeStart: &firstCheck, UptimeSeconds: now.Sub(firstCheck).Seconds(),
		LastHealthCheck: now,
		ErrorMessage:    "agent-registry: read: connection reset by peer",
		History:         flapHist,
		Flapping:        true,
		Availability: checks(firstCheck, now, func(t time.Time) bool {
			// Degraded from each odd transition to the next.
			for i := 2; i < len(flapHist); i += 2 {
				end := now.Add(time.Minute)
				if i+1 < len(flapHist) {
					end = flapHist[i+1].At
				}
				if !t.Before(flapHist[i].At) && t.Before(end) {
					return false
				}
			}
			return true
		}, steady),
	}

	// maintenance: the orchestrator is being upgraded in the Sunday window;
	// FAILED for six checks, but recovery is held.
	maintAt := at("2025-06-01T11:55:00Z")
	maintComps := healthyComponents()
	maintComps[1] = comp("orchestrator", false, true, 5_000, 0, "GET https://bridge.example.com/health/orchestrator: context deadline exceeded (timeout 5s)")
	maint := health.Record{
		Integration: "agent-bridge", Version: 44_642, State: health.Failed, Score: 80,
		LastTick: now, Components: maintComps,
		ConsecutiveFailures: 6, HealthChecksPerformed: performed,
		TotalInitializations: 1, SuccessfulInitializations: 1,
		LastHealthCheck: now,
		ErrorMessage:    "orchestrator: GET https://bridge.example.com/health/orchestrator: context deadline exceeded (timeout 5s)",
		History: append(append([]health.Transition{}, boot...),
			health.Transition{From: health.Active, To: health.Failed, At: maintAt, Cause: `critical component "orchestrator" unhealthy: context deadline exceeded`},
		),
		InMaintenance: true,
		Availability:  checks(firstCheck, now, failingSince(maintAt), steady),
	}

	// mid-recovery: the third failure, at the 12:00 check, decided recovery;
	// the first webhook attempt failed and the status is read six seconds
	// later, while the second attempt runs.
	recAt := at("2025-06-01T11:58:00Z")
	midNow := at("2025-06-01T12:00:06Z")
	midComps := healthyComponents()
	midComps[1] = comp("orchestrator", false, true, 1.1, 0, orchestratorDown)
	mid := health.Record{
		Integration: "agent-bridge", Version: 44_884, State: health.Failed, Score: 80,
		LastTick: now, Components: midComps,
		ConsecutiveFailures: since(recAt), HealthChecksPerformed: performed,
		TotalInitializations: 1, SuccessfulInitializations: 1,
		RecoveryAttempts: 1,
		LastHealthCheck:  now,
		ErrorMessage:     "orchestrator: " + orchestratorDown,
		History: append(append([]health.Transition{}, boot...),
			health.Transition{From: health.Active, To: health.Failed, At: recAt, Cause: `critical component "orchestrator" unhealthy: ` + orchestratorDown},
		),
		Availability: checks(firstCheck, now, failingSince(recAt), steady),
		Recovery: health.RecoveryStatus{
			InProgress: true, IncidentID: "agent-bridge-1748779200", ExecutionName: "agent-bridge-1748779200",
			DecidedAt: now, StartedAt: at("2025-06-01T12:00:01Z"),
			Attempt: 1, LastOutcome: health.RecoveryFailed, LastAttemptAt: at("2025-06-01T12:00:04Z"),
			LastDurationMs: 2_950, LastError: "webhook POST returned status 500, want 200, 202 or 204",
		},
	}

	// exhausted: the third failure at 11:55 decided recovery; three attempts
	// 1 s and 2 s apart all failed by 11:55:13, so the 5 m cooldown runs to
	// 12:00:13 and the later failures decide nothing.
	exAt := at("2025-06-01T11:53:00Z")
	ex := mid
	ex.ConsecutiveFailures = since(exAt)
	ex.RecoveryAttempts = 3
	ex.TotalRecoveries = 1
	ex.History = append(append([]health.Transition{}, boot...),
		health.Transition{From: health.Active, To: health.Failed, At: exAt, Cause: `critical component "orchestrator" unhealthy: ` + orchestratorDown},
	)
	ex.Availability = checks(firstCheck, now, failingSince(exAt), steady)
	ex.Recovery = health.RecoveryStatus{
		IncidentID: "agent-bridge-1748778900", ExecutionName: "agent-bridge-1748778900",
		DecidedAt: at("2025-06-01T11:55:00Z"), StartedAt: at("2025-06-01T11:55:01Z"),
		Attempt: 3, LastOutcome: health.RecoveryExhausted, LastAttemptAt: at("2025-06-01T11:55:13Z"),
		LastDurationMs: 3_020, LastError: "webhook POST returned status 500, want 200, 202 or 204",
		CooldownUntil: at("2025-06-01T12:00:13Z"),
	}

	// The checker's resolver failed: the last check judged nothing.
	inconclusive := active
	inconclusive.Inconclusive = `checker-side fault: component "orchestrator" not judged: DNS: lookup of bridge.internal timed out (timeout after 5s)`
	inconclusive.InconclusiveChecks = 2

	// An operator stopped the execution; a check found and closed it.
	aborted := ex
	aborted.Recovery.Attempt, aborted.Recovery.LastOutcome = 1, health.RecoveryAborted
	aborted.Recovery.LastError = "execution agent-bridge-1748778900 ended ABORTED without recording its outcome"

	return []goldenCase{
		{"inconclusive", parse(t, recoveryConfig), []health.Record{inconclusive}, time.Time{}},
		{"recovery-aborted", parse(t, recoveryConfig), []health.Record{aborted}, time.Time{}},
		{"never-checked", parse(t, recoveryConfig), nil, time.Time{}},
		{"initializing", parse(t, recoveryConfig), []health.Record{initializing}, time.Time{}},
		{"active", parse(t, recoveryConfig), []health.Record{active}, time.Time{}},
		{"degraded", parse(t, recoveryConfig), []health.Record{degraded}, time.Time{}},
		{"failed", parse(t), []health.Record{failed}, time.Time{}},
		{"flapping", parse(t, recoveryConfig), []health.Record{flapping}, time.Time{}},
		{"maintenance", parse(t, recoveryConfig, maintenanceConfig), []health.Record{maint}, time.Time{}},
		{"mid-recovery", parse(t, recoveryConfig), []health.Record{mid}, midNow},
		{"recovery-exhausted", parse(t, recoveryConfig), []health.Record{ex}, time.Time{}},
	}
}

func TestGolden(t *testing.T) {
	for _, c := range cases(t) {
		t.Run(c.name, func(t *testing.T) {
			var md bytes.Buffer
			if err := Markdown(&md, c.recs, c.doc, c.at(), WithStatusQuery(42*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			golden(t, c.name+".md.golden", md.Bytes())

			js, err := json.MarshalIndent(JSON(c.recs, c.doc, c.at(), WithStatusQuery(42*time.Millisecond)), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, c.name+".json.golden", append(js, '\n'))

			for _, out := range [][]byte{md.Bytes(), js} {
				if bytes.Contains(out, []byte(plantedSecret)) || bytes.Contains(out, []byte("/vigil/bridge/api-key")) ||
					bytes.Contains(out, []byte("vigil/ops-webhook")) {
					t.Errorf("report shows a secret or a secret reference:\n%s", out)
				}
			}
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; run go test -run TestGolden -update and review the diff\n--- got ---\n%s", name, got)
	}
}

// TestDeterministic renders every case twice: map iteration order must not
// leak into the output.
func TestDeterministic(t *testing.T) {
	for _, c := range cases(t) {
		var a, b bytes.Buffer
		for _, w := range []*bytes.Buffer{&a, &b} {
			if err := Markdown(w, c.recs, c.doc, c.at()); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: two renderings differ", c.name)
		}
	}
}

func TestNeverCheckedAndUnconfigured(t *testing.T) {
	doc := parse(t)
	stray := health.Record{Integration: "old-bridge", Version: 3, State: health.Active, Score: 100, HealthChecksPerformed: 3, LastHealthCheck: now.Add(-48 * time.Hour)}
	rep := JSON([]health.Record{stray}, doc, now)
	if len(rep.Integrations) != 2 || rep.Integrations[0].Name != "agent-bridge" || rep.Integrations[1].Name != "old-bridge" {
		t.Fatalf("integrations = %+v, want agent-bridge then old-bridge", rep.Integrations)
	}
	ab, old := rep.Integrations[0], rep.Integrations[1]
	if !ab.NeverChecked || ab.State != health.Uninitialized || len(ab.Components) != 5 || ab.Components[0].Status != StatusNeverChecked {
		t.Errorf("agent-bridge = %+v, want never checked with its 5 configured components", ab)
	}
	if old.Configured || !strings.Contains(old.Recommendations[0], "not in the configuration") {
		t.Errorf("old-bridge = %+v, want flagged as not configured", old)
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, os.ErrClosed
	}
	f.n--
	return len(p), nil
}

func TestMarkdownWriteError(t *testing.T) {
	if err := Markdown(&failWriter{n: 3}, nil, parse(t), now); err == nil {
		t.Fatal("want the writer's error")
	}
}

// Text from targets and stored records is rendered inert: no HTML element,
// link, image or code span of theirs survives into the Markdown.
func TestMarkdownInjectionInert(t *testing.T) {
	doc := parse(t, recoveryConfig)
	const (
		img  = `<img src=x onerror=alert(1)>`
		link = `[click](javascript:alert(1))`
		pic  = `![x](https://evil.example/p.png)`
		code = "`rm -rf /`"
	)
	rec := health.Record{
		Integration: "agent-bridge", Version: 9, State: health.Failed, HealthChecksPerformed: 5, LastHealthCheck: now.Add(-time.Minute),
		ConsecutiveFailures: 3, ErrorMessage: "orchestrator: " + img + " " + link,
		Components: []health.ComponentStatus{{Name: "orchestrator", Critical: true, Error: img + " " + pic + " " + code + " **bold** | pipe"}},
		History:    []health.Transition{{From: health.Active, To: health.Failed, At: now.Add(-2 * time.Minute), Cause: link + " " + img}},
		Recovery: health.RecoveryStatus{IncidentID: "agent-bridge-1", ExecutionName: "agent-bridge-1", Attempt: 1,
			LastOutcome: health.RecoveryFailed, LastError: pic + " " + link, InProgress: true, DecidedAt: now.Add(-time.Minute)},
	}
	var md bytes.Buffer
	if err := Markdown(&md, []health.Record{rec}, doc, now); err != nil {
		t.Fatal(err)
	}
	out := md.String()
	// Live syntax is the sequence without a backslash before it.
	for _, bad := range []string{`<img`, `(^|[^\\])\]\(javascript:`, `(^|[^\\])!\[x`, "(^|[^\\\\])`rm", `(^|[^\\])\*\*bold`} {
		if re := regexp.MustCompile(bad); re.MatchString(out) {
			t.Errorf("report renders %s live: %q", bad, re.FindString(out))
		}
	}
	// In a table, a target's pipe must not open a cell.
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "| orchestrator") && strings.Count(line, "|")-strings.Count(line, `\|`) != 6 {
			t.Errorf("component row split by a target's pipe: %s", line)
		}
	}
	// Still there, as text.
	for _, text := range []string{"&lt;img src=x onerror=alert(1)&gt;", `\[click\](javascript:alert(1))`} {
		if !strings.Contains(out, text) {
			t.Errorf("report lost %q", text)
		}
	}
}

// Each integration is judged against its own objective: one failed check in
// the last hour (98.3 %) meets a 98 % SLO and misses the default 99.9 %.
func TestSLOPerIntegration(t *testing.T) {
	oneFailure := func(t time.Time) bool { return !t.Equal(now.Add(-30 * time.Minute)) }
	rec := health.Record{Integration: "agent-bridge", State: health.Active, HealthChecksPerformed: 60, LastHealthCheck: now,
		Availability: checks(now.Add(-59*time.Minute), now, oneFailure, func(int) float64 { return 50 })}
	for _, c := range []struct {
		extra string
		slo   float64
		meets bool
	}{{"", config.DefaultSLO, false}, {"    slo: 98\n", 98, true}} {
		in := JSON([]health.Record{rec}, parse(t, c.extra), now).Integrations[0]
		hour := in.Availability.Windows[0]
		if in.Availability.SLOPercent != c.slo || hour.MeetsSLO == nil || *hour.MeetsSLO != c.meets {
			t.Errorf("slo %v: availability %+v, hour %+v; want meets=%v", c.slo, in.Availability, hour, c.meets)
		}
		below := strings.Contains(strings.Join(in.Recommendations, "\n"), "availability below SLO")
		if below == c.meets {
			t.Errorf("slo %v: recommendations %q; want below-SLO advice only when missed", c.slo, in.Recommendations)
		}
	}
}

// Several probing regions: the report shows each region's slowest probe and
// failures, and which one was set aside; one region shows no such section.
func TestRegionsSection(t *testing.T) {
	doc := parse(t)
	rec := health.Record{Integration: "agent-bridge", Version: 3, State: health.Active, Score: 100, HealthChecksPerformed: 3, LastHealthCheck: now.Add(-time.Minute),
		Regions: []health.RegionView{{Region: "eu-west-1", LatencyMs: 84.5, Failing: 0}, {Region: "us-east-1", LatencyMs: 12, Failing: 5, Impaired: true}}}
	var b strings.Builder
	if err := Markdown(&b, []health.Record{rec}, doc, now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"### Regions", "| eu-west-1 | 84 ms | 0 | yes |", "| us-east-1 | 12 ms | 5 | no — impaired, set aside |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if got := JSON([]health.Record{rec}, doc, now).Integrations[0].Regions; len(got) != 2 || got[1].Region != "us-east-1" || !got[1].Impaired {
		t.Errorf("JSON regions %+v", got)
	}
	rec.Regions = nil
	b.Reset()
	if err := Markdown(&b, []health.Record{rec}, doc, now); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "### Regions") {
		t.Error("a single-region report shows a Regions section")
	}
}
