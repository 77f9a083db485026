package recovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/vigil-monitor/vigil/internal/awsenv"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/emulator"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/metrics"
	"github.com/vigil-monitor/vigil/internal/netguard"
	"github.com/vigil-monitor/vigil/internal/notify"
	"github.com/vigil-monitor/vigil/internal/probe"
	"github.com/vigil-monitor/vigil/internal/secret"
	"github.com/vigil-monitor/vigil/internal/store"
)

// target is a loopback HTTP server whose status can be switched, standing
// for a component or a webhook receiver.
type target struct {
	*httptest.Server
	status atomic.Int32
	calls  atomic.Int32
	block  atomic.Bool // hold each request until the client gives up

	mu      sync.Mutex // guards headers
	headers []http.Header
}

func newTarget(t *testing.T, status int) *target {
	t.Helper()
	tg := &target{}
	tg.status.Store(int32(status))
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg.calls.Add(1)
		tg.mu.Lock()
		tg.headers = append(tg.headers, r.Header.Clone())
		tg.mu.Unlock()
		_, _ = io.Copy(io.Discard, r.Body)
		if tg.block.Load() {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		}
		w.WriteHeader(int(tg.status.Load()))
	}))
	t.Cleanup(tg.Close)
	return tg
}

func (tg *target) lastHeader(name string) string {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if len(tg.headers) == 0 {
		return ""
	}
	return tg.headers[len(tg.headers)-1].Get(name)
}

// inbox is an SNS HTTP subscriber on loopback: moto delivers every published
// message to it before Publish returns.
type inbox struct {
	mu   sync.Mutex // guards msgs
	msgs []notify.Event
}

func (in *inbox) kinds() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []string
	for _, m := range in.msgs {
		out = append(out, m.Kind)
	}
	return out
}

// fixture is one handler wired to the emulator, with its own table, metric
// namespace and topic.
type fixture struct {
	t         *testing.T
	clients   *awsenv.Clients
	store     *store.Store
	table     string
	namespace string
	emf       emulator.SyncBuffer // the handler's EMF documents
	inbox     *inbox
	handler   *Handler
	logs      *bytes.Buffer
	integ     config.Integration
	incident  string
}

// newFixture builds a handler for one integration "bridge" with the given
// recovery action and component target, and stores a FAILED record with a
// pending recovery.
func newFixture(t *testing.T, clients *awsenv.Clients, rec config.Recovery, componentURL string) *fixture {
	t.Helper()
	ctx := testCtx(t, time.Minute)
	f := &fixture{t: t, clients: clients, table: uniqueName(t, "vigil"), namespace: uniqueName(t, "VigilTest"), inbox: &inbox{}, logs: &bytes.Buffer{}}
	if err := store.CreateTable(ctx, clients.DynamoDB, f.table); err != nil {
		t.Fatalf("create table: %v", err)
	}
	f.store = store.New(clients.DynamoDB, f.table)

	sub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct{ Type, Message string }
		if err := json.NewDecoder(r.Body).Decode(&env); err == nil && env.Type == "Notification" {
			var ev notify.Event
			if json.Unmarshal([]byte(env.Message), &ev) == nil {
				f.inbox.mu.Lock()
				f.inbox.msgs = append(f.inbox.msgs, ev)
				f.inbox.mu.Unlock()
			}
		}
	}))
	t.Cleanup(sub.Close)
	topic, err := clients.SNS.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(uniqueName(t, "vigil"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clients.SNS.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String(sub.URL)}); err != nil {
		t.Fatal(err)
	}

	doc := &config.Document{Integrations: []config.Integration{{
		Name: "bridge",
		Components: []config.Component{{
			Name: "api", Type: config.TypeHTTP, Target: componentURL, AllowLoopback: true,
			Timeout: dur(2 * time.Second),
		}},
		Recovery: &rec,
	}}}
	if err := doc.ValidateAndSetDefaults(); err != nil {
		t.Fatalf("config: %v", err)
	}
	f.integ = doc.Integrations[0]
	f.handler = &Handler{
		Config:   func(context.Context) (*config.Document, error) { return doc, nil },
		Store:    f.store,
		Attempts: f.store,
		Metrics:  metrics.NewEMF(&f.emf, f.namespace),
		Notifier: notify.NewPublisher(clients.SNS, aws.ToString(topic.TopicArn)),
		Secrets:  secret.New(clients.SSM, clients.SecretsManager, 0),
		Lambda:   lambda.NewFromConfig(clients.Config),
		Probers:  probe.NewProbers(),
		Logger:   slog.New(slog.NewJSONHandler(&lockedWriter{w: f.logs}, nil)),
	}

	f.incident = "bridge-1700000000"
	if _, err := f.store.Update(ctx, "bridge", func(cur health.Record) (health.Record, bool, error) {
		cur.State = health.Failed
		cur.ConsecutiveFailures = 3
		cur.Recovery = health.RecoveryStatus{Pending: true, IncidentID: f.incident, ExecutionName: f.incident, DecidedAt: time.Now()}
		return cur, true, nil
	}); err != nil {
		t.Fatalf("seed record: %v", err)
	}
	return f
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (f *fixture) event(phase string, attempt int) Event {
	return Event{Phase: phase, IncidentID: f.incident, Integration: "bridge", Attempt: attempt, MaxAttempts: f.integ.Recovery.MaxAttempts}
}

