package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/vigil-monitor/vigil/internal/check"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/metrics"
	"github.com/vigil-monitor/vigil/internal/store"
)

// Tick invokes the HealthCheck function for the scheduled time t, as
// EventBridge Scheduler would, and decodes its result.
func (s *Stack) Tick(ctx context.Context, t time.Time, integrations ...string) (check.Result, error) {
	ev, _ := json.Marshal(check.Event{ScheduledTime: t.UTC().Format(time.RFC3339), Integrations: integrations})
	before := s.metrics.documentCount()
	payload, err := s.Invoke(ctx, HealthCheck, ev)
	if err != nil {
		return check.Result{}, err
	}
	r, err := decodeResult(payload)
	if err != nil {
		return r, err
	}
	// The check's metrics reach the emulator through its log output, a
	// moment after the invocation returns: wait for them, so what the
	// caller reads next includes them.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.metrics.waitDocuments(wctx, before+r.MetricDocuments); err != nil {
		return r, err
	}
	return r, nil
}

// TickIn invokes region's HealthCheck ("" for the home) through the Lambda
// gateway, as that region's scheduler would for the scheduled time t, and
// decodes its result. It does not wait for the check's metrics.
func (s *Stack) TickIn(ctx context.Context, region string, t time.Time) (check.Result, error) {
	ev, _ := json.Marshal(check.Event{ScheduledTime: t.UTC().Format(time.RFC3339)})
	payload, err := s.InvokeHealthCheck(ctx, region, ev)
	if err != nil {
		return check.Result{}, err
	}
	return decodeResult(payload)
}

// decodeResult reads a HealthCheck answer: a check.Result, or the runtime's
// error document as ErrFunctionFailed.
func decodeResult(payload []byte) (check.Result, error) {
	var r check.Result
	if bytes.Contains(payload, []byte(`"errorType"`)) {
		return r, fmt.Errorf("%w: %s", ErrFunctionFailed, abbreviateTo(string(payload), 2000))
	}
	if err := json.Unmarshal(payload, &r); err != nil {
		return r, fmt.Errorf("localrun: decode healthcheck result: %w: %s", err, abbreviate(string(payload)))
	}
	return r, nil
}

// Bridge sends a control request to the demo bridge (e.g. /fault).
func (s *Stack) Bridge(ctx context.Context, path string, body any) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.BridgeURL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("localrun: bridge %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("localrun: bridge %s: status %d: %s", path, resp.StatusCode, msg)
	}
	return nil
}

// Record reads an integration's stored record back from the emulator.
func (s *Stack) Record(ctx context.Context, integration string) (health.Record, error) {
	return store.New(s.Clients.DynamoDB, TableName).Get(ctx, integration)
}

