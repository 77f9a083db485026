package check

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/vigil-monitor/vigil/internal/alerting"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/metrics"
	"github.com/vigil-monitor/vigil/internal/notify"
	"github.com/vigil-monitor/vigil/internal/probe"
	"github.com/vigil-monitor/vigil/internal/requestid"
	"github.com/vigil-monitor/vigil/internal/shard"
	"github.com/vigil-monitor/vigil/internal/store"
)

// RecordStore persists integration records and the applied alerting plan
// (implemented by *store.Store).
type RecordStore interface {
	ReadBatch(ctx context.Context, names []string) *store.Batch
	UpdateBatch(ctx context.Context, b *store.Batch, limit int, fn func(name string, cur health.Record) (health.Record, bool, error)) ([]store.Updated, store.Applied, error)
	ReadApplied(ctx context.Context) (store.Applied, error)
	PutApplied(ctx context.Context, hash string, alarms int, at time.Time, prev store.Applied) (bool, error)
	ClearApplied(ctx context.Context, at time.Time) error
	Update(ctx context.Context, integration string, fn store.UpdateFunc) (health.Record, error)
	PutHistory(ctx context.Context, integration string, ts []health.Transition) error
}

// MetricsPublisher writes datums as CloudWatch Embedded Metric Format
// documents (implemented by *metrics.EMF); it returns how many it wrote.
type MetricsPublisher interface {
	Publish(ctx context.Context, datums []metrics.Datum) (int, error)
}

// Notifier publishes state changes (implemented by *notify.Publisher).
type Notifier interface {
	Publish(ctx context.Context, ev notify.Event) error
}

// RecoveryStarter starts the recovery workflow of a record whose recovery is
// due, and looks up how an execution ended (implemented by
// *execution.Starter). started is false when an execution of that name
// already exists; ended is false while it runs.
type RecoveryStarter interface {
	Start(ctx context.Context, rec health.Record, integ config.Integration) (started bool, err error)
	Ended(ctx context.Context, executionName string) (ended bool, end health.ExecutionEnd, err error)
}

// AlertingConverger derives the stack's alarms and dashboard from the
// document and converges CloudWatch to them (implemented by
// *alerting.Converger).
type AlertingConverger interface {
	Plan(doc *config.Document, at time.Time) alerting.Plan
	Converge(ctx context.Context, p alerting.Plan) ([]alerting.Change, error)
	// Remove deletes the stack's integration alarms and dashboard.
	Remove(ctx context.Context) ([]alerting.Change, error)
}

// RequestCounter counts the AWS requests the handler's clients send
// (implemented by *awsenv.RequestCounter).
type RequestCounter interface {
	Snapshot() map[string]int
	Since(before map[string]int) map[string]int
}

// ConfigSource returns the current configuration document.
type ConfigSource func(ctx context.Context) (*config.Document, error)

// Handler runs scheduled checks. Build it once per container; Handle is safe
// for concurrent use.
type Handler struct {
	Config   ConfigSource
	Store    RecordStore
	Metrics  MetricsPublisher
	Notifier Notifier
	Starter  RecoveryStarter
	// Alerting keeps the stack's alarms and dashboard on the document; nil
	// when no stack is deployed. Maintenance windows disable their
	// integration's alarm actions through it.
	Alerting AlertingConverger
	// AlertingBudget bounds one convergence (default 20 s); what it leaves
	// undone, the next check does.
	AlertingBudget time.Duration
	// Responder answers CloudFormation's custom resource requests.
	Responder StackResponder
	Secrets   probe.HeaderResolver // nil when no component uses secret headers
	Probers   map[string]probe.ProbeFn
	// Requests, when set, reports each invocation's AWS requests in its
	// Result. Lambda runs one invocation per container at a time, so the
	// difference of two snapshots is this invocation's.
	Requests RequestCounter
	// Concurrency bounds probes in flight (default 256: well under Lambda's
	// 1,024 file descriptors) and integrations written at once (1/16 of it).
	Concurrency int
	// Reserve is the time kept back from the Lambda deadline to persist and
	// publish after probing (default 3 s); the last fifth of it is left to
	// return the result, so writes stop before the function is killed.
	Reserve time.Duration
	// Fanout, when set, splits a tick whose integrations need more than
	// one shard over invocations of this function (fanout.go).
	Fanout *Fanout
	// Regions, when set, makes this a probing region of several: it
	// reports to the home region, which decides (regions.go).
	Regions *Regions
	// Shards keeps shard heartbeats and the regions' observations
	// (implemented by *store.Store); needed with Fanout or Regions.
	Shards ShardStore
	Logger *slog.Logger
	Now    func() time.Time
}

