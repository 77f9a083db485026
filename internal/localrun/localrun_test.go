package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/vigil-monitor/vigil/internal/check"
	"github.com/vigil-monitor/vigil/internal/demobridge"
	"github.com/vigil-monitor/vigil/internal/health"
)

func startStack(t *testing.T, fns ...string) *Stack {
	t.Helper()
	return startNamed(t, "", fns...)
}

// startNamed starts a stack whose HealthCheck converges alarms and a
// dashboard named after stack ("" for none).
func startNamed(t *testing.T, stack string, fns ...string) *Stack {
	t.Helper()
	return startWith(t, Options{Functions: fns, StackName: stack})
}

// startWith starts a stack of o with a demo bridge and its own directory,
// stopped when the test ends; on failure the test log gets every running
// function's log.
func startWith(t *testing.T, o Options) *Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bridge := demobridge.New(demobridge.Options{InitChecks: 1})
	o.Dir, o.Bridge = t.TempDir(), bridge
	s, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, region := range s.Regions() {
				for _, name := range []string{HealthCheck, Recovery, Status} {
					for i, f := range s.Instances(region, name) {
						t.Logf("%s in %s, instance %d, log:\n%s", name, region, i, f.Log())
					}
				}
			}
		}
		bridge.Close()
		s.Stop()
	})
	return s
}

// The real HealthCheck and Recovery bootstraps under the Runtime Interface
// Emulator answer the sample events in events/ as Lambda would.
func TestBootstrapsAnswerSampleEvents(t *testing.T) {
	s := startStack(t, "healthcheck", "recovery")
	ctx := context.Background()
	invoke := func(fn, file string) []byte {
		t.Helper()
		ev, err := os.ReadFile("../../events/" + file)
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Invoke(ctx, fn, ev)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	decode := func(b []byte) check.Result {
		t.Helper()
		var r check.Result
		if err := json.Unmarshal(b, &r); err != nil || len(r.Integrations) != 1 {
			t.Fatalf("healthcheck answered %s (%v)", b, err)
		}
		return r
	}

	r := decode(invoke(HealthCheck, "healthcheck-scheduler.json"))
	ir := r.Integrations[0]
	if ir.Name != "agent-bridge" || ir.State != health.Initializing || ir.Outcome != "applied" || len(ir.Components) != 6 {
		t.Fatalf("first check: %+v", ir)
	}
	// Metrics leave as EMF log lines: no CloudWatch request.
	if r.MetricDocuments < 1 || r.AWSRequests["DynamoDB.BatchGetItem"] != 1 || r.AWSRequests["DynamoDB.PutItem"] != 1 || r.AWSRequests["CloudWatch.PutMetricData"] != 0 {
		t.Fatalf("requests: %d metric documents, %v", r.MetricDocuments, r.AWSRequests)
	}
	// The classic EventBridge event carries the same scheduled time: the
	// same tick, counted once.
	r = decode(invoke(HealthCheck, "healthcheck-eventbridge.json"))
	if r.Integrations[0].Outcome != "duplicate" {
		t.Fatalf("classic event for the same minute: %+v", r.Integrations[0])
	}
	rec, err := s.Record(ctx, "agent-bridge")
	if err != nil || rec.HealthChecksPerformed != 1 {
		t.Fatalf("stored: %d checks, %v", rec.HealthChecksPerformed, err)
	}

	// A manual check is keyed by the invocation time: a new tick, applied.
	r = decode(invoke(HealthCheck, "healthcheck-manual.json"))
	if r.Integrations[0].Outcome != "applied" {
		t.Fatalf("manual check: %+v", r.Integrations[0])
	}
	// An unknown integration is a function error that names it.
	out, err := s.Invoke(ctx, HealthCheck, []byte(`{"manual":true,"integrations":["no-such-bridge"]}`))
	if err != nil || !bytes.Contains(out, []byte("errorMessage")) || !bytes.Contains(out, []byte("no-such-bridge")) {
		t.Fatalf("unknown integration answered %s, %v", out, err)
	}
	// An event that is no check at all is refused, and changes nothing.
	out, err = s.Invoke(ctx, HealthCheck, []byte(`{}`))
	if err != nil || !bytes.Contains(out, []byte("refused event")) {
		t.Fatalf("{} answered %s, %v", out, err)
	}
	if rec, err := s.Record(ctx, "agent-bridge"); err != nil || rec.HealthChecksPerformed != 2 {
		t.Fatalf("stored after the refused event: %d checks, %v", rec.HealthChecksPerformed, err)
	}

	// The sample recovery event names an incident that is not current here:
	// refused with a clear error, nothing run.
	out = invoke(Recovery, "recovery-attempt.json")
	if !bytes.Contains(out, []byte("errorMessage")) || !bytes.Contains(out, []byte("agent-bridge-1795000000")) {
		t.Fatalf("recovery answered %s", out)
	}
}

// The local stand-in for CloudWatch Logs' extraction holds documents to the
// EMF specification: a malformed one is reported, not published.
func TestExtractorRefusesMalformedEMF(t *testing.T) {
	s := startStack(t, "status")
	w := s.metrics.wrap(io.Discard)
	good := `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"Vigil","Dimensions":[[]],"Metrics":[{"Name":"ExtractorProbe"}]}]},"ExtractorProbe":1}` + "\n"
	if _, err := io.WriteString(w, `{"level":"INFO","msg":"not EMF"}`+"\n"+good); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.metrics.waitDocuments(ctx, 1); err != nil {
		t.Fatal(err)
	}
	list, err := s.Clients.CloudWatch.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String("Vigil"), MetricName: aws.String("ExtractorProbe")})
	if err != nil || len(list.Metrics) != 1 {
		t.Fatalf("extracted metric not published: %v, %v", list, err)
	}
	bad := `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"Vigil","Dimensions":[["Integration"]],"Metrics":[{"Name":"M"}]}]},"M":1}` + "\n"
	if _, err := io.WriteString(w, bad); err != nil {
		t.Fatal(err)
	}
	if err := s.metrics.waitDocuments(ctx, 2); err == nil || !strings.Contains(err.Error(), `dimension "Integration"`) {
		t.Fatalf("malformed document: %v", err)
	}
}

