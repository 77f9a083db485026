// Package bench measures SPEC §9's budgets end to end: the real HealthCheck
// bootstrap under the Runtime Interface Emulator against moto, probing
// loopback targets with known delays, plus bootstrap sizes, allocations per
// probe and the monthly cost computed from what a check actually produced.
// cmd/vigil-bench runs it and prints the report.
package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vigil-monitor/vigil/internal/alerting"
	"github.com/vigil-monitor/vigil/internal/check"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/emulator"
	"github.com/vigil-monitor/vigil/internal/localrun"
	"github.com/vigil-monitor/vigil/internal/metrics"
	"github.com/vigil-monitor/vigil/internal/probe"
	"github.com/vigil-monitor/vigil/internal/store"
)

// Options configure a run.
type Options struct {
	Sizes []int // component counts (default 10, 100, 1000)
	Ticks int   // ticks per shape, the last one is steady state (default 3)
	// Dir receives the stacks' binaries, configs and logs (default a
	// temporary directory, removed afterwards).
	Dir string
	// Progress, when set, receives one line per step.
	Progress func(format string, args ...any)
	// Scale also runs the scale document: 10,000 components checked by a
	// coordinator fanning out over shards (see RunScale).
	Scale bool
}

// memoryMB is the HealthCheck function's memory (template.yaml, and the
// emulator's AWS_LAMBDA_FUNCTION_MEMORY_SIZE).
const memoryMB = 256

// costIntegration is the integration the monthly cost is measured on: one
// integration of four components.
const costIntegration = "cost-4"

// initRuns is how many cold starts the init time is the median of.
const initRuns = 5

// ShapeResult is what the checks of one shape did.
type ShapeResult struct {
	Shape   Shape
	Ticks   []check.Result
	Walls   []time.Duration // invoke latency seen by the caller
	FloorMs float64         // bare concurrent net/http client, best of 3
	Err     error
}

// Steady is the last tick's result.
func (r ShapeResult) Steady() check.Result { return r.Ticks[len(r.Ticks)-1] }

// DynamoDBPerIntegration is the steady tick's DynamoDB requests divided by
// the shape's integrations.
func (r ShapeResult) DynamoDBPerIntegration() float64 {
	return float64(countPrefix(r.Steady().AWSRequests, "DynamoDB.")) / float64(len(r.Shape.Groups))
}

// StepFunctions is the steady tick's Step Functions requests.
func (r ShapeResult) StepFunctions() int { return countPrefix(r.Steady().AWSRequests, "SFN.") }

// MetricsRequests is the steady tick's CloudWatch requests: none, since
// metrics leave as EMF log lines.
func (r ShapeResult) MetricsRequests() int { return countPrefix(r.Steady().AWSRequests, "CloudWatch.") }

func countPrefix(m map[string]int, prefix string) int {
	n := 0
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			n += v
		}
	}
	return n
}

// StackResult is one local stack, run for one size.
type StackResult struct {
	Size   int
	Shapes []ShapeResult
	// InitMs is the median time from exec of the bootstrap to its first
	// request for an event (Lambda's Init Duration), over initRuns starts
	// against a minimal Runtime API with this stack's environment and config.
	InitMs float64
	// ColdExtraMs is the cold invoke's latency outside the handler minus a
	// warm one's, under RIE: the init plus RIE's own cold-start work.
	ColdExtraMs float64
	// RIEInitMs is what RIE's REPORT line says; it times only RIE's
	// asynchronous dispatch of the init.
	RIEInitMs float64
	PeakRSS   int64 // VmHWM of the bootstrap process
}

// Report is everything one run measured.
type Report struct {
	Stacks     []StackResult
	Bootstraps map[string]int64 // function → bytes (linux/arm64)
	ProbeAlloc testing.BenchmarkResult
	Cost       CostReport
	// Scale is the scale run, when Options.Scale asked for it.
	Scale   *ScaleResult
	Elapsed time.Duration
}