// ShardStore keeps what sharded and multi-region checks share through the
// home table (implemented by *store.Store).
type ShardStore interface {
	ShardTicks(ctx context.Context) (map[string]time.Time, error)
	PutShardTick(ctx context.Context, shard string, tick, at time.Time) (bool, error)
	PutObservation(ctx context.Context, o store.Observation) error
	Observations(ctx context.Context, tick time.Time, shard string) ([]store.Observation, error)
	OpenTicks(ctx context.Context, shard string, before time.Time) ([]time.Time, error)
	CloseTick(ctx context.Context, tick time.Time, shard string) error
	RegionStatuses(ctx context.Context) (map[string]store.RegionStatus, error)
	SetRegionStatus(ctx context.Context, st store.RegionStatus, prevVersion int64) (bool, error)
}

// Result summarizes one invocation; it is the function's response.
type Result struct {
	Tick         time.Time           `json:"tick"`
	Integrations []IntegrationResult `json:"integrations"`
	// MetricDocuments counts the EMF documents (log lines) written.
	MetricDocuments int    `json:"metric_documents"`
	MetricDatums    int    `json:"metric_datums"`
	MetricsError    string `json:"metrics_error,omitempty"`
	// AWSRequests counts requests by "Service.Operation", retries included.
	AWSRequests map[string]int `json:"aws_requests,omitempty"`
	DurationMs  float64        `json:"duration_ms"`
	// ProbeMs is the wall time of the probe phase; SlowestProbeMs the
	// slowest single probe in it. Their difference is the engine's overhead.
	ProbeMs        float64 `json:"probe_ms"`
	SlowestProbeMs float64 `json:"slowest_probe_ms"`
	// CheckerImpaired says why the whole invocation found the checker itself
	// impaired (health.Assess); empty when it did not.
	CheckerImpaired string `json:"checker_impaired,omitempty"`
	// Alerting is what converging the alarms and dashboard did, when the
	// document's plan was not the one applied; nil otherwise.
	Alerting *AlertingResult `json:"alerting,omitempty"`

	// Shard is the "i/n" of a shard's invocation.
	Shard string `json:"shard,omitempty"`
	// Shards is what each shard of a fanned-out tick did (the
	// coordinator's result); ShardsFailed counts those that failed twice.
	Shards       []ShardResult `json:"shards,omitempty"`
	ShardsFailed int           `json:"shards_failed,omitempty"`

	// Region is the probing region when several probe. WaitingFor lists
	// the regions the tick still waits on after this report; Decided the
	// ticks this invocation had decided (a late one marked so);
	// RegionsImpaired the regions a decision set aside, and why.
	Region          string            `json:"region,omitempty"`
	WaitingFor      []string          `json:"waiting_for,omitempty"`
	Decided         []string          `json:"decided,omitempty"`
	RegionsImpaired map[string]string `json:"regions_impaired,omitempty"`
}

