package recovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/execution"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/metrics"
	"github.com/vigil-monitor/vigil/internal/notify"
	"github.com/vigil-monitor/vigil/internal/probe"
	"github.com/vigil-monitor/vigil/internal/requestid"
	"github.com/vigil-monitor/vigil/internal/secret"
	"github.com/vigil-monitor/vigil/internal/store"
)

// Phases of the Recovery Lambda, as the state machine sends them.
const (
	// PhaseAttempt runs the action once, re-probes and records the attempt.
	PhaseAttempt = "attempt"
	// PhaseAttemptError records an attempt whose invocation failed (the
	// state machine caught the error) as a failed attempt.
	PhaseAttemptError = "attempt_error"
	// PhaseExhausted closes an incident whose attempts are all spent.
	PhaseExhausted = "exhausted"
)

// Longest names an event may carry: an integration name (config) and an
// incident id (the name, "-" and a Unix time).
const (
	maxName       = config.MaxNameLen
	maxIncidentID = maxName + 21
)

// Sentinel errors; test with errors.Is.
var (
	// ErrUnknownPhase: the event's phase is none of the Phase constants.
	ErrUnknownPhase = errors.New("unknown phase")
	// ErrNoRecovery: the integration has no recovery configured (the same
	// sentinel the execution starter uses).
	ErrNoRecovery = execution.ErrNoRecovery
	// ErrNotCurrentIncident: the event's incident is not the one the
	// integration's record is recovering (a stale or foreign execution);
	// nothing is run or recorded.
	ErrNotCurrentIncident = errors.New("not the current incident")
	// ErrBadEvent: the event lacks a field its phase needs.
	ErrBadEvent = errors.New("malformed event")
)

// Updater reads and conditionally writes integration records
// (implemented by *store.Store).
type Updater interface {
	Update(ctx context.Context, integration string, fn store.UpdateFunc) (health.Record, error)
}

// AttemptRecorder writes attempt and history items (implemented by
// *store.Store). PutAttempt writes only the first report of an attempt and
// returns created=false for a repeat.
type AttemptRecorder interface {
	PutAttempt(ctx context.Context, a store.Attempt) (created bool, err error)
	PutHistory(ctx context.Context, integration string, ts []health.Transition) error
}

// MetricsPublisher writes datums as CloudWatch Embedded Metric Format
// documents (implemented by *metrics.EMF).
type MetricsPublisher interface {
	Publish(ctx context.Context, datums []metrics.Datum) (int, error)
}

// Notifier publishes recovery notifications (implemented by
// *notify.Publisher).
type Notifier interface {
	Publish(ctx context.Context, ev notify.Event) error
}

// HeaderResolver resolves secret headers at run time (implemented by
// *secret.Resolver).
type HeaderResolver interface {
	Headers(ctx context.Context, plain map[string]string, secrets map[string]config.SecretRef) (http.Header, error)
}

var (
	_ Updater          = (*store.Store)(nil)
	_ AttemptRecorder  = (*store.Store)(nil)
	_ MetricsPublisher = (*metrics.EMF)(nil)
	_ Notifier         = (*notify.Publisher)(nil)
	_ HeaderResolver   = (*secret.Resolver)(nil)
)

// ConfigSource returns the current configuration document.
type ConfigSource func(ctx context.Context) (*config.Document, error)

// Event is the Recovery Lambda's input, sent by the state machine.
type Event struct {
	Phase       string `json:"phase"`
	IncidentID  string `json:"incident_id"`
	Integration string `json:"integration"`
	Attempt     int    `json:"attempt"`
	MaxAttempts int    `json:"max_attempts"`
	// Error is the state machine's caught error ({"Error":…,"Cause":…}),
	// for PhaseAttemptError.
	Error json.RawMessage `json:"error,omitempty"`
}