// CostReport is the monthly bill of one 4-component integration.
type CostReport struct {
	Series      []string // measured distinct metric series
	Steady      check.Result
	LogBytes    int
	ItemBytes   int
	Default     []LineItem
	Lean        []LineItem // WarningAlarms=false, FunctionAlarms=false, shared KMS key
	LeanSlow    []LineItem // Lean and ScheduleExpression=rate(2 minutes)
	DefaultBill Billable
	LeanBill    Billable
	// Integration is the measured integration's configuration;
	// IntegrationAlarms the alarm metrics its plan makes with a recovery
	// block, IntegrationAlarmsNoRecovery without.
	Integration                 config.Integration
	IntegrationAlarms           int
	IntegrationAlarmsNoRecovery int
	// Sample is the plan of config/vigil.yaml.
	Sample alerting.Plan
	// Split is the defaults' bill divided into one more integration and
	// the stack; Marginal and Fixed are its prices (Marginal with a
	// recovery block).
	Split                               Split
	Marginal, Fixed, MarginalNoRecovery float64
}

// Run measures everything. It returns an error only when a measurement
// could not be made; budgets that are missed are data in the Report.
func Run(ctx context.Context, o Options) (*Report, error) {
	start := time.Now()
	if len(o.Sizes) == 0 {
		o.Sizes = []int{10, 100, 1000}
	}
	if o.Ticks < 2 {
		o.Ticks = 3
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "vigil-bench-")
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		defer os.RemoveAll(d)
		o.Dir = d
	}
	root, err := emulator.ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	targets, err := StartTargets()
	if err != nil {
		return nil, err
	}
	defer targets.Close()

	rep := &Report{}
	var errs []error
	for i, n := range o.Sizes {
		shapes := []Shape{Single(fmt.Sprintf("s%d-one", n), n), Many(fmt.Sprintf("s%d-four", n), n)}
		withCost := i == 0
		if withCost {
			shapes = append(shapes, Single(costIntegration, 4))
		}
		progress("size %d: starting a local stack (moto, RIE, healthcheck bootstrap)", n)
		sr, cost, err := runStack(ctx, filepath.Join(o.Dir, fmt.Sprintf("size-%d", n)), targets.URL, n, shapes, o.Ticks, withCost, progress)
		if err != nil {
			return nil, err
		}
		for _, s := range sr.Shapes {
			if s.Err != nil {
				errs = append(errs, fmt.Errorf("%d components, %s: %w", s.Shape.Size, s.Shape.Name, s.Err))
			}
		}
		rep.Stacks = append(rep.Stacks, sr)
		if withCost {
			rep.Cost = cost
		}
	}

	if o.Scale {
		sc := RunScale(ctx, filepath.Join(o.Dir, "scale"), targets.URL, progress)
		if sc.Err != nil {
			errs = append(errs, fmt.Errorf("scale: %w", sc.Err))
		}
		rep.Scale = &sc
	}

	progress("building the bootstraps for linux/arm64")
	if rep.Bootstraps, err = BootstrapSizes(ctx, root, filepath.Join(o.Dir, "arm64")); err != nil {
		return nil, err
	}
	progress("benchmarking probe.ProbeHTTP allocations")
	if rep.ProbeAlloc, err = ProbeAllocs(targets.URL); err != nil {
		return nil, err
	}
	if err := rep.Cost.price(root); err != nil {
		return nil, err
	}
	rep.Elapsed = time.Since(start)
	return rep, errors.Join(errs...)
}

