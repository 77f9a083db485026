package check

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/metrics"
	"github.com/vigil-monitor/vigil/internal/notify"
	"github.com/vigil-monitor/vigil/internal/probe"
	"github.com/vigil-monitor/vigil/internal/quorum"
	"github.com/vigil-monitor/vigil/internal/shard"
	"github.com/vigil-monitor/vigil/internal/store"
)

// Regions makes the handler one probing region of several. Every region
// writes its observation of a tick to the home region's table; the tick is
// decided — merged under the document's quorum, judged and persisted as one
// check — by the home region, when the report that completes the set of
// regions asks it to, or at the next tick for a region that stayed silent.
type Regions struct {
	Region string   // this region
	Home   string   // the region that owns state and decisions
	All    []string // every probing region, the home included
	// HomeFunction is the home region's HealthCheck, which a probe-only
	// region invokes to decide a tick; Invoker invokes it.
	HomeFunction string
	Invoker      FunctionInvoker
}

// decidesHere reports whether this invocation's region judges and persists
// (a single region always does).
func (h *Handler) decidesHere() bool { return h.Regions == nil || h.Regions.Region == h.Regions.Home }

// report writes this region's observation of (tick, shard) and has ticks
// decided: first the shard's older ticks still open (a region was late or
// silent: they are decided with the regions that reported), then this one
// when every region has reported it. A decision that fails leaves its tick
// open for the next report to decide.
func (h *Handler) report(ctx context.Context, log *slog.Logger, out *Result, tick time.Time, key shard.Key, integs []config.Integration, results [][]probe.Result, im health.Impairment) error {
	r := h.Regions
	out.Region = r.Region
	obs := store.Observation{Tick: tick, Shard: key.String(), Region: r.Region, Results: make(map[string][]probe.Result, len(integs)), Impaired: im.Cause, At: h.now()}
	for i, integ := range integs {
		obs.Results[integ.Name] = im.Attribute(results[i])
	}
	if err := h.Shards.PutObservation(ctx, obs); err != nil {
		return fmt.Errorf("check: report observation of %s, shard %s: %w", r.Region, key, err)
	}
	var errs []error
	open, err := h.Shards.OpenTicks(ctx, key.String(), tick)
	if err != nil {
		errs = append(errs, fmt.Errorf("check: list open ticks of shard %s: %w", key, err))
	}
	for _, t := range open {
		errs = append(errs, h.requestDecision(ctx, log, out, t, key, true))
	}
	got, err := h.Shards.Observations(ctx, tick, key.String())
	if err != nil {
		log.Error("some observations unreadable", "error", err)
	}
	for _, region := range r.All {
		if !slices.ContainsFunc(got, func(o store.Observation) bool { return o.Region == region }) {
			out.WaitingFor = append(out.WaitingFor, region)
		}
	}
	if len(out.WaitingFor) > 0 {
		log.Info("observation reported; the tick waits for other regions", "waiting_for", out.WaitingFor)
		return errors.Join(errs...)
	}
	errs = append(errs, h.requestDecision(ctx, log, out, tick, key, false))
	return errors.Join(errs...)
}

// requestDecision has the home decide (tick, shard): in this invocation when
// this is the home, else by invoking the home's HealthCheck.
func (h *Handler) requestDecision(ctx context.Context, log *slog.Logger, out *Result, tick time.Time, key shard.Key, late bool) error {
	label := tick.Format(time.RFC3339)
	if late {
		label += " (late)"
	}
	var res Result
	var err error
	if h.decidesHere() {
		var doc *config.Document
		if doc, err = h.Config(ctx); err == nil {
			res, err = h.decideTick(ctx, log, doc, tick, key)
		}
	} else {
		ev := Event{Decide: &DecideRequest{Tick: tick.Format(time.RFC3339Nano), Shard: ShardRef{Index: key.Index, Count: key.Count}}}
		err = h.Regions.Invoker.Call(ctx, h.Regions.HomeFunction, ev, &res)
	}
	if err != nil {
		log.Error("decide tick failed; the next report decides it", "decide", label, "error", err)
		return fmt.Errorf("check: decide tick %s of shard %s: %w", label, key, err)
	}
	out.Decided = append(out.Decided, label)
	if !late {
		out.Integrations = res.Integrations
		out.MetricDocuments += res.MetricDocuments
		out.MetricDatums += res.MetricDatums
		out.RegionsImpaired = res.RegionsImpaired
	}
	log.Info("tick decided", "decide", label, "regions_impaired", res.RegionsImpaired)
	return nil
}

