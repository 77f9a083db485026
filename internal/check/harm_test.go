package check

// The watcher does no harm (issue 9): recovery that never stays stuck,
// checker-side faults that never trigger recovery, events and answers that
// cannot poison state. Against moto, loopback targets and a loopback DNS
// server the test controls.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/vigil-monitor/vigil/internal/awsenv"
	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/demobridge"
	"github.com/vigil-monitor/vigil/internal/dnstest"
	"github.com/vigil-monitor/vigil/internal/execution"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/metrics"
	"github.com/vigil-monitor/vigil/internal/notify"
	"github.com/vigil-monitor/vigil/internal/probe"
	"github.com/vigil-monitor/vigil/internal/store"
)

// clock is a time the test moves; the handler reads it as its Now.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time           { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Set(t time.Time)          { c.ns.Store(t.UnixNano()) }
func (f *fixture) minute(n int) time.Time { return f.base.Add(time.Duration(n) * time.Minute) }

// useClock makes the handler's time the test's: tick n runs at 2 s past
// its scheduled minute.
func (f *fixture) useClock() *clock {
	c := &clock{}
	c.Set(f.base)
	f.h.Now = c.Now
	f.clock = c
	return c
}

// at runs tick n on the test's clock and returns its result, failing on an
// error.
func (f *fixture) at(n int) Result {
	f.t.Helper()
	r, err := f.atErr(n)
	if err != nil {
		f.t.Fatalf("tick %d: %v", n, err)
	}
	return r
}

func (f *fixture) atErr(n int) (Result, error) {
	f.clock.Set(f.minute(n).Add(2 * time.Second))
	return f.h.Handle(context.Background(), Event{ScheduledTime: f.minute(n).Format(time.RFC3339)})
}

// inbox subscribes a loopback HTTP endpoint to a new topic on moto and wires
// the handler's notifier to it, so the test reads what subscribers get.
type inbox struct {
	mu   sync.Mutex
	msgs []notify.Event
}

func (f *fixture) subscribe() *inbox {
	f.t.Helper()
	ctx := context.Background()
	in := &inbox{}
	sub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct{ Type, Message string }
		if err := json.NewDecoder(r.Body).Decode(&env); err == nil && env.Type == "Notification" {
			var ev notify.Event
			if json.Unmarshal([]byte(env.Message), &ev) == nil {
				in.mu.Lock()
				in.msgs = append(in.msgs, ev)
				in.mu.Unlock()
			}
		}
	}))
	f.t.Cleanup(sub.Close)
	topic, err := f.clients.SNS.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(fmt.Sprintf("vigil-%d", time.Now().UnixNano()))})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.clients.SNS.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String(sub.URL)}); err != nil {
		f.t.Fatal(err)
	}
	f.h.Notifier = notify.NewPublisher(f.clients.SNS, aws.ToString(topic.TopicArn))
	return in
}

// kinds lists the kinds received, in order (moto delivers synchronously
// within Publish).
func (in *inbox) kinds() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]string, 0, len(in.msgs))
	for _, m := range in.msgs {
		out = append(out, m.Kind)
	}
	return out
}

func count(kinds []string, kind string) int {
	n := 0
	for _, k := range kinds {
		if k == kind {
			n++
		}
	}
	return n
}

