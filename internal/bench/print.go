package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigil-monitor/vigil/internal/alerting"
	"github.com/vigil-monitor/vigil/internal/check"
	"github.com/vigil-monitor/vigil/internal/config"
)

// SPEC §9 limits.
const (
	budgetWallOverMs    = 50.0
	budgetDynamoDB      = 2.0
	budgetBootstrap     = 15 << 20
	budgetInitMs        = 50.0
	budgetRSS           = 64 << 20
	budgetMonthlyUSD    = 3.0
	budgetMarginalUSD   = 2.50
	budgetFixedUSD      = 1.50
	budgetRSSComponents = 1000
)

// Budget is one row of the final table.
type Budget struct {
	Budget   string
	Measured string
	Pass     bool
	Info     bool // no pass/fail: shown for context
}

func passFail(b Budget) string {
	switch {
	case b.Info:
		return "info"
	case b.Pass:
		return "PASS"
	}
	return "FAIL"
}

func table(w io.Writer, title string, header string, rows [][]string) {
	fmt.Fprintf(w, "\n== %s ==\n", title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

func label(s ShapeResult) string {
	return fmt.Sprintf("%s: %d × %s (%d integ.)", s.Shape.Prefix, s.Shape.Size, s.Shape.Name, len(s.Shape.Groups))
}

// Print writes the report's tables and the SPEC §9 budgets table.
func (r *Report) Print(w io.Writer) {
	var budgets []Budget
	fmt.Fprintf(w, "Vigil end-to-end benchmark: real HealthCheck bootstrap under the Runtime Interface Emulator, moto, loopback targets.\n")
	fmt.Fprintf(w, "Targets: 5 ms each, every 50th 100 ms, the middle one 200 ms. Shapes: the components in as few integrations as allowed\n")
	fmt.Fprintf(w, "(single: one, at most %d components each), or integrations of 4 with the remainder in the last (many: 10 → 4+4+2).\n", config.MaxComponents)
	fmt.Fprintf(w, "Tick 1 is the first check of the shape\n")
	fmt.Fprintf(w, "(INITIALIZING; the stack's cold start on its first shape); the last tick is steady state and is what is reported.\n")

	var rows [][]string
	worstOverMs, worstOver := math.Inf(-1), ""
	for _, st := range r.Stacks {
		for _, s := range st.Shapes {
			if s.Err != nil {
				rows = append(rows, []string{label(s), "error: " + s.Err.Error()})
				continue
			}
			d := s.Steady()
			over := d.DurationMs - d.SlowestProbeMs
			ratio := d.ProbeMs / s.FloorMs
			rows = append(rows, []string{label(s),
				fmt.Sprintf("%.1f", s.Ticks[0].DurationMs),
				fmt.Sprintf("%.1f", d.DurationMs), fmt.Sprintf("%.1f", d.SlowestProbeMs), fmt.Sprintf("%+.1f", over),
				fmt.Sprintf("%.1f", d.ProbeMs), fmt.Sprintf("%+.1f", d.ProbeMs-d.SlowestProbeMs), fmt.Sprintf("%.1f", d.DurationMs-d.ProbeMs),
				fmt.Sprintf("%.1f", s.FloorMs), fmt.Sprintf("%.2f", ratio),
				fmt.Sprintf("%.1f", float64(s.Walls[len(s.Walls)-1].Microseconds())/1000),
			})
			if o := d.ProbeMs - d.SlowestProbeMs; o >= worstOverMs {
				worstOverMs = o
				worstOver = fmt.Sprintf("worst %+.1f ms (%s; probe phase/bare floor %.2f)", o, s.Shape.Prefix, ratio)
			}
			budgets = append(budgets, Budget{
				Budget:   fmt.Sprintf("invocation ≤ slowest probe + 50 ms, %s", label(s)),
				Measured: fmt.Sprintf("%.1f ms vs %.1f + 50 ms", d.DurationMs, d.SlowestProbeMs),
				Pass:     over <= budgetWallOverMs,
			})
		}
	}
	budgets = append(budgets, Budget{Budget: "probes concurrent, bounded: probe phase − slowest probe (engine overhead)", Measured: worstOver, Info: true})
	table(w, "Timing (ms, steady tick)", "shape\ttick1 duration\tduration\tslowest probe\tduration−slowest\tprobe phase\tprobe phase−slowest\tafter probes\tfloor (bare net/http)\tprobe phase/floor\tinvoke wall", rows)

	rows = nil
	worstDDB, sfn, cw, maxDatums := 0.0, 0, 0, 0
	for _, st := range r.Stacks {
		for _, s := range st.Shapes {
			if s.Err != nil {
				continue
			}
			d := s.Steady()
			keys := make([]string, 0, len(d.AWSRequests))
			for k, v := range d.AWSRequests {
				keys = append(keys, fmt.Sprintf("%s=%d", k, v))
			}
			slices.Sort(keys)
			rows = append(rows, []string{label(s), fmt.Sprintf("%.2f", s.DynamoDBPerIntegration()),
				fmt.Sprintf("%d", d.MetricDatums), fmt.Sprintf("%d", d.MetricDocuments),
				fmt.Sprintf("%d", s.StepFunctions()), strings.Join(keys, " ")})
			worstDDB = max(worstDDB, s.DynamoDBPerIntegration())
			cw += s.MetricsRequests()
			maxDatums = max(maxDatums, d.MetricDatums)
			sfn += s.StepFunctions()
		}
	}
	table(w, "AWS requests per check (steady tick, counted inside the function)", "shape\tDynamoDB/integration\tdatums\tEMF documents\tStep Functions\tall requests", rows)
	budgets = append(budgets,
		Budget{Budget: "≤ 2 DynamoDB requests per integration per check", Measured: fmt.Sprintf("worst %.2f", worstDDB), Pass: worstDDB <= budgetDynamoDB},
		Budget{Budget: "no metrics API call (metrics as EMF log lines)", Measured: fmt.Sprintf("%d CloudWatch requests, up to %d datums a check", cw, maxDatums), Pass: cw == 0},
		Budget{Budget: "0 Step Functions requests in steady state", Measured: fmt.Sprintf("%d", sfn), Pass: sfn == 0},
	)

	rows = nil
	var initMax float64
	var rss1000 int64
	for _, st := range r.Stacks {
		rows = append(rows, []string{fmt.Sprintf("%d", st.Size), fmt.Sprintf("%.1f", st.InitMs), fmt.Sprintf("%.1f", st.ColdExtraMs), fmt.Sprintf("%.2f", st.RIEInitMs), mb(st.PeakRSS)})
		initMax = max(initMax, st.InitMs)
		if st.Size == budgetRSSComponents {
			rss1000 = st.PeakRSS
		}
	}
	table(w, "Bootstrap process (one stack per size; its config holds both shapes; RSS is the peak over all ticks of that size)",
		"components\tinit ms (exec → first /next, median of 5)\tcold − warm latency outside handler, under RIE\tRIE \"Init Duration\" ms\tpeak RSS (VmHWM)", rows)
	fmt.Fprintf(w, "RIE's Init Duration times only its asynchronous dispatch of the init (sandbox.Init returns at once), so the init is\n")
	fmt.Fprintf(w, "measured directly: the bootstrap started with the stack's environment against a minimal Runtime API served by\n")
	fmt.Fprintf(w, "vigil-bench, timed from exec to its first GET /runtime/invocation/next (what Lambda reports as Init Duration).\n")
	printInitLines(w, r.Stacks)
	budgets = append(budgets, Budget{Budget: "init ≤ 50 ms", Measured: fmt.Sprintf("worst %.1f ms (exec → first /next)", initMax), Pass: initMax <= budgetInitMs})
	if rss1000 > 0 {
		budgets = append(budgets, Budget{Budget: "peak RSS ≤ 64 MB at 1,000 components", Measured: mb(rss1000), Pass: rss1000 <= budgetRSS})
	}

	rows = nil
	names := make([]string, 0, len(r.Bootstraps))
	for n := range r.Bootstraps {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		rows = append(rows, []string{n, fmt.Sprintf("%d", r.Bootstraps[n]), mb(r.Bootstraps[n])})
		budgets = append(budgets, Budget{Budget: "bootstrap ≤ 15 MB: " + n, Measured: mb(r.Bootstraps[n]), Pass: r.Bootstraps[n] <= budgetBootstrap})
	}
	table(w, "Bootstraps (linux/arm64, -tags lambda.norpc -trimpath -ldflags=\"-s -w\")", "function\tbytes\tsize", rows)

	table(w, "probe.ProbeHTTP on loopback (testing.Benchmark)", "ns/op\tallocs/op\tB/op", [][]string{{
		fmt.Sprintf("%d", r.ProbeAlloc.NsPerOp()), fmt.Sprintf("%d", r.ProbeAlloc.AllocsPerOp()), fmt.Sprintf("%d", r.ProbeAlloc.AllocedBytesPerOp()),
	}})
	budgets = append(budgets, Budget{Budget: "allocations per HTTP probe", Measured: fmt.Sprintf("%d allocs, %d B", r.ProbeAlloc.AllocsPerOp(), r.ProbeAlloc.AllocedBytesPerOp()), Info: true})

	c := r.Cost
	fmt.Fprintf(w, "\n== Monthly cost of one integration of 4 components, checked every minute (us-east-1 list prices, no free tier) ==\n")
	fmt.Fprintf(w, "Measured series (%d): %s\n", len(c.Series), strings.Join(c.Series, " "))
	fmt.Fprintf(w, "The stack's own alarms (template.yaml) at its defaults: %d alarms, %d alarm metrics, %d KMS key(s); lean (FunctionAlarms=false, shared TopicKmsKeyArn): %d alarms, %d alarm metrics, %d KMS key(s)\n",
		c.DefaultBill.Alarms, c.DefaultBill.AlarmMetrics, c.DefaultBill.KMSKeys, c.LeanBill.Alarms, c.LeanBill.AlarmMetrics, c.LeanBill.KMSKeys)
	fmt.Fprintf(w, "The integration's alarms, from the document: %d alarm metrics with a recovery block (%d without)\n", c.IntegrationAlarms, c.IntegrationAlarmsNoRecovery)
	fmt.Fprintf(w, "The sample document (config/vigil.yaml, %d integration(s)) makes %d alarms reading %d metrics ($%.2f a month) and a dashboard\n",
		len(sampleIntegrations(c.Sample)), len(c.Sample.Alarms), c.Sample.AlarmMetrics(), float64(c.Sample.AlarmMetrics())*PriceAlarmMetric)
	fmt.Fprintf(w, "Steady check: %.1f ms, %d datums, requests %v, state item %d B, %d log bytes\n", c.Steady.DurationMs, c.Steady.MetricDatums, c.Steady.AWSRequests, c.ItemBytes, c.LogBytes)
	rows = nil
	for i, it := range c.Default {
		rows = append(rows, []string{it.Item, it.Arithmetic, fmt.Sprintf("%.2f", it.USD), fmt.Sprintf("%.2f", c.Lean[i].USD), fmt.Sprintf("%.2f", c.LeanSlow[i].USD)})
	}
	def, lean, slow := Total(c.Default), Total(c.Lean), Total(c.LeanSlow)
	rows = append(rows, []string{"Total", "", fmt.Sprintf("%.2f", def), fmt.Sprintf("%.2f", lean), fmt.Sprintf("%.2f", slow)})
	table(w, "Line items ($/month)", "item\tarithmetic (defaults)\tdefaults\tlean\tlean + rate(2 minutes)", rows)
	sp := c.Split
	fmt.Fprintf(w, "One more integration: %d series, %d alarm metrics, its DynamoDB requests and log output; the stack: %d series, %d alarm metrics, %d KMS key(s), the invocations and the schedule.\n",
		sp.IntegrationSeries, sp.IntegrationAlarmMetrics, sp.StackSeries, sp.StackAlarmMetrics, sp.KMSKeys)
	fmt.Fprintf(w, "Marginal without a recovery block: $%.2f\n", c.MarginalNoRecovery)
	fmt.Fprintf(w, "cost: marginal $%.2f per 4-component integration, fixed $%.2f per stack, per month\n", c.Marginal, c.Fixed)
	if r.Scale != nil {
		fmt.Fprintf(w, "\n== Scale: %d components as %d integrations of %d, one tick fanned out over shards (coordinator + one sandbox per shard; tick 1 warms them, the slower of ticks 2–%d is reported; %d MB, %d probes in flight per shard) ==\n",
			scaleComponents, scaleIntegrations, scalePerIntegration, scaleTicks, scaleMemoryMB, scaleProbeConcurrency)
		if sc := r.Scale; sc.Err == nil {
			for i, b := range sc.Bills() {
				probe, after := phases(sc.Ticks[i+1])
				fmt.Fprintf(w, "tick %d: probe phase %.0f ms, then %.0f ms of writes (moto serves one request at a time)\n", i+2, probe, after)
				fmt.Fprintf(w, "tick %d: wall %.0f ms; %d invocations, %.0f billed ms = %.2f GB-s; %d state writes × %.0f WRU (%d B item) + %d other writes; $%.6f\n",
					i+2, float64(sc.Walls[i+1].Microseconds())/1000, b.Invocations, b.BilledMs, b.GBSeconds, b.StateWrites, b.WRUPerState, sc.ItemBytes, b.OtherWrites, b.USD)
			}
		}
		printScaleLine(w, r.Scale)
		budgets = append(budgets, Budget{Budget: fmt.Sprintf("sharded tick of %d components: wall vs slowest probe", scaleComponents), Measured: scaleMeasured(r.Scale), Info: true})
	}
	budgets = append(budgets,
		Budget{Budget: "monthly cost ≤ $3, template defaults", Measured: fmt.Sprintf("$%.2f", def), Pass: def <= budgetMonthlyUSD},
		Budget{Budget: "monthly cost ≤ $3, lean settings (COST.md knobs)", Measured: fmt.Sprintf("$%.2f", lean), Pass: lean <= budgetMonthlyUSD},
		Budget{Budget: "monthly cost ≤ $3, lean + rate(2 minutes)", Measured: fmt.Sprintf("$%.2f", slow), Pass: slow <= budgetMonthlyUSD},
		Budget{Budget: "marginal ≤ $2.50 per 4-component integration with its alarms", Measured: fmt.Sprintf("$%.2f", c.Marginal), Pass: c.Marginal <= budgetMarginalUSD},
		Budget{Budget: "fixed ≤ $1.50 per stack", Measured: fmt.Sprintf("$%.2f", c.Fixed), Pass: c.Fixed <= budgetFixedUSD},
	)

	rows = nil
	for _, b := range budgets {
		rows = append(rows, []string{b.Budget, b.Measured, passFail(b)})
	}
	table(w, "SPEC §9 budgets", "budget\tmeasured\tresult", rows)
	fmt.Fprintf(w, "\nmeasured in %s\n", r.Elapsed.Round(time.Second/10))
}

// printInitLines writes one line per measured size, "init: 10 components
// 38.2 ms" (the median of the table's column), so a run's init can be read,
// grepped and compared on its own.
func printInitLines(w io.Writer, stacks []StackResult) {
	for _, st := range stacks {
		fmt.Fprintf(w, "init: %d components %.1f ms\n", st.Size, st.InitMs)
	}
}

// phases is a fanned-out tick's longest shard probe phase and its longest
// time after probing: persisting, settling and publishing.
func phases(r check.Result) (probe, after float64) {
	for _, s := range r.Shards {
		probe = max(probe, s.ProbeMs)
		after = max(after, s.DurationMs-s.ProbeMs)
	}
	return probe, after
}

func scaleMeasured(r *ScaleResult) string {
	if r.Err != nil {
		return "error"
	}
	return fmt.Sprintf("%.0f ms vs %.0f ms over %d shards", r.WallMs(), r.SlowestProbeMs(), r.Shards)
}

func sampleIntegrations(p alerting.Plan) map[string]bool {
	out := map[string]bool{}
	for _, a := range p.Alarms {
		out[a.Integration] = true
	}
	return out
}