// Demo is the scenario `make run` plays: healthy start, a fault in a
// critical component, three failures, recovery with a visible backoff, and
// the return to ACTIVE. It writes a narrated timeline to w and returns an
// error if any step does not behave as it should.
func (s *Stack) Demo(ctx context.Context, w io.Writer) error {
	const integ = "agent-bridge"
	// Ticks replay the last few minutes, one a minute, so the report's 1 h
	// window holds them.
	base := time.Now().UTC().Truncate(time.Minute).Add(-10 * time.Minute)
	n := 0
	tick := func(note string) (check.Result, error) {
		n++
		t := base.Add(time.Duration(n) * time.Minute)
		r, err := s.Tick(ctx, t)
		if err != nil {
			return r, err
		}
		printTick(w, n, t, note, r)
		printAlerting(w, r.Alerting)
		return r, nil
	}
	expect := func(r check.Result, state health.State, failures int) error {
		for _, ir := range r.Integrations {
			if ir.Name == integ {
				if ir.State != state || ir.ConsecutiveFailures != failures {
					return fmt.Errorf("localrun: tick %d: %s is %s with %d consecutive failures; want %s with %d", n, integ, ir.State, ir.ConsecutiveFailures, state, failures)
				}
				return nil
			}
		}
		return fmt.Errorf("localrun: tick %d: %s missing from the result", n, integ)
	}

	fmt.Fprintf(w, "Vigil local run: moto at %s, demo bridge at %s, functions under the Runtime Interface Emulator.\n", s.Moto.Endpoint, s.BridgeURL)
	fmt.Fprintf(w, "Ticks are EventBridge Scheduler times one minute apart, delivered back to back (accelerated clock).\n\n")
	rec, err := s.Record(ctx, integ)
	if err == nil || !strings.Contains(err.Error(), "not found") {
		return fmt.Errorf("localrun: expected no record before the first check, got %+v, %v", rec.State, err)
	}
	fmt.Fprintf(w, "Before the first check: %s has no record: %s\n\n", integ, health.Uninitialized)

	r, err := tick("bridge still starting up")
	if err != nil {
		return err
	}
	if err := expect(r, health.Initializing, 1); err != nil {
		return err
	}
	if r, err = tick("bridge ready"); err != nil {
		return err
	}
	if err := expect(r, health.Active, 0); err != nil {
		return err
	}
	if r, err = tick("steady state"); err != nil {
		return err
	}
	if err := expect(r, health.Active, 0); err != nil {
		return err
	}

	fmt.Fprintf(w, ">>> fault injected: orchestrator (critical) goes down; the bridge will refuse the first recovery webhook\n\n")
	if err := s.Bridge(ctx, "/fault", map[string]any{"component": "orchestrator", "fault": "down"}); err != nil {
		return err
	}
	if err := s.Bridge(ctx, "/fault", map[string]any{"component": "*", "fault": "resist", "count": 1}); err != nil {
		return err
	}
	var third time.Time
	for i := 1; i <= 3; i++ {
		third = time.Now()
		if r, err = tick(fmt.Sprintf("failure %d", i)); err != nil {
			return err
		}
		if err := expect(r, health.Failed, i); err != nil {
			return err
		}
	}
	exec := r.Integrations[0].RecoveryExecution
	if !r.Integrations[0].RecoveryDue {
		return fmt.Errorf("localrun: recovery not due after 3 consecutive failures")
	}
	fmt.Fprintf(w, "Recovery due after the 3rd consecutive failure: execution %q (started: %v)\n", exec, r.Integrations[0].RecoveryStarted)

	// The same tick delivered again (at-least-once delivery) changes nothing.
	dup, err := s.Tick(ctx, base.Add(time.Duration(n)*time.Minute))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Tick %d delivered a second time: outcome %q (counted once)\n", n, dup.Integrations[0].Outcome)
	if dup.Integrations[0].Outcome != "duplicate" {
		return fmt.Errorf("localrun: duplicate tick was %q", dup.Integrations[0].Outcome)
	}
	// Events that are no check change nothing, and say why.
	refused, err := s.Invoke(ctx, HealthCheck, []byte(`{"scheduled_time":"9999-12-31T00:00:00Z"}`))
	if err != nil {
		return err
	}
	var fnErr struct{ ErrorMessage string }
	if json.Unmarshal(refused, &fnErr) != nil || !strings.Contains(fnErr.ErrorMessage, "refused event") {
		return fmt.Errorf("localrun: a far-future tick was not refused: %s", refused)
	}
	fmt.Fprintf(w, "A tick of 9999-12-31 is refused, nothing probed or written: %s\n\n", fnErr.ErrorMessage)

	hist, err := s.waitExecution(ctx, exec, 3*time.Minute)
	if err != nil {
		return err
	}
	// The Recovery function's metrics travel through its log output.
	if err := s.WaitMetric(ctx, metrics.MetricRecoverySucceeded); err != nil {
		return err
	}
	if err := printTimeline(w, hist, third); err != nil {
		return err
	}

	if r, err = tick("after recovery"); err != nil {
		return err
	}
	if err := expect(r, health.Active, 0); err != nil {
		return err
	}
	rec, err = s.Record(ctx, integ)
	if err != nil {
		return err
	}
	printRecord(w, rec)
	if err := s.printStored(ctx, w, integ); err != nil {
		return err
	}
	if err := s.printMetrics(ctx, w, integ); err != nil {
		return err
	}
	if err := s.printAlarms(ctx, w); err != nil {
		return err
	}
	return s.printNotifications(ctx, w)
}

// printAlerting narrates a check's convergence of the alarms and dashboard,
// when it made one.
func printAlerting(w io.Writer, a *check.AlertingResult) {
	if a == nil {
		return
	}
	counts := map[string]int{}
	for _, c := range a.Changes {
		counts[c.Op+" "+c.Kind]++
	}
	var parts []string
	for _, k := range []string{"create alarm", "update alarm", "delete alarm", "create dashboard", "update dashboard"} {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s ×%d", k, counts[k]))
		}
	}
	fmt.Fprintf(w, "        alerting: the document's plan %s (%d alarms) was not the one applied: %s; recorded %v", a.Plan, a.Alarms, strings.Join(parts, ", "), a.Recorded)
	if a.Error != "" {
		fmt.Fprintf(w, "; error: %s", abbreviate(a.Error))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)
}