// recordAttempt records attempt n of the record's incident as the Recovery
// function does after an attempt that left the integration unhealthy.
func (f *fixture) recordAttempt(name string, n int) {
	f.t.Helper()
	_, err := f.store.Update(context.Background(), name, func(cur health.Record) (health.Record, bool, error) {
		next, _, ok := health.ApplyAttempt(cur, health.AttemptReport{IncidentID: cur.Recovery.IncidentID, Attempt: n, Error: "webhook: status 500"}, config.Integration{Name: name}, f.clock.Now())
		return next, ok, nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) record(name string) health.Record {
	f.t.Helper()
	rec, err := f.store.Get(context.Background(), name)
	if err != nil {
		f.t.Fatal(err)
	}
	return rec
}

func (f *fixture) executionARN(name string) string {
	f.t.Helper()
	arn, err := execution.ExecutionARN(f.smARN, name)
	if err != nil {
		f.t.Fatal(err)
	}
	return arn
}

// toFailed runs ticks 1–5: initialized, ACTIVE, then the orchestrator down
// three times; the third failure starts the recovery. It returns the
// incident's execution name.
func (f *fixture) toFailed(name string) string {
	f.t.Helper()
	f.at(1)
	f.at(2)
	f.fault("orchestrator", demobridge.FaultDown)
	f.at(3)
	f.at(4)
	r := f.at(5)
	if ir := r.Integrations[0]; !ir.RecoveryStarted {
		f.t.Fatalf("recovery not started at the third failure: %+v", ir)
	}
	return f.record(name).Recovery.ExecutionName
}

// An execution an operator stops mid-way: once it has been quiet longer than
// the workflow can be, the check looks it up, records "aborted", notifies,
// and after the cooldown exactly one new execution starts under a new name.
func TestStoppedExecutionIsClosedThenRecoveredAnew(t *testing.T) {
	f := newFixture(t, "stopped", nil)
	f.useClock()
	in := f.subscribe()
	first := f.toFailed("stopped")

	f.recordAttempt("stopped", 1) // attempt 1 ran and failed ...
	ctx := context.Background()
	if _, err := f.clients.SFN.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(f.executionARN(first))}); err != nil {
		t.Fatal(err) // ... then an operator stopped the execution
	}
	// Within the quiet time the workflow allows (a 30 s wait and a 70 s
	// task): no look-up.
	r := f.at(6)
	if r.AWSRequests["SFN.DescribeExecution"] != 0 || r.Integrations[0].RecoveryClosed != "" {
		t.Fatalf("looked up too early: %v", r.AWSRequests)
	}
	r = f.at(7)
	if got := r.Integrations[0].RecoveryClosed; got != health.RecoveryAborted || r.AWSRequests["SFN.DescribeExecution"] != 1 {
		t.Fatalf("tick 7: closed %q, requests %v", got, r.AWSRequests)
	}
	rec := f.record("stopped")
	wantUntil := f.minute(7).Add(2*time.Second + config.DefaultCooldown)
	if rec.Recovery.Open() || rec.Recovery.LastOutcome != health.RecoveryAborted || !rec.Recovery.CooldownUntil.Equal(wantUntil) || rec.TotalRecoveries != 1 {
		t.Fatalf("recorded %+v, total %d", rec.Recovery, rec.TotalRecoveries)
	}
	if got := count(in.kinds(), notify.KindRecoveryEnded); got != 1 {
		t.Fatalf("%d recovery_ended notifications (%v)", got, in.kinds())
	}

	// The cooldown holds; nothing is looked up or started again.
	for n := 8; n <= 21; n++ {
		r = f.at(n)
		if ir := r.Integrations[0]; ir.RecoveryDue || ir.RecoveryClosed != "" || r.AWSRequests["SFN.DescribeExecution"] != 0 {
			t.Fatalf("tick %d during the cooldown: %+v, %v", n, ir, r.AWSRequests)
		}
	}
	r = f.at(22) // the cooldown (15 minutes from the close) is over: a new incident
	second := r.Integrations[0].RecoveryExecution
	if !r.Integrations[0].RecoveryStarted || second == first || second == "" {
		t.Fatalf("after the cooldown: %+v (first %s)", r.Integrations[0], first)
	}
	// The new execution is pending and running: later checks find it
	// exists and running, and start nothing more.
	for n := 23; n <= 24; n++ {
		r = f.at(n)
		if r.Integrations[0].RecoveryStarted || r.Integrations[0].RecoveryClosed != "" {
			t.Fatalf("tick %d: %+v", n, r.Integrations[0])
		}
	}
	if n := f.executions(); n != 2 {
		t.Fatalf("%d executions, want exactly 2 (one per incident)", n)
	}
}