// ShardResult is one shard's part of a fanned-out tick.
type ShardResult struct {
	Index          int     `json:"index"`
	Count          int     `json:"count"`
	Integrations   int     `json:"integrations"`
	Components     int     `json:"components"`
	DurationMs     float64 `json:"duration_ms"`
	ProbeMs        float64 `json:"probe_ms"`
	SlowestProbeMs float64 `json:"slowest_probe_ms"`
	// Duplicate: the shard's heartbeat says it has checked this tick
	// already, so it was not invoked again.
	Duplicate bool `json:"duplicate,omitempty"`
	// Retried: the first invocation failed and the second is reported.
	Retried bool   `json:"retried,omitempty"`
	Error   string `json:"error,omitempty"`
	// AWSRequests are the shard invocation's own requests.
	AWSRequests map[string]int `json:"aws_requests,omitempty"`
}

// AlertingResult is one convergence of the stack's alerting.
type AlertingResult struct {
	Plan    string            `json:"plan"` // the plan's hash
	Alarms  int               `json:"alarms"`
	Changes []alerting.Change `json:"changes"`
	// Recorded says the plan was recorded as applied: the next check with
	// the same document makes no CloudWatch request.
	Recorded bool   `json:"recorded"`
	Error    string `json:"error,omitempty"`
}

// IntegrationResult is what one check did to one integration.
type IntegrationResult struct {
	Name                string                   `json:"name"`
	Outcome             string                   `json:"outcome"` // applied | duplicate | stale | error
	State               health.State             `json:"state"`
	Score               float64                  `json:"score"`
	ConsecutiveFailures int                      `json:"consecutive_failures"`
	Transitions         []health.Transition      `json:"transitions,omitempty"`
	Components          []health.ComponentStatus `json:"components"`
	RecoveryDue         bool                     `json:"recovery_due,omitempty"`
	RecoveryExecution   string                   `json:"recovery_execution,omitempty"`
	RecoveryStarted     bool                     `json:"recovery_started,omitempty"`
	// RecoveryClosed is how an incident ended whose execution had ended
	// without recording it, when this check found and closed it.
	RecoveryClosed string `json:"recovery_closed,omitempty"`
	// Inconclusive is why the check judged nothing (a fault on the
	// checker's side); state, counters and recovery were left as they were.
	Inconclusive string `json:"inconclusive,omitempty"`
	Error        string `json:"error,omitempty"`
}

var outcomeNames = map[health.Outcome]string{health.Applied: "applied", health.Duplicate: "duplicate", health.Stale: "stale"}

