package alerting

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/vigil-monitor/vigil/internal/metrics"
)

// CloudWatchAPI is the part of the CloudWatch client convergence uses.
type CloudWatchAPI interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
	PutMetricAlarm(ctx context.Context, in *cloudwatch.PutMetricAlarmInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricAlarmOutput, error)
	DeleteAlarms(ctx context.Context, in *cloudwatch.DeleteAlarmsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.DeleteAlarmsOutput, error)
	GetDashboard(ctx context.Context, in *cloudwatch.GetDashboardInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.GetDashboardOutput, error)
	PutDashboard(ctx context.Context, in *cloudwatch.PutDashboardInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutDashboardOutput, error)
	DeleteDashboards(ctx context.Context, in *cloudwatch.DeleteDashboardsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.DeleteDashboardsOutput, error)
}

var _ CloudWatchAPI = (*cloudwatch.Client)(nil)

// Change operations.
const (
	Create = "create"
	Update = "update"
	Delete = "delete"
)

// Change is one request convergence makes (or, in a plan, would make).
type Change struct {
	Op   string `json:"op"`   // Create, Update or Delete
	Kind string `json:"kind"` // "alarm" or "dashboard"
	Name string `json:"name"`
	// Fields names what an Update changes.
	Fields []string `json:"fields,omitempty"`
}

// maxDeleteNames is the most names one DeleteAlarms call takes.
const maxDeleteNames = 100

// Diff compares what CloudWatch holds for p's stack with p, reading only
// (DescribeAlarms pages and GetDashboard): the changes Converge would make.
// Alarms outside the stack's integration alarms are never listed.
func Diff(ctx context.Context, cw CloudWatchAPI, p Plan) ([]Change, error) {
	have, err := owned(ctx, cw, p.Stack)
	if err != nil {
		return nil, err
	}
	var out []Change
	want := make(map[string]bool, len(p.Alarms))
	for _, a := range p.Alarms {
		want[a.Name] = true
		cur, ok := have[a.Name]
		switch {
		case !ok:
			out = append(out, Change{Op: Create, Kind: "alarm", Name: a.Name})
		default:
			if fields := differences(cur, a); len(fields) > 0 {
				out = append(out, Change{Op: Update, Kind: "alarm", Name: a.Name, Fields: fields})
			}
		}
	}
	var gone []string
	for name := range have {
		if !want[name] {
			gone = append(gone, name)
		}
	}
	slices.Sort(gone)
	for _, name := range gone {
		out = append(out, Change{Op: Delete, Kind: "alarm", Name: name})
	}
	body, found, err := dashboardBody(ctx, cw, p.Dashboard)
	if err != nil {
		return nil, err
	}
	switch {
	case !found:
		out = append(out, Change{Op: Create, Kind: "dashboard", Name: p.Dashboard})
	case body != p.DashboardBody:
		out = append(out, Change{Op: Update, Kind: "dashboard", Name: p.Dashboard, Fields: []string{"body"}})
	}
	return out, nil
}

// Converge makes CloudWatch hold p: it creates and updates p's alarms,
// deletes the stack's integration alarms p does not hold, and puts the
// dashboard, one request per change. It goes on past a failed request and
// returns the changes made with every error joined; as Diff starts from what
// CloudWatch holds, the next call picks up where this one failed.
func Converge(ctx context.Context, cw CloudWatchAPI, p Plan) ([]Change, error) {
	changes, err := Diff(ctx, cw, p)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]Alarm, len(p.Alarms))
	for _, a := range p.Alarms {
		byName[a.Name] = a
	}
	var done []Change
	var errs []error
	var gone []string
	for _, c := range changes {
		switch {
		case c.Kind == "alarm" && c.Op == Delete:
			gone = append(gone, c.Name)
			continue
		case c.Kind == "alarm":
			if _, err := cw.PutMetricAlarm(ctx, putInput(byName[c.Name])); err != nil {
				errs = append(errs, fmt.Errorf("alerting: %s alarm %s: %w", c.Op, c.Name, err))
				continue
			}
		case c.Kind == "dashboard":
			if _, err := cw.PutDashboard(ctx, &cloudwatch.PutDashboardInput{
				DashboardName: aws.String(p.Dashboard), DashboardBody: aws.String(p.DashboardBody),
			}); err != nil {
				errs = append(errs, fmt.Errorf("alerting: %s dashboard %s: %w", c.Op, c.Name, err))
				continue
			}
		}
		done = append(done, c)
	}
	deleted, err := deleteAlarms(ctx, cw, gone)
	for _, name := range deleted {
		done = append(done, Change{Op: Delete, Kind: "alarm", Name: name})
	}
	return done, errors.Join(append(errs, err)...)
}