func runStack(ctx context.Context, dir, targetsURL string, n int, shapes []Shape, ticks int, withCost bool, progress func(string, ...any)) (StackResult, CostReport, error) {
	res := StackResult{Size: n}
	var cost CostReport
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, cost, fmt.Errorf("bench: %w", err)
	}
	cfg := filepath.Join(dir, "bench.yaml")
	text := ConfigYAML(targetsURL, shapes...)
	doc, err := config.Parse([]byte(text))
	if err != nil {
		return res, cost, fmt.Errorf("bench: generated config: %w", err)
	}
	for _, in := range doc.Integrations {
		if in.Name == costIntegration {
			cost.Integration = in
		}
	}
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		return res, cost, fmt.Errorf("bench: %w", err)
	}
	// One invocation checks the whole document, however large: these
	// stacks measure a single sandbox (RunScale measures the fan-out).
	s, err := localrun.Start(ctx, localrun.Options{Dir: dir, Functions: []string{"healthcheck"}, ConfigFile: cfg, Env: []string{"VIGIL_SHARD_COMPONENTS=10000"}})
	if err != nil {
		return res, cost, err
	}
	defer s.Stop()
	fn := s.Functions[localrun.HealthCheck]
	base := time.Now().UTC().Truncate(time.Minute)
	for _, sh := range shapes {
		progress("size %d: %s (%d integrations): %d ticks", n, sh.Name, len(sh.Groups), ticks)
		r := ShapeResult{Shape: sh}
		var logBytes int
		for k := 1; k <= ticks; k++ {
			before := len(fn.Log())
			t0 := time.Now()
			tr, err := s.Tick(ctx, base.Add(time.Duration(k)*time.Minute), sh.Integrations()...)
			r.Walls = append(r.Walls, time.Since(t0))
			if err != nil {
				r.Err = fmt.Errorf("tick %d: %w", k, err)
				break
			}
			if k == ticks {
				// The function's last lines and RIE's report follow the response.
				time.Sleep(300 * time.Millisecond)
				logBytes = len(fn.Log()) - before
			}
			r.Ticks = append(r.Ticks, tr)
		}
		if r.Err == nil {
			r.Err = steadyProblems(r.Steady())
		}
		if r.Err == nil {
			floor := math.Inf(1)
			for range 3 {
				d, err := Floor(ctx, sh.URLs(targetsURL))
				if err != nil {
					return res, cost, err
				}
				floor = min(floor, float64(d.Microseconds())/1000)
			}
			r.FloorMs = floor
		}
		res.Shapes = append(res.Shapes, r)
		if withCost && sh.Prefix == costIntegration && r.Err == nil {
			cost.Steady, cost.LogBytes = r.Steady(), logBytes
			if cost.Series, err = metricSeries(ctx, s.Clients.CloudWatch, costIntegration); err != nil {
				return res, cost, err
			}
			if cost.ItemBytes, err = stateItemSize(ctx, s.Clients.DynamoDB, costIntegration); err != nil {
				return res, cost, err
			}
		}
	}

	if inits := InitDurations(fn.Log()); len(inits) > 0 {
		res.RIEInitMs = inits[0]
	}
	if first := res.Shapes[0]; first.Err == nil {
		res.ColdExtraMs = OutsideHandlerMs(first.Walls[0], first.Ticks[0]) - OutsideHandlerMs(first.Walls[len(first.Walls)-1], first.Steady())
	}
	bootstrap := filepath.Join(dir, "healthcheck", "bootstrap")
	// The cold start is measured on a document of exactly n components (the
	// stack's holds both shapes, 2n).
	initCfg := filepath.Join(dir, "init.json")
	if err := localrun.WriteCompiled(initCfg, ConfigYAML(targetsURL, Single("init", n))); err != nil {
		return res, cost, err
	}
	env := append(s.Moto.Env(),
		"VIGIL_TABLE="+localrun.TableName,
		"VIGIL_WARNING_TOPIC_ARN="+s.WarningTopicARN,
		"VIGIL_CRITICAL_TOPIC_ARN="+s.CriticalTopicARN,
		"VIGIL_STATE_MACHINE_ARN="+s.StateMachineARN,
		"VIGIL_CONFIG_FILE="+initCfg,
		"LOG_LEVEL=INFO",
		"AWS_LAMBDA_FUNCTION_NAME="+localrun.HealthCheck,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		fmt.Sprintf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", memoryMB),
		"LAMBDA_TASK_ROOT="+filepath.Dir(bootstrap),
	)
	progress("size %d: %d cold starts of the bootstrap against a minimal Runtime API", n, initRuns)
	inits, err := MeasureInit(ctx, bootstrap, env, initRuns)
	if err != nil {
		return res, cost, err
	}
	slices.Sort(inits)
	res.InitMs = float64(inits[len(inits)/2].Microseconds()) / 1000
	pid, err := FindProcess(bootstrap)
	if err != nil {
		return res, cost, err
	}
	if res.PeakRSS, err = PeakRSS(pid); err != nil {
		return res, cost, err
	}
	return res, cost, nil
}

