package alerting

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/vigil-monitor/vigil/internal/awsenv"
	"github.com/vigil-monitor/vigil/internal/emulator/emutest"
)

var moto = &emutest.Shared{}

func TestMain(m *testing.M) { os.Exit(moto.Main(m)) }

// counting wraps the emulator's client: it counts requests by operation and
// can fail PutMetricAlarm for chosen names (a hand-written fault injector;
// moto does not fail on demand).
type counting struct {
	*cloudwatch.Client
	mu     sync.Mutex
	calls  map[string]int
	failOn map[string]bool
}

func newCounting(t *testing.T) *counting {
	return &counting{Client: awsenv.New(moto.Get(t).AWSConfig()).CloudWatch, calls: map[string]int{}, failOn: map[string]bool{}}
}

func (c *counting) count(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[op]++
}

func (c *counting) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = map[string]int{}
	return out
}

func (c *counting) DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, o ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	c.count("DescribeAlarms")
	return c.Client.DescribeAlarms(ctx, in, o...)
}

func (c *counting) PutMetricAlarm(ctx context.Context, in *cloudwatch.PutMetricAlarmInput, o ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricAlarmOutput, error) {
	c.count("PutMetricAlarm")
	if c.failOn[aws.ToString(in.AlarmName)] {
		return nil, errors.New("simulated: Throttling: Rate exceeded")
	}
	return c.Client.PutMetricAlarm(ctx, in, o...)
}

func (c *counting) DeleteAlarms(ctx context.Context, in *cloudwatch.DeleteAlarmsInput, o ...func(*cloudwatch.Options)) (*cloudwatch.DeleteAlarmsOutput, error) {
	c.count("DeleteAlarms")
	return c.Client.DeleteAlarms(ctx, in, o...)
}

func (c *counting) GetDashboard(ctx context.Context, in *cloudwatch.GetDashboardInput, o ...func(*cloudwatch.Options)) (*cloudwatch.GetDashboardOutput, error) {
	c.count("GetDashboard")
	return c.Client.GetDashboard(ctx, in, o...)
}

func (c *counting) PutDashboard(ctx context.Context, in *cloudwatch.PutDashboardInput, o ...func(*cloudwatch.Options)) (*cloudwatch.PutDashboardOutput, error) {
	c.count("PutDashboard")
	return c.Client.PutDashboard(ctx, in, o...)
}

// describe returns every alarm of the emulator whose name starts with prefix.
func describe(t *testing.T, cw *cloudwatch.Client, prefix string) map[string]types.MetricAlarm {
	t.Helper()
	out := map[string]types.MetricAlarm{}
	p := cloudwatch.NewDescribeAlarmsPaginator(cw, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.MetricAlarms {
			out[aws.ToString(a.AlarmName)] = a
		}
	}
	return out
}

// assertHolds checks, alarm by alarm and field by field, that CloudWatch
// holds exactly p's alarms under prefix, and p's dashboard.
func assertHolds(t *testing.T, cw *cloudwatch.Client, p Plan) {
	t.Helper()
	have := describe(t, cw, p.Stack+"/")
	for _, a := range p.Alarms {
		cur, ok := have[a.Name]
		if !ok {
			t.Errorf("CloudWatch lacks %s", a.Name)
			continue
		}
		delete(have, a.Name)
		if d := differences(cur, a); len(d) > 0 {
			t.Errorf("%s differs in %v", a.Name, d)
		}
		// The comparison itself is checked on the raw fields, so a bug
		// in differences cannot hide a wrong alarm.
		stat := string(cur.Statistic)
		if cur.ExtendedStatistic != nil {
			stat = *cur.ExtendedStatistic
		}
		if aws.ToFloat64(cur.Threshold) != a.Threshold || stat != a.Stat || aws.ToString(cur.MetricName) != a.Metric ||
			aws.ToInt32(cur.Period) != a.Period || !slices.Equal(cur.AlarmActions, a.Actions) || !slices.Equal(cur.OKActions, a.Actions) ||
			aws.ToBool(cur.ActionsEnabled) != a.ActionsEnabled || aws.ToString(cur.TreatMissingData) != a.TreatMissingData {
			t.Errorf("%s: CloudWatch holds %s %s/%d %v, actions %v/%v enabled %v, missing %s; want %s",
				a.Name, aws.ToString(cur.MetricName), stat, aws.ToInt32(cur.Period), aws.ToFloat64(cur.Threshold),
				cur.AlarmActions, cur.OKActions, aws.ToBool(cur.ActionsEnabled), aws.ToString(cur.TreatMissingData), row(a))
		}
	}
	for name := range have {
		if Owned(p.Stack, name) {
			t.Errorf("CloudWatch still holds %s", name)
		}
	}
	out, err := cw.GetDashboard(context.Background(), &cloudwatch.GetDashboardInput{DashboardName: aws.String(p.Dashboard)})
	if err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if aws.ToString(out.DashboardBody) != p.DashboardBody {
		t.Error("the dashboard's body is not the plan's")
	}
	decodeDashboard(t, aws.ToString(out.DashboardBody))
}

