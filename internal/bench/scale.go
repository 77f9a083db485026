package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vigil-monitor/vigil/internal/check"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/localrun"
	"github.com/vigil-monitor/vigil/internal/shard"
)

// The scale document: 10,000 loopback components as 100 integrations of
// 100. Integrations, not components, are what cost DynamoDB writes (one
// conditional PutItem each a tick), and moto serves requests one at a time
// (~10 ms each here) where real DynamoDB takes every shard's writes in
// parallel: 100 writes keep the emulator to ~1.5 s of the measured wall
// (250 integrations of 40 made it ~2.5 s), while every shard still probes
// 800 targets.
const (
	scaleIntegrations   = 100
	scalePerIntegration = 100
	scaleComponents     = scaleIntegrations * scalePerIntegration
	// scaleTicks: the first warms the sandboxes (Lambda keeps them warm at
	// steady state) and initializes the integrations; the others are
	// reported.
	scaleTicks = 4
	// scaleProbeConcurrency is the probe concurrency the capacity is
	// planned with and the functions run with (VIGIL_PROBE_CONCURRENCY):
	// under Lambda's 1,024 file descriptors, with room for the SDK's.
	scaleProbeConcurrency = 800
	// scaleMemoryMB is the HealthCheck's memory for the scale run (the
	// template's FunctionMemory): a full vCPU per shard, so a shard's 800
	// probes cost ~150 ms of its CPU and a tick needs 13 sandboxes, not 42.
	scaleMemoryMB = 1769
)

// ScaleShape is the scale document's shape.
func ScaleShape() Shape {
	s := Shape{Name: "scale", Size: scaleComponents, Prefix: "scale"}
	for range scaleIntegrations {
		s.Groups = append(s.Groups, scalePerIntegration)
	}
	return s
}

// ScaleResult is what the sharded ticks of the scale document did.
type ScaleResult struct {
	Components int
	Shards     int             // planned by shard.Plan, as the function plans
	Walls      []time.Duration // each tick's coordinator invoke, as the caller saw it
	Ticks      []check.Result  // each tick's coordinator result
	// ItemBytes is the size of one integration's state item, measured
	// after the ticks: what a state write costs in write units.
	ItemBytes int
	Err       error
}

// steady are the reported ticks: all but the first.
func (r ScaleResult) steady() ([]time.Duration, []check.Result) {
	if len(r.Ticks) < 2 || len(r.Walls) < len(r.Ticks) {
		return nil, nil
	}
	return r.Walls[1:len(r.Ticks)], r.Ticks[1:]
}

// WallMs is the slower of the reported ticks' walls.
func (r ScaleResult) WallMs() float64 {
	walls, _ := r.steady()
	var ms float64
	for _, w := range walls {
		ms = max(ms, float64(w.Microseconds())/1000)
	}
	return ms
}

// SlowestProbeMs is the slowest probe of any shard of the reported ticks.
func (r ScaleResult) SlowestProbeMs() float64 {
	_, ticks := r.steady()
	var ms float64
	for _, t := range ticks {
		for _, s := range t.Shards {
			ms = max(ms, s.SlowestProbeMs)
		}
	}
	return ms
}

// Bills are the reported ticks' bills.
func (r ScaleResult) Bills() []TickBill {
	walls, ticks := r.steady()
	out := make([]TickBill, len(ticks))
	for i := range ticks {
		out[i] = PriceTick(walls[i], ticks[i], scaleMemoryMB, r.ItemBytes)
	}
	return out
}

// USDPerMillion is the dearer reported tick's price per million
// component-checks.
func (r ScaleResult) USDPerMillion() float64 {
	var usd float64
	for _, b := range r.Bills() {
		usd = max(usd, b.PerMillion(r.Components))
	}
	return usd
}