// Result is the Recovery Lambda's answer; the state machine branches on
// Healthy alone.
type Result struct {
	Healthy bool `json:"healthy"`
	Attempt int  `json:"attempt"`
	// Duplicate: this attempt had been recorded already (a redelivery); the
	// recorded outcome is returned and nothing ran or was counted again.
	Duplicate bool `json:"duplicate,omitempty"`
	// ActionSkipped: the record was ACTIVE again (the checks saw the
	// integration recover since the last attempt) and a probe confirmed it,
	// so the action was not run.
	ActionSkipped bool     `json:"action_skipped,omitempty"`
	ActionError   string   `json:"action_error,omitempty"`
	ProbeErrors   []string `json:"probe_errors,omitempty"`
	// Error is the recorded reason the attempt failed; empty when healthy.
	Error string `json:"error,omitempty"`
	// NextDelaySeconds is the nominal wait before the next attempt (the
	// upper bound when jittered); 0 when healthy or after the last attempt.
	// Informational: the state machine waits by its input's delays.
	NextDelaySeconds int `json:"next_delay_seconds"`
}

// Handler is the Recovery Lambda. Build it once per container; Handle is
// safe for concurrent use. Config, Store, Attempts, Metrics, Notifier and
// Probers are required.
type Handler struct {
	Config   ConfigSource
	Store    Updater
	Attempts AttemptRecorder
	Metrics  MetricsPublisher
	Notifier Notifier
	Secrets  HeaderResolver // nil when no webhook or component uses secret headers
	Lambda   LambdaAPI      // nil when no integration uses a Lambda action
	Probers  map[string]probe.ProbeFn
	// Concurrency bounds the re-probe's components in flight (default 64).
	Concurrency int
	// Reserve is the time kept back from the deadline to record and publish
	// after the action and the re-probe (default 2 s, at most a third of the
	// time left).
	Reserve time.Duration
	Logger  *slog.Logger
	Now     func() time.Time
}

// Handle runs one phase of one incident. A failed action or an unhealthy
// re-probe is a Result with Healthy false, not an error. Errors mean the
// event is unusable (unknown phase or integration, a stale incident) or the
// outcome could not be recorded; the state machine then catches them.
func (h *Handler) Handle(ctx context.Context, ev Event) (Result, error) {
	switch ev.Phase {
	case PhaseAttempt, PhaseAttemptError, PhaseExhausted:
	default:
		return Result{}, fmt.Errorf("recovery: %w %s (want %s, %s or %s)", ErrUnknownPhase, bound.Quote(ev.Phase), PhaseAttempt, PhaseAttemptError, PhaseExhausted)
	}
	// Names longer than any the document allows are nobody's: refused
	// before they reach a log line or a key.
	if len(ev.IncidentID) > maxIncidentID || len(ev.Integration) > maxName {
		return Result{}, fmt.Errorf("recovery: %s: %w: incident_id (%d bytes) or integration (%d bytes) longer than %d / %d",
			ev.Phase, ErrBadEvent, len(ev.IncidentID), len(ev.Integration), maxIncidentID, maxName)
	}
	if ev.IncidentID == "" || ev.Integration == "" || ev.Attempt < 1 {
		return Result{}, fmt.Errorf("recovery: %s: %w: incident_id, integration and attempt ≥ 1 are required (got %q, %q, %d)",
			ev.Phase, ErrBadEvent, ev.IncidentID, ev.Integration, ev.Attempt)
	}
	log := h.logger().With("request_id", requestid.FromContext(ctx), "integration", ev.Integration,
		"incident", ev.IncidentID, "attempt", ev.Attempt, "phase", ev.Phase)
	integ, err := h.integration(ctx, ev.Integration)
	if err != nil {
		log.Error("recovery event refused", "error", err)
		return Result{}, err
	}
	var res Result
	switch ev.Phase {
	case PhaseAttempt:
		res, err = h.attempt(ctx, log, integ, ev)
	case PhaseAttemptError:
		res, err = h.attemptError(ctx, log, integ, ev)
	default:
		res, err = h.exhausted(ctx, log, integ, ev)
	}
	if err != nil {
		log.Error("recovery phase failed", "error", err)
		return res, err
	}
	return res, nil
}

