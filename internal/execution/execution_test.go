package execution

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/vigil-monitor/vigil/internal/awsenv"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
)

func dur(d time.Duration) config.Duration { return config.Duration(d) }

func TestNewExecutionInput(t *testing.T) {
	rec := health.Record{Integration: "bridge", Recovery: health.RecoveryStatus{IncidentID: "bridge-1700000000", ExecutionName: "bridge-1700000000"}}
	tests := []struct {
		name   string
		cfg    config.Recovery
		rand01 func() float64
		want   []int
	}{
		{"defaults", config.Recovery{MaxAttempts: 3, BaseDelay: dur(time.Second), MaxDelay: dur(30 * time.Second)}, nil, []int{1, 2}},
		{"doubling up to the cap", config.Recovery{MaxAttempts: 8, BaseDelay: dur(time.Second), MaxDelay: dur(30 * time.Second)}, nil, []int{1, 2, 4, 8, 16, 30, 30}},
		{"capped early", config.Recovery{MaxAttempts: 4, BaseDelay: dur(time.Second), MaxDelay: dur(2 * time.Second)}, nil, []int{1, 2, 2}},
		{"one attempt has no waits", config.Recovery{MaxAttempts: 1, BaseDelay: dur(time.Second), MaxDelay: dur(time.Minute)}, nil, []int{}},
		{"fractions round up", config.Recovery{MaxAttempts: 3, BaseDelay: dur(1500 * time.Millisecond), MaxDelay: dur(time.Minute)}, nil, []int{2, 3}},
		{"jitter low end", config.Recovery{MaxAttempts: 4, BaseDelay: dur(4 * time.Second), MaxDelay: dur(time.Minute), Jitter: true}, func() float64 { return 0 }, []int{2, 4, 8}},
		{"jitter high end", config.Recovery{MaxAttempts: 3, BaseDelay: dur(4 * time.Second), MaxDelay: dur(time.Minute), Jitter: true}, func() float64 { return 0.999 }, []int{4, 8}},
		{"jitter never below 1 s", config.Recovery{MaxAttempts: 2, BaseDelay: dur(time.Second), MaxDelay: dur(time.Minute), Jitter: true}, func() float64 { return 0 }, []int{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := NewExecutionInput(rec, tc.cfg, tc.rand01)
			if in.IncidentID != "bridge-1700000000" || in.Integration != "bridge" || in.Attempt != 1 || in.MaxAttempts != max(tc.cfg.MaxAttempts, 1) {
				t.Errorf("input = %+v", in)
			}
			if !slices.Equal(in.Delays, tc.want) {
				t.Errorf("delays = %v, want %v", in.Delays, tc.want)
			}
			b, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			var back map[string]any
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if _, ok := back["delays"].([]any); !ok {
				t.Errorf("delays encode as %v, want a JSON array", back["delays"])
			}
		})
	}
}

// starterMachine creates, in a region of its own, a state machine whose
// executions just wait, so they stay RUNNING for the test.
func starterMachine(t *testing.T) (*awsenv.Clients, string) {
	t.Helper()
	clients, _ := ownRegion(t)
	out, err := clients.SFN.CreateStateMachine(testCtx(t, 30*time.Second), &sfn.CreateStateMachineInput{
		Name:       aws.String(fmt.Sprintf("vigil-recovery-%d", machines.Add(1))),
		Definition: aws.String(`{"StartAt":"Hold","States":{"Hold":{"Type":"Wait","Seconds":600,"End":true}}}`),
		RoleArn:    aws.String(testRole(t)),
	})
	if err != nil {
		t.Fatalf("create state machine: %v", err)
	}
	return clients, aws.ToString(out.StateMachineArn)
}

func pendingRecord(name string) (health.Record, config.Integration) {
	id := name + "-1700000000"
	rec := health.Record{Integration: name, State: health.Failed, Recovery: health.RecoveryStatus{Pending: true, IncidentID: id, ExecutionName: health.ExecutionName(id)}}
	integ := config.Integration{Name: name, Recovery: &config.Recovery{
		Webhook:     &config.Webhook{URL: "https://ops.example.com/restart"},
		MaxAttempts: 3, BaseDelay: dur(time.Second), MaxDelay: dur(30 * time.Second),
	}}
	return rec, integ
}

func executions(t *testing.T, clients *awsenv.Clients, smARN string) []sfntypes.ExecutionListItem {
	t.Helper()
	out, err := clients.SFN.ListExecutions(testCtx(t, 30*time.Second), &sfn.ListExecutionsInput{StateMachineArn: aws.String(smARN)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Executions
}

func TestStarterDuplicateStartIsNotAnError(t *testing.T) {
	t.Parallel()
	clients, smARN := starterMachine(t)
	s := NewStarter(clients.SFN, smARN)
	rec, integ := pendingRecord("bridge")
	ctx := testCtx(t, time.Minute)

	started, err := s.Start(ctx, rec, integ)
	if err != nil || !started {
		t.Fatalf("first Start = %v, %v; want true, nil", started, err)
	}
	started, err = s.Start(ctx, rec, integ)
	if err != nil || started {
		t.Fatalf("second Start = %v, %v; want false, nil", started, err)
	}
	exs := executions(t, clients, smARN)
	if len(exs) != 1 || aws.ToString(exs[0].Name) != rec.Recovery.ExecutionName {
		t.Fatalf("executions = %d (%v), want one named %s", len(exs), exs, rec.Recovery.ExecutionName)
	}
	desc, err := clients.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: exs[0].ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	var in ExecutionInput
	if err := json.Unmarshal([]byte(aws.ToString(desc.Input)), &in); err != nil {
		t.Fatal(err)
	}
	if in.IncidentID != rec.Recovery.IncidentID || in.Integration != "bridge" || in.Attempt != 1 || in.MaxAttempts != 3 || !slices.Equal(in.Delays, []int{1, 2}) {
		t.Errorf("execution input = %+v", in)
	}
}

func TestStarterConcurrentStartsMakeOneExecution(t *testing.T) {
	t.Parallel()
	clients, smARN := starterMachine(t)
	s := NewStarter(clients.SFN, smARN)
	rec, integ := pendingRecord("orchestrator")
	ctx := testCtx(t, time.Minute)

	var wg sync.WaitGroup
	var startedN [2]bool
	var errs [2]error
	for i := range 2 {
		wg.Go(func() { startedN[i], errs[i] = s.Start(ctx, rec, integ) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Start %d: %v", i, err)
		}
	}
	if startedN[0] == startedN[1] {
		t.Errorf("started = %v, want exactly one true", startedN)
	}
	if exs := executions(t, clients, smARN); len(exs) != 1 {
		t.Errorf("executions = %d, want 1", len(exs))
	}
}

func TestStarterRefusesRecordWithoutIncident(t *testing.T) {
	rec, integ := pendingRecord("bridge")
	rec.Recovery = health.RecoveryStatus{}
	if _, err := NewStarter(nil, "arn").Start(t.Context(), rec, integ); err == nil {
		t.Error("Start without an incident succeeded")
	}
	rec, integ = pendingRecord("bridge")
	integ.Recovery = nil
	if _, err := NewStarter(nil, "arn").Start(t.Context(), rec, integ); err == nil {
		t.Error("Start without recovery configured succeeded")
	}
}