// TickBill is the list price of one fanned-out tick: the coordinator's
// invocation and its shards', and the DynamoDB writes they made.
type TickBill struct {
	Invocations int     // the coordinator, each shard, each shard's retry
	BilledMs    float64 // each invocation rounded up to 1 ms: the coordinator's wall, the shards' durations
	GBSeconds   float64
	StateWrites int     // writes of integration state items (one per applied integration)
	OtherWrites int     // the rest (heartbeats and such, small items: 1 WRU)
	WRUPerState float64 // write units of one state item
	USD         float64
}

// PerMillion is the bill spread over the tick's component-checks, per
// million of them.
func (b TickBill) PerMillion(components int) float64 {
	if components == 0 {
		return 0
	}
	return b.USD / float64(components) * 1e6
}

// dynamoDBWriteOps are the write requests counted, one write each. A
// BatchWriteItem call counts as one too (its items are not in the request
// counts); the one-region tick measured here makes none.
var dynamoDBWriteOps = []string{"DynamoDB.PutItem", "DynamoDB.UpdateItem", "DynamoDB.DeleteItem", "DynamoDB.BatchWriteItem"}

// PriceTick prices one fanned-out tick at cost.go's list prices: Lambda
// requests (1 + shards + retries) and arm64 compute at memoryMB (the
// coordinator billed for wall, the time the caller waited on it; each shard
// for its own duration), and the DynamoDB writes of the coordinator and the
// shards, as their request counts report them. State writes (one per
// applied integration) cost ceil(itemBytes/1 KB) write units, the other
// writes one. Reads are left out: the writes cost five times as much per
// unit and dominate.
func PriceTick(coordinatorWall time.Duration, r check.Result, memoryMB, itemBytes int) TickBill {
	b := TickBill{Invocations: 1, BilledMs: math.Ceil(float64(coordinatorWall.Microseconds()) / 1000)}
	writes := countWrites(r.AWSRequests)
	for _, s := range r.Shards {
		b.Invocations++
		if s.Retried {
			b.Invocations++
		}
		b.BilledMs += math.Ceil(s.DurationMs)
		writes += countWrites(s.AWSRequests)
	}
	for _, ir := range r.Integrations {
		if ir.Outcome == "applied" {
			b.StateWrites++
		}
	}
	b.StateWrites = min(b.StateWrites, writes)
	b.OtherWrites = writes - b.StateWrites
	b.WRUPerState = math.Max(1, math.Ceil(float64(itemBytes)/1024))
	b.GBSeconds = b.BilledMs / 1000 * float64(memoryMB) / 1024
	b.USD = float64(b.Invocations)*PriceLambdaRequest + b.GBSeconds*PriceLambdaGBSecond +
		(float64(b.StateWrites)*b.WRUPerState+float64(b.OtherWrites))*PriceDynamoDBWRU
	return b
}

func countWrites(requests map[string]int) int {
	n := 0
	for _, op := range dynamoDBWriteOps {
		n += requests[op]
	}
	return n
}

// ScaleLine is the report's one-line summary of the scale run, e.g.
// "scale: 10000 components, 40 shards, tick wall 1234 ms, slowest probe
// 201 ms, $0.052 per million component-checks".
func (r ScaleResult) ScaleLine() string {
	if r.Err != nil {
		return fmt.Sprintf("scale: %d components, error: %v", r.Components, r.Err)
	}
	return fmt.Sprintf("scale: %d components, %d shards, tick wall %.0f ms, slowest probe %.0f ms, $%.3f per million component-checks",
		r.Components, r.Shards, r.WallMs(), r.SlowestProbeMs(), r.USDPerMillion())
}

// printScaleLine writes the scale line, when the scale run was made.
func printScaleLine(w io.Writer, r *ScaleResult) {
	if r != nil {
		fmt.Fprintln(w, r.ScaleLine())
	}
}