func TestConvergeFollowsTheDocument(t *testing.T) {
	ctx := context.Background()
	cw := newCounting(t)
	o := opts
	o.Stack = "conv"
	// Alarms that are not the document's: the template's own, another
	// stack's, another stack whose name starts the same.
	for _, name := range []string{"conv/heartbeat", "other/agent-bridge/latency-warning", "conv-prod/agent-bridge/latency-warning"} {
		if _, err := cw.Client.PutMetricAlarm(ctx, putInput(Alarm{Name: name, Namespace: "Vigil", Metric: "X", Stat: "Maximum",
			Period: 60, EvaluationPeriods: 1, DatapointsToAlarm: 1, Threshold: 1, Comparison: Greater, TreatMissingData: MissingIgnore})); err != nil {
			t.Fatal(err)
		}
	}

	p := Build(parse(t, threeIntegrations), o, now)
	changes, err := Converge(ctx, cw, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != len(p.Alarms)+1 {
		t.Errorf("%d changes for %d alarms and a dashboard", len(changes), len(p.Alarms))
	}
	assertHolds(t, cw.Client, p)

	// Unchanged: a diff reads, and writes nothing.
	cw.reset()
	if changes, err := Converge(ctx, cw, p); err != nil || len(changes) != 0 {
		t.Fatalf("second converge: %v, %v", changes, err)
	}
	if calls := cw.reset(); calls["PutMetricAlarm"]+calls["DeleteAlarms"]+calls["PutDashboard"] != 0 {
		t.Errorf("an unchanged plan wrote: %v", calls)
	}

	// A threshold changes: one alarm is updated, and the dashboard's line.
	tunedDoc := strings.Replace(threeIntegrations, "failure_critical: 5", "failure_critical: 7", 1)
	tuned := Build(parse(t, tunedDoc), o, now)
	changes, err = Converge(ctx, cw, tuned)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(changes); got != "[{update alarm conv/payments/consecutive-failures-critical [description threshold]} {update dashboard conv [body]}]" {
		t.Errorf("changes %s", got)
	}
	assertHolds(t, cw.Client, tuned)

	// An integration goes, another comes: its alarms are deleted, the
	// newcomer's created, nobody else's touched.
	swapped := strings.Replace(tunedDoc, "name: search", "name: catalog", 1)
	next := Build(parse(t, swapped), o, now)
	changes, err = Converge(ctx, cw, next)
	if err != nil {
		t.Fatal(err)
	}
	var created, deleted int
	for _, c := range changes {
		switch {
		case c.Op == Create && strings.HasPrefix(c.Name, "conv/catalog/"):
			created++
		case c.Op == Delete && strings.HasPrefix(c.Name, "conv/search/"):
			deleted++
		case c.Kind == "dashboard":
		default:
			t.Errorf("unexpected change %v", c)
		}
	}
	if created != 6 || deleted != 6 {
		t.Errorf("created %d, deleted %d; want 6 and 6", created, deleted)
	}
	assertHolds(t, cw.Client, next)
	for _, name := range []string{"conv/heartbeat", "other/agent-bridge/latency-warning", "conv-prod/agent-bridge/latency-warning"} {
		if _, ok := describe(t, cw.Client, name)[name]; !ok {
			t.Errorf("%s was deleted", name)
		}
	}

	// Stack deletion removes every integration alarm and the dashboard,
	// and only those.
	removed, err := Remove(ctx, cw, "conv")
	if err != nil || len(removed) != len(next.Alarms)+1 {
		t.Fatalf("Remove: %d changes, %v", len(removed), err)
	}
	left := describe(t, cw.Client, "conv")
	if len(left) != 2 { // conv/heartbeat, conv-prod/…
		t.Errorf("left %v", left)
	}
	if _, found, err := dashboardBody(ctx, cw, "conv"); found || err != nil {
		t.Errorf("dashboard left: %v, %v", found, err)
	}
	if again, err := Remove(ctx, cw, "conv"); err != nil || len(again) != 0 {
		t.Errorf("second Remove: %v, %v", again, err)
	}
}

// A failed PutMetricAlarm does not stop the others, is reported, and the
// next convergence makes only what is still missing.
func TestConvergeResumesAfterAFailure(t *testing.T) {
	ctx := context.Background()
	cw := newCounting(t)
	o := opts
	o.Stack = "resume"
	p := Build(parse(t, threeIntegrations), o, now)
	cw.failOn["resume/payments/latency-critical"] = true
	changes, err := Converge(ctx, cw, p)
	if err == nil || !strings.Contains(err.Error(), "resume/payments/latency-critical") || !strings.Contains(err.Error(), "Rate exceeded") {
		t.Fatalf("err = %v, want the failed alarm named", err)
	}
	if len(changes) != len(p.Alarms) { // every alarm but one, and the dashboard
		t.Errorf("%d changes made, want %d", len(changes), len(p.Alarms))
	}
	delete(cw.failOn, "resume/payments/latency-critical")
	cw.reset()
	changes, err = Converge(ctx, cw, p)
	if err != nil || fmt.Sprint(changes) != "[{create alarm resume/payments/latency-critical []}]" {
		t.Fatalf("retry: %v, %v", changes, err)
	}
	if calls := cw.reset(); calls["PutMetricAlarm"] != 1 {
		t.Errorf("retry wrote %d alarms, want 1", calls["PutMetricAlarm"])
	}
	assertHolds(t, cw.Client, p)
}

func TestWritePlan(t *testing.T) {
	var b strings.Builder
	if err := WritePlan(&b, []Change{{Op: Create, Kind: "alarm", Name: "v/a/x"}, {Op: Update, Kind: "dashboard", Name: "v", Fields: []string{"body"}}}); err != nil {
		t.Fatal(err)
	}
	if b.String() != "create alarm     v/a/x\nupdate dashboard v (body)\n" {
		t.Errorf("%q", b.String())
	}
}