// integration finds the named integration and checks it has recovery.
func (h *Handler) integration(ctx context.Context, name string) (config.Integration, error) {
	doc, err := h.Config(ctx)
	if err != nil {
		return config.Integration{}, fmt.Errorf("recovery: load config: %w", err)
	}
	sel, err := doc.Select([]string{name})
	if err != nil {
		return config.Integration{}, fmt.Errorf("recovery: %w", err)
	}
	if len(sel) != 1 {
		return config.Integration{}, fmt.Errorf("recovery: integration %q: %w", name, config.ErrUnknownIntegration)
	}
	if sel[0].Recovery == nil {
		return config.Integration{}, fmt.Errorf("recovery: integration %q: %w", name, ErrNoRecovery)
	}
	return sel[0], nil
}

// attempt runs PhaseAttempt: action, re-probe, record.
func (h *Handler) attempt(ctx context.Context, log *slog.Logger, integ config.Integration, ev Event) (Result, error) {
	cur, err := h.read(ctx, integ.Name)
	if err != nil {
		return Result{}, err
	}
	if res, done, err := h.recorded(ctx, log, cur, ev); done || err != nil {
		return res, err
	}

	start := h.now()
	actionCtx, probeCtx, cancel := h.budgets(ctx)
	defer cancel()
	res := Result{Attempt: ev.Attempt}
	if cur.State == health.Active {
		// The checks saw the integration recover since the last attempt: a
		// restart of a healthy system does harm, so look before acting.
		res.Healthy, res.ProbeErrors = judge(integ, h.probe(actionCtx, log, integ))
		res.ActionSkipped = res.Healthy
	}
	if !res.ActionSkipped {
		if err := h.runAction(actionCtx, log, integ, ev); err != nil {
			res.ActionError = err.Error()
			log.Warn("recovery action failed", "error", res.ActionError)
		}
		res.Healthy, res.ProbeErrors = judge(integ, h.probe(probeCtx, log, integ))
	} else {
		log.Info("integration is ACTIVE again and probes healthy; action skipped")
	}
	report := health.AttemptReport{
		IncidentID: ev.IncidentID,
		Attempt:    ev.Attempt,
		Healthy:    res.Healthy,
		Duration:   h.now().Sub(start),
		Error:      failure(res.ActionError, res.ProbeErrors),
	}
	if !res.Healthy {
		res.Error = report.Error
	}
	return h.record(ctx, log, integ, ev, report, res)
}

// attemptError runs PhaseAttemptError: the attempt's invocation failed, so
// it is recorded as failed with the caught error.
func (h *Handler) attemptError(ctx context.Context, log *slog.Logger, integ config.Integration, ev Event) (Result, error) {
	cur, err := h.read(ctx, integ.Name)
	if err != nil {
		return Result{}, err
	}
	if res, done, err := h.recorded(ctx, log, cur, ev); done || err != nil {
		return res, err
	}
	msg := "attempt failed: " + caughtError(ev.Error)
	report := health.AttemptReport{IncidentID: ev.IncidentID, Attempt: ev.Attempt, Error: msg}
	return h.record(ctx, log, integ, ev, report, Result{Attempt: ev.Attempt, Error: msg})
}