// Handle runs one check of the event's integrations. Probe failures are data;
// the returned error reports infrastructure failures (store, recovery start)
// after everything that could be recorded was recorded.
func (h *Handler) Handle(ctx context.Context, ev Event) (Result, error) {
	if ev.StackEvent != nil {
		return h.stackRequest(ctx, ev.StackEvent)
	}
	start := h.now()
	var before map[string]int
	if h.Requests != nil {
		before = h.Requests.Snapshot()
	}
	log := h.logger().With("request_id", requestid.FromContext(ctx))
	if ev.Decide != nil {
		out, err := h.handleDecide(ctx, log, ev, start)
		return h.finish(log, out, start, before), err
	}
	tick, err := ev.Tick(start)
	if err != nil {
		// Nothing was probed or written: a bad event changes no state.
		log.Error("event refused", "error", err)
		return Result{}, err
	}
	log = log.With("tick", tick.Format(time.RFC3339))
	doc, err := h.Config(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("check: load config: %w", err)
	}
	integs, err := doc.Select(ev.Integrations)
	if err != nil {
		return Result{}, fmt.Errorf("check: select integrations: %w", err)
	}
	key := shard.Key{Index: 0, Count: 1}
	switch {
	case ev.Shard != nil:
		key = ev.Shard.Key()
		log = log.With("shard", key.String())
		var cancel context.CancelFunc
		if ev.Shard.BudgetMs > 0 {
			// Deadlines are real time, whatever clock judges the tick.
			ctx, cancel = context.WithTimeout(ctx, time.Duration(ev.Shard.BudgetMs)*time.Millisecond)
			defer cancel()
		}
	case h.Fanout != nil:
		plan := shard.Plan(integs, h.Fanout.Capacity)
		if len(plan) > 1 {
			out, applied, readErr, err := h.fanOut(ctx, log, tick, plan)
			if readErr == nil {
				h.converge(ctx, log, doc, tick, applied, &out)
			}
			return h.finish(log, out, start, before), err
		}
	}

	// A single region reads its records while its probes run: nothing
	// waits for a read after them. (Regions write observations instead;
	// the home reads when it decides.)
	var prefetched chan *store.Batch
	if h.Regions == nil {
		prefetched = make(chan *store.Batch, 1)
		go func(ctx context.Context) { prefetched <- h.Store.ReadBatch(ctx, integrationNames(integs)) }(ctx)
	}
	probeStart := h.now()
	results, controls := h.probeAll(ctx, log, integs, doc.Controls)
	im := health.Assess(integs, results, doc.Controls, controls)
	out := Result{Tick: tick, ProbeMs: msSince(probeStart, h.now())}
	if ev.Shard != nil {
		out.Shard = key.String()
	}
	for _, rs := range results {
		out.SlowestProbeMs = max(out.SlowestProbeMs, float64(slowest(rs).Microseconds())/1000)
	}
	if im.Impaired() {
		out.CheckerImpaired = im.Cause
		log.Warn("checker impaired: ambiguous failures are taken as the checker's own", "cause", im.Cause)
	}
	// Writes and metrics stop a little before the Lambda deadline, so the
	// function returns its result and errors instead of being killed.
	ctx, cancel := withMargin(ctx, h.reserve()/5)
	defer cancel()
	var applied store.Applied
	var readErr error
	if h.Regions != nil {
		err = h.report(ctx, log, &out, tick, key, integs, results, im)
		if ev.Shard == nil && h.decidesHere() {
			applied, readErr = h.Store.ReadApplied(ctx)
		}
	} else {
		applied, readErr, err = h.judge(ctx, log, &out, judgement{tick: tick, integs: integs, results: results, im: im, batch: <-prefetched})
	}
	if ev.Shard != nil && err == nil && readErr == nil {
		if _, serr := h.Shards.PutShardTick(ctx, h.heartbeatKey(key), tick, h.now()); serr != nil {
			// Only a repeat of this shard's tick probes again; its writes
			// are still counted once.
			log.Error("record shard heartbeat failed", "error", serr)
		}
	}
	if ev.Shard == nil && readErr == nil && h.decidesHere() {
		// After the check's state and metrics: alerting never delays them,
		// and its failure is no failed check (no error, no retry of the
		// invocation): it is logged, published and retried next check.
		h.converge(ctx, log, doc, tick, applied, &out)
	}
	return h.finish(log, out, start, before), err
}

// judgement is one tick's results to judge and persist.
type judgement struct {
	tick    time.Time
	integs  []config.Integration
	results [][]probe.Result
	im      health.Impairment
	// views is what each region saw, when several probe.
	views [][]health.RegionView
	// fromReports: the tick is decided from regions' reports, which may
	// complete or re-open a tick after a later one was decided; a record
	// already past it keeps its state and counts no stale tick.
	fromReports bool
	// extra datums are published with the check's.
	extra []metrics.Datum
	// batch holds the records read while probing; nil: read them now.
	batch *store.Batch
}

func integrationNames(integs []config.Integration) []string {
	names := make([]string, len(integs))
	for i, integ := range integs {
		names[i] = integ.Name
	}
	return names
}