// printAlarms lists the alarms and the dashboard the HealthCheck function
// made on moto from the document (moto does not evaluate alarms: their
// definitions are what there is to see).
func (s *Stack) printAlarms(ctx context.Context, w io.Writer) error {
	if s.StackName == "" {
		return nil
	}
	p := cloudwatch.NewDescribeAlarmsPaginator(s.Clients.CloudWatch, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String(s.StackName + "/")})
	fmt.Fprintf(w, "CloudWatch alarms made from the document (moto keeps their definitions; it does not evaluate them):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("localrun: list alarms: %w", err)
		}
		for _, a := range page.MetricAlarms {
			n++
			stat := string(a.Statistic)
			if a.ExtendedStatistic != nil {
				stat = *a.ExtendedStatistic
			}
			topic := "—"
			if len(a.AlarmActions) > 0 {
				topic = a.AlarmActions[0][strings.LastIndex(a.AlarmActions[0], ":")+1:]
			}
			fmt.Fprintf(tw, "  %s\t%s %s/%ds %s %v\t→ %s\n", aws.ToString(a.AlarmName), aws.ToString(a.MetricName), stat, aws.ToInt32(a.Period),
				comparison(a.ComparisonOperator), aws.ToFloat64(a.Threshold), topic)
		}
	}
	tw.Flush()
	d, err := s.Clients.CloudWatch.GetDashboard(ctx, &cloudwatch.GetDashboardInput{DashboardName: aws.String(s.StackName)})
	if err != nil {
		return fmt.Errorf("localrun: dashboard: %w", err)
	}
	var body struct {
		Widgets []struct {
			Properties struct {
				Title string `json:"title"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(d.DashboardBody)), &body); err != nil {
		return fmt.Errorf("localrun: dashboard body: %w", err)
	}
	var titles []string
	for _, wd := range body.Widgets {
		if wd.Properties.Title != "" {
			titles = append(titles, wd.Properties.Title)
		}
	}
	fmt.Fprintf(w, "%d alarms; dashboard %q with %d widgets: %s\n\n", n, s.StackName, len(body.Widgets), strings.Join(titles, " · "))
	return nil
}

func comparison(op cwtypes.ComparisonOperator) string {
	switch op {
	case cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold:
		return "≥"
	case cwtypes.ComparisonOperatorGreaterThanThreshold:
		return ">"
	case cwtypes.ComparisonOperatorLessThanThreshold:
		return "<"
	case cwtypes.ComparisonOperatorLessThanOrEqualToThreshold:
		return "≤"
	}
	return string(op)
}

func printTick(w io.Writer, n int, t time.Time, note string, r check.Result) {
	for _, ir := range r.Integrations {
		fmt.Fprintf(w, "tick %d  %s  (%s)  %s: %s  score %.1f  consecutive_failures %d  [%s]\n",
			n, t.Format("15:04:05Z"), note, ir.Name, ir.State, ir.Score, ir.ConsecutiveFailures, ir.Outcome)
		for _, tr := range ir.Transitions {
			fmt.Fprintf(w, "        transition %s -> %s: %s\n", tr.From, tr.To, tr.Cause)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range ir.Components {
			status := "healthy"
			if !c.Healthy {
				status = "UNHEALTHY"
			}
			crit := ""
			if !c.Critical {
				crit = " (non-critical)"
			}
			fmt.Fprintf(tw, "        %s%s\t%s\t%.0f ms\tscore %.0f\t%s\n", c.Name, crit, status, c.LatencyMs, c.Score, c.Error)
		}
		tw.Flush()
		if ir.RecoveryDue {
			fmt.Fprintf(w, "        recovery due -> StartExecution %s\n", ir.RecoveryExecution)
		}
	}
	fmt.Fprintf(w, "        metrics: %d datums in %d EMF log line(s), invocation %.0f ms\n\n", r.MetricDatums, r.MetricDocuments, r.DurationMs)
}

// waitExecution waits for the named recovery execution to finish and returns
// its history.
func (s *Stack) waitExecution(ctx context.Context, name string, limit time.Duration) ([]sfntypes.HistoryEvent, error) {
	arn := strings.Replace(s.StateMachineARN, ":stateMachine:", ":execution:", 1) + ":" + name
	deadline := time.Now().Add(limit)
	for {
		d, err := s.Clients.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			return nil, fmt.Errorf("localrun: describe execution %s: %w", name, err)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			h, err := s.Clients.SFN.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
			if err != nil {
				return nil, fmt.Errorf("localrun: execution history: %w", err)
			}
			if d.Status != sfntypes.ExecutionStatusSucceeded {
				return h.Events, fmt.Errorf("localrun: recovery execution ended %s", d.Status)
			}
			return h.Events, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("localrun: recovery execution still running after %s", limit)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// printTimeline narrates the execution from its history: attempts, their
// results, and the waits between them.
func printTimeline(w io.Writer, events []sfntypes.HistoryEvent, third time.Time) error {
	if len(events) == 0 {
		return fmt.Errorf("localrun: empty execution history")
	}
	start := aws.ToTime(events[0].Timestamp)
	fmt.Fprintf(w, "Recovery execution (Step Functions on moto, Recovery function under RIE):\n")
	fmt.Fprintf(w, "  +%5.1fs  execution started, %.1fs after the check that found the 3rd failure began (target < 60 s)\n", 0.0, start.Sub(third).Seconds())
	var waitStart time.Time
	for _, e := range events {
		at := aws.ToTime(e.Timestamp).Sub(start).Seconds()
		switch e.Type {
		case sfntypes.HistoryEventTypeTaskStateEntered:
			fmt.Fprintf(w, "  +%5.1fs  %s\n", at, aws.ToString(e.StateEnteredEventDetails.Name))
		case sfntypes.HistoryEventTypeTaskStateExited:
			if d := e.StateExitedEventDetails; d != nil {
				fmt.Fprintf(w, "  +%5.1fs    -> %s\n", at, attemptSummary(aws.ToString(d.Output)))
			}
		case sfntypes.HistoryEventTypeWaitStateEntered:
			waitStart = aws.ToTime(e.Timestamp)
		case sfntypes.HistoryEventTypeWaitStateExited:
			fmt.Fprintf(w, "  +%5.1fs  waited %.1fs (backoff)\n", at, aws.ToTime(e.Timestamp).Sub(waitStart).Seconds())
		case sfntypes.HistoryEventTypeExecutionSucceeded:
			fmt.Fprintf(w, "  +%5.1fs  execution SUCCEEDED\n\n", at)
		case sfntypes.HistoryEventTypeExecutionFailed:
			fmt.Fprintf(w, "  +%5.1fs  execution FAILED\n\n", at)
		}
	}
	return nil
}

// attemptSummary renders the Recovery function's answer kept by the Attempt
// state ($.result.report).
func attemptSummary(output string) string {
	var out struct {
		Attempt int `json:"attempt"`
		Result  struct {
			Healthy bool `json:"healthy"`
			Report  struct {
				ActionError string   `json:"action_error"`
				ProbeErrors []string `json:"probe_errors"`
			} `json:"report"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(output), &out); err != nil {
		return abbreviate(output)
	}
	if out.Result.Healthy {
		return fmt.Sprintf("attempt %d: webhook ok, re-probe healthy", out.Attempt)
	}
	action := "webhook ok"
	if e := out.Result.Report.ActionError; e != "" {
		action = "webhook failed: " + e
	}
	return fmt.Sprintf("attempt %d: %s; re-probe unhealthy: %s", out.Attempt, action, strings.Join(out.Result.Report.ProbeErrors, "; "))
}

func abbreviate(s string) string { return abbreviateTo(s, 160) }

// abbreviateTo cuts s to n characters (runes, so no character is split).
func abbreviateTo(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func printRecord(w io.Writer, r health.Record) {
	fmt.Fprintf(w, "Final record of %s: %s, score %.1f, version %d\n", r.Integration, r.State, r.Score, r.Version)
	fmt.Fprintf(w, "  health_checks_performed %d  consecutive_failures %d  consecutive_successes %d\n", r.HealthChecksPerformed, r.ConsecutiveFailures, r.ConsecutiveSuccesses)
	fmt.Fprintf(w, "  total_initializations %d  successful_initializations %d  failed_initializations %d\n", r.TotalInitializations, r.SuccessfulInitializations, r.FailedInitializations)
	fmt.Fprintf(w, "  recovery_attempts %d  successful_recoveries %d  total_recoveries %d  last recovery outcome %q\n", r.RecoveryAttempts, r.SuccessfulRecoveries, r.TotalRecoveries, r.Recovery.LastOutcome)
	fmt.Fprintf(w, "  state history:\n")
	for _, t := range r.History {
		fmt.Fprintf(w, "    %s  %s -> %s  %s\n", t.At.Format(time.RFC3339), t.From, t.To, t.Cause)
	}
	fmt.Fprintln(w)
}

// printStored shows the raw state item as DynamoDB holds it.
func (s *Stack) printStored(ctx context.Context, w io.Writer, integ string) error {
	out, err := s.Clients.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(TableName),
		Key: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "STATE"},
			"sk": &ddbtypes.AttributeValueMemberS{Value: integ},
		},
	})
	if err != nil {
		return fmt.Errorf("localrun: read state item: %w", err)
	}
	var names []string
	for k := range out.Item {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "DynamoDB item (table %s, pk=STATE, sk=%s) has %d attributes: %s\n\n", TableName, integ, len(names), strings.Join(names, ", "))
	return nil
}