// record applies report to the stored record and, when this delivery is the
// one that applied it, writes the attempt and history items, publishes the
// metrics and sends the notifications. Failures after the record is written
// are logged, not returned: the state item holds the outcome, and an error
// would make the state machine record the attempt a second time.
func (h *Handler) record(ctx context.Context, log *slog.Logger, integ config.Integration, ev Event, report health.AttemptReport, res Result) (Result, error) {
	var (
		prev    health.Record
		trans   []health.Transition
		applied bool
	)
	rec, err := h.Store.Update(ctx, integ.Name, func(cur health.Record) (health.Record, bool, error) {
		var next health.Record
		prev = cur
		next, trans, applied = health.ApplyAttempt(cur, report, integ, h.now())
		return next, applied, nil
	})
	if err != nil {
		return res, fmt.Errorf("recovery: record attempt %d of %s: %w", ev.Attempt, ev.IncidentID, err)
	}
	if !applied {
		// Another delivery of this attempt recorded it first.
		out, _, err := h.recorded(ctx, log, rec, ev)
		return out, err
	}
	now := h.now()
	outcome := health.RecoveryFailed
	if report.Healthy {
		outcome = health.RecoverySucceeded
	} else if ev.Attempt < maxAttempts(ev, integ) {
		nominal := *integ.Recovery
		nominal.Jitter = false
		res.NextDelaySeconds = execution.WaitSeconds(health.NextDelay(nominal, ev.Attempt, 0))
	}
	if _, err := h.Attempts.PutAttempt(ctx, store.Attempt{
		IncidentID:  ev.IncidentID,
		Integration: integ.Name,
		Attempt:     ev.Attempt,
		Outcome:     outcome,
		DurationMs:  float64(report.Duration.Microseconds()) / 1000,
		Error:       report.Error,
		At:          now,
	}); err != nil {
		log.Error("write attempt item failed; the state item holds the outcome", "error", err)
	}
	if len(trans) > 0 {
		if err := h.Attempts.PutHistory(ctx, integ.Name, trans); err != nil {
			log.Error("write history failed; the state item holds the transitions", "error", err)
		}
	}

	var datums []metrics.Datum
	var events []notify.Event
	base := notify.Event{Integration: integ.Name, IncidentID: ev.IncidentID, Attempt: ev.Attempt, At: now}
	if prev.Recovery.Attempt == 0 {
		datums = append(datums, metrics.ForRecovery(integ.Name, metrics.Started, 0, now)...)
		e := base
		e.Kind, e.From, e.To, e.Cause = notify.KindRecoveryStarted, prev.State, prev.State, prev.ErrorMessage
		events = append(events, e)
	}
	e := base
	if report.Healthy {
		datums = append(datums, metrics.ForRecovery(integ.Name, metrics.Succeeded, now.Sub(rec.Recovery.StartedAt), now)...)
		e.Kind, e.From, e.To, e.Cause = notify.KindRecoverySucceeded, prev.State, rec.State, fmt.Sprintf("recovered by attempt %d", ev.Attempt)
		log.Info("recovery succeeded", "duration_ms", report.Duration.Milliseconds(), "state", rec.State)
	} else {
		e.Kind, e.From, e.To, e.Cause = notify.KindRecoveryFailed, prev.State, rec.State, report.Error
		log.Warn("recovery attempt failed", "error", report.Error, "next_delay_s", res.NextDelaySeconds)
	}
	events = append(events, e)
	h.publish(ctx, log, datums, events)
	return res, nil
}

