package check

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-monitor/vigil/internal/metrics"
	"github.com/vigil-monitor/vigil/internal/shard"
	"github.com/vigil-monitor/vigil/internal/store"
)

// FunctionInvoker invokes a function synchronously and decodes its answer
// (implemented by *invoke.Client).
type FunctionInvoker interface {
	Call(ctx context.Context, function string, in, out any) error
}

// Fanout splits a tick over shards, each checked by an invocation of this
// same function. The invocations are synchronous: the coordinator sees each
// shard's result, or its failure, within the tick, retries a failed shard
// once, and counts what still failed in ShardsFailed.
type Fanout struct {
	Invoker FunctionInvoker
	// Function is this function's name (AWS_LAMBDA_FUNCTION_NAME).
	Function string
	// Capacity is the components one shard checks (shard.Capacity).
	Capacity int
}

// collectMargin is what the coordinator keeps back from its deadline after
// the shards' budget, to collect their results and publish.
const collectMargin = 2 * time.Second

// defaultShardBudget applies when the coordinator has no deadline (a local
// call): under the template's 50 s timeout, like a Lambda invocation.
const defaultShardBudget = 45 * time.Second

// heartbeatKey names a shard's heartbeat: every region's shards report to
// the one home table, and each region's are its own.
func (h *Handler) heartbeatKey(k shard.Key) string {
	if h.Regions != nil {
		return h.Regions.Region + "/" + k.String()
	}
	return k.String()
}

// fanOut invokes every shard of plan at once and gathers their results into
// the tick's. It returns the applied alerting plan for converge, read once
// here since the coordinator writes no record.
func (h *Handler) fanOut(ctx context.Context, log *slog.Logger, tick time.Time, plan []shard.Shard) (Result, store.Applied, error, error) {
	out := Result{Tick: tick, Shards: make([]ShardResult, len(plan))}
	if err := plan[len(plan)-1].Key.Validate(); err != nil {
		return out, store.Applied{}, nil, fmt.Errorf("check: plan of %d shards: %w (raise VIGIL_SHARD_COMPONENTS)", len(plan), err)
	}
	log.Info("fanning out", "shards", len(plan), "components_per_shard", h.Fanout.Capacity)
	// One read of every shard's heartbeat, off the shards' path: a repeated
	// tick (this coordinator's invocation retried) invokes only the shards
	// that have not finished it. Unreadable heartbeats only cost probes.
	done, err := h.Shards.ShardTicks(ctx)
	if err != nil {
		log.Warn("read shard heartbeats failed; invoking every shard", "error", err)
	}
	parts := make([]Result, len(plan))
	var wg sync.WaitGroup
	for i, s := range plan {
		if last, ok := done[h.heartbeatKey(s.Key)]; ok && !last.Before(tick) {
			out.Shards[i] = ShardResult{Index: s.Key.Index, Count: s.Key.Count, Integrations: len(s.Integrations), Components: s.Components, Duplicate: true}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out.Shards[i] = h.invokeShard(ctx, log, tick, s, &parts[i])
		}()
	}
	applied, readErr := h.Store.ReadApplied(ctx)
	wg.Wait()

	var failed []string
	decided := map[string]bool{}
	waiting := map[string]bool{}
	for i, p := range parts {
		sr := out.Shards[i]
		if sr.Error != "" {
			failed = append(failed, fmt.Sprintf("shard %d/%d: %s", sr.Index, sr.Count, sr.Error))
			continue
		}
		out.Integrations = append(out.Integrations, p.Integrations...)
		out.MetricDocuments += p.MetricDocuments
		out.MetricDatums += p.MetricDatums
		out.ProbeMs = max(out.ProbeMs, p.ProbeMs)
		out.SlowestProbeMs = max(out.SlowestProbeMs, p.SlowestProbeMs)
		if out.CheckerImpaired == "" {
			out.CheckerImpaired = p.CheckerImpaired
		}
		out.Region = p.Region
		for _, d := range p.Decided {
			decided[d] = true
		}
		for _, w := range p.WaitingFor {
			waiting[w] = true
		}
		for r, why := range p.RegionsImpaired {
			if out.RegionsImpaired == nil {
				out.RegionsImpaired = map[string]string{}
			}
			out.RegionsImpaired[r] = why
		}
	}
	out.Decided, out.WaitingFor = slices.Sorted(maps.Keys(decided)), slices.Sorted(maps.Keys(waiting))
	out.ShardsFailed = len(failed)
	if len(failed) == 0 {
		return out, applied, readErr, nil
	}
	if _, err := h.Metrics.Publish(ctx, metrics.ShardsFailed(tick, len(failed))); err != nil {
		log.Error("write metrics failed", "error", err)
	}
	// The other shards' checks stand; a retry of this tick re-runs only the
	// failed shards (the others' heartbeats say they are done).
	return out, applied, readErr, fmt.Errorf("check: %d of %d shards failed: %s", len(failed), len(plan), strings.Join(failed, "; "))
}

// invokeShard invokes one shard, and once more when that fails while time
// remains, decoding its result into res.
func (h *Handler) invokeShard(ctx context.Context, log *slog.Logger, tick time.Time, s shard.Shard, res *Result) ShardResult {
	sr := ShardResult{Index: s.Key.Index, Count: s.Key.Count, Integrations: len(s.Integrations), Components: s.Components}
	var err error
	for try := 0; try < 2; try++ {
		budget := defaultShardBudget
		if dl, ok := ctx.Deadline(); ok {
			budget = time.Until(dl) - collectMargin // real time, as deadlines are
		}
		if budget < time.Second {
			err = errors.Join(err, fmt.Errorf("no time left to invoke it (%s)", budget.Round(time.Millisecond)))
			break
		}
		ev := Event{
			ScheduledTime: tick.Format(time.RFC3339Nano), Integrations: s.Integrations,
			Shard: &ShardRef{Index: s.Key.Index, Count: s.Key.Count, BudgetMs: int(budget.Milliseconds())},
		}
		*res = Result{}
		if err = h.Fanout.Invoker.Call(ctx, h.Fanout.Function, ev, res); err == nil {
			break
		}
		log.Warn("shard check failed", "shard", s.Key.String(), "try", try+1, "error", err)
		sr.Retried = true
	}
	if err != nil {
		sr.Error = err.Error()
		return sr
	}
	sr.DurationMs, sr.ProbeMs, sr.SlowestProbeMs = res.DurationMs, res.ProbeMs, res.SlowestProbeMs
	sr.AWSRequests = res.AWSRequests
	return sr
}