// judge evaluates and persists a tick's results, then settles each
// integration (history, notifications, recovery) and publishes the metrics.
// It fills out's Integrations and metric counts and returns the applied
// alerting plan and the error of the batched read, for converge.
func (h *Handler) judge(ctx context.Context, log *slog.Logger, out *Result, j judgement) (store.Applied, error, error) {
	written, decisions, applied, readErr := h.persist(ctx, j)
	out.Integrations = make([]IntegrationResult, len(j.integs))
	datums := make([][]metrics.Datum, len(j.integs))
	errs := make([]error, len(j.integs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, h.writeConcurrency())
	for i, integ := range j.integs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out.Integrations[i], datums[i], errs[i] = h.settle(ctx, log.With("integration", integ.Name), integ, j.tick, j.results[i], written[i], decisions[i])
		}()
	}
	wg.Wait()

	inconclusive, err := h.notifyChecker(ctx, log, out.Integrations, written, decisions, j.tick)
	errs = append(errs, err)

	var all []metrics.Datum
	for _, d := range datums {
		all = append(all, d...)
	}
	all = append(all, metrics.CheckerImpaired(j.tick, inconclusive)...)
	all = append(all, j.extra...)
	out.MetricDatums = len(all)
	docs, perr := h.Metrics.Publish(ctx, all)
	out.MetricDocuments = docs
	if perr != nil {
		// Metrics never cost state: the records are already written.
		out.MetricsError = perr.Error()
		log.Error("write metrics failed", "error", perr, "datums", len(all))
	}
	return applied, readErr, errors.Join(errs...)
}

// finish stamps the result's duration and requests and logs it.
func (h *Handler) finish(log *slog.Logger, out Result, start time.Time, before map[string]int) Result {
	out.DurationMs = msSince(start, h.now())
	if h.Requests != nil {
		out.AWSRequests = h.Requests.Since(before)
	}
	log.Info("check done", "integrations", len(out.Integrations), "metric_documents", out.MetricDocuments, "duration_ms", out.DurationMs, "aws_requests", out.AWSRequests)
	return out
}

// probeAll probes every component of every integration, and the document's
// control targets, in one bounded pool, so the invocation takes about as long
// as its slowest probe.
func (h *Handler) probeAll(ctx context.Context, log *slog.Logger, integs []config.Integration, controls []config.Component) ([][]probe.Result, []probe.Result) {
	var comps []config.Component
	for _, integ := range integs {
		comps = append(comps, integ.Components...)
	}
	comps = append(comps, controls...)
	headers := probe.SecretHeaders(ctx, h.Secrets, comps, log)
	pctx, cancel := withMargin(ctx, h.reserve())
	defer cancel()
	flat := probe.Run(pctx, h.Probers, comps, headers, h.concurrency())
	out := make([][]probe.Result, len(integs))
	n := 0
	for i, integ := range integs {
		out[i] = flat[n : n+len(integ.Components)]
		n += len(integ.Components)
	}
	return out, flat[n:]
}

// persist evaluates and stores every integration's check: one batched read
// for all of them (and the applied alerting plan), then one conditional
// write each (SPEC §4, §9).
func (h *Handler) persist(ctx context.Context, j judgement) ([]store.Updated, []health.Decision, store.Applied, error) {
	index := make(map[string]int, len(j.integs))
	checks := make([]health.Check, len(j.integs))
	for i, integ := range j.integs {
		index[integ.Name] = i
		checks[i] = health.Check{Integration: integ, Tick: j.tick, Results: j.results[i], Duration: slowest(j.results[i]), Impairment: j.im}
		if j.views != nil {
			checks[i].Regions = j.views[i]
		}
	}
	decisions := make([]health.Decision, len(j.integs))
	batch := j.batch
	if batch == nil {
		batch = h.Store.ReadBatch(ctx, integrationNames(j.integs))
	}
	written, applied, err := h.Store.UpdateBatch(ctx, batch, h.writeConcurrency(), func(name string, cur health.Record) (health.Record, bool, error) {
		i := index[name] // fn runs for one name at a time, so decisions[i] has one writer
		if j.fromReports && !cur.LastTick.IsZero() && !cur.LastTick.Before(j.tick) {
			// A later tick was decided first: this one is overtaken, not
			// a delivery out of order.
			decisions[i] = health.Decision{Outcome: health.Duplicate}
			return cur, false, nil
		}
		next, dec := health.Evaluate(cur, checks[i], h.now())
		decisions[i] = dec
		return next, dec.Outcome != health.Duplicate, nil
	})
	return written, decisions, applied, err
}