// exhausted runs PhaseExhausted: close the incident and start the cooldown.
func (h *Handler) exhausted(ctx context.Context, log *slog.Logger, integ config.Integration, ev Event) (Result, error) {
	var applied bool
	rec, err := h.Store.Update(ctx, integ.Name, func(cur health.Record) (health.Record, bool, error) {
		if cur.Recovery.IncidentID != ev.IncidentID {
			return cur, false, fmt.Errorf("incident %s: %w (current %q)", ev.IncidentID, ErrNotCurrentIncident, cur.Recovery.IncidentID)
		}
		var next health.Record
		next, applied = health.ApplyExhausted(cur, ev.IncidentID, integ, h.now())
		return next, applied, nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("recovery: record exhaustion of %s: %w", ev.IncidentID, err)
	}
	res := Result{Attempt: ev.Attempt, Healthy: rec.Recovery.LastOutcome == health.RecoverySucceeded, Error: rec.Recovery.LastError}
	if !applied {
		res.Duplicate = true
		log.Info("exhaustion already recorded", "outcome", rec.Recovery.LastOutcome)
		return res, nil
	}
	now := h.now()
	var d time.Duration
	if !rec.Recovery.StartedAt.IsZero() {
		d = now.Sub(rec.Recovery.StartedAt)
	}
	until := rec.Recovery.CooldownUntil.UTC().Format(time.RFC3339)
	log.Warn("recovery exhausted", "attempts", rec.Recovery.Attempt, "cooldown_until", until)
	h.publish(ctx, log, metrics.ForRecovery(integ.Name, metrics.Failed, d, now), []notify.Event{{
		Kind: notify.KindRecoveryExhausted, Integration: integ.Name, IncidentID: ev.IncidentID, Attempt: ev.Attempt,
		From: rec.State, To: rec.State, At: now,
		Cause: exhaustedCause(rec.Recovery.LastError, until),
	}})
	return res, nil
}

// exhaustedCause says why and until when recovery stops.
func exhaustedCause(lastErr, until string) string {
	if lastErr == "" {
		return "no new recovery before " + until
	}
	return fmt.Sprintf("last attempt: %s; no new recovery before %s", lastErr, until)
}

// read returns the integration's record without writing it.
func (h *Handler) read(ctx context.Context, integration string) (health.Record, error) {
	rec, err := h.Store.Update(ctx, integration, func(cur health.Record) (health.Record, bool, error) {
		return cur, false, nil
	})
	if err != nil {
		return health.Record{}, fmt.Errorf("recovery: read %s: %w", integration, err)
	}
	return rec, nil
}

// recorded reports whether ev's attempt is already settled in rec, and then
// the outcome as recorded. An event of another incident than rec's is
// ErrNotCurrentIncident. A settled attempt whose attempt item is missing (a
// delivery that stopped between the two writes) gets it written now; an
// existing item is left as it is.
func (h *Handler) recorded(ctx context.Context, log *slog.Logger, rec health.Record, ev Event) (Result, bool, error) {
	rs := rec.Recovery
	if rs.IncidentID != ev.IncidentID {
		return Result{}, true, fmt.Errorf("recovery: incident %s of %s: %w (current %q)", ev.IncidentID, ev.Integration, ErrNotCurrentIncident, rs.IncidentID)
	}
	if ev.Attempt > rs.Attempt && !rs.Closed() {
		return Result{}, false, nil
	}
	res := Result{Attempt: ev.Attempt, Duplicate: true}
	if ev.Attempt == rs.Attempt {
		res.Healthy = rs.LastOutcome == health.RecoverySucceeded
		res.Error = rs.LastError
		// The attempt item records the attempt, not how the incident ended.
		outcome := health.RecoveryFailed
		if rs.LastOutcome == health.RecoverySucceeded {
			outcome = health.RecoverySucceeded
		}
		created, err := h.Attempts.PutAttempt(ctx, store.Attempt{
			IncidentID: ev.IncidentID, Integration: ev.Integration, Attempt: ev.Attempt,
			Outcome: outcome, DurationMs: rs.LastDurationMs, Error: rs.LastError, At: rs.LastAttemptAt,
		})
		switch {
		case err != nil:
			log.Error("check attempt item failed", "error", err)
		case created:
			log.Warn("attempt item was missing; written from the state item")
		}
	} else {
		// An earlier attempt than the last one failed, or the incident was
		// closed before this attempt: in both cases it changes nothing now.
		res.Healthy = rs.LastOutcome == health.RecoverySucceeded && ev.Attempt > rs.Attempt
	}
	log.Info("duplicate delivery: returning the recorded outcome", "recorded_attempt", rs.Attempt, "outcome", rs.LastOutcome)
	return res, true, nil
}

// runAction runs the integration's recovery action once.
func (h *Handler) runAction(ctx context.Context, log *slog.Logger, integ config.Integration, ev Event) error {
	p := actionPayload{
		Integration:    integ.Name,
		IncidentID:     ev.IncidentID,
		Attempt:        ev.Attempt,
		IdempotencyKey: IdempotencyKey(ev.IncidentID, ev.Attempt),
	}
	r := integ.Recovery
	switch {
	case r.Webhook != nil:
		var secret http.Header
		if len(r.Webhook.SecretHeaders) > 0 {
			if h.Secrets == nil {
				return errors.New("webhook: secret headers configured but no secret resolver")
			}
			hdr, err := h.Secrets.Headers(ctx, r.Webhook.Headers, r.Webhook.SecretHeaders)
			if err != nil {
				return fmt.Errorf("webhook: resolve secret headers: %w", err)
			}
			secret = hdr
		}
		log.Info("calling recovery webhook", "method", r.Webhook.Method)
		return runWebhook(ctx, r.Webhook, secret, p)
	case r.Lambda != nil:
		log.Info("invoking recovery function", "function", r.Lambda.FunctionName)
		return runLambda(ctx, h.Lambda, r.Lambda, p)
	}
	return errors.New("no recovery action configured")
}

// probe re-probes every component of the integration with the check's
// probes.
func (h *Handler) probe(ctx context.Context, log *slog.Logger, integ config.Integration) []probe.Result {
	return probe.Run(ctx, h.Probers, integ.Components, probe.SecretHeaders(ctx, h.Secrets, integ.Components, log), h.concurrency())
}

// budgets splits the time left before ctx's deadline: the reserve is kept
// for recording, the action gets at most half of the rest (and its own
// timeout), the re-probe the remainder. Without a deadline the action and
// probes are bounded by their own timeouts only.
func (h *Handler) budgets(ctx context.Context) (actionCtx, probeCtx context.Context, cancel context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return ctx, ctx, func() {}
	}
	now := h.now()
	left := dl.Sub(now)
	work := dl.Add(-min(h.reserve(), left/3))
	actionCtx, c1 := context.WithDeadline(ctx, now.Add(work.Sub(now)/2))
	probeCtx, c2 := context.WithDeadline(ctx, work)
	return actionCtx, probeCtx, func() { c1(); c2() }
}