// `make run`'s scenario end to end: the demo asserts every state on the way
// (INITIALIZING, ACTIVE, FAILED ×3, recovery with backoff, ACTIVE again).
func TestDemoScenario(t *testing.T) {
	s := startNamed(t, "vigil-local")
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := s.Demo(ctx, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"UNINITIALIZED -> INITIALIZING",
		"INITIALIZING -> ACTIVE",
		"ACTIVE -> FAILED",
		"recovery due -> StartExecution",
		`outcome "duplicate"`,
		"waited",
		"execution SUCCEEDED",
		"FAILED -> ACTIVE",
		"successful_recoveries 1",
		// Metrics the functions wrote as EMF, extracted and read back.
		"extracted from the functions' EMF log lines",
		"RecoverySucceeded",
		"State                [1 2 2 4 4 4 2]",
		// The document's alarms and dashboard, converged at the first
		// check and never again while it is unchanged.
		"alerting: the document's plan",
		"vigil-local/agent-bridge/consecutive-failures-critical",
		"vigil-local/agent-bridge/bridge-metrics/ErrorRatePercent-warning",
		`dashboard "vigil-local" with`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	// SNS notifications published by the functions, read back from the
	// SQS queue subscribed to both topics: each reached the topic of its
	// severity, the page for FAILED and its resolution on the critical one.
	for _, want := range []struct{ kind, change, severity, topic string }{
		{"state_change", "agent-bridge ACTIVE→FAILED", "critical", CriticalTopic},
		{"recovery_started", "agent-bridge FAILED→FAILED attempt 1", "warning", WarningTopic},
		{"recovery_failed", "agent-bridge FAILED→FAILED attempt 1", "warning", WarningTopic},
		{"recovery_succeeded", "agent-bridge FAILED→ACTIVE attempt 2", "critical", CriticalTopic},
	} {
		var found []string
		for line := range strings.Lines(text) {
			if f := strings.Fields(line); len(f) > 3 && f[2] == want.kind && strings.Contains(line, want.change) {
				found = append(found, line)
			}
		}
		if len(found) != 1 {
			t.Errorf("demo output has %d %s %s notification(s), want 1: %q", len(found), want.kind, want.change, found)
			continue
		}
		if f := strings.Fields(found[0]); f[0] != want.severity || f[1] != want.topic {
			t.Errorf("%s %s went to %s as %s, want %s as %s", want.kind, want.change, f[1], f[0], want.topic, want.severity)
		}
	}
	if n := strings.Count(text, "alerting: the document's plan"); n != 1 {
		t.Errorf("the plan converged %d times, want once (the document never changed)", n)
	}
	alarms, err := s.Clients.CloudWatch.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("vigil-local/agent-bridge/")})
	if err != nil {
		t.Fatal(err)
	}
	severityTopic := map[string]string{}
	for _, a := range alarms.MetricAlarms {
		name := aws.ToString(a.AlarmName)
		if len(a.AlarmActions) != 1 || !slices.Equal(a.AlarmActions, a.OKActions) {
			t.Errorf("%s: actions %v / OK %v", name, a.AlarmActions, a.OKActions)
			continue
		}
		sev := name[strings.LastIndex(name, "-")+1:]
		if sev == "warning" || sev == "critical" {
			severityTopic[sev+" "+a.AlarmActions[0]] = name
		}
	}
	if len(alarms.MetricAlarms) != 17 || severityTopic["warning "+s.WarningTopicARN] == "" || severityTopic["critical "+s.CriticalTopicARN] == "" || len(severityTopic) != 2 {
		t.Errorf("%d alarms; severity → topic %v", len(alarms.MetricAlarms), severityTopic)
	}
	rec, err := s.Record(ctx, "agent-bridge")
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != health.Active || rec.RecoveryAttempts != 2 || rec.SuccessfulRecoveries != 1 || rec.Recovery.LastOutcome != health.RecoverySucceeded {
		t.Fatalf("final record: %s, attempts %d, recoveries %d, outcome %q", rec.State, rec.RecoveryAttempts, rec.SuccessfulRecoveries, rec.Recovery.LastOutcome)
	}
	if t.Failed() {
		t.Log(text)
	}
}