// OutsideHandlerMs is an invocation's latency as the caller saw it minus the
// handler's own duration: runtime and emulator overhead, plus the init on a
// cold start.
func OutsideHandlerMs(wall time.Duration, r check.Result) float64 {
	return float64(wall.Microseconds())/1000 - r.DurationMs
}

// steadyProblems reports a steady-state tick that did not check everything
// it was asked to.
func steadyProblems(r check.Result) error {
	var errs []error
	for _, ir := range r.Integrations {
		if ir.Error != "" || ir.Outcome != "applied" {
			errs = append(errs, fmt.Errorf("%s: outcome %s %s", ir.Name, ir.Outcome, ir.Error))
		}
	}
	if r.MetricsError != "" {
		errs = append(errs, fmt.Errorf("metrics: %s", r.MetricsError))
	}
	return errors.Join(errs...)
}

// metricSeries lists the distinct series (name + dimensions) published for
// integration, plus those published without dimensions (Heartbeat).
func metricSeries(ctx context.Context, cw *cloudwatch.Client, integration string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	p := cloudwatch.NewListMetricsPaginator(cw, &cloudwatch.ListMetricsInput{Namespace: aws.String(metrics.DefaultNamespace)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("bench: list metrics: %w", err)
		}
		for _, m := range page.Metrics {
			mine := len(m.Dimensions) == 0
			dims := make([]string, 0, len(m.Dimensions))
			for _, d := range m.Dimensions {
				dims = append(dims, aws.ToString(d.Name)+"="+aws.ToString(d.Value))
				if aws.ToString(d.Name) == metrics.DimIntegration && aws.ToString(d.Value) == integration {
					mine = true
				}
			}
			key := aws.ToString(m.MetricName) + "{" + strings.Join(dims, ",") + "}"
			if mine && !seen[key] {
				seen[key] = true
				out = append(out, key)
			}
		}
	}
	return out, nil
}

func stateItemSize(ctx context.Context, db *dynamodb.Client, integration string) (int, error) {
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(localrun.TableName),
		Key: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "STATE"},
			"sk": &ddbtypes.AttributeValueMemberS{Value: integration},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return 0, fmt.Errorf("bench: read state item of %s: %w", integration, err)
	}
	if len(out.Item) == 0 {
		return 0, fmt.Errorf("bench: no state item for %s", integration)
	}
	return store.ItemSize(out.Item), nil
}

// LeanParams are the template settings COST.md lists as knobs.
var LeanParams = map[string]string{
	"FunctionAlarms": "false",
	"TopicKmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/shared",
}

// price fills the bills from the measured check and the templates.
func (c *CostReport) price(root string) error {
	if len(c.Series) == 0 {
		return errors.New("bench: the cost integration published no metrics")
	}
	var err error
	if c.DefaultBill, err = AlarmBill(root, nil); err != nil {
		return err
	}
	if c.LeanBill, err = AlarmBill(root, LeanParams); err != nil {
		return err
	}
	u := Usage{
		Checks:         ChecksPerMonth,
		MetricSeries:   len(c.Series),
		DurationMs:     c.Steady.DurationMs,
		MemoryMB:       memoryMB,
		DynamoDBReads:  float64(c.Steady.AWSRequests["DynamoDB.GetItem"] + c.Steady.AWSRequests["DynamoDB.BatchGetItem"]),
		DynamoDBWrites: float64(c.Steady.AWSRequests["DynamoDB.PutItem"]),
		ItemBytes:      c.ItemBytes,
		LogBytes:       c.LogBytes,
	}
	// The integration's alarms come from the document (internal/alerting):
	// those of the measured integration with a recovery block, whose three
	// recovery alarms it would otherwise lack.
	withRecovery := c.Integration
	if withRecovery.Recovery == nil {
		withRecovery.Recovery = &config.Recovery{}
	}
	c.IntegrationAlarms = planOf(withRecovery).AlarmMetrics()
	c.IntegrationAlarmsNoRecovery = planOf(c.Integration).AlarmMetrics()
	sample, err := config.LoadFile(filepath.Join(root, "config", "vigil.yaml"))
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	c.Sample = alerting.Build(sample, alerting.Options{Stack: "vigil"}, time.Time{})

	u.AlarmMetrics, u.KMSKeys = c.DefaultBill.AlarmMetrics+c.IntegrationAlarms, c.DefaultBill.KMSKeys
	c.Default = MonthlyCost(u)
	u.AlarmMetrics, u.KMSKeys = c.LeanBill.AlarmMetrics+c.IntegrationAlarms, c.LeanBill.KMSKeys
	c.Lean = MonthlyCost(u)
	u.Checks = ChecksPerMonth / 2
	c.LeanSlow = MonthlyCost(u)

	// One more integration: its series and its alarms; the stack: the
	// template's own alarms and key.
	c.Split = Split{IntegrationAlarmMetrics: c.IntegrationAlarms, StackAlarmMetrics: c.DefaultBill.AlarmMetrics, KMSKeys: c.DefaultBill.KMSKeys}
	for _, s := range c.Series {
		if strings.Contains(s, metrics.DimIntegration+"=") {
			c.Split.IntegrationSeries++
		} else {
			c.Split.StackSeries++
		}
	}
	u.Checks = ChecksPerMonth
	u.AlarmMetrics, u.KMSKeys = c.DefaultBill.AlarmMetrics+c.IntegrationAlarms, c.DefaultBill.KMSKeys
	c.Marginal, c.Fixed = MarginalAndFixed(u, c.Split)
	c.Split.IntegrationAlarmMetrics = c.IntegrationAlarmsNoRecovery
	c.MarginalNoRecovery, _ = MarginalAndFixed(u, c.Split)
	c.Split.IntegrationAlarmMetrics = c.IntegrationAlarms
	return nil
}