// RunScale checks the scale document (ScaleShape) on its own local stack:
// the HealthCheck coordinator plus one instance per shard, as many
// sandboxes as Lambda would run at once for the tick. Each tick is the
// coordinator's invoke through the local Lambda service; the coordinator
// invokes its shards there too. A failed measurement is the result's Err.
func RunScale(ctx context.Context, dir, targetsURL string, progress func(string, ...any)) ScaleResult {
	r := ScaleResult{Components: scaleComponents}
	r.Err = r.run(ctx, dir, targetsURL, progress)
	return r
}

func (r *ScaleResult) run(ctx context.Context, dir, targetsURL string, progress func(string, ...any)) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	shape := ScaleShape()
	// 10 s timeouts: on a 2-core machine the targets and 10,000 probes
	// queue for the CPU, and a probe that times out turns the steady
	// state into state changes (history writes, notifications) that no
	// healthy fleet makes. The slowest probe is reported as measured.
	text := strings.ReplaceAll(ConfigYAML(targetsURL, shape), "timeout: 2s", "timeout: 10s")
	doc, err := config.Parse([]byte(text))
	if err != nil {
		return fmt.Errorf("bench: scale config: %w", err)
	}
	plan := shard.Plan(doc.Integrations, shard.Capacity(scaleMemoryMB, scaleProbeConcurrency))
	r.Shards = len(plan)
	cfg := filepath.Join(dir, "scale.yaml")
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	progress("scale: %d components in %d integrations, %d shards: starting a local stack with %d HealthCheck instances", scaleComponents, scaleIntegrations, r.Shards, r.Shards+1)
	// The functions' metrics are not published to moto: on AWS CloudWatch
	// Logs extracts them off the tick's path, while moto, serving one
	// request at a time, would make the shards' writes wait behind them
	// (ticks of 9–11 s instead of 6 s on 2 cores).
	s, err := localrun.Start(ctx, localrun.Options{Dir: dir, Functions: []string{"healthcheck"}, ConfigFile: cfg,
		HealthCheckInstances: r.Shards + 1, NoMetricPublishing: true,
		Env: []string{fmt.Sprintf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", scaleMemoryMB), fmt.Sprintf("VIGIL_PROBE_CONCURRENCY=%d", scaleProbeConcurrency)}})
	if err != nil {
		return err
	}
	defer s.Stop()
	base := time.Now().UTC().Truncate(time.Minute)
	for k := 1; k <= scaleTicks; k++ {
		progress("scale: tick %d of %d", k, scaleTicks)
		t0 := time.Now()
		tr, err := s.TickIn(ctx, "", base.Add(time.Duration(k)*time.Minute))
		wall := time.Since(t0)
		if err != nil {
			return fmt.Errorf("tick %d: %w", k, err)
		}
		if err := scaleProblems(tr, r.Shards); err != nil {
			return fmt.Errorf("tick %d: %w", k, err)
		}
		r.Walls, r.Ticks = append(r.Walls, wall), append(r.Ticks, tr)
	}
	if r.ItemBytes, err = stateItemSize(ctx, s.Clients.DynamoDB, shape.Integrations()[0]); err != nil {
		return err
	}
	return nil
}

// scaleProblems reports a tick that did not fan out as planned or did not
// check everything.
func scaleProblems(r check.Result, shards int) error {
	var errs []error
	if len(r.Shards) != shards {
		errs = append(errs, fmt.Errorf("the coordinator ran %d shards, the plan has %d", len(r.Shards), shards))
	}
	if r.ShardsFailed > 0 {
		errs = append(errs, fmt.Errorf("%d shards failed", r.ShardsFailed))
	}
	for _, s := range r.Shards {
		if s.Error != "" {
			errs = append(errs, fmt.Errorf("shard %d/%d: %s", s.Index, s.Count, s.Error))
		}
	}
	if len(r.Integrations) != scaleIntegrations {
		errs = append(errs, fmt.Errorf("%d integrations checked, want %d", len(r.Integrations), scaleIntegrations))
	}
	if err := steadyProblems(r); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