// handleDecide answers a probe-only region's request to decide a tick.
func (h *Handler) handleDecide(ctx context.Context, log *slog.Logger, ev Event, now time.Time) (Result, error) {
	tick, key, err := ev.DecideTick(now)
	if err != nil {
		log.Error("event refused", "error", err)
		return Result{}, err
	}
	if h.Regions == nil || !h.decidesHere() {
		err := fmt.Errorf("check: %w: decide sent to a region that is not the home", ErrBadEvent)
		log.Error("event refused", "error", err)
		return Result{}, err
	}
	doc, err := h.Config(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("check: load config: %w", err)
	}
	ctx, cancel := withMargin(ctx, h.reserve()/5)
	defer cancel()
	return h.decideTick(ctx, log.With("tick", tick.Format(time.RFC3339), "shard", key.String()), doc, tick, key)
}

// decideTick merges the regions' observations of (tick, shard) under the
// document's quorum and judges the result as one check; the records'
// conditional writes make a second decision of the same tick a duplicate,
// and a decision of a tick a record is already past a no-op (reports arrive
// out of order; that is no stale tick). The tick is closed once decided — or when nothing readable is left to
// decide it from, so no tick waits forever.
func (h *Handler) decideTick(ctx context.Context, log *slog.Logger, doc *config.Document, tick time.Time, key shard.Key) (Result, error) {
	out := Result{Tick: tick, Shard: key.String(), Region: h.Regions.Region}
	obs, oerr := h.Shards.Observations(ctx, tick, key.String())
	if oerr != nil {
		log.Error("some observations unreadable; deciding with the rest", "error", oerr)
	}
	reports, integs := reportsOf(doc, obs)
	if len(integs) == 0 {
		log.Warn("nothing to decide the tick from; closing it", "observations", len(obs))
		return out, h.Shards.CloseTick(ctx, tick, key.String())
	}
	d := quorum.Merge(integs, reports, doc.Quorum)
	j := judgement{tick: tick, integs: integs, results: d.Results, views: d.Views, fromReports: true,
		extra: metrics.ForRegions(tick, len(d.Impaired), missing(h.Regions.All, d.Regions), integrationNames(integs), d.Views)}
	_, readErr, err := h.judge(ctx, log, &out, j)
	out.RegionsImpaired = d.Impaired
	h.regionStatus(ctx, log, d, tick)
	if err = errors.Join(readErr, err); err != nil {
		return out, err
	}
	if cerr := h.Shards.CloseTick(ctx, tick, key.String()); cerr != nil {
		// Decided: deciding it again would only find duplicates.
		log.Error("close decided tick failed", "error", cerr)
	}
	return out, nil
}

// missing counts the probing regions that did not report.
func missing(all, reported []string) int {
	n := 0
	for _, r := range all {
		if !slices.Contains(reported, r) {
			n++
		}
	}
	return n
}

// reportsOf turns observations into quorum reports, and returns the
// document's integrations they cover, in document order; names the document
// no longer has are dropped.
func reportsOf(doc *config.Document, obs []store.Observation) ([]quorum.Report, []config.Integration) {
	covered := map[string]bool{}
	reports := make([]quorum.Report, 0, len(obs))
	for _, o := range obs {
		reports = append(reports, quorum.Report{Region: o.Region, Results: o.Results, Impaired: o.Impaired})
		for name := range o.Results {
			covered[name] = true
		}
	}
	var integs []config.Integration
	for _, integ := range doc.Integrations {
		if covered[integ.Name] {
			integs = append(integs, integ)
		}
	}
	return reports, integs
}

// regionStatus records which reporting regions a decision set aside and
// notifies when one turns impaired or recovers. The conditional write on
// each region's status makes one of several deciders notify.
func (h *Handler) regionStatus(ctx context.Context, log *slog.Logger, d quorum.Decision, tick time.Time) {
	cur, err := h.Shards.RegionStatuses(ctx)
	if err != nil {
		log.Error("read region statuses failed", "error", err)
		return
	}
	for _, region := range d.Regions {
		cause, impaired := d.Impaired[region]
		st := cur[region]
		if st.Impaired == impaired {
			continue
		}
		next := store.RegionStatus{Region: region, Impaired: impaired, Cause: cause, Since: tick, Version: st.Version + 1}
		changed, err := h.Shards.SetRegionStatus(ctx, next, st.Version)
		if err != nil {
			log.Error("record region status failed", "region", region, "error", err)
			continue
		}
		if !changed {
			continue
		}
		ev := notify.Event{Kind: notify.KindRegionRecovered, Region: region, At: tick, Cause: "its view agrees with the other regions again"}
		if impaired {
			ev.Kind, ev.Cause = notify.KindRegionImpaired, cause
		}
		log.Warn("probing region status changed", "region", region, "impaired", impaired, "cause", cause)
		if err := h.Notifier.Publish(ctx, ev); err != nil {
			log.Error("notify region status failed", "region", region, "error", err)
		}
	}
}