// planOf is the alerting plan of one integration alone.
func planOf(in config.Integration) alerting.Plan {
	return alerting.Build(&config.Document{Integrations: []config.Integration{in}}, alerting.Options{Stack: "bench"}, time.Time{})
}

// AlarmBill counts the alarms and keys template.yaml (with params over its
// defaults) creates, its nested stacks included.
func AlarmBill(root string, params map[string]string) (Billable, error) {
	b, err := templateBill(filepath.Join(root, "template.yaml"), params)
	if err != nil {
		return b, err
	}
	for _, n := range b.Nested {
		nb, err := templateBill(filepath.Join(root, n.Location), n.Params)
		if err != nil {
			return b, fmt.Errorf("bench: nested %s: %w", n.LogicalID, err)
		}
		b.Alarms += nb.Alarms
		b.AlarmMetrics += nb.AlarmMetrics
		b.KMSKeys += nb.KMSKeys
	}
	return b, nil
}

func templateBill(path string, params map[string]string) (Billable, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Billable{}, fmt.Errorf("bench: %w", err)
	}
	t, err := ParseTemplate(data)
	if err != nil {
		return Billable{}, fmt.Errorf("%s: %w", path, err)
	}
	return t.Count(params)
}

// BootstrapSizes builds every function as Lambda runs it (linux/arm64,
// static, the Makefile's flags) into dir and returns the sizes.
func BootstrapSizes(ctx context.Context, root, dir string) (map[string]int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", dir+string(filepath.Separator), "./functions/...")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("bench: build bootstraps: %w: %s", err, out)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	sizes := map[string]int64{}
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		sizes[e.Name()] = info.Size()
	}
	if len(sizes) == 0 {
		return nil, errors.New("bench: the build produced no bootstraps")
	}
	return sizes, nil
}

// ProbeAllocs benchmarks probe.ProbeHTTP against the loopback targets at
// base, with no delay.
func ProbeAllocs(base string) (testing.BenchmarkResult, error) {
	doc, err := config.Parse([]byte(ConfigYAML(base, Shape{Name: "alloc", Size: 1, Prefix: "alloc", Groups: []int{1}})))
	if err != nil {
		return testing.BenchmarkResult{}, fmt.Errorf("bench: probe config: %w", err)
	}
	c := doc.Integrations[0].Components[0]
	c.Target = base + "/delay/0"
	var failed string
	res := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if r := probe.ProbeHTTP(context.Background(), c, nil); !r.Healthy {
				failed = r.Error
				return
			}
		}
	})
	if failed != "" {
		return res, fmt.Errorf("bench: probe failed: %s", failed)
	}
	return res, nil
}