// endedAs is the emulator's Step Functions client with DescribeExecution
// reporting a chosen status for chosen executions: moto, without executing
// state machines (this package's emulator runs none, so that executions stay
// put), reaches RUNNING and ABORTED only. A hand-written stand-in for those
// statuses alone; internal/recovery's TestStarterReadsHowExecutionsEnd runs
// real executions into TIMED_OUT, FAILED and SUCCEEDED on the emulator.
type endedAs struct {
	execution.SFNAPI
	mu     sync.Mutex
	status map[string]sfntypes.ExecutionStatus // by execution ARN
}

func (s *endedAs) set(arn string, st sfntypes.ExecutionStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status[arn] = st
}

func (s *endedAs) DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	out, err := s.SFNAPI.DescribeExecution(ctx, in, opts...)
	if err != nil {
		return out, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.status[aws.ToString(in.ExecutionArn)]; ok {
		out.Status = st
	}
	return out, nil
}

// An execution that timed out, and one whose Recovery function was killed
// before its last write (the execution failed, the record still says "in
// progress"): each is closed with how it ended, and recovery starts anew
// after the cooldown.
func TestTimedOutAndFailedExecutionsAreClosed(t *testing.T) {
	for _, tc := range []struct {
		status  sfntypes.ExecutionStatus
		outcome string
	}{
		{sfntypes.ExecutionStatusTimedOut, health.RecoveryTimedOut},
		{sfntypes.ExecutionStatusFailed, health.RecoveryExecutionFailed},
	} {
		t.Run(string(tc.status), func(t *testing.T) {
			name := "ended-" + strings.ToLower(strings.ReplaceAll(string(tc.status), "_", ""))
			sfnc := &endedAs{SFNAPI: awsenv.New(moto.Get(t).AWSConfig()).SFN, status: map[string]sfntypes.ExecutionStatus{}}
			f := newFixture(t, name, sfnc)
			f.useClock()
			first := f.toFailed(name)
			f.recordAttempt(name, 1)
			f.recordAttempt(name, 2)
			sfnc.set(f.executionARN(first), tc.status)

			r := f.at(8) // quiet for more than 100 s since attempt 2
			if got := r.Integrations[0].RecoveryClosed; got != tc.outcome {
				t.Fatalf("closed %q, want %q", got, tc.outcome)
			}
			rec := f.record(name)
			if rec.Recovery.Open() || rec.Recovery.Attempt != 2 || rec.RecoveryAttempts != 2 || !strings.Contains(rec.Recovery.LastError, string(tc.status)) {
				t.Fatalf("recorded %+v", rec.Recovery)
			}
			r = f.at(8 + 16)
			if !r.Integrations[0].RecoveryStarted || f.executions() != 2 {
				t.Fatalf("after the cooldown: %+v, %d executions", r.Integrations[0], f.executions())
			}
		})
	}
}

// An execution that ended before its function recorded anything leaves the
// record "pending": the next check's start finds the execution exists, looks
// it up and closes the incident — it never counts "already exists" as
// started.
func TestPendingWhoseExecutionEndedIsClosed(t *testing.T) {
	f := newFixture(t, "pendingend", nil)
	f.useClock()
	first := f.toFailed("pendingend")
	ctx := context.Background()
	if _, err := f.clients.SFN.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(f.executionARN(first))}); err != nil {
		t.Fatal(err)
	}
	r := f.at(6)
	ir := r.Integrations[0]
	if ir.RecoveryStarted || ir.RecoveryClosed != health.RecoveryAborted || r.AWSRequests["SFN.StartExecution"] != 1 || r.AWSRequests["SFN.DescribeExecution"] != 1 {
		t.Fatalf("tick 6: %+v, requests %v", ir, r.AWSRequests)
	}
	if rec := f.record("pendingend"); rec.Recovery.Pending || rec.Recovery.LastOutcome != health.RecoveryAborted {
		t.Fatalf("still pending: %+v", rec.Recovery)
	}
	r = f.at(7)
	if r.AWSRequests["SFN.StartExecution"] != 0 || r.AWSRequests["SFN.DescribeExecution"] != 0 {
		t.Fatalf("a closed incident still costs Step Functions requests: %v", r.AWSRequests)
	}
}

