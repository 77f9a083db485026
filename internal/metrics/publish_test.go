package metrics

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/vigil-monitor/vigil/internal/awsenv"
	"github.com/vigil-monitor/vigil/internal/emulator"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/probe"
)

// One moto server for the package, started by the first test that needs it.
var (
	motoOnce sync.Once
	motoSrv  *emulator.Moto
	motoErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	motoSrv.Stop()
	os.Exit(code)
}

// cloudWatch returns a client of the shared moto server. A missing
// moto_server fails the test: these tests are the proof that publishing
// works, so they must not pass by skipping.
func cloudWatch(t *testing.T) *cloudwatch.Client {
	t.Helper()
	motoOnce.Do(func() { motoSrv, motoErr = emulator.StartMoto(context.Background(), emulator.MotoOptions{}) })
	if motoErr != nil {
		t.Fatalf("start moto: %v", motoErr)
	}
	return awsenv.New(motoSrv.AWSConfig()).CloudWatch
}

// countingClient wraps the real client, counts calls, and fails the calls
// for which fail returns true.
type countingClient struct {
	next PutMetricDataAPI
	fail func(call int, in *cloudwatch.PutMetricDataInput) bool

	mu    sync.Mutex // guards calls and sizes
	calls int
	sizes []int
}

func (c *countingClient) PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	c.mu.Lock()
	c.calls++
	call := c.calls
	c.sizes = append(c.sizes, len(in.MetricData))
	c.mu.Unlock()
	if c.fail != nil && c.fail(call, in) {
		return nil, errors.New("injected failure")
	}
	return c.next.PutMetricData(ctx, in, optFns...)
}