// printMetrics reads back from CloudWatch what the functions wrote as EMF
// (extracted locally, as CloudWatch Logs does on AWS).
func (s *Stack) printMetrics(ctx context.Context, w io.Writer, integ string) error {
	list, err := s.Clients.CloudWatch.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String("Vigil")})
	if err != nil {
		return fmt.Errorf("localrun: list metrics: %w", err)
	}
	seen := map[string]bool{}
	for _, m := range list.Metrics {
		seen[aws.ToString(m.MetricName)] = true
	}
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "CloudWatch namespace Vigil now has %d metric names, extracted from the functions' EMF log lines: %s\nPer-minute maxima read back with GetMetricData, oldest first:\n", len(names), strings.Join(names, ", "))
	var queries []cwtypes.MetricDataQuery
	for i, name := range []string{"State", "HealthScore", "ConsecutiveFailures"} {
		queries = append(queries, cwtypes.MetricDataQuery{
			Id: aws.String(fmt.Sprintf("m%d", i)),
			MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{Namespace: aws.String("Vigil"), MetricName: aws.String(name),
					Dimensions: []cwtypes.Dimension{{Name: aws.String("Integration"), Value: aws.String(integ)}}},
				Period: aws.Int32(60), Stat: aws.String("Maximum"),
			},
			Label: aws.String(name),
		})
	}
	now := time.Now()
	data, err := s.Clients.CloudWatch.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		MetricDataQueries: queries, ScanBy: cwtypes.ScanByTimestampAscending, StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(time.Hour)),
	})
	if err != nil {
		return fmt.Errorf("localrun: get metric data: %w", err)
	}
	for _, r := range data.MetricDataResults {
		fmt.Fprintf(w, "  %-20s %v\n", aws.ToString(r.Label), r.Values)
	}
	fmt.Fprintln(w)
	return nil
}

