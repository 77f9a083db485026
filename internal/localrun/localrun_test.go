package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bridge := demobridge.New(demobridge.Options{InitChecks: 1})
	s, err := Start(ctx, Options{Dir: t.TempDir(), Functions: fns, Bridge: bridge})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for name, f := range s.Functions {
				t.Logf("%s log:\n%s", name, f.Log())
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
	s := startStack(t)
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
		// SNS notifications published by the functions, read back from
		// the SQS queue subscribed to the topic.
		"state_change         agent-bridge ACTIVE→FAILED",
		"recovery_started",
		"recovery_failed",
		"recovery_succeeded   agent-bridge FAILED→ACTIVE",
		// Metrics the functions wrote as EMF, extracted and read back.
		"extracted from the functions' EMF log lines",
		"RecoverySucceeded",
		"State                [1 2 2 4 4 4 2]",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q", want)
		}
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
