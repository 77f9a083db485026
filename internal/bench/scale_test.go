package bench

import (
	"bytes"
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/check"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/shard"
)

func closeTo(a, b float64) bool { return math.Abs(a-b) <= 1e-12+1e-9*math.Abs(b) }

// One tick's price, by hand: Lambda requests and compute of the coordinator
// (its wall) and the shards (their durations, each rounded up to 1 ms), and
// the writes the requests counted.
func TestPriceTick(t *testing.T) {
	r := check.Result{
		AWSRequests: map[string]int{"DynamoDB.GetItem": 1},
		Shards: []check.ShardResult{
			{Index: 0, Count: 2, DurationMs: 800.2, SlowestProbeMs: 200, AWSRequests: map[string]int{"DynamoDB.PutItem": 3, "DynamoDB.BatchGetItem": 1}},
			{Index: 1, Count: 2, DurationMs: 700, SlowestProbeMs: 150, Retried: true, AWSRequests: map[string]int{"DynamoDB.PutItem": 2}},
		},
		Integrations: []check.IntegrationResult{{Outcome: "applied"}, {Outcome: "applied"}, {Outcome: "applied"}, {Outcome: "applied"}, {Outcome: "duplicate"}},
	}
	b := PriceTick(1000400*time.Microsecond, r, 256, 1500)
	// 1 coordinator + 2 shards + 1 retry; 1001 + 801 + 700 ms.
	if b.Invocations != 4 || b.BilledMs != 2502 || !closeTo(b.GBSeconds, 2.502*0.25) {
		t.Fatalf("lambda: %+v", b)
	}
	// 5 writes: 4 applied integrations' state items of 1,500 B (2 WRU
	// each), 1 other (a heartbeat, 1 WRU).
	if b.StateWrites != 4 || b.OtherWrites != 1 || b.WRUPerState != 2 {
		t.Fatalf("writes: %+v", b)
	}
	want := 4*PriceLambdaRequest + 2.502*0.25*PriceLambdaGBSecond + (4*2+1)*PriceDynamoDBWRU
	if !closeTo(b.USD, want) || !closeTo(want, 0.0000147650417) {
		t.Fatalf("$%.12f, want $%.12f", b.USD, want)
	}
	if got := b.PerMillion(10000); !closeTo(got, want*100) {
		t.Fatalf("per million of 10,000: %g", got)
	}
	// Fewer writes than applied integrations (a request counter that
	// missed some): no negative "other" writes.
	r.Shards[1].AWSRequests = nil
	if b := PriceTick(time.Second, r, 256, 100); b.StateWrites != 3 || b.OtherWrites != 0 || b.WRUPerState != 1 {
		t.Fatalf("short writes: %+v", b)
	}
}

// The scale line: the slower of the ticks after the first (which warms the sandboxes and
// is never reported), the slowest probe of their shards, their dearer price.
func TestScaleLine(t *testing.T) {
	tick := func(slowest float64, puts int) check.Result {
		r := check.Result{}
		for i := range 2 {
			r.Shards = append(r.Shards, check.ShardResult{Index: i, Count: 2, DurationMs: 999.5, SlowestProbeMs: slowest - float64(i), AWSRequests: map[string]int{"DynamoDB.PutItem": puts}})
		}
		for range 2 * puts {
			r.Integrations = append(r.Integrations, check.IntegrationResult{Outcome: "applied"})
		}
		return r
	}
	r := ScaleResult{
		Components: 10000, Shards: 2, ItemBytes: 2048,
		Walls: []time.Duration{9 * time.Second, 1200 * time.Millisecond, 1300 * time.Millisecond},
		Ticks: []check.Result{tick(5000, 1000), tick(201.4, 125), tick(180, 125)},
	}
	// Tick 3: 1 + 2 invocations, 1300 + 1000 + 1000 ms at the scale run's
	// 1,769 MB, 250 writes of 2 WRU.
	usd := 3*PriceLambdaRequest + 3.3*1769/1024*PriceLambdaGBSecond + 250*2*PriceDynamoDBWRU
	if got := r.USDPerMillion(); !closeTo(got, usd*100) {
		t.Fatalf("$%g per million, want $%g", got, usd*100)
	}
	want := "scale: 10000 components, 2 shards, tick wall 1300 ms, slowest probe 201 ms, $0.039 per million component-checks"
	if got := r.ScaleLine(); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	line := regexp.MustCompile(`^scale: 10000 components, \d+ shards, tick wall \d+ ms, slowest probe \d+ ms, \$\d+\.\d{3} per million component-checks$`)
	if !line.MatchString(r.ScaleLine()) {
		t.Fatalf("%q does not match %s", r.ScaleLine(), line)
	}
	var w bytes.Buffer
	printScaleLine(&w, &r)
	printScaleLine(&w, nil)
	if w.String() != want+"\n" {
		t.Fatalf("printed %q", w.String())
	}
	r.Err = errors.New("tick 2: boom")
	if got := r.ScaleLine(); got != "scale: 10000 components, error: tick 2: boom" {
		t.Fatalf("failed run: %q", got)
	}
	// A run that failed before its second tick reports nothing steady.
	short := ScaleResult{Components: 10000, Walls: []time.Duration{time.Second}, Ticks: []check.Result{tick(1, 1)}}
	if short.WallMs() != 0 || short.SlowestProbeMs() != 0 || short.USDPerMillion() != 0 {
		t.Fatalf("one tick reported: %v %v %v", short.WallMs(), short.SlowestProbeMs(), short.USDPerMillion())
	}
}

// The scale document is 10,000 valid loopback components in 250
// integrations of 40, and the planner splits it into shards no larger
// than the capacity, integrations whole.
func TestScaleDocument(t *testing.T) {
	doc, err := config.Parse([]byte(ConfigYAML("http://127.0.0.1:9", ScaleShape())))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, in := range doc.Integrations {
		if len(in.Components) != scalePerIntegration || !strings.HasPrefix(in.Name, "scale-") {
			t.Fatalf("integration %s: %d components", in.Name, len(in.Components))
		}
		n += len(in.Components)
	}
	if len(doc.Integrations) != scaleIntegrations || n != scaleComponents {
		t.Fatalf("%d integrations, %d components", len(doc.Integrations), n)
	}
	capacity := shard.Capacity(memoryMB, scaleProbeConcurrency)
	plan := shard.Plan(doc.Integrations, capacity)
	total := 0
	for _, s := range plan {
		if s.Components > capacity || s.Components != len(s.Integrations)*scalePerIntegration {
			t.Fatalf("shard %v: %d components in %d integrations (capacity %d)", s.Key, s.Components, len(s.Integrations), capacity)
		}
		total += s.Components
	}
	if len(plan) < 2 || total != scaleComponents {
		t.Fatalf("%d shards checking %d components", len(plan), total)
	}
	t.Logf("capacity %d: %d shards", capacity, len(plan))
}