// Remove deletes every integration alarm of stack and its dashboard: what
// the stack's deletion leaves behind otherwise.
func Remove(ctx context.Context, cw CloudWatchAPI, stack string) ([]Change, error) {
	have, err := owned(ctx, cw, stack)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(have))
	for name := range have {
		names = append(names, name)
	}
	slices.Sort(names)
	deleted, err := deleteAlarms(ctx, cw, names)
	var out []Change
	for _, name := range deleted {
		out = append(out, Change{Op: Delete, Kind: "alarm", Name: name})
	}
	if err != nil {
		return out, err
	}
	if _, found, err := dashboardBody(ctx, cw, stack); err != nil || !found {
		return out, err
	}
	if _, err := cw.DeleteDashboards(ctx, &cloudwatch.DeleteDashboardsInput{DashboardNames: []string{stack}}); err != nil {
		return out, fmt.Errorf("alerting: delete dashboard %s: %w", stack, err)
	}
	return append(out, Change{Op: Delete, Kind: "dashboard", Name: stack}), nil
}

// WritePlan writes changes one per line, as `make alarms` prints them.
func WritePlan(w io.Writer, changes []Change) error {
	if len(changes) == 0 {
		_, err := fmt.Fprintln(w, "no changes: CloudWatch holds the plan")
		return err
	}
	for _, c := range changes {
		line := fmt.Sprintf("%-6s %-9s %s", c.Op, c.Kind, c.Name)
		if len(c.Fields) > 0 {
			line += " (" + strings.Join(c.Fields, ", ") + ")"
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

func owned(ctx context.Context, cw CloudWatchAPI, stack string) (map[string]types.MetricAlarm, error) {
	out := map[string]types.MetricAlarm{}
	in := &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String(Prefix(stack)), AlarmTypes: []types.AlarmType{types.AlarmTypeMetricAlarm}}
	for {
		page, err := cw.DescribeAlarms(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("alerting: list alarms %s*: %w", Prefix(stack), err)
		}
		for _, a := range page.MetricAlarms {
			if name := aws.ToString(a.AlarmName); Owned(stack, name) {
				out[name] = a
			}
		}
		if page.NextToken == nil {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}

func deleteAlarms(ctx context.Context, cw CloudWatchAPI, names []string) ([]string, error) {
	var done []string
	for start := 0; start < len(names); start += maxDeleteNames {
		batch := names[start:min(start+maxDeleteNames, len(names))]
		if _, err := cw.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: batch}); err != nil {
			return done, fmt.Errorf("alerting: delete %d alarms from %s: %w", len(batch), batch[0], err)
		}
		done = append(done, batch...)
	}
	return done, nil
}

// dashboardBody is the body of dashboard name; found is false when there is
// no such dashboard.
func dashboardBody(ctx context.Context, cw CloudWatchAPI, name string) (body string, found bool, err error) {
	out, err := cw.GetDashboard(ctx, &cloudwatch.GetDashboardInput{DashboardName: aws.String(name)})
	var nf *types.ResourceNotFound
	var notFound *types.DashboardNotFoundError
	switch {
	case errors.As(err, &nf), errors.As(err, &notFound):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("alerting: read dashboard %s: %w", name, err)
	}
	return aws.ToString(out.DashboardBody), true, nil
}

func putInput(a Alarm) *cloudwatch.PutMetricAlarmInput {
	in := &cloudwatch.PutMetricAlarmInput{
		AlarmName:          aws.String(a.Name),
		AlarmDescription:   aws.String(a.Description),
		Namespace:          aws.String(a.Namespace),
		MetricName:         aws.String(a.Metric),
		Period:             aws.Int32(a.Period),
		EvaluationPeriods:  aws.Int32(a.EvaluationPeriods),
		DatapointsToAlarm:  aws.Int32(a.DatapointsToAlarm),
		Threshold:          aws.Float64(a.Threshold),
		ComparisonOperator: types.ComparisonOperator(a.Comparison),
		TreatMissingData:   aws.String(a.TreatMissingData),
		ActionsEnabled:     aws.Bool(a.ActionsEnabled),
		AlarmActions:       a.Actions,
		OKActions:          a.Actions,
	}
	for _, d := range a.Dimensions {
		in.Dimensions = append(in.Dimensions, types.Dimension{Name: aws.String(d.Name), Value: aws.String(d.Value)})
	}
	if a.IsPercentile() {
		in.ExtendedStatistic = aws.String(a.Stat)
	} else {
		in.Statistic = types.Statistic(a.Stat)
	}
	return in
}

// differences names the fields in which CloudWatch's alarm cur differs from
// the planned a.
func differences(cur types.MetricAlarm, a Alarm) []string {
	var out []string
	diff := func(field string, differ bool) {
		if differ {
			out = append(out, field)
		}
	}
	stat := string(cur.Statistic)
	if cur.ExtendedStatistic != nil {
		stat = *cur.ExtendedStatistic
	}
	datapoints := aws.ToInt32(cur.DatapointsToAlarm)
	if cur.DatapointsToAlarm == nil {
		datapoints = aws.ToInt32(cur.EvaluationPeriods)
	}
	missing := aws.ToString(cur.TreatMissingData)
	if missing == "" {
		missing = "missing"
	}
	var dims []metrics.Dim
	for _, d := range cur.Dimensions {
		dims = append(dims, metrics.Dim{Name: aws.ToString(d.Name), Value: aws.ToString(d.Value)})
	}
	diff("description", aws.ToString(cur.AlarmDescription) != a.Description)
	diff("metric", aws.ToString(cur.Namespace) != a.Namespace || aws.ToString(cur.MetricName) != a.Metric || !sameDims(dims, a.Dimensions))
	diff("statistic", stat != a.Stat)
	diff("period", aws.ToInt32(cur.Period) != a.Period)
	diff("evaluation", aws.ToInt32(cur.EvaluationPeriods) != a.EvaluationPeriods || datapoints != a.DatapointsToAlarm)
	diff("threshold", aws.ToFloat64(cur.Threshold) != a.Threshold || string(cur.ComparisonOperator) != a.Comparison)
	diff("missing data", missing != a.TreatMissingData)
	diff("actions enabled", aws.ToBool(cur.ActionsEnabled) != a.ActionsEnabled)
	diff("actions", !sameSet(cur.AlarmActions, a.Actions) || !sameSet(cur.OKActions, a.Actions))
	return out
}

func sameDims(a, b []metrics.Dim) bool {
	key := func(ds []metrics.Dim) []string {
		out := make([]string, len(ds))
		for i, d := range ds {
			out[i] = d.Name + "=" + d.Value
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// WriteAlarms writes every alarm of p, one per line, and the dashboard: what
// `make alarms` prints for a document without an account to compare with.
func WriteAlarms(w io.Writer, p Plan) error {
	for _, a := range p.Alarms {
		held := ""
		if !a.ActionsEnabled {
			held = " [held: maintenance window]"
		}
		var dims []string
		for _, d := range a.Dimensions {
			dims = append(dims, d.Name+"="+d.Value)
		}
		if _, err := fmt.Fprintf(w, "create alarm     %s\n                 %-8s %s{%s} %s over %ds, %d of %d, %s %v, missing data %s%s\n",
			a.Name, a.Severity, a.Metric, strings.Join(dims, ","), a.Stat, a.Period, a.DatapointsToAlarm, a.EvaluationPeriods,
			a.Comparison, a.Threshold, a.TreatMissingData, held); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "create dashboard %s (%d bytes)\n%d alarms reading %d metrics (CloudWatch bills each alarm metric)\n",
		p.Dashboard, len(p.DashboardBody), len(p.Alarms), p.AlarmMetrics())
	return err
}
