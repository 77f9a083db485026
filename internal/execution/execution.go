// Package execution starts the Recovery state machine
// (statemachine/recovery.asl.json) for an incident the health model decided
// (SPEC §6): the execution's input, with its backoff delays, and the start
// under the incident's name, so a repeated start never recovers twice.
//
// The state machine, not a function, owns the loop: it counts attempts,
// waits between them with Wait states and gives up after max_attempts. It
// lives apart from package recovery so the HealthCheck function does not
// link the recovery actions and their clients.
package execution

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
)

// ErrNoRecovery: the integration has no recovery configured.
var ErrNoRecovery = errors.New("no recovery configured")

// ExecutionInput is the input of a Recovery state machine execution.
//
// Delays[i] is the wait, in whole seconds, after attempt i+1 fails, so it has
// MaxAttempts-1 entries. The state machine reads the wait before attempt n+1
// as Delays[n-1] and never asks the function for it.
type ExecutionInput struct {
	IncidentID  string `json:"incident_id"`
	Integration string `json:"integration"`
	Attempt     int    `json:"attempt"` // always 1: the first attempt
	MaxAttempts int    `json:"max_attempts"`
	Delays      []int  `json:"delays"`
	// RequestID is set by Starter.Start, unique per call. Step Functions
	// answers a start with the name and the input of a running execution
	// with success; a distinct input makes every repeated start under the
	// same name fail with ExecutionAlreadyExists instead, so Start can tell
	// exactly whether it started the execution. The state machine ignores it.
	RequestID string `json:"request_id,omitempty"`
}

// NewExecutionInput builds the execution input of rec's current incident
// (rec.Recovery.IncidentID) under cfg, the integration's recovery settings
// with defaults filled (config does that at load). Each delay is
// health.NextDelay(cfg, attempt, rand01()) rounded up to whole seconds and at
// least 1 s, Wait states counting only whole seconds; rand01 is called only
// when cfg.Jitter is set, and nil means math/rand/v2. A MaxAttempts below 1
// counts as 1.
func NewExecutionInput(rec health.Record, cfg config.Recovery, rand01 func() float64) ExecutionInput {
	if rand01 == nil {
		rand01 = rand.Float64
	}
	n := max(cfg.MaxAttempts, 1)
	delays := make([]int, 0, n-1)
	for attempt := 1; attempt < n; attempt++ {
		r := 0.0
		if cfg.Jitter {
			r = rand01()
		}
		delays = append(delays, WaitSeconds(health.NextDelay(cfg, attempt, r)))
	}
	return ExecutionInput{
		IncidentID:  rec.Recovery.IncidentID,
		Integration: rec.Integration,
		Attempt:     1,
		MaxAttempts: n,
		Delays:      delays,
	}
}

// WaitSeconds rounds d up to whole seconds, at least 1: a delay is never cut
// short, and a Wait state of 0 s would retry at once.
func WaitSeconds(d time.Duration) int {
	return max(int(math.Ceil(d.Seconds())), 1)
}

// SFNAPI is the part of the Step Functions client the Starter needs;
// *sfn.Client satisfies it.
type SFNAPI interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

var _ SFNAPI = (*sfn.Client)(nil)

// Starter starts Recovery state machine executions. It is safe for
// concurrent use; build one per container.
type Starter struct {
	client          SFNAPI
	stateMachineARN string
	rand01          func() float64
}

// NewStarter returns a Starter of the state machine stateMachineARN.
func NewStarter(client SFNAPI, stateMachineARN string) *Starter {
	return &Starter{client: client, stateMachineARN: stateMachineARN, rand01: rand.Float64}
}

// Ended looks up the execution named name of the Starter's state machine. It
// returns ended=false while the execution runs; otherwise how it ended, with
// health.ExecutionMissing for an execution Step Functions does not know
// (never started, or its history expired). The check calls it when a start
// finds the execution exists already and when a running incident has gone
// quiet, so no record waits on an execution that has ended.
func (s *Starter) Ended(ctx context.Context, name string) (bool, health.ExecutionEnd, error) {
	arn, err := ExecutionARN(s.stateMachineARN, name)
	if err != nil {
		return false, "", err
	}
	out, err := s.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	var missing *sfntypes.ExecutionDoesNotExist
	switch {
	case errors.As(err, &missing):
		return true, health.ExecutionMissing, nil
	case err != nil:
		return false, "", fmt.Errorf("execution: describe %s: %w", name, err)
	}
	switch out.Status {
	case sfntypes.ExecutionStatusSucceeded:
		return true, health.ExecutionSucceeded, nil
	case sfntypes.ExecutionStatusFailed:
		return true, health.ExecutionFailed, nil
	case sfntypes.ExecutionStatusTimedOut:
		return true, health.ExecutionTimedOut, nil
	case sfntypes.ExecutionStatusAborted:
		return true, health.ExecutionAborted, nil
	}
	// RUNNING, and PENDING_REDRIVE: a redriven execution will run again.
	return false, "", nil
}

// ExecutionARN is the ARN of the execution named name of the state machine
// stateMachineARN: Step Functions names executions
// arn:<partition>:states:<region>:<account>:execution:<state machine>:<name>.
func ExecutionARN(stateMachineARN, name string) (string, error) {
	const marker = ":stateMachine:"
	i := strings.Index(stateMachineARN, marker)
	if i < 0 || name == "" {
		return "", fmt.Errorf("execution: %q is not a state machine ARN, or the execution name is empty", stateMachineARN)
	}
	return stateMachineARN[:i] + ":execution:" + stateMachineARN[i+len(marker):] + ":" + name, nil
}

// Start starts the recovery execution of rec's incident, named
// rec.Recovery.ExecutionName, with NewExecutionInput(rec, *integ.Recovery).
// Call it whenever health.Evaluate decides StartRecovery, including the
// retries of a start that failed: the name makes them safe.
//
// When an execution of that name exists already, running or not, Start
// returns false and no error: the recovery is not started twice, and the
// caller looks it up with Ended. Any other failure is an error; the record
// keeps its recovery pending and the next check calls Start again under the
// same name.
func (s *Starter) Start(ctx context.Context, rec health.Record, integ config.Integration) (bool, error) {
	name := rec.Recovery.ExecutionName
	switch {
	case integ.Recovery == nil:
		return false, fmt.Errorf("execution: start %s: %w", integ.Name, ErrNoRecovery)
	case name == "" || rec.Recovery.IncidentID == "":
		return false, fmt.Errorf("execution: start %s: the record has no incident to recover", integ.Name)
	}
	if rec.Integration == "" {
		rec.Integration = integ.Name
	}
	input := NewExecutionInput(rec, *integ.Recovery, s.rand01)
	input.RequestID = fmt.Sprintf("%016x", rand.Uint64())
	in, err := json.Marshal(input)
	if err != nil {
		return false, fmt.Errorf("execution: start %s: encode input: %w", name, err)
	}
	_, err = s.client.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(s.stateMachineARN),
		Name:            aws.String(name),
		Input:           aws.String(string(in)),
	})
	var exists *sfntypes.ExecutionAlreadyExists
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &exists):
		return false, nil
	default:
		return false, fmt.Errorf("execution: start %s: %w", name, err)
	}
}
