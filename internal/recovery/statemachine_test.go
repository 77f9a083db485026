package recovery

import (
	"encoding/json"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/vigil-monitor/vigil/internal/awsenv"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/execution"
	"github.com/vigil-monitor/vigil/internal/health"
)

// The state machine tests run the real definition on moto, each in a region
// of its own (see ownRegion), so they can run in parallel.

// moto's Lambda tasks cannot raise errors (not even for a missing function),
// so the Catch paths are pinned by TestDefinitionShape instead.

// newMachine creates, in a fresh region, the recovery function and a state
// machine from statemachine/recovery.asl.json invoking it. It returns the
// region's clients, the region and the state machine's ARN.
func newMachine(t *testing.T) (*awsenv.Clients, string, string) {
	t.Helper()
	return newMachineWith(t, func(def string) string { return def })
}

// newMachineWith is newMachine with the definition changed by patch first.
func newMachineWith(t *testing.T, patch func(string) string) (*awsenv.Clients, string, string) {
	t.Helper()
	clients, region := ownRegion(t)
	ctx := testCtx(t, time.Minute)
	raw, err := os.ReadFile(definitionPath)
	if err != nil {
		t.Fatal(err)
	}
	def := patch(string(raw))
	role := testRole(t)
	fn := createFunction(t, ctx, lambda.NewFromConfig(clients.Config), "vigil-recovery", role)
	out, err := clients.SFN.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String("vigil-recovery"),
		Definition: aws.String(strings.ReplaceAll(string(def), "${RecoveryFunctionArn}", fn)),
		RoleArn:    aws.String(role),
		Type:       sfntypes.StateMachineTypeStandard,
	})
	if err != nil {
		t.Fatalf("create state machine: %v", err)
	}
	return clients, region, aws.ToString(out.StateMachineArn)
}

// finished is a finished execution and its history.
type finished struct {
	status sfntypes.ExecutionStatus
	error  string
	events []sfntypes.HistoryEvent
}

// run queues the function's results, runs one execution to its end and
// returns its history. It also checks that the HealthCheck's starter reads
// the end the way Step Functions reports it, so a check can close an
// incident whose execution ended unrecorded.
func run(t *testing.T, in execution.ExecutionInput, results ...string) finished {
	t.Helper()
	return runOn(t, newMachine, in, results...)
}

func runOn(t *testing.T, machine func(*testing.T) (*awsenv.Clients, string, string), in execution.ExecutionInput, results ...string) finished {
	t.Helper()
	clients, region, smARN := machine(t)
	client := clients.SFN
	ctx := testCtx(t, 2*time.Minute)
	if len(results) > 0 {
		queueResults(t, ctx, region, results...)
	}
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	name := uniqueName(t, "exec")
	start, err := client.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(smARN),
		Name:            aws.String(name),
		Input:           aws.String(string(body)),
	})
	if err != nil {
		t.Fatal(err)
	}
	var ex finished
	for {
		out, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: start.ExecutionArn})
		if err != nil {
			t.Fatal(err)
		}
		if out.Status != sfntypes.ExecutionStatusRunning {
			ex.status, ex.error = out.Status, aws.ToString(out.Error)
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("execution still running: %v", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	p := sfn.NewGetExecutionHistoryPaginator(client, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ex.events = append(ex.events, page.Events...)
	}
	ended, end, err := execution.NewStarter(client, smARN).Ended(ctx, name)
	if err != nil || !ended || string(end) != string(ex.status) {
		t.Errorf("starter reads the execution as ended %v %q (%v), Step Functions says %s", ended, end, err, ex.status)
	}
	return ex
}

// entered counts how often the named state was entered.
func (ex finished) entered(state string) int {
	n := 0
	for _, e := range ex.events {
		if d := e.StateEnteredEventDetails; d != nil && aws.ToString(d.Name) == state {
			n++
		}
	}
	return n
}

// waits returns the duration of every Wait state, entered to exited.
func (ex finished) waits() []time.Duration {
	var out []time.Duration
	var in time.Time
	for _, e := range ex.events {
		switch e.Type {
		case sfntypes.HistoryEventTypeWaitStateEntered:
			in = aws.ToTime(e.Timestamp)
		case sfntypes.HistoryEventTypeWaitStateExited:
			out = append(out, aws.ToTime(e.Timestamp).Sub(in))
		}
	}
	return out
}

// payloads returns the Payload of every Lambda task scheduled, in order.
func (ex finished) payloads(t *testing.T) []Event {
	t.Helper()
	var out []Event
	for _, e := range ex.events {
		if d := e.TaskScheduledEventDetails; d != nil {
			var p struct{ Payload Event }
			if err := json.Unmarshal([]byte(aws.ToString(d.Parameters)), &p); err != nil {
				t.Fatalf("task parameters: %v", err)
			}
			out = append(out, p.Payload)
		}
	}
	return out
}

// checkWaits asserts the measured waits (moto's own history timestamps)
// against the wanted seconds: never 0.1 s short, and less than 2 s over, so a
// doubled delay (2 s → 4 s) is caught while a busy machine is tolerated.
func checkWaits(t *testing.T, got []time.Duration, want []int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("waits = %v, want %d waits of %v s", got, len(want), want)
	}
	for i, w := range want {
		lo := time.Duration(w)*time.Second - 100*time.Millisecond
		hi := time.Duration(w)*time.Second + 1900*time.Millisecond
		if got[i] < lo || got[i] > hi {
			t.Errorf("wait %d lasted %v, want about %d s (%v..%v)", i+1, got[i], w, lo, hi)
		}
	}
}