// resolverFixture is the bridge checked through host names that only the
// test's DNS server resolves, next to a second, healthy integration.
type resolverFixture struct {
	*fixture
	dns     *dnstest.Server
	healthy *demobridge.Bridge
}

const twoBridges = `
integrations:
  - name: %[1]s
    components:
      - {name: orchestrator, type: http, target: "http://a.vigil.test:%[2]s/health/orchestrator", timeout: 1s, allow_loopback: true}
      - {name: supervisor, type: http, target: "http://a.vigil.test:%[2]s/health/supervisor", timeout: 1s, allow_loopback: true}
      - {name: websocket, type: websocket, target: "ws://a.vigil.test:%[2]s/ws", timeout: 1s, allow_loopback: true, websocket: {send: '{"type":"ping"}', expect: pong}}
    recovery:
      webhook: {url: "http://127.0.0.1:%[2]s/recover", allow_loopback: true}
  - name: %[1]s-other
    components:
      - {name: orchestrator, type: http, target: "http://b.vigil.test:%[3]s/health/orchestrator", timeout: 1s, allow_loopback: true}
      - {name: registry, type: tcp, target: "b.vigil.test:%[3]s", timeout: 1s, allow_loopback: true}
    recovery:
      webhook: {url: "http://127.0.0.1:%[3]s/recover", allow_loopback: true}
`

