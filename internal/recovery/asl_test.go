package recovery

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
)

const definitionPath = "../../statemachine/recovery.asl.json"

// aslValidator returns the command that runs asl-validator: the binary on
// PATH or where `make deps` installs it, else npx (which fetches it). It
// fails the test when none is there.
func aslValidator(t *testing.T) []string {
	t.Helper()
	if p, err := exec.LookPath("asl-validator"); err == nil {
		return []string{p}
	}
	if p, err := filepath.Abs("../../.tools/npm/node_modules/.bin/asl-validator"); err == nil {
		if _, err := os.Stat(p); err == nil {
			return []string{p}
		}
	}
	if p, err := exec.LookPath("npx"); err == nil {
		return []string{p, "--yes", "asl-validator"}
	}
	t.Fatal("asl-validator is not installed and npx is missing: run `make deps` (it runs `npm install -g asl-validator`)")
	return nil
}

func TestDefinitionIsValidASL(t *testing.T) {
	cmd := aslValidator(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	c := exec.CommandContext(ctx, cmd[0], append(cmd[1:], "--json-path", definitionPath)...)
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		t.Fatalf("asl-validator rejected %s (or could not run; `make deps` installs it): %v\n%s", definitionPath, err, out.String())
	}
}

// TestDefinitionShape pins what the ASL validator does not judge: the
// retry policy of SPEC §6, the phases sent to the function, and the states
// that bound the loop.
func TestDefinitionShape(t *testing.T) {
	raw, err := os.ReadFile(definitionPath)
	if err != nil {
		t.Fatal(err)
	}
	var def struct {
		StartAt string
		States  map[string]map[string]any
	}
	if err := json.Unmarshal(raw, &def); err != nil {
		t.Fatal(err)
	}
	if def.StartAt != "Attempt" {
		t.Errorf("StartAt = %q, want Attempt", def.StartAt)
	}
	wantRetry := []any{map[string]any{
		"ErrorEquals":     []any{"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException"},
		"IntervalSeconds": 2.0,
		"MaxAttempts":     6.0,
		"BackoffRate":     2.0,
	}}
	for state, phase := range map[string]string{"Attempt": PhaseAttempt, "RecordError": PhaseAttemptError, "Exhausted": PhaseExhausted} {
		s := def.States[state]
		if s == nil {
			t.Errorf("state %s missing", state)
			continue
		}
		if s["Resource"] != "arn:aws:states:::lambda:invoke" {
			t.Errorf("%s: Resource = %v", state, s["Resource"])
		}
		params, _ := s["Parameters"].(map[string]any)
		if params["FunctionName"] != "${RecoveryFunctionArn}" {
			t.Errorf("%s: FunctionName = %v", state, params["FunctionName"])
		}
		payload, _ := params["Payload"].(map[string]any)
		if payload["phase"] != phase {
			t.Errorf("%s: phase = %v, want %s", state, payload["phase"], phase)
		}
		if !reflect.DeepEqual(s["Retry"], wantRetry) {
			t.Errorf("%s: Retry = %v, want %v", state, s["Retry"], wantRetry)
		}
		catch, _ := s["Catch"].([]any)
		if len(catch) != 1 || !reflect.DeepEqual(catch[0].(map[string]any)["ErrorEquals"], []any{"States.ALL"}) {
			t.Errorf("%s: Catch = %v, want one States.ALL catcher", state, s["Catch"])
		}
	}
	// Where each state goes, and where its errors go: every path ends, and
	// a failed invocation is recorded before the loop goes on.
	edges := map[string][2]string{ // state: {Next, Catch Next}
		"Attempt":     {"Healthy?", "RecordError"},
		"RecordError": {"Healthy?", "RecordFailed"},
		"Exhausted":   {"GaveUp", "RecordFailed"},
		"Backoff":     {"Wait", ""},
		"Wait":        {"Attempt", ""},
	}
	for state, want := range edges {
		s := def.States[state]
		next, _ := s["Next"].(string)
		var catchNext, catchPath any
		if c, ok := s["Catch"].([]any); ok && len(c) == 1 {
			catchNext, catchPath = c[0].(map[string]any)["Next"], c[0].(map[string]any)["ResultPath"]
		}
		if next != want[0] || (want[1] != "" && (catchNext != want[1] || catchPath != "$.error")) {
			t.Errorf("%s: Next %q, Catch → %v (ResultPath %v); want Next %q, Catch → %q with ResultPath $.error", state, next, catchNext, catchPath, want[0], want[1])
		}
	}
	if got := def.States["RecordFailed"]; got["Type"] != "Fail" || got["Error"] != "Vigil.RecordFailed" {
		t.Errorf("RecordFailed = %v, want a Fail state with Error Vigil.RecordFailed", got)
	}
	if got := def.States["GaveUp"]; got["Type"] != "Fail" || got["Error"] != "Vigil.RecoveryExhausted" {
		t.Errorf("GaveUp = %v, want a Fail state with Error Vigil.RecoveryExhausted", got)
	}
	if got := def.States["Wait"]; got["Type"] != "Wait" || got["SecondsPath"] != "$.wait_seconds" {
		t.Errorf("Wait = %v", got)
	}
	for name, s := range def.States {
		if s["Type"] == "Task" && s["Resource"] != "arn:aws:states:::lambda:invoke" {
			t.Errorf("%s: unexpected task resource %v", name, s["Resource"])
		}
	}
}

// The workflow's timing matches the health model's: each task is bounded by
// health.TaskTimeout, its retries wait health.LambdaRetryWaits in all, and
// the whole execution by health.MaxRecoveryRun at the config's limits, so an
// execution can never outlive what the HealthCheck waits for before asking
// after it (health.Stalled) — and none waits forever.
func TestDefinitionTimeouts(t *testing.T) {
	raw, err := os.ReadFile(definitionPath)
	if err != nil {
		t.Fatal(err)
	}
	var def struct {
		TimeoutSeconds float64
		States         map[string]struct {
			Type           string
			TimeoutSeconds float64
			Retry          []struct {
				IntervalSeconds, MaxAttempts, BackoffRate float64
			}
		}
	}
	if err := json.Unmarshal(raw, &def); err != nil {
		t.Fatal(err)
	}
	limits := config.Recovery{MaxAttempts: config.MaxAttemptsLimit, BaseDelay: config.Duration(config.MaxMaxDelay), MaxDelay: config.Duration(config.MaxMaxDelay)}
	want := health.MaxRecoveryRun(limits)
	if got := time.Duration(def.TimeoutSeconds) * time.Second; got != want {
		t.Errorf("state machine TimeoutSeconds = %v, want health.MaxRecoveryRun at the limits = %v", got, want)
	}
	tasks := 0
	for name, s := range def.States {
		if s.Type != "Task" {
			continue
		}
		tasks++
		if got := time.Duration(s.TimeoutSeconds) * time.Second; got != health.TaskTimeout {
			t.Errorf("%s: TimeoutSeconds = %v, want %v", name, got, health.TaskTimeout)
		}
		var waits time.Duration
		for _, r := range s.Retry {
			interval := r.IntervalSeconds
			for range int(r.MaxAttempts) {
				waits += time.Duration(interval * float64(time.Second))
				interval *= r.BackoffRate
			}
		}
		if waits != health.LambdaRetryWaits {
			t.Errorf("%s: retries wait %v in all, want %v", name, waits, health.LambdaRetryWaits)
		}
	}
	if tasks != 3 {
		t.Errorf("%d tasks, want 3", tasks)
	}
}
