package check

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/vigil-monitor/vigil/internal/alerting"
	"github.com/vigil-monitor/vigil/internal/awsenv"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/demobridge"
	"github.com/vigil-monitor/vigil/internal/emulator"
	"github.com/vigil-monitor/vigil/internal/emulator/emutest"
	"github.com/vigil-monitor/vigil/internal/execution"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/metrics"
	"github.com/vigil-monitor/vigil/internal/notify"
	"github.com/vigil-monitor/vigil/internal/probe"
	"github.com/vigil-monitor/vigil/internal/secret"
	"github.com/vigil-monitor/vigil/internal/store"
)

var moto = &emutest.Shared{}

func TestMain(m *testing.M) { os.Exit(moto.Main(m)) }

// fixture is a HealthCheck handler wired to the emulator (its own table and
// state machine) and a demo bridge on loopback.
type fixture struct {
	t       *testing.T
	h       *Handler
	clients *awsenv.Clients
	store   *store.Store
	bridge  *demobridge.Bridge
	// bridgeURL is where the bridge listens; name the fixture's integration.
	bridgeURL string
	name      string
	tableName string
	smARN     string
	base      time.Time
	clock     *clock // nil: the handler reads the real time
	// emf receives the handler's metrics, as standard output would on
	// Lambda; points reads them back through the EMF specification.
	emf emulator.SyncBuffer
}

// points returns the values of metric name written so far whose
// dimensions are dims, oldest first, read back as CloudWatch Logs would
// extract them.
func (f *fixture) points(name string, dims ...metrics.Dim) []float64 {
	f.t.Helper()
	var out []float64
	for _, line := range strings.Split(f.emf.String(), "\n") {
		if line == "" {
			continue
		}
		ds, err := metrics.ParseEMF([]byte(line))
		if err != nil {
			f.t.Fatalf("invalid EMF document %s: %v", line, err)
		}
		for _, d := range ds {
			if d.Name == name && slices.Equal(d.Dims, dims) {
				out = append(out, d.Value)
			}
		}
	}
	return out
}

const bridgeConfig = `
integrations:
  - name: %s
    components:
      - {name: orchestrator, type: http, target: "%[2]s/health/orchestrator", timeout: 2s, allow_loopback: true}
      - {name: supervisor, type: http, target: "%[2]s/health/supervisor", timeout: 2s, allow_loopback: true}
      - {name: agent-registry, type: http, target: "%[2]s/health/agent-registry", timeout: 2s, critical: false, allow_loopback: true}
      - name: websocket
        type: websocket
        target: "%[3]s/ws"
        timeout: 2s
        allow_loopback: true
        websocket: {send: '{"type":"ping"}', expect: pong}
    recovery:
      webhook: {url: "%[2]s/recover", allow_loopback: true}
`