func (f *fixture) handle(ev Event) Result {
	f.t.Helper()
	res, err := f.handler.Handle(testCtx(f.t, 30*time.Second), ev)
	if err != nil {
		f.t.Fatalf("Handle(%+v): %v", ev, err)
	}
	return res
}

func (f *fixture) record() health.Record {
	f.t.Helper()
	rec, err := f.store.Get(testCtx(f.t, 10*time.Second), "bridge")
	if err != nil {
		f.t.Fatal(err)
	}
	return rec
}

// attemptItem reads the attempt item as stored, or nil.
func (f *fixture) attemptItem(n int) map[string]ddbtypes.AttributeValue {
	f.t.Helper()
	out, err := f.clients.DynamoDB.GetItem(testCtx(f.t, 10*time.Second), &dynamodb.GetItemInput{
		TableName: aws.String(f.table),
		Key: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "INCIDENT#" + f.incident},
			"sk": &ddbtypes.AttributeValueMemberS{Value: store.AttemptSK(n)},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return out.Item
}

func attr(item map[string]ddbtypes.AttributeValue, name string) string {
	if v, ok := item[name].(*ddbtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// metricSums returns the sum of each recovery count metric the handler
// wrote, and the number of RecoveryDuration values, read back from its EMF
// documents as CloudWatch Logs would extract them.
func (f *fixture) metricSums() map[string]float64 {
	f.t.Helper()
	out := map[string]float64{}
	for _, line := range strings.Split(f.emf.String(), "\n") {
		if line == "" {
			continue
		}
		ds, err := metrics.ParseEMF([]byte(line))
		if err != nil {
			f.t.Fatalf("invalid EMF document %s: %v", line, err)
		}
		for _, d := range ds {
			if len(d.Dims) != 1 || d.Dims[0] != (metrics.Dim{Name: metrics.DimIntegration, Value: "bridge"}) {
				f.t.Fatalf("recovery metric %s with dimensions %v", d.Name, d.Dims)
			}
			if d.Name == metrics.MetricRecoveryDuration {
				out[d.Name]++
			} else {
				out[d.Name] += d.Value
			}
		}
	}
	return out
}

func webhookRecovery(url string) config.Recovery {
	return config.Recovery{
		Webhook:     &config.Webhook{URL: url, AllowLoopback: true, Timeout: dur(5 * time.Second)},
		MaxAttempts: 3, BaseDelay: dur(time.Second), MaxDelay: dur(30 * time.Second), Cooldown: dur(10 * time.Minute),
	}
}

func equalStrings(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

func TestHandlerAttemptRecovers(t *testing.T) {
	t.Parallel()
	hook, api := newTarget(t, http.StatusOK), newTarget(t, http.StatusOK)
	f := newFixture(t, needMoto(t), webhookRecovery(hook.URL+"/restart"), api.URL+"/health")

	res := f.handle(f.event(PhaseAttempt, 1))
	if !res.Healthy || res.ActionError != "" || len(res.ProbeErrors) != 0 || res.Attempt != 1 || res.Duplicate || res.NextDelaySeconds != 0 {
		t.Fatalf("result = %+v, want healthy attempt 1 without errors", res)
	}
	if hook.calls.Load() != 1 {
		t.Errorf("webhook called %d times, want 1", hook.calls.Load())
	}
	if got := hook.lastHeader("Idempotency-Key"); got != f.incident+"-1" {
		t.Errorf("Idempotency-Key = %q, want %s-1", got, f.incident)
	}
	rec := f.record()
	if rec.State != health.Active || rec.RecoveryAttempts != 1 || rec.SuccessfulRecoveries != 1 || rec.TotalRecoveries != 1 ||
		rec.Recovery.LastOutcome != health.RecoverySucceeded || rec.Recovery.InProgress || rec.Recovery.Pending {
		t.Errorf("record = state %s, attempts %d, successful %d, total %d, recovery %+v", rec.State, rec.RecoveryAttempts, rec.SuccessfulRecoveries, rec.TotalRecoveries, rec.Recovery)
	}
	if n := len(rec.History); n == 0 || rec.History[n-1].To != health.Active {
		t.Errorf("history = %+v, want a transition to ACTIVE", rec.History)
	}
	if item := f.attemptItem(1); attr(item, "outcome") != health.RecoverySucceeded {
		t.Errorf("attempt item = %v, want outcome succeeded", item)
	}
	if got := f.inbox.kinds(); !equalStrings(got, []string{notify.KindRecoveryStarted, notify.KindRecoverySucceeded}) {
		t.Errorf("notifications = %v", got)
	}
	m := f.metricSums()
	if m[metrics.MetricRecoveryStarted] != 1 || m[metrics.MetricRecoverySucceeded] != 1 || m[metrics.MetricRecoveryDuration] != 1 || m[metrics.MetricRecoveryFailed] != 0 {
		t.Errorf("metrics = %v", m)
	}
}

func TestHandlerSkipsActionWhenAlreadyRecovered(t *testing.T) {
	t.Parallel()
	hook, api := newTarget(t, http.StatusOK), newTarget(t, http.StatusOK)
	f := newFixture(t, needMoto(t), webhookRecovery(hook.URL), api.URL)
	// A check saw the integration healthy again after attempt 1 failed.
	api.status.Store(http.StatusServiceUnavailable)
	f.handle(f.event(PhaseAttempt, 1))
	if _, err := f.store.Update(testCtx(t, 10*time.Second), "bridge", func(cur health.Record) (health.Record, bool, error) {
		cur.State = health.Active
		return cur, true, nil
	}); err != nil {
		t.Fatal(err)
	}
	api.status.Store(http.StatusOK)

	res := f.handle(f.event(PhaseAttempt, 2))
	if !res.Healthy || !res.ActionSkipped {
		t.Fatalf("result = %+v, want healthy with the action skipped", res)
	}
	if hook.calls.Load() != 1 {
		t.Errorf("webhook called %d times, want only by attempt 1", hook.calls.Load())
	}
	if rec := f.record(); rec.Recovery.LastOutcome != health.RecoverySucceeded || rec.RecoveryAttempts != 2 {
		t.Errorf("recovery = %+v, attempts %d", rec.Recovery, rec.RecoveryAttempts)
	}
}

func TestHandlerWebhookError(t *testing.T) {
	t.Parallel()
	hook, api := newTarget(t, http.StatusInternalServerError), newTarget(t, http.StatusServiceUnavailable)
	f := newFixture(t, needMoto(t), webhookRecovery(hook.URL), api.URL)

	res := f.handle(f.event(PhaseAttempt, 1))
	if res.Healthy || !strings.Contains(res.ActionError, "status 500") || res.NextDelaySeconds != 1 {
		t.Fatalf("result = %+v, want unhealthy with the webhook's 500 and a 1 s next delay", res)
	}
	rec := f.record()
	if rec.State != health.Failed || rec.RecoveryAttempts != 1 || rec.SuccessfulRecoveries != 0 ||
		rec.Recovery.LastOutcome != health.RecoveryFailed || !rec.Recovery.InProgress || !strings.Contains(rec.Recovery.LastError, "status 500") {
		t.Errorf("record = state %s, attempts %d, recovery %+v", rec.State, rec.RecoveryAttempts, rec.Recovery)
	}
	if item := f.attemptItem(1); attr(item, "outcome") != health.RecoveryFailed || !strings.Contains(attr(item, "error"), "status 500") {
		t.Errorf("attempt item = %v, want a failed attempt naming the 500", item)
	}
	if got := f.inbox.kinds(); !equalStrings(got, []string{notify.KindRecoveryStarted, notify.KindRecoveryFailed}) {
		t.Errorf("notifications = %v", got)
	}
	if m := f.metricSums(); m[metrics.MetricRecoveryStarted] != 1 || m[metrics.MetricRecoverySucceeded] != 0 || m[metrics.MetricRecoveryFailed] != 0 {
		t.Errorf("metrics = %v, want RecoveryStarted only (RecoveryFailed is for exhaustion)", m)
	}

	// The second attempt is a new attempt: counted, no second "started".
	res = f.handle(f.event(PhaseAttempt, 2))
	if res.Healthy || res.Duplicate || res.NextDelaySeconds != 2 {
		t.Errorf("attempt 2 = %+v", res)
	}
	if rec := f.record(); rec.RecoveryAttempts != 2 || rec.Recovery.Attempt != 2 {
		t.Errorf("after attempt 2: attempts %d, recovery.attempt %d", rec.RecoveryAttempts, rec.Recovery.Attempt)
	}
	if got := f.inbox.kinds(); len(got) != 3 || got[2] != notify.KindRecoveryFailed {
		t.Errorf("notifications = %v", got)
	}
}

func TestHandlerWebhookTimeoutWithinDeadline(t *testing.T) {
	t.Parallel()
	hook, api := newTarget(t, http.StatusOK), newTarget(t, http.StatusServiceUnavailable)
	hook.block.Store(true)
	f := newFixture(t, needMoto(t), webhookRecovery(hook.URL), api.URL)

	// A 3 s invocation: the webhook's own 5 s timeout must give way to it.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	// No wall-clock assertion (shared, noisy machines): the proof is that
	// the webhook was cut short and the attempt was still recorded.
	res, err := f.handler.Handle(ctx, f.event(PhaseAttempt, 1))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if res.Healthy || !strings.Contains(res.ActionError, "timeout") {
		t.Fatalf("result = %+v, want unhealthy with a webhook timeout", res)
	}
	rec := f.record()
	if rec.RecoveryAttempts != 1 || rec.Recovery.LastOutcome != health.RecoveryFailed || !strings.Contains(rec.Recovery.LastError, "timeout") {
		t.Errorf("record: attempts %d, recovery %+v", rec.RecoveryAttempts, rec.Recovery)
	}
}

func TestHandlerReprobeStillFails(t *testing.T) {
	t.Parallel()
	hook, api := newTarget(t, http.StatusAccepted), newTarget(t, http.StatusServiceUnavailable)
	f := newFixture(t, needMoto(t), webhookRecovery(hook.URL), api.URL)

	res := f.handle(f.event(PhaseAttempt, 1))
	if res.Healthy || res.ActionError != "" || len(res.ProbeErrors) != 1 || !strings.Contains(res.ProbeErrors[0], `component "api" unhealthy`) || !strings.Contains(res.ProbeErrors[0], "503") {
		t.Fatalf("result = %+v, want unhealthy with the re-probe's 503 and no action error", res)
	}
	if hook.calls.Load() != 1 || api.calls.Load() != 1 {
		t.Errorf("webhook called %d times, component probed %d times; want 1 and 1", hook.calls.Load(), api.calls.Load())
	}
	if rec := f.record(); rec.State != health.Failed || rec.RecoveryAttempts != 1 || !strings.Contains(rec.Recovery.LastError, `re-probe: failed: critical component "api"`) {
		t.Errorf("record: state %s, attempts %d, recovery %+v", rec.State, rec.RecoveryAttempts, rec.Recovery)
	}
}

func TestHandlerDuplicateAttemptCountedOnce(t *testing.T) {
	t.Parallel()
	hook, api := newTarget(t, http.StatusOK), newTarget(t, http.StatusServiceUnavailable)
	f := newFixture(t, needMoto(t), webhookRecovery(hook.URL), api.URL)

	first := f.handle(f.event(PhaseAttempt, 1))
	again := f.handle(f.event(PhaseAttempt, 1))
	if first.Healthy || first.Duplicate {
		t.Fatalf("first delivery = %+v", first)
	}
	if !again.Duplicate || again.Healthy != first.Healthy || again.Error != first.Error {
		t.Errorf("second delivery = %+v, want the recorded outcome of %+v, marked duplicate", again, first)
	}
	if hook.calls.Load() != 1 {
		t.Errorf("webhook called %d times, want 1", hook.calls.Load())
	}
	if rec := f.record(); rec.RecoveryAttempts != 1 {
		t.Errorf("recovery_attempts = %d, want 1", rec.RecoveryAttempts)
	}
	if got := f.inbox.kinds(); len(got) != 2 {
		t.Errorf("notifications = %v, want started and failed once", got)
	}
	// A late attempt_error for the same attempt changes nothing either.
	if res := f.handle(Event{Phase: PhaseAttemptError, IncidentID: f.incident, Integration: "bridge", Attempt: 1, Error: json.RawMessage(`{"Error":"States.Timeout"}`)}); !res.Duplicate {
		t.Errorf("attempt_error after the attempt = %+v, want duplicate", res)
	}
	if rec := f.record(); rec.RecoveryAttempts != 1 {
		t.Errorf("recovery_attempts = %d after attempt_error, want 1", rec.RecoveryAttempts)
	}
}

func TestHandlerAttemptErrorIsRecordedAsFailed(t *testing.T) {
	t.Parallel()
	hook, api := newTarget(t, http.StatusOK), newTarget(t, http.StatusOK)
	f := newFixture(t, needMoto(t), webhookRecovery(hook.URL), api.URL)

	ev := f.event(PhaseAttemptError, 1)
	ev.Error = json.RawMessage(`{"Error":"Lambda.Unknown","Cause":"{\"errorMessage\":\"Task timed out after 30.00 seconds\",\"errorType\":\"Sandbox.Timedout\"}"}`)
	res := f.handle(ev)
	if res.Healthy || !strings.Contains(res.Error, "Lambda.Unknown: Task timed out") {
		t.Fatalf("result = %+v", res)
	}
	if hook.calls.Load() != 0 || api.calls.Load() != 0 {
		t.Errorf("attempt_error ran the action (%d) or probed (%d)", hook.calls.Load(), api.calls.Load())
	}
	rec := f.record()
	if rec.RecoveryAttempts != 1 || rec.Recovery.LastOutcome != health.RecoveryFailed || !strings.Contains(rec.Recovery.LastError, "Task timed out") {
		t.Errorf("record: attempts %d, recovery %+v", rec.RecoveryAttempts, rec.Recovery)
	}
	if item := f.attemptItem(1); attr(item, "outcome") != health.RecoveryFailed {
		t.Errorf("attempt item = %v", item)
	}
}

func TestHandlerExhausted(t *testing.T) {
	t.Parallel()
	hook, api := newTarget(t, http.StatusOK), newTarget(t, http.StatusServiceUnavailable)
	f := newFixture(t, needMoto(t), webhookRecovery(hook.URL), api.URL)

	for n := 1; n <= 3; n++ {
		if res := f.handle(f.event(PhaseAttempt, n)); res.Healthy {
			t.Fatalf("attempt %d healthy", n)
		}
	}
	before := time.Now()
	res := f.handle(f.event(PhaseExhausted, 3))
	if res.Healthy || res.Duplicate {
		t.Fatalf("exhausted = %+v", res)
	}
	rec := f.record()
	cd := rec.Recovery.CooldownUntil
	if rec.State != health.Failed || rec.RecoveryAttempts != 3 || rec.TotalRecoveries != 1 || rec.SuccessfulRecoveries != 0 ||
		rec.Recovery.LastOutcome != health.RecoveryExhausted || rec.Recovery.InProgress || rec.Recovery.Pending ||
		cd.Before(before.Add(10*time.Minute-time.Second)) || cd.After(time.Now().Add(10*time.Minute+time.Second)) {
		t.Errorf("record: state %s, attempts %d, total %d, recovery %+v; want FAILED, 3, 1, exhausted with a 10 min cooldown", rec.State, rec.RecoveryAttempts, rec.TotalRecoveries, rec.Recovery)
	}
	want := []string{notify.KindRecoveryStarted, notify.KindRecoveryFailed, notify.KindRecoveryFailed, notify.KindRecoveryFailed, notify.KindRecoveryExhausted}
	if got := f.inbox.kinds(); !equalStrings(got, want) {
		t.Errorf("notifications = %v, want %v", got, want)
	}
	if m := f.metricSums(); m[metrics.MetricRecoveryStarted] != 1 || m[metrics.MetricRecoveryFailed] != 1 || m[metrics.MetricRecoverySucceeded] != 0 {
		t.Errorf("metrics = %v", m)
	}
	if again := f.handle(f.event(PhaseExhausted, 3)); !again.Duplicate {
		t.Errorf("second exhausted = %+v, want duplicate", again)
	}
	if rec := f.record(); rec.TotalRecoveries != 1 {
		t.Errorf("total_recoveries = %d after a duplicate exhausted, want 1", rec.TotalRecoveries)
	}
	// The closed incident answers a late attempt without acting.
	if late := f.handle(f.event(PhaseAttempt, 3)); !late.Duplicate || late.Healthy || hook.calls.Load() != 3 {
		t.Errorf("late attempt = %+v (webhook calls %d), want duplicate without a call", late, hook.calls.Load())
	}
}

func TestHandlerRefusesBadEvents(t *testing.T) {
	t.Parallel()
	hook, api := newTarget(t, http.StatusOK), newTarget(t, http.StatusOK)
	f := newFixture(t, needMoto(t), webhookRecovery(hook.URL), api.URL)
	ctx := testCtx(t, 30*time.Second)

	tests := []struct {
		name string
		ev   Event
		is   error
		text string
	}{
		{"unknown phase", Event{Phase: "reboot", IncidentID: f.incident, Integration: "bridge", Attempt: 1}, ErrUnknownPhase, `"reboot"`},
		{"unknown integration", Event{Phase: PhaseAttempt, IncidentID: f.incident, Integration: "nope", Attempt: 1}, config.ErrUnknownIntegration, `nope`},
		{"missing attempt", Event{Phase: PhaseAttempt, IncidentID: f.incident, Integration: "bridge"}, ErrBadEvent, "attempt"},
		{"100 KB integration", Event{Phase: PhaseAttempt, IncidentID: f.incident, Integration: strings.Repeat("x", 100_000), Attempt: 1}, ErrBadEvent, "integration (100000 bytes) longer than"},
		{"100 KB phase", Event{Phase: strings.Repeat("p", 100_000), IncidentID: f.incident, Integration: "bridge", Attempt: 1}, ErrUnknownPhase, "bytes]"},
		{"stale incident", Event{Phase: PhaseAttempt, IncidentID: "bridge-1", Integration: "bridge", Attempt: 1}, ErrNotCurrentIncident, "bridge-1"},
		{"stale incident exhausted", Event{Phase: PhaseExhausted, IncidentID: "bridge-1", Integration: "bridge", Attempt: 3}, ErrNotCurrentIncident, "bridge-1"},
	}
	for _, tc := range tests {
		_, err := f.handler.Handle(ctx, tc.ev)
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.text) || len(err.Error()) > 300 {
			t.Errorf("%s: error %.300v, want %v naming %s, bounded", tc.name, err, tc.is, tc.text)
		}
	}
	if hook.calls.Load() != 0 {
		t.Errorf("webhook called %d times for refused events", hook.calls.Load())
	}
	if rec := f.record(); rec.RecoveryAttempts != 0 || rec.Recovery.Attempt != 0 {
		t.Errorf("refused events changed the record: %+v", rec.Recovery)
	}
}

func TestHandlerSecretWebhookHeader(t *testing.T) {
	t.Parallel()
	const token = "Bearer s3cr3t-t0ken-value"
	hook, api := newTarget(t, http.StatusOK), newTarget(t, http.StatusServiceUnavailable)
	clients := needMoto(t)
	param := "/vigil/test/" + uniqueName(t, "token")
	if _, err := clients.SSM.PutParameter(testCtx(t, 10*time.Second), &ssm.PutParameterInput{
		Name: aws.String(param), Value: aws.String(token), Type: ssmtypes.ParameterTypeSecureString,
	}); err != nil {
		t.Fatal(err)
	}
	rec := webhookRecovery(hook.URL)
	rec.Webhook.Headers = map[string]string{"X-Team": "sre"}
	rec.Webhook.SecretHeaders = map[string]config.SecretRef{"Authorization": {SSM: param}}
	f := newFixture(t, clients, rec, api.URL)

	res := f.handle(f.event(PhaseAttempt, 1))
	if got := hook.lastHeader("Authorization"); got != token {
		t.Errorf("Authorization sent = %q, want the resolved secret", got)
	}
	if got := hook.lastHeader("X-Team"); got != "sre" {
		t.Errorf("X-Team = %q", got)
	}
	out, _ := json.Marshal(res)
	if strings.Contains(f.logs.String(), "s3cr3t") || strings.Contains(string(out), "s3cr3t") {
		t.Errorf("the secret leaked into logs or the result:\n%s\n%s", f.logs.String(), out)
	}
	if !strings.Contains(f.logs.String(), `"incident":"`+f.incident+`"`) {
		t.Errorf("logs lack the incident: %s", f.logs.String())
	}
}

func TestHandlerLambdaAction(t *testing.T) {
	t.Parallel()
	clients, _ := ownRegion(t)
	fn := createFunction(t, testCtx(t, 30*time.Second), lambda.NewFromConfig(clients.Config), "bridge-restart", testRole(t))
	api := newTarget(t, http.StatusOK)
	rec := config.Recovery{
		Lambda:      &config.LambdaAction{FunctionName: fn},
		MaxAttempts: 3, BaseDelay: dur(time.Second), MaxDelay: dur(30 * time.Second),
	}
	f := newFixture(t, clients, rec, api.URL)

	res := f.handle(f.event(PhaseAttempt, 1))
	if !res.Healthy || res.ActionError != "" {
		t.Fatalf("result = %+v, want healthy with the function invoked", res)
	}
	if rec := f.record(); rec.State != health.Active || rec.SuccessfulRecoveries != 1 {
		t.Errorf("record: state %s, successful %d", rec.State, rec.SuccessfulRecoveries)
	}
}

func TestWebhookRefusesLoopbackUnlessAllowed(t *testing.T) {
	t.Parallel()
	hook := newTarget(t, http.StatusOK)
	p := testPayload
	err := runWebhook(t.Context(), &config.Webhook{URL: hook.URL, Timeout: dur(time.Second)}, nil, p)
	if !errors.Is(err, netguard.ErrRefused) {
		t.Errorf("loopback webhook without allow_loopback: %v, want refused", err)
	}
	if hook.calls.Load() != 0 {
		t.Error("the refused webhook was called")
	}
	for _, u := range []string{"http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/"} {
		err := runWebhook(t.Context(), &config.Webhook{URL: u, AllowLoopback: true, Timeout: dur(time.Second)}, nil, p)
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("%s: %v, want refused", u, err)
		}
	}
	if err := runWebhook(t.Context(), &config.Webhook{URL: hook.URL, AllowLoopback: true, Timeout: dur(time.Second)}, nil, p); err != nil {
		t.Errorf("allowed loopback webhook: %v", err)
	}
}

func TestCaughtError(t *testing.T) {
	tests := map[string]string{
		``:     "unknown error",
		`null`: "unknown error",
		`{"Error":"States.TaskFailed","Cause":"boom"}`:                              "States.TaskFailed: boom",
		`{"Error":"Lambda.Unknown","Cause":"{\"errorMessage\":\"out of memory\"}"}`: "Lambda.Unknown: out of memory",
		`{"Error":"States.Timeout"}`:                                                "States.Timeout",
		`"not an object"`:                                                           `"not an object"`,
	}
	for in, want := range tests {
		if got := caughtError(json.RawMessage(in)); got != want {
			t.Errorf("caughtError(%s) = %q, want %q", in, got, want)
		}
	}
}

// The re-probe judges with the check's own function (health.Judge): an
// answer over latency_critical, or a body metric over its critical limit —
// the reference bridge's 812 MB against 800 — is no recovery, so an attempt
// never reports recovered what the next check finds DEGRADED. (The latency
// thresholds are scaled down from 5 s so the test does not wait 6 s; the
// health tests judge 6 s itself.)
func TestReprobeJudgesLikeTheCheck(t *testing.T) {
	t.Parallel()
	crit := 800.0
	for name, tc := range map[string]struct {
		body  string
		delay time.Duration
		want  string
	}{
		"812 MB against 800":    {`{"memory_mb":812}`, 0, "MemoryMB 812 over critical 800"},
		"slower than critical":  {`{"memory_mb":100}`, 400 * time.Millisecond, "over critical 300ms"},
		"healthy and in limits": {`{"memory_mb":100}`, 0, ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			hook := newTarget(t, http.StatusAccepted)
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(tc.delay) // the target is slow; nothing here waits on it
				fmt.Fprint(w, tc.body)
			}))
			t.Cleanup(api.Close)
			f := newFixture(t, needMoto(t), webhookRecovery(hook.URL), api.URL)
			doc := &config.Document{Integrations: []config.Integration{{
				Name: "bridge",
				Components: []config.Component{{
					Name: "api", Type: config.TypeHTTP, Target: api.URL, AllowLoopback: true, Timeout: dur(2 * time.Second),
					HTTP: &config.HTTPProbe{Metrics: []config.ExtractedMetric{{Name: "MemoryMB", JSONPath: "memory_mb", Critical: &crit}}},
				}},
				Thresholds: config.Thresholds{LatencyWarning: dur(100 * time.Millisecond), LatencyCritical: dur(300 * time.Millisecond)},
			}}}
			rec := *f.integ.Recovery
			doc.Integrations[0].Recovery = &rec
			if err := doc.ValidateAndSetDefaults(); err != nil {
				t.Fatal(err)
			}
			f.handler.Config = func(context.Context) (*config.Document, error) { return doc, nil }

			res := f.handle(f.event(PhaseAttempt, 1))
			if tc.want == "" {
				if !res.Healthy {
					t.Fatalf("healthy target judged unhealthy: %+v", res)
				}
				return
			}
			if res.Healthy || len(res.ProbeErrors) != 1 || !strings.HasPrefix(res.ProbeErrors[0], "degraded: ") || !strings.Contains(res.ProbeErrors[0], tc.want) {
				t.Fatalf("result %+v, want not recovered: degraded, %s", res, tc.want)
			}
			if r := f.record(); r.Recovery.LastOutcome != health.RecoveryFailed || r.SuccessfulRecoveries != 0 {
				t.Fatalf("recorded %+v", r.Recovery)
			}
		})
	}
}