func input(maxAttempts int, delays ...int) execution.ExecutionInput {
	return execution.ExecutionInput{IncidentID: "bridge-1700000000", Integration: "bridge", Attempt: 1, MaxAttempts: maxAttempts, Delays: delays}
}

func TestStateMachineRecoversAtFirstAttempt(t *testing.T) {
	t.Parallel()
	ex := run(t, input(3, 1, 2), `{"healthy":true,"attempt":1}`)
	if ex.status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("status = %s (%s), want SUCCEEDED", ex.status, ex.error)
	}
	if n := ex.entered("Attempt"); n != 1 {
		t.Errorf("Attempt entered %d times, want 1", n)
	}
	if w := ex.waits(); len(w) != 0 {
		t.Errorf("waits = %v, want none", w)
	}
	ps := ex.payloads(t)
	want := Event{Phase: PhaseAttempt, IncidentID: "bridge-1700000000", Integration: "bridge", Attempt: 1, MaxAttempts: 3}
	if len(ps) != 1 || ps[0].Phase != want.Phase || ps[0].IncidentID != want.IncidentID || ps[0].Attempt != 1 || ps[0].MaxAttempts != 3 || ps[0].Integration != "bridge" {
		t.Errorf("function payloads = %+v, want [%+v]", ps, want)
	}
}

func TestStateMachineRecoversAtThirdAttemptAfterBackoff(t *testing.T) {
	t.Parallel()
	ex := run(t, input(3, 1, 2),
		`{"healthy":false,"attempt":1}`, `{"healthy":false,"attempt":2}`, `{"healthy":true,"attempt":3}`)
	if ex.status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("status = %s (%s), want SUCCEEDED", ex.status, ex.error)
	}
	if n := ex.entered("Attempt"); n != 3 {
		t.Errorf("Attempt entered %d times, want 3", n)
	}
	if n := ex.entered("Exhausted"); n != 0 {
		t.Errorf("Exhausted entered %d times, want 0", n)
	}
	checkWaits(t, ex.waits(), []int{1, 2})
	var attempts []int
	for _, p := range ex.payloads(t) {
		attempts = append(attempts, p.Attempt)
	}
	if !slices.Equal(attempts, []int{1, 2, 3}) {
		t.Errorf("attempt numbers sent = %v, want [1 2 3]", attempts)
	}
}

func TestStateMachineExhaustsAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	ex := run(t, input(3, 1, 1),
		`{"healthy":false,"attempt":1}`, `{"healthy":false,"attempt":2}`, `{"healthy":false,"attempt":3}`)
	if ex.status != sfntypes.ExecutionStatusFailed || ex.error != "Vigil.RecoveryExhausted" {
		t.Fatalf("status = %s, error %q; want FAILED with Vigil.RecoveryExhausted", ex.status, ex.error)
	}
	if n := ex.entered("Attempt"); n != 3 {
		t.Errorf("Attempt entered %d times, want max_attempts = 3", n)
	}
	if n := ex.entered("Exhausted"); n != 1 {
		t.Errorf("Exhausted entered %d times, want 1", n)
	}
	ps := ex.payloads(t)
	if len(ps) != 4 || ps[3].Phase != PhaseExhausted || ps[3].Attempt != 3 || ps[3].IncidentID != "bridge-1700000000" {
		t.Errorf("function payloads = %+v, want three attempts then exhausted at attempt 3", ps)
	}
	checkWaits(t, ex.waits(), []int{1, 1})
}