// publish sends the datums in one call and the notifications; failures are
// logged: they never undo a recorded outcome.
func (h *Handler) publish(ctx context.Context, log *slog.Logger, datums []metrics.Datum, events []notify.Event) {
	if len(datums) > 0 {
		if _, err := h.Metrics.Publish(ctx, datums); err != nil {
			log.Error("write recovery metrics failed", "error", err, "datums", len(datums))
		}
	}
	for _, e := range events {
		if err := h.Notifier.Publish(ctx, e); err != nil {
			log.Error("notify failed", "kind", e.Kind, "error", err)
		}
	}
}

// judge decides an attempt from the re-probe with the check's own judgment
// (health.Judge), so an attempt never counts as recovered what the next
// check would find degraded: slow, a certificate about to expire, a body
// metric over its limit. It returns the verdict's cause when not healthy.
func judge(integ config.Integration, results []probe.Result) (bool, []string) {
	v := health.Judge(integ, results, health.Impairment{})
	if v.Healthy() {
		return true, nil
	}
	return false, []string{v.Condition.String() + ": " + v.Cause}
}

// maxAttempts is the execution's attempt limit, or the configured one when
// the event does not carry it.
func maxAttempts(ev Event, integ config.Integration) int {
	if ev.MaxAttempts > 0 {
		return ev.MaxAttempts
	}
	return integ.Recovery.MaxAttempts
}

// failure is the recorded reason of an attempt.
func failure(actionErr string, probeErrs []string) string {
	var parts []string
	if actionErr != "" {
		parts = append(parts, "action: "+actionErr)
	}
	if len(probeErrs) > 0 {
		parts = append(parts, "re-probe: "+strings.Join(probeErrs, "; "))
	}
	return strings.Join(parts, "; ")
}

// caughtError reads the state machine's caught error: its Error name and
// the Cause, which for a Lambda error is itself JSON with an errorMessage.
func caughtError(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return "unknown error"
	}
	var c struct {
		Error string `json:"Error"`
		Cause string `json:"Cause"`
	}
	if err := json.Unmarshal(raw, &c); err != nil || (c.Error == "" && c.Cause == "") {
		return excerpt(string(raw))
	}
	cause := c.Cause
	var lambdaErr struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(cause), &lambdaErr) == nil && lambdaErr.ErrorMessage != "" {
		cause = lambdaErr.ErrorMessage
	}
	if cause == "" {
		return c.Error
	}
	return c.Error + ": " + excerpt(cause)
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

func (h *Handler) concurrency() int {
	if h.Concurrency > 0 {
		return h.Concurrency
	}
	return 64
}

func (h *Handler) reserve() time.Duration {
	if h.Reserve > 0 {
		return h.Reserve
	}
	return 2 * time.Second
}