func newFixture(t *testing.T, integration string, sfnClient execution.SFNAPI) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{t: t, clients: awsenv.New(moto.Get(t).AWSConfig()), name: integration, base: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	f.bridge = demobridge.New(demobridge.Options{InitChecks: 1})
	srv := httptest.NewServer(f.bridge)
	f.bridgeURL = srv.URL
	t.Cleanup(func() { f.bridge.Close(); srv.Close() })

	doc, err := config.Parse(fmt.Appendf(nil, bridgeConfig, integration, srv.URL, "ws"+strings.TrimPrefix(srv.URL, "http")))
	if err != nil {
		t.Fatal(err)
	}
	// Unique names keep repeated runs (-count) on one emulator apart.
	suffix := fmt.Sprintf("-%d", time.Now().UnixNano())
	table := "check-" + integration + suffix
	f.tableName = table
	if err := store.CreateTable(ctx, f.clients.DynamoDB, table); err != nil {
		t.Fatal(err)
	}
	def, err := os.ReadFile("../../statemachine/recovery.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	sm, err := f.clients.SFN.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String("recovery-" + integration + suffix),
		Definition: aws.String(strings.ReplaceAll(string(def), "${RecoveryFunctionArn}", "arn:aws:lambda:us-east-1:123456789012:function:vigil-recovery")),
		RoleArn:    aws.String("arn:aws:iam::123456789012:role/vigil"),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.smARN = *sm.StateMachineArn
	if sfnClient == nil {
		sfnClient = f.clients.SFN
	}
	f.store = store.New(f.clients.DynamoDB, table)
	f.h = &Handler{
		Config:   func(context.Context) (*config.Document, error) { return doc, nil },
		Store:    f.store,
		Metrics:  metrics.NewEMF(&f.emf, "VigilTest-"+integration),
		Notifier: notify.NewPublisher(f.clients.SNS, ""),
		Starter:  execution.NewStarter(sfnClient, f.smARN),
		Probers:  probe.NewProbers(),
		Requests: f.clients.Requests,
	}
	return f
}

func (f *fixture) tick(n int) Result {
	f.t.Helper()
	r, err := f.h.Handle(context.Background(), Event{ScheduledTime: f.base.Add(time.Duration(n) * time.Minute).Format(time.RFC3339)})
	if err != nil {
		f.t.Fatalf("tick %d: %v", n, err)
	}
	if len(r.Integrations) != 1 {
		f.t.Fatalf("tick %d: %d integrations in result", n, len(r.Integrations))
	}
	return r
}

func (f *fixture) fault(component, fault string) {
	f.t.Helper()
	if err := f.bridge.SetFault(demobridge.Fault{Component: component, Fault: fault}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) executions() int {
	f.t.Helper()
	out, err := f.clients.SFN.ListExecutions(context.Background(), &sfn.ListExecutionsInput{StateMachineArn: aws.String(f.smARN)})
	if err != nil {
		f.t.Fatal(err)
	}
	return len(out.Executions)
}

func want(t *testing.T, r Result, state health.State, failures int, outcome string) {
	t.Helper()
	ir := r.Integrations[0]
	if ir.State != state || ir.ConsecutiveFailures != failures || ir.Outcome != outcome {
		t.Fatalf("got %s, %d consecutive failures, %q; want %s, %d, %q (components %+v)", ir.State, ir.ConsecutiveFailures, ir.Outcome, state, failures, outcome, ir.Components)
	}
}

// The lifecycle of SPEC §3 through the real handler, store, metrics and
// starter, with the requests each check costs (SPEC §9).
func TestLifecycleAndRequestBudget(t *testing.T) {
	f := newFixture(t, "lifecycle", nil)

	r := f.tick(1)
	want(t, r, health.Initializing, 1, "applied")
	r = f.tick(2)
	want(t, r, health.Active, 0, "applied")
	if got := r.Integrations[0].Transitions; len(got) != 1 || got[0].From != health.Initializing || got[0].To != health.Active {
		t.Fatalf("transitions = %+v", got)
	}

	r = f.tick(3) // steady state
	want(t, r, health.Active, 0, "applied")
	// No metrics request: they leave as EMF log lines.
	steady := map[string]int{"DynamoDB.BatchGetItem": 1, "DynamoDB.PutItem": 1}
	if !equalCounts(r.AWSRequests, steady) {
		t.Fatalf("steady-state requests = %v, want %v", r.AWSRequests, steady)
	}
	if r.Integrations[0].Score != 100 {
		t.Fatalf("score = %v", r.Integrations[0].Score)
	}

	f.fault("orchestrator", demobridge.FaultDown)
	for i := 1; i <= 3; i++ {
		r = f.tick(3 + i)
		want(t, r, health.Failed, i, "applied")
		if due := r.Integrations[0].RecoveryDue; due != (i == 3) {
			t.Fatalf("failure %d: recovery due = %v", i, due)
		}
	}
	if !r.Integrations[0].RecoveryStarted || r.AWSRequests["SFN.StartExecution"] != 1 {
		t.Fatalf("recovery not started once: %+v, requests %v", r.Integrations[0], r.AWSRequests)
	}
	if n := f.executions(); n != 1 {
		t.Fatalf("%d executions, want 1", n)
	}
	var failed health.ComponentStatus
	for _, c := range r.Integrations[0].Components {
		if c.Name == "orchestrator" {
			failed = c
		}
	}
	if failed.Healthy || failed.Score != 0 || !strings.Contains(failed.Error, "503") {
		t.Fatalf("orchestrator = %+v", failed)
	}

	// The same tick again: counted once, nothing written, nothing started.
	r = f.tick(6)
	want(t, r, health.Failed, 3, "duplicate")
	if r.AWSRequests["DynamoDB.PutItem"] != 0 || r.AWSRequests["SFN.StartExecution"] != 0 {
		t.Fatalf("duplicate tick wrote or started: %v", r.AWSRequests)
	}
	// An older tick never overwrites newer state.
	r = f.tick(2)
	want(t, r, health.Failed, 3, "stale")

	rec, err := f.store.Get(context.Background(), "lifecycle")
	if err != nil {
		t.Fatal(err)
	}
	if rec.HealthChecksPerformed != 6 || rec.StaleTicks != 1 || !rec.Recovery.Pending || rec.Recovery.ExecutionName == "" {
		t.Fatalf("stored record = checks %d, stale %d, recovery %+v", rec.HealthChecksPerformed, rec.StaleTicks, rec.Recovery)
	}

	// What went to CloudWatch, read back from the EMF documents.
	got := f.points(metrics.MetricState, metrics.Dim{Name: metrics.DimIntegration, Value: "lifecycle"})
	if len(got) != 6 {
		t.Fatalf("State datapoints = %v, want one per applied check (6)", got)
	}
	seen := map[float64]int{}
	for _, v := range got {
		seen[v]++
	}
	if seen[float64(health.Failed.Code())] != 3 || seen[float64(health.Active.Code())] != 2 || seen[float64(health.Initializing.Code())] != 1 {
		t.Fatalf("State values %v", got)
	}
}

// Two overlapping checks that both find recovery due start one execution.
func TestOverlappingChecksStartOneRecovery(t *testing.T) {
	f := newFixture(t, "overlap", nil)
	f.tick(1)
	f.tick(2)
	f.fault("orchestrator", demobridge.FaultDown)
	f.tick(3)
	f.tick(4)

	var wg sync.WaitGroup
	results := make([]Result, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Ticks 5 and 6 race; whichever lands first is the third failure.
			results[i], errs[i] = f.h.Handle(context.Background(), Event{ScheduledTime: f.base.Add(time.Duration(5+i) * time.Minute).Format(time.RFC3339)})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.executions(); n != 1 {
		t.Fatalf("%d executions, want exactly 1", n)
	}
	started := 0
	for _, r := range results {
		if r.Integrations[0].RecoveryStarted {
			started++
		}
	}
	if started != 1 {
		t.Fatalf("%d checks report starting the recovery, want 1", started)
	}
	rec, err := f.store.Get(context.Background(), "overlap")
	if err != nil {
		t.Fatal(err)
	}
	// Tick 6 may land before tick 5, which is then stale: either way every
	// tick is accounted for exactly once.
	if rec.HealthChecksPerformed+rec.StaleTicks != 6 || rec.ConsecutiveFailures != rec.HealthChecksPerformed-2 {
		t.Fatalf("lost an update: %d failures, %d checks, %d stale", rec.ConsecutiveFailures, rec.HealthChecksPerformed, rec.StaleTicks)
	}
}

// failingSFN is the emulator's client with the first n StartExecution calls
// failing, as a throttled or unreachable Step Functions would.
type failingSFN struct {
	execution.SFNAPI
	mu   sync.Mutex
	fail int
}

func (s *failingSFN) StartExecution(ctx context.Context, in *sfn.StartExecutionInput, opts ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	s.mu.Lock()
	fail := s.fail > 0
	s.fail--
	s.mu.Unlock()
	if fail {
		return nil, errors.New("simulated: Step Functions unavailable")
	}
	return s.SFNAPI.StartExecution(ctx, in, opts...)
}

// A failed start leaves the recovery pending; the next check starts it under
// the same name.
func TestFailedStartIsRetriedNextCheck(t *testing.T) {
	real := awsenv.New(moto.Get(t).AWSConfig()).SFN
	f := newFixture(t, "pending", &failingSFN{SFNAPI: real, fail: 1})
	f.tick(1)
	f.tick(2)
	f.fault("orchestrator", demobridge.FaultDown)
	f.tick(3)
	f.tick(4)
	_, err := f.h.Handle(context.Background(), Event{ScheduledTime: f.base.Add(5 * time.Minute).Format(time.RFC3339)})
	if err == nil || !strings.Contains(err.Error(), "start recovery") {
		t.Fatalf("err = %v, want the failed start reported", err)
	}
	rec, err := f.store.Get(context.Background(), "pending")
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Recovery.Pending || rec.Recovery.StartFailures != 1 || rec.ConsecutiveFailures != 3 || f.executions() != 0 {
		t.Fatalf("after failed start: recovery %+v, failures %d, executions %d", rec.Recovery, rec.ConsecutiveFailures, f.executions())
	}
	name := rec.Recovery.ExecutionName

	r := f.tick(6)
	if !r.Integrations[0].RecoveryStarted || r.Integrations[0].RecoveryExecution != name {
		t.Fatalf("retry: %+v, want execution %q started", r.Integrations[0], name)
	}
	if n := f.executions(); n != 1 {
		t.Fatalf("%d executions", n)
	}
}

// failingWriter refuses every write, as a closed standard output would.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("simulated: stdout closed") }

// A metrics failure never costs state: it is reported in the result and
// logged, and the records are written.
func TestMetricsFailureKeepsState(t *testing.T) {
	f := newFixture(t, "metricsdown", nil)
	f.h.Metrics = metrics.NewEMF(failingWriter{}, "VigilTest-metricsdown")

	r := f.tick(1)
	if r.MetricsError == "" || r.MetricDocuments != 0 {
		t.Fatalf("metrics failure not reported in the result: %q, %d documents", r.MetricsError, r.MetricDocuments)
	}
	want(t, r, health.Initializing, 1, "applied")
	rec, err := f.store.Get(context.Background(), "metricsdown")
	if err != nil || rec.Version != 1 || rec.State != health.Initializing {
		t.Fatalf("state after metrics failure: %+v, %v", rec.State, err)
	}
}

// An unknown integration in the event is refused with its name.
func TestUnknownIntegrationRefused(t *testing.T) {
	f := newFixture(t, "known", nil)
	_, err := f.h.Handle(context.Background(), Event{Manual: true, Integrations: []string{"nope"}})
	if err == nil || !strings.Contains(err.Error(), `nope`) {
		t.Fatalf("err = %v", err)
	}
}

func equalCounts(got, want map[string]int) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// flakyAlarms passes every call to the emulator's CloudWatch but fails the
// next PutMetricAlarm when failNext is set (a hand-written fault injector:
// moto does not fail on demand).
type flakyAlarms struct {
	*cloudwatch.Client
	failNext atomic.Bool
}

func (f *flakyAlarms) PutMetricAlarm(ctx context.Context, in *cloudwatch.PutMetricAlarmInput, o ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricAlarmOutput, error) {
	if f.failNext.CompareAndSwap(true, false) {
		return nil, errors.New("simulated: Throttling: Rate exceeded")
	}
	return f.Client.PutMetricAlarm(ctx, in, o...)
}

// alarmsOf returns the actions-enabled flag of every alarm of the stack's
// integration, by name.
func alarmsOf(t *testing.T, cw *cloudwatch.Client, prefix string) map[string]bool {
	t.Helper()
	out, err := cw.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, a := range out.MetricAlarms {
		got[aws.ToString(a.AlarmName)] = aws.ToBool(a.ActionsEnabled)
	}
	return got
}

func cloudWatchCalls(r Result) int {
	n := 0
	for op, c := range r.AWSRequests {
		if strings.HasPrefix(op, "CloudWatch.") {
			n += c
		}
	}
	return n
}

// The document's alarms converge after the check's state is written; a
// failed PutMetricAlarm costs no state and is retried by the next check; an
// unchanged plan costs no CloudWatch request; a maintenance window holds
// notifications, recovery and the alarms' actions, and its end re-arms them.
func TestAlertingConvergesAndMaintenanceHolds(t *testing.T) {
	f := newFixture(t, "maint", nil)
	doc, err := f.h.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	open := *doc
	open.Integrations = []config.Integration{doc.Integrations[0]}
	start, end := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	open.Integrations[0].Maintenance = []config.MaintenanceWindow{{Name: "upgrade", Start: &start, End: &end}}
	current := &open
	f.h.Config = func(context.Context) (*config.Document, error) { return current, nil }
	stack := "chk" + strconv.FormatInt(time.Now().UnixNano(), 36)
	cw := &flakyAlarms{Client: f.clients.CloudWatch}
	f.h.Alerting = alerting.NewConverger(cw, alerting.Options{Stack: stack, WarningTopic: "arn:aws:sns:us-east-1:123456789012:w", CriticalTopic: "arn:aws:sns:us-east-1:123456789012:c"})
	prefix := stack + "/maint/"

	f.fault("orchestrator", demobridge.FaultDown)
	cw.failNext.Store(true)
	// A failed convergence is no failed check: no error (which would
	// retry the invocation and page as a function error), but reported.
	r := f.tick(1)
	if r.Alerting == nil || r.Alerting.Recorded || !strings.Contains(r.Alerting.Error, "Rate exceeded") {
		t.Fatalf("alerting %+v; want the failed convergence reported", r.Alerting)
	}
	if r.Integrations[0].Outcome != "applied" || !strings.Contains(f.emf.String(), `"AlertingFailed"`) {
		t.Fatalf("state not written or failure not published: %+v", r.Integrations[0])
	}
	held := alarmsOf(t, f.clients.CloudWatch, prefix)
	if len(held) != r.Alerting.Alarms-1 {
		t.Fatalf("%d alarms after the failed try, want all but one of %d", len(held), r.Alerting.Alarms)
	}
	r = f.tick(2) // retried: only the missing alarm
	if r.Alerting == nil || !r.Alerting.Recorded || len(r.Alerting.Changes) != 1 || r.Alerting.Changes[0].Op != alerting.Create {
		t.Fatalf("retry: %+v", r.Alerting)
	}
	for name, enabled := range alarmsOf(t, f.clients.CloudWatch, prefix) {
		if enabled {
			t.Errorf("%s notifies during maintenance", name)
		}
	}
	for i := 3; i <= 4; i++ {
		r := f.tick(i)
		if r.Integrations[0].RecoveryDue {
			t.Fatalf("tick %d: recovery due inside a maintenance window", i)
		}
		if r.Alerting != nil || cloudWatchCalls(r) != 0 {
			t.Fatalf("tick %d: an unchanged plan cost CloudWatch requests: %+v, %v", i, r.Alerting, r.AWSRequests)
		}
	}
	rec, err := f.store.Get(context.Background(), "maint")
	if err != nil {
		t.Fatal(err)
	}
	if !rec.InMaintenance || rec.ConsecutiveFailures != 4 || rec.Recovery.Pending {
		t.Fatalf("in maintenance: %v, failures %d, recovery %+v", rec.InMaintenance, rec.ConsecutiveFailures, rec.Recovery)
	}

	// The window is over: alarms re-armed, and the still-failing
	// integration's recovery becomes due.
	current = doc
	r = f.tick(5)
	if !r.Integrations[0].RecoveryDue || r.Alerting == nil || !r.Alerting.Recorded {
		t.Fatalf("after the window: recovery due %v, alerting %+v", r.Integrations[0].RecoveryDue, r.Alerting)
	}
	armed := alarmsOf(t, f.clients.CloudWatch, prefix)
	for name, enabled := range armed {
		if !enabled {
			t.Errorf("%s still held after the window", name)
		}
	}
	if len(armed) != len(held)+1 {
		t.Errorf("%d alarms after the window, want %d", len(armed), len(held)+1)
	}
}

// Probes stop at the Lambda deadline less the reserve, and what was seen is
// still recorded before the function returns.
func TestDeadlineCutsProbesAndStillRecords(t *testing.T) {
	f := newFixture(t, "deadline", nil)
	f.h.Reserve = 500 * time.Millisecond
	f.tick(1) // past the bridge's start-up answers
	if err := f.bridge.SetFault(demobridge.Fault{Component: "orchestrator", Fault: demobridge.FaultSlow, LatencyMs: 10000}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	r, err := f.h.Handle(ctx, Event{ScheduledTime: f.base.Add(2 * time.Minute).Format(time.RFC3339)})
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("the handler used up its whole deadline")
	}
	var orch health.ComponentStatus
	for _, c := range r.Integrations[0].Components {
		if c.Name == "orchestrator" {
			orch = c
		}
	}
	if orch.Healthy || !strings.Contains(orch.Error, "timeout") {
		t.Fatalf("orchestrator = %+v, want a timeout cut by the deadline", orch)
	}
	rec, err := f.store.Get(context.Background(), "deadline")
	if err != nil || rec.HealthChecksPerformed != 2 || !strings.Contains(rec.ErrorMessage, "timeout") {
		t.Fatalf("stored %+v, %v", rec, err)
	}
}

// A component's secret header is resolved from SSM at run time (on the
// emulator), sent to the target, and never appears in what the check
// records or returns.
func TestSecretHeaderReachesTargetAndStaysSecret(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "secrets", nil)
	const token = "Bearer sk-PLANTED-9f8e7d"
	if _, err := f.clients.SSM.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String("/vigil/secrets-token"), Value: aws.String(token), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.Header.Get("Authorization") != token {
			// Echo the header back, as a careless service might: the
			// probe must still not record it.
			http.Error(w, "denied for "+r.Header.Get("Authorization"), http.StatusUnauthorized)
			return
		}
		// A body that echoes the credential, as a careless service might.
		fmt.Fprintf(w, `{"status":"degraded","you_sent":%q}`, r.Header.Get("Authorization"))
	}))
	defer target.Close()
	doc, err := config.Parse(fmt.Appendf(nil, `
integrations:
  - name: secrets
    components:
      - name: api
        type: http
        target: %q
        allow_loopback: true
        http:
          secret_headers: {Authorization: {ssm: /vigil/secrets-token}}
          assertions: [{json_path: status, equals: healthy}, {regex: "^never-there$"}]
`, target.URL))
	if err != nil {
		t.Fatal(err)
	}
	f.h.Config = func(context.Context) (*config.Document, error) { return doc, nil }
	f.h.Secrets = secret.New(f.clients.SSM, f.clients.SecretsManager, time.Minute)

	r := f.tick(1)
	mu.Lock()
	got := append([]string(nil), seen...)
	mu.Unlock()
	if len(got) != 1 || got[0] != token {
		t.Fatalf("target saw Authorization %q, want the resolved secret", got)
	}
	// The assertions fail on a body that echoes the token; the recorded
	// error must not leak it.
	t.Logf("recorded error: %s", r.Integrations[0].Components[0].Error)
	raw, _ := json.Marshal(r)
	rec, err := f.store.Get(ctx, "secrets")
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := json.Marshal(rec)
	for what, b := range map[string][]byte{"result": raw, "record": stored} {
		if strings.Contains(string(b), "sk-PLANTED") {
			t.Errorf("%s contains the secret: %s", what, b)
		}
	}

	// A secret that cannot be resolved is the checker's fault, not the
	// target's: the target is not asked (it would refuse, and that would
	// count against it), and the check is inconclusive.
	f.h.Secrets = nil
	r = f.tick(2)
	ir := r.Integrations[0]
	if c := ir.Components[0]; c.Healthy || c.Side != probe.SideChecker || !strings.Contains(c.Error, `secret header "Authorization"`) {
		t.Fatalf("without the secret: %+v", c)
	}
	if ir.Inconclusive == "" || ir.ConsecutiveFailures != rec.ConsecutiveFailures {
		t.Fatalf("an unresolved secret counted against the target: %+v", ir)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 {
		t.Fatalf("the target was asked %d times, want once (only with the secret)", len(seen))
	}
}