func TestPublishReadBack(t *testing.T) {
	cw := cloudWatch(t)
	ctx := context.Background()
	ns := "VigilTest/ReadBack"
	now := time.Now().UTC().Truncate(time.Minute)
	integ := integration(true)
	rec := health.Record{Integration: integ.Name, State: health.Active, Score: 97.5, LastTick: now,
		Availability: health.Availability{LatencyMs: []float64{31}}}
	results := []probe.Result{
		{Component: "orchestrator", Healthy: true, Latency: 31 * time.Millisecond, Metrics: map[string]float64{"MemoryMB": 640}},
		{Component: "websocket-manager", Healthy: true, Latency: 12 * time.Millisecond},
	}
	datums := append(ForCheck(integ, rec, results, now), Heartbeat(now, 2)...)

	calls, err := NewPublisher(cw, ns).Publish(ctx, datums)
	if err != nil || calls != 1 {
		t.Fatalf("Publish = %d calls, %v; want 1 call, nil", calls, err)
	}

	listed, err := cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String(ns)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range listed.Metrics {
		got = append(got, flat(types.MetricDatum{MetricName: m.MetricName, Dimensions: m.Dimensions}))
	}
	want := []string{
		"CheckDuration{Integration=agent-bridge}=0 ",
		"ComponentHealthy{Integration=agent-bridge,Component=orchestrator}=0 ",
		"ComponentHealthy{Integration=agent-bridge,Component=websocket-manager}=0 ",
		"ComponentLatency{Integration=agent-bridge,Component=orchestrator}=0 ",
		"ComponentLatency{Integration=agent-bridge,Component=websocket-manager}=0 ",
		"ConsecutiveFailures{Integration=agent-bridge}=0 ",
		"HealthScore{Integration=agent-bridge}=0 ",
		"Healthy{Integration=agent-bridge}=0 ",
		"Heartbeat=0 ",
		"MemoryMB{Integration=agent-bridge,Component=orchestrator}=0 ",
		"MetricsPublishFailures=0 ",
		"State{Integration=agent-bridge}=0 ",
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("ListMetrics:\n got %q\nwant %q", got, want)
	}

	query := func(id, name string, dims ...types.Dimension) types.MetricDataQuery {
		return types.MetricDataQuery{Id: aws.String(id), MetricStat: &types.MetricStat{
			Metric: &types.Metric{Namespace: aws.String(ns), MetricName: aws.String(name), Dimensions: dims},
			Period: aws.Int32(60), Stat: aws.String("Maximum"),
		}}
	}
	dimI := types.Dimension{Name: aws.String(DimIntegration), Value: aws.String("agent-bridge")}
	dimC := types.Dimension{Name: aws.String(DimComponent), Value: aws.String("orchestrator")}
	out, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(now.Add(-5 * time.Minute)), EndTime: aws.Time(now.Add(5 * time.Minute)),
		MetricDataQueries: []types.MetricDataQuery{
			query("score", MetricHealthScore, dimI),
			query("state", MetricState, dimI),
			query("mem", "MemoryMB", dimI, dimC),
			query("lat", MetricComponentLatency, dimI, dimC),
			query("hb", MetricHeartbeat),
			query("fail", MetricPublishFailures),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantValues := map[string]float64{"score": 97.5, "state": 2, "mem": 640, "lat": 31, "hb": 1, "fail": 2}
	for _, r := range out.MetricDataResults {
		id := aws.ToString(r.Id)
		if len(r.Values) != 1 || r.Values[0] != wantValues[id] {
			t.Errorf("%s: values %v, want [%v]", id, r.Values, wantValues[id])
		}
		delete(wantValues, id)
	}
	if len(wantValues) > 0 {
		t.Errorf("no results for %v", wantValues)
	}
}

func manyDatums(n int) []types.MetricDatum {
	now := time.Now().UTC()
	out := make([]types.MetricDatum, n)
	for i := range out {
		out[i] = types.MetricDatum{
			MetricName: aws.String("Load"),
			Dimensions: []types.Dimension{{Name: aws.String(DimIntegration), Value: aws.String(fmt.Sprintf("i-%04d", i/100*100))}},
			Value:      aws.Float64(float64(i)), Unit: types.StandardUnitCount, Timestamp: aws.Time(now),
		}
	}
	return out
}

func TestPublishBatchesByCount(t *testing.T) {
	client := &countingClient{next: cloudWatch(t)}
	calls, err := NewPublisher(client, "VigilTest/Batches").Publish(context.Background(), manyDatums(2500))
	if err != nil {
		t.Fatal(err)
	}
	if calls != 3 || client.calls != 3 || !slices.Equal(client.sizes, []int{1000, 1000, 500}) {
		t.Errorf("calls %d (client saw %d, sizes %v), want 3 of 1000, 1000, 500", calls, client.calls, client.sizes)
	}
}

func TestPublishFailedBatchIsRetriedReportedAndOthersSent(t *testing.T) {
	cw := cloudWatch(t)
	ns := "VigilTest/Failures"
	// The first batch fails on its call and its retry.
	client := &countingClient{next: cw, fail: func(call int, _ *cloudwatch.PutMetricDataInput) bool { return call <= 2 }}
	calls, err := NewPublisher(client, ns).Publish(context.Background(), manyDatums(2500))
	var be *BatchError
	if !errors.As(err, &be) || be.Batch != 1 || be.Datums != 1000 || FailedBatches(err) != 1 {
		t.Fatalf("err = %v, want one BatchError for batch 1 of 1000 datums", err)
	}
	if calls != 4 || !slices.Equal(client.sizes, []int{1000, 1000, 1000, 500}) {
		t.Errorf("calls %d, sizes %v; want 4: failed, retried, then the two other batches", calls, client.sizes)
	}
	// The later batches reached CloudWatch: i-1000 … i-2499.
	listed, lerr := cw.ListMetrics(context.Background(), &cloudwatch.ListMetricsInput{Namespace: aws.String(ns)})
	if lerr != nil {
		t.Fatal(lerr)
	}
	if n := len(listed.Metrics); n == 0 {
		t.Error("no metric of the later batches reached CloudWatch")
	}
	for _, m := range listed.Metrics {
		if v := aws.ToString(m.Dimensions[0].Value); v < "i-1000" {
			t.Errorf("metric of the failed batch published: %s", v)
		}
	}
}

func TestPublishTransientFailureIsRetried(t *testing.T) {
	client := &countingClient{next: cloudWatch(t), fail: func(call int, _ *cloudwatch.PutMetricDataInput) bool { return call == 1 }}
	calls, err := NewPublisher(client, "VigilTest/Retry").Publish(context.Background(), manyDatums(10))
	if err != nil || calls != 2 {
		t.Errorf("Publish = %d calls, %v; want 2 calls (one retry), nil", calls, err)
	}
}

func TestPublishNothing(t *testing.T) {
	client := &countingClient{fail: func(int, *cloudwatch.PutMetricDataInput) bool { return true }}
	if calls, err := NewPublisher(client, "").Publish(context.Background(), nil); calls != 0 || err != nil {
		t.Errorf("Publish(nil) = %d, %v; want 0, nil", calls, err)
	}
}

func TestSplitRespectsPayloadLimit(t *testing.T) {
	// Long dimension values make the payload, not the count, the limit.
	long := make([]byte, 250)
	for i := range long {
		long[i] = 'x'
	}
	ds := manyDatums(1500)
	for i := range ds {
		for j := range 10 {
			ds[i].Dimensions = append(ds[i].Dimensions, types.Dimension{
				Name: aws.String(fmt.Sprintf("D%d", j)), Value: aws.String(string(long)),
			})
		}
	}
	batches := split(ds, DefaultNamespace)
	total := 0
	for _, b := range batches {
		size := 0
		for i := range b {
			size += estimateSize(&b[i])
		}
		if len(b) > MaxDatumsPerCall || size > MaxPayloadBytes {
			t.Errorf("batch of %d datums, %d bytes estimated: over the limits", len(b), size)
		}
		total += len(b)
	}
	if total != len(ds) || len(batches) < 2 {
		t.Errorf("%d batches holding %d datums, want all %d in several batches", len(batches), total, len(ds))
	}
}