// A function that answers "unhealthy" forever cannot extend the loop: the
// count is the state machine's.
func TestStateMachineIgnoresTheFunctionsAttemptNumber(t *testing.T) {
	t.Parallel()
	ex := run(t, input(2, 1), `{"healthy":false,"attempt":0}`, `{"healthy":false,"attempt":0}`)
	if ex.status != sfntypes.ExecutionStatusFailed || ex.error != "Vigil.RecoveryExhausted" {
		t.Fatalf("status = %s, error %q; want FAILED with Vigil.RecoveryExhausted", ex.status, ex.error)
	}
	if n := ex.entered("Attempt"); n != 2 {
		t.Errorf("Attempt entered %d times, want 2", n)
	}
}

func TestStateMachineCapsDelaysAtMaxDelay(t *testing.T) {
	t.Parallel()
	cfg := config.Recovery{MaxAttempts: 4, BaseDelay: config.Duration(time.Second), MaxDelay: config.Duration(2 * time.Second)}
	rec := health.Record{Integration: "bridge", Recovery: health.RecoveryStatus{IncidentID: "bridge-1700000060", ExecutionName: "bridge-1700000060"}}
	in := execution.NewExecutionInput(rec, cfg, nil)
	if !slices.Equal(in.Delays, []int{1, 2, 2}) {
		t.Fatalf("delays = %v, want [1 2 2]", in.Delays)
	}
	ex := run(t, in,
		`{"healthy":false,"attempt":1}`, `{"healthy":false,"attempt":2}`, `{"healthy":false,"attempt":3}`, `{"healthy":true,"attempt":4}`)
	if ex.status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("status = %s (%s), want SUCCEEDED", ex.status, ex.error)
	}
	if n := ex.entered("Attempt"); n != 4 {
		t.Errorf("Attempt entered %d times, want 4", n)
	}
	checkWaits(t, ex.waits(), []int{1, 2, 2})
}

// The whole execution is bounded: one that outlives the definition's
// TimeoutSeconds (cut to 2 s here, with 5 s waits) ends TIMED_OUT, and the
// starter reads it so; the HealthCheck then closes its incident.
func TestStateMachineTimesOut(t *testing.T) {
	t.Parallel()
	short := func(t *testing.T) (*awsenv.Clients, string, string) {
		return newMachineWith(t, func(def string) string {
			out := strings.Replace(def, `"TimeoutSeconds": 6825,`, `"TimeoutSeconds": 2,`, 1)
			if out == def {
				t.Fatal("the definition's TimeoutSeconds was not found to patch")
			}
			return out
		})
	}
	ex := runOn(t, short, input(3, 5, 5), `{"healthy":false,"attempt":1}`, `{"healthy":false,"attempt":2}`)
	if ex.status != sfntypes.ExecutionStatusTimedOut {
		t.Fatalf("status = %s (%s), want TIMED_OUT", ex.status, ex.error)
	}
}

// An execution an operator stops reads ABORTED, and one Step Functions does
// not know reads Missing: neither leaves a record waiting.
func TestStarterReadsStoppedAndUnknownExecutions(t *testing.T) {
	t.Parallel()
	clients, region, smARN := newMachine(t)
	ctx := testCtx(t, time.Minute)
	queueResults(t, ctx, region, `{"healthy":false,"attempt":1}`, `{"healthy":false,"attempt":2}`)
	body, err := json.Marshal(input(2, 3))
	if err != nil {
		t.Fatal(err)
	}
	name := uniqueName(t, "exec")
	start, err := clients.SFN.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Name: aws.String(name), Input: aws.String(string(body))})
	if err != nil {
		t.Fatal(err)
	}
	starter := execution.NewStarter(clients.SFN, smARN)
	if ended, _, err := starter.Ended(ctx, name); err != nil || ended {
		t.Fatalf("running execution: ended %v, %v", ended, err)
	}
	if _, err := clients.SFN.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: start.ExecutionArn}); err != nil {
		t.Fatal(err)
	}
	// moto stops the interpreter's worker at its next step and reports
	// ABORTED then; Step Functions does at once. Ask until it says so.
	for {
		ended, end, err := starter.Ended(ctx, name)
		if err != nil || ended && end != health.ExecutionAborted {
			t.Fatalf("stopped execution: ended %v %q, %v", ended, end, err)
		}
		if ended {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the stopped execution never read as ended")
		case <-time.After(200 * time.Millisecond):
		}
	}
	if ended, end, err := starter.Ended(ctx, "never-started"); err != nil || !ended || end != health.ExecutionMissing {
		t.Fatalf("unknown execution: ended %v %q, %v", ended, end, err)
	}
}