func newResolverFixture(t *testing.T, name string) *resolverFixture {
	t.Helper()
	f := newFixture(t, name, nil)
	f.useClock()
	other := demobridge.New(demobridge.Options{InitChecks: -1})
	srv := httptest.NewServer(other)
	t.Cleanup(func() { other.Close(); srv.Close() })
	dns, err := dnstest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dns.Close)
	loop := netip.MustParseAddr("127.0.0.1")
	dns.Set("a.vigil.test", loop)
	dns.Set("b.vigil.test", loop)
	doc, err := config.Parse(fmt.Appendf(nil, twoBridges, name, port(t, f.bridgeURL), port(t, srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	f.h.Config = func(context.Context) (*config.Document, error) { return doc, nil }
	f.h.Probers = probe.NewProbers(probe.WithResolver(dns.Resolver()))
	return &resolverFixture{fixture: f, dns: dns, healthy: other}
}

func port(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// A resolver that never answers makes every component of every integration
// fail the same way: every check is inconclusive — no failure counted, no
// state changed, zero executions — published, and notified once; when the
// resolver answers again, checks count again.
func TestResolverDownIsInconclusive(t *testing.T) {
	f := newResolverFixture(t, "resolver")
	in := f.subscribe()
	f.at(1)
	r := f.at(2)
	for _, ir := range r.Integrations {
		if ir.State != health.Active {
			t.Fatalf("before the fault: %+v", ir)
		}
	}
	changes := count(in.kinds(), notify.KindStateChange)
	f.dns.SetMode(dnstest.Silent)
	for n := 3; n <= 8; n++ {
		r = f.at(n)
		if r.CheckerImpaired == "" {
			t.Fatalf("tick %d: checker impairment not found", n)
		}
		for _, ir := range r.Integrations {
			if ir.Inconclusive == "" || ir.State != health.Active || ir.ConsecutiveFailures != 0 || ir.RecoveryDue || len(ir.Transitions) > 0 {
				t.Fatalf("tick %d: %+v", n, ir)
			}
			if c := ir.Components[0]; c.Healthy || c.Side != probe.SideChecker || !strings.Contains(c.Error, "DNS") {
				t.Fatalf("tick %d: component %+v", n, c)
			}
		}
		if r.MetricDatums == 0 || r.MetricsError != "" {
			t.Fatalf("tick %d: metrics %d, %q", n, r.MetricDatums, r.MetricsError)
		}
	}
	if n := f.executions(); n != 0 {
		t.Fatalf("%d executions while the checker was impaired", n)
	}
	rec := f.record("resolver")
	if rec.InconclusiveChecks != 6 || rec.ConsecutiveFailures != 0 || rec.State != health.Active || rec.HealthChecksPerformed != 8 {
		t.Fatalf("record: inconclusive %d, failures %d, state %s, checks %d", rec.InconclusiveChecks, rec.ConsecutiveFailures, rec.State, rec.HealthChecksPerformed)
	}
	if got := count(in.kinds(), notify.KindCheckerImpaired); got != 1 {
		t.Fatalf("%d checker_impaired notifications, want 1 (%v)", got, in.kinds())
	}
	assertCheckerMetric(t, f.fixture, 6)

	f.dns.SetMode(dnstest.Answer)
	// Go's resolver shares one in-flight lookup of a name among its callers
	// and lets it run out its own timeouts when they give up: the last
	// tick's unanswered lookups would still be waiting. Ticks a minute apart
	// never meet them; these back-to-back ones take a fresh resolver.
	f.h.Probers = probe.NewProbers(probe.WithResolver(f.dns.Resolver()))
	r = f.at(9)
	for _, ir := range r.Integrations {
		if ir.Inconclusive != "" || ir.State != health.Active {
			t.Fatalf("resolver back: %+v", ir)
		}
	}
	if got := in.kinds(); count(got, notify.KindCheckerRecovered) != 1 || count(got, notify.KindStateChange) != changes {
		t.Fatalf("notifications %v", got)
	}
}

// assertCheckerMetric reads the CheckerImpaired datapoints back from the
// EMF documents: one a minute, each counting the integrations judged
// inconclusive (two here).
func assertCheckerMetric(t *testing.T, f *fixture, want int) {
	t.Helper()
	got := f.points(metrics.MetricCheckerImpaired)
	if len(got) != want {
		t.Fatalf("CheckerImpaired datapoints %v, want %d", got, want)
	}
	for _, v := range got {
		if v != 2 {
			t.Fatalf("CheckerImpaired values %v, want 2 integrations each minute", got)
		}
	}
}

// A real outage of one integration beside a healthy one, with the resolver
// working, goes FAILED and starts its one recovery at the third failure,
// exactly as before.
func TestRealOutageBesideHealthyStillRecovers(t *testing.T) {
	f := newResolverFixture(t, "outage")
	f.at(1)
	f.at(2)
	f.fault("orchestrator", demobridge.FaultDown)
	for n := 3; n <= 5; n++ {
		r := f.at(n)
		bad, good := r.Integrations[0], r.Integrations[1]
		if r.CheckerImpaired != "" || bad.Inconclusive != "" || bad.State != health.Failed || bad.ConsecutiveFailures != n-2 {
			t.Fatalf("tick %d: %+v (impaired %q)", n, bad, r.CheckerImpaired)
		}
		if good.State != health.Active {
			t.Fatalf("tick %d: the healthy one: %+v", n, good)
		}
		if bad.RecoveryStarted != (n == 5) {
			t.Fatalf("tick %d: recovery started %v", n, bad.RecoveryStarted)
		}
	}
	if n := f.executions(); n != 1 {
		t.Fatalf("%d executions, want 1", n)
	}
}

// Events that do not invoke a check — {}, null, another service's event, a
// tick far in the future — change nothing and say why: no probe, no read,
// no write.
func TestBadEventsChangeNothing(t *testing.T) {
	f := newFixture(t, "events", nil)
	for name, raw := range map[string]string{
		"empty":      `{}`,
		"null":       `null`,
		"S3 event":   `{"version":"0","detail-type":"Object Created","source":"aws.s3","time":"2026-11-27T12:00:00Z","detail":{}}`,
		"far future": `{"scheduled_time":"9999-12-31T00:00:00Z"}`,
	} {
		t.Run(name, func(t *testing.T) {
			var ev Event
			if err := json.Unmarshal([]byte(raw), &ev); err != nil {
				t.Fatal(err)
			}
			before := f.clients.Requests.Snapshot()
			_, err := f.h.Handle(context.Background(), ev)
			if !errors.Is(err, ErrBadEvent) {
				t.Fatalf("err = %v, want ErrBadEvent", err)
			}
			if got := f.clients.Requests.Since(before); len(got) != 0 {
				t.Fatalf("a refused event sent requests: %v", got)
			}
			for c, n := range f.bridge.Snapshot().Counters.HealthRequests {
				if n != 0 {
					t.Fatalf("a refused event probed %s %d times", c, n)
				}
			}
		})
	}
	if _, err := f.store.Get(context.Background(), "events"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a record was written: %v", err)
	}
}

// A last_tick stored from the future (written before events were checked)
// is repaired by the next real tick instead of making it stale forever.
func TestStoredFutureTickIsRepaired(t *testing.T) {
	f := newFixture(t, "future", nil)
	f.useClock()
	f.at(1)
	if _, err := f.store.Update(context.Background(), "future", func(cur health.Record) (health.Record, bool, error) {
		cur.LastTick = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
		return cur, true, nil
	}); err != nil {
		t.Fatal(err)
	}
	r := f.at(2)
	if ir := r.Integrations[0]; ir.Outcome != "applied" || ir.State != health.Active {
		t.Fatalf("tick after the poisoned one: %+v", ir)
	}
	if rec := f.record("future"); !rec.LastTick.Equal(f.minute(2)) || rec.StaleTicks != 0 {
		t.Fatalf("last tick %v, stale %d", rec.LastTick, rec.StaleTicks)
	}
}

// A target answering 450 KB against an equals assertion cannot block the
// write: the error is cut, the state is recorded, recovery starts on time.
func TestHugeAnswerStillWrites(t *testing.T) {
	f := newFixture(t, "huge", nil)
	f.useClock()
	huge := strings.Repeat(`"<x>`, 450_000/4)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"status":%q}`, huge)
	}))
	t.Cleanup(target.Close)
	doc, err := config.Parse(fmt.Appendf(nil, `
integrations:
  - name: huge
    components:
      - {name: api, type: http, target: %q, timeout: 2s, allow_loopback: true, http: {assertions: [{json_path: status, equals: healthy}]}}
    recovery:
      webhook: {url: "http://127.0.0.1:1/recover", allow_loopback: true}
`, target.URL))
	if err != nil {
		t.Fatal(err)
	}
	f.h.Config = func(context.Context) (*config.Document, error) { return doc, nil }
	for n := 1; n <= 3; n++ {
		r := f.at(n)
		ir := r.Integrations[0]
		if ir.Outcome != "applied" || ir.Error != "" {
			t.Fatalf("tick %d: %+v", n, ir)
		}
		if e := ir.Components[0].Error; len(e) > bound.Error || !strings.Contains(e, `json_path "$.status"`) {
			t.Fatalf("tick %d: component error (%d bytes) %.200s", n, len(e), e)
		}
	}
	rec := f.record("huge")
	if rec.ConsecutiveFailures != 3 || !rec.Recovery.Pending || rec.HealthChecksPerformed != 3 {
		t.Fatalf("record: failures %d, recovery %+v", rec.ConsecutiveFailures, rec.Recovery)
	}
}