// converge brings the stack's alarms and dashboard to the document's plan
// when the plan applied is another (a document change, or a maintenance
// window opening or closing), then records it. A failure is logged, counted
// in the AlertingFailed metric (its stack alarm warns) and shown in the
// result; the plan stays unrecorded, so the next check converges again from
// what CloudWatch holds.
func (h *Handler) converge(ctx context.Context, log *slog.Logger, doc *config.Document, tick time.Time, applied store.Applied, out *Result) {
	if h.Alerting == nil {
		return
	}
	// The wall clock, as health.Evaluate judges maintenance windows.
	plan := h.Alerting.Plan(doc, h.now())
	hash := plan.Hash()
	if applied.Hash == hash {
		return
	}
	budget := h.AlertingBudget
	if budget <= 0 {
		budget = 20 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	res := &AlertingResult{Plan: hash[:12], Alarms: len(plan.Alarms), Changes: []alerting.Change{}}
	out.Alerting = res
	changes, err := h.Alerting.Converge(cctx, plan)
	res.Changes = append(res.Changes, changes...)
	if err == nil {
		res.Recorded, err = h.Store.PutApplied(ctx, hash, len(plan.Alarms), h.now(), applied)
	}
	if err != nil {
		res.Error = fmt.Sprintf("converge alerting: %v", err)
		log.Error("converge alerting failed; the next check tries again", "plan", res.Plan, "changes", len(changes), "error", err)
		if _, perr := h.Metrics.Publish(ctx, metrics.AlertingFailed(tick)); perr != nil {
			log.Error("write metrics failed", "error", perr)
		}
		return
	}
	log.Info("alerting converged", "plan", res.Plan, "alarms", res.Alarms, "changes", len(changes), "recorded", res.Recorded)
}

// settle reports one integration's persisted check and acts on its decision:
// history, notifications, maintenance alarm holds, recovery start, metrics.
func (h *Handler) settle(ctx context.Context, log *slog.Logger, integ config.Integration, tick time.Time, results []probe.Result, w store.Updated, dec health.Decision) (IntegrationResult, []metrics.Datum, error) {
	ir := IntegrationResult{Name: integ.Name}
	rec := w.Record
	if w.Err != nil {
		ir.Outcome, ir.Error = "error", w.Err.Error()
		log.Error("persist check failed", "error", w.Err)
		return ir, nil, fmt.Errorf("check: %s: %w", integ.Name, w.Err)
	}
	ir.Outcome = outcomeNames[dec.Outcome]
	ir.State, ir.Score, ir.ConsecutiveFailures = rec.State, rec.Score, rec.ConsecutiveFailures
	ir.Components, ir.Transitions = rec.Components, dec.Transitions
	if dec.Repaired != "" {
		log.Warn("stored record repaired", "repair", dec.Repaired)
	}
	switch dec.Outcome {
	case health.Duplicate:
		log.Info("duplicate tick ignored")
		return ir, nil, nil
	case health.Stale:
		// ForCheck publishes only StaleTicks for a tick older than the record.
		log.Warn("stale tick ignored", "last_tick", rec.LastTick, "stale_ticks", rec.StaleTicks)
		return ir, metrics.ForCheck(integ, rec, results, tick), nil
	}
	if dec.Inconclusive {
		// The record kept its state and counters; show what was seen.
		ir.Inconclusive = rec.Inconclusive
		ir.Components = dec.Seen
		log.Warn("check inconclusive: a fault on the checker's side; nothing counted", "cause", rec.Inconclusive)
	}

	var errs []error
	if len(dec.Transitions) > 0 {
		if err := h.Store.PutHistory(ctx, integ.Name, dec.Transitions); err != nil {
			// The transitions are also in the state item; a lost history
			// item only shortens the long-term log, so record and go on.
			log.Error("write history failed", "error", err)
		}
		for _, t := range dec.Transitions {
			log.Info("state changed", "from", t.From, "to", t.To, "cause", t.Cause, "notified", dec.Notify)
		}
	}
	if dec.Notify {
		for _, t := range dec.Transitions {
			ev := notify.Event{Kind: "state_change", Integration: integ.Name, From: t.From, To: t.To, Cause: t.Cause, At: t.At}
			if err := h.Notifier.Publish(ctx, ev); err != nil {
				log.Error("notify state change failed", "error", err)
				errs = append(errs, fmt.Errorf("check: notify %s: %w", integ.Name, err))
			}
		}
	}
	datums := metrics.ForCheck(integ, rec, results, tick)
	lookUp := dec.CheckExecution
	if dec.StartRecovery {
		ir.RecoveryDue, ir.RecoveryExecution = true, rec.Recovery.ExecutionName
		started, err := h.Starter.Start(ctx, rec, integ)
		switch {
		case err != nil:
			// The record keeps Recovery.Pending: the next check retries the
			// start under the same execution name.
			log.Error("start recovery failed; will retry next check", "execution", rec.Recovery.ExecutionName, "error", err)
			errs = append(errs, fmt.Errorf("check: start recovery of %s: %w", integ.Name, err))
			h.countStartFailure(ctx, log, integ.Name, rec.Recovery.IncidentID)
		default:
			ir.RecoveryStarted = started
			// An execution of this name exists: it may have ended without
			// recording anything, and then nothing else ever will.
			lookUp = !started
			log.Info("recovery start requested", "execution", rec.Recovery.ExecutionName, "started", started)
		}
	}
	if lookUp {
		closed, more, err := h.closeEnded(ctx, log, integ, rec)
		ir.RecoveryClosed = closed
		datums = append(datums, more...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return ir, datums, errors.Join(errs...)
}

// closeEnded looks up the execution of rec's open incident and, when Step
// Functions reports it ended without the incident being closed, closes it
// (health.ApplyExecutionEnd: outcome recorded, cooldown started), notifies
// and returns the recovery metrics. It returns the outcome recorded, "" when
// the execution still runs or another writer closed the incident first. A
// failed look-up is returned and tried again by the next check.
func (h *Handler) closeEnded(ctx context.Context, log *slog.Logger, integ config.Integration, rec health.Record) (string, []metrics.Datum, error) {
	rs := rec.Recovery
	log = log.With("execution", rs.ExecutionName)
	ended, end, err := h.Starter.Ended(ctx, rs.ExecutionName)
	if err != nil {
		log.Error("look up recovery execution failed; will retry next check", "error", err)
		return "", nil, fmt.Errorf("check: look up recovery of %s: %w", integ.Name, err)
	}
	if !ended {
		log.Info("recovery execution still running")
		return "", nil, nil
	}
	var applied bool
	closed, err := h.Store.Update(ctx, integ.Name, func(cur health.Record) (health.Record, bool, error) {
		var next health.Record
		next, applied = health.ApplyExecutionEnd(cur, rs.IncidentID, end, integ, h.now())
		return next, applied, nil
	})
	if err != nil {
		log.Error("close ended recovery failed; will retry next check", "error", err)
		return "", nil, fmt.Errorf("check: close recovery of %s: %w", integ.Name, err)
	}
	if !applied {
		return "", nil, nil
	}
	now := h.now()
	out := closed.Recovery
	log.Warn("recovery execution ended without recording its outcome; incident closed",
		"status", end, "outcome", out.LastOutcome, "cooldown_until", out.CooldownUntil)
	ev := metrics.Failed
	if out.LastOutcome == health.RecoverySucceeded {
		ev = metrics.Succeeded
	}
	since := out.StartedAt
	if since.IsZero() {
		since = out.DecidedAt
	}
	note := notify.Event{
		Kind: notify.KindRecoveryEnded, Integration: integ.Name, IncidentID: rs.IncidentID, Attempt: out.Attempt,
		From: closed.State, To: closed.State, At: now, Cause: out.LastOutcome + ": " + out.LastError,
	}
	if !out.CooldownUntil.IsZero() && out.LastOutcome != health.RecoverySucceeded {
		note.Cause += "; no new recovery before " + out.CooldownUntil.UTC().Format(time.RFC3339)
	}
	if err := h.Notifier.Publish(ctx, note); err != nil {
		log.Error("notify closed recovery failed", "error", err)
	}
	return out.LastOutcome, metrics.ForRecovery(integ.Name, ev, now.Sub(since), now), nil
}

// notifyChecker publishes, once per invocation, which integrations' checks
// turned inconclusive (a fault on the checker's side) and which turned
// conclusive again. Each record's turn is decided by its one conditional
// write, so a redelivered tick never notifies twice. It returns how many
// integrations this invocation judged inconclusive, for the CheckerImpaired
// metric.
func (h *Handler) notifyChecker(ctx context.Context, log *slog.Logger, irs []IntegrationResult, written []store.Updated, decisions []health.Decision, tick time.Time) (int, error) {
	var began, ended []string
	var cause string
	inconclusive := 0
	for i, dec := range decisions {
		if written[i].Err != nil || dec.Outcome != health.Applied {
			continue
		}
		if dec.Inconclusive {
			inconclusive++
		}
		switch {
		case dec.CheckerChanged && dec.Inconclusive:
			began = append(began, irs[i].Name)
			if cause == "" {
				cause = written[i].Record.Inconclusive
			}
		case dec.CheckerChanged:
			ended = append(ended, irs[i].Name)
		}
	}
	var errs []error
	for _, n := range []struct {
		kind  string
		names []string
		cause string
	}{
		{notify.KindCheckerImpaired, began, cause},
		{notify.KindCheckerRecovered, ended, "checks conclusive again"},
	} {
		if len(n.names) == 0 {
			continue
		}
		ev := notify.Event{Kind: n.kind, At: tick, Cause: fmt.Sprintf("%s (integrations: %s)", n.cause, strings.Join(n.names, ", "))}
		log.Warn("checker status changed", "kind", n.kind, "integrations", n.names)
		if err := h.Notifier.Publish(ctx, ev); err != nil {
			log.Error("notify checker status failed", "kind", n.kind, "error", err)
			errs = append(errs, fmt.Errorf("check: notify %s: %w", n.kind, err))
		}
	}
	return inconclusive, errors.Join(errs...)
}

// countStartFailure records a failed start on the incident, so the report can
// say why a decided recovery has not run. It costs a write only on failure.
func (h *Handler) countStartFailure(ctx context.Context, log *slog.Logger, integration, incident string) {
	_, err := h.Store.Update(ctx, integration, func(cur health.Record) (health.Record, bool, error) {
		if cur.Recovery.IncidentID != incident || !cur.Recovery.Pending || cur.Recovery.InProgress {
			return cur, false, nil
		}
		cur.Recovery.StartFailures++
		return cur, true, nil
	})
	if err != nil {
		log.Error("record failed recovery start", "error", err)
	}
}

// withMargin shortens ctx's deadline by margin; without a deadline it only
// adds a cancel.
func withMargin(ctx context.Context, margin time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, dl.Add(-margin))
	}
	return context.WithCancel(ctx)
}

func slowest(rs []probe.Result) time.Duration {
	var d time.Duration
	for _, r := range rs {
		d = max(d, r.Latency)
	}
	return d
}

func msSince(a, b time.Time) float64 { return float64(b.Sub(a).Microseconds()) / 1000 }

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
	return 256
}

// writeConcurrency bounds integrations written and settled at once.
func (h *Handler) writeConcurrency() int { return max(1, h.concurrency()/16) }

func (h *Handler) reserve() time.Duration {
	if h.Reserve > 0 {
		return h.Reserve
	}
	return 3 * time.Second
}