// notification is one SNS notification as the local stack's queue received
// it: the topic it reached, its severity attribute and the event.
type notification struct {
	Topic                              string // the topic's name (WarningTopic or CriticalTopic)
	Severity                           string // the "severity" message attribute
	Kind, Integration, From, To, Cause string
	Attempt                            int
}

// notifications drains the SQS queue subscribed to both topics and returns
// what it held, oldest first.
func (s *Stack) notifications(ctx context.Context) ([]notification, error) {
	q := sqs.NewFromConfig(s.Clients.Config)
	var out []notification
	for {
		got, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(s.QueueURL), MaxNumberOfMessages: 10})
		if err != nil {
			return out, fmt.Errorf("localrun: receive notifications: %w", err)
		}
		if len(got.Messages) == 0 {
			return out, nil
		}
		for _, m := range got.Messages {
			var envelope struct {
				TopicArn          string
				Message           string
				MessageAttributes map[string]struct{ Value string }
			}
			var n notification
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &envelope); err != nil {
				return out, fmt.Errorf("localrun: notification %s: %w", abbreviate(aws.ToString(m.Body)), err)
			}
			_ = json.Unmarshal([]byte(envelope.Message), &n)
			n.Topic = envelope.TopicArn[strings.LastIndex(envelope.TopicArn, ":")+1:]
			n.Severity = envelope.MessageAttributes["severity"].Value
			out = append(out, n)
			if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(s.QueueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return out, fmt.Errorf("localrun: delete notification: %w", err)
			}
		}
	}
}

// printNotifications prints every notification with the topic it reached:
// routing by severity is visible, each on its own line.
func (s *Stack) printNotifications(ctx context.Context, w io.Writer) error {
	ns, err := s.notifications(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "SNS notifications by severity (topics %s and %s, read back through one SQS queue subscribed to both):\n", WarningTopic, CriticalTopic)
	for _, n := range ns {
		fmt.Fprintf(w, "  %-8s %-20s  %-20s %s %s→%s attempt %d %s\n", n.Severity, n.Topic, n.Kind, n.Integration, n.From, n.To, n.Attempt, abbreviate(n.Cause))
	}
	return nil
}
