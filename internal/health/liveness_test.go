package health

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
)

// running is a record whose incident's execution recorded attempt 1 at
// at(10) and is still open.
func running() Record {
	rec, _ := failing(4, nil)
	rec.Recovery = RecoveryStatus{
		InProgress: true, IncidentID: "bridge-1", ExecutionName: "bridge-1",
		DecidedAt: at(8), StartedAt: at(9), Attempt: 1, LastOutcome: RecoveryFailed, LastAttemptAt: at(10),
	}
	rec.RecoveryAttempts = 1
	return rec
}

// An execution that ended without recording its outcome is closed with how
// it ended, once; every end but success starts the cooldown.
func TestApplyExecutionEnd(t *testing.T) {
	now := at(20)
	tests := []struct {
		end      ExecutionEnd
		outcome  string
		cooldown bool
		success  int
	}{
		{ExecutionAborted, RecoveryAborted, true, 0},
		{ExecutionTimedOut, RecoveryTimedOut, true, 0},
		{ExecutionFailed, RecoveryExecutionFailed, true, 0},
		{ExecutionMissing, RecoveryAborted, true, 0},
		{ExecutionSucceeded, RecoverySucceeded, false, 1},
	}
	for _, tt := range tests {
		t.Run(string(tt.end), func(t *testing.T) {
			prev := running()
			got, ok := ApplyExecutionEnd(prev, "bridge-1", tt.end, bridge(), now)
			rs := got.Recovery
			if !ok || rs.Open() || !rs.Closed() || rs.LastOutcome != tt.outcome {
				t.Fatalf("closed %v: %+v", ok, rs)
			}
			if got.TotalRecoveries != prev.TotalRecoveries+1 || got.SuccessfulRecoveries != prev.SuccessfulRecoveries+tt.success {
				t.Fatalf("counters: total %d, successful %d", got.TotalRecoveries, got.SuccessfulRecoveries)
			}
			if wantUntil := now.Add(15 * time.Minute); tt.cooldown != rs.CooldownUntil.Equal(wantUntil) {
				t.Fatalf("cooldown until %v (want cooldown %v)", rs.CooldownUntil, tt.cooldown)
			}
			if !tt.cooldown && rs.LastError != "" && !strings.Contains(rs.LastError, string(tt.end)) {
				t.Fatalf("last error %q", rs.LastError)
			}
			if tt.cooldown && !strings.Contains(rs.LastError, "bridge-1") {
				t.Fatalf("last error %q does not name the execution", rs.LastError)
			}
			if got.State != prev.State || got.ConsecutiveFailures != prev.ConsecutiveFailures {
				t.Fatal("closing an incident changed the judgment of the integration")
			}
			// Once only, and never another incident's.
			if _, again := ApplyExecutionEnd(got, "bridge-1", tt.end, bridge(), now); again {
				t.Fatal("applied twice")
			}
			if _, other := ApplyExecutionEnd(prev, "bridge-0", tt.end, bridge(), now); other {
				t.Fatal("applied to another incident")
			}
			// A late report of the execution's last attempt is refused.
			if _, _, late := ApplyAttempt(got, AttemptReport{IncidentID: "bridge-1", Attempt: 2, Healthy: true}, bridge(), now); late {
				t.Fatal("an attempt was applied to a closed incident")
			}
			if _, late := ApplyExhausted(got, "bridge-1", bridge(), now); late {
				t.Fatal("exhaustion applied to a closed incident")
			}
		})
	}
}

// After the cooldown of a closed incident, a still-failing integration
// opens a new incident under a new name.
func TestNewIncidentAfterClosedOne(t *testing.T) {
	closed, _ := ApplyExecutionEnd(running(), "bridge-1", ExecutionAborted, bridge(), at(20))
	rec, dec := Evaluate(closed, check(21, criticalDown()), at(21))
	if dec.StartRecovery || rec.Recovery.IncidentID != "bridge-1" {
		t.Fatalf("recovery decided during the cooldown: %+v", rec.Recovery)
	}
	after := 20 + 16 // minutes: the cooldown is 15
	rec, dec = Evaluate(rec, check(after, criticalDown()), at(after))
	if !dec.StartRecovery || !rec.Recovery.Pending || rec.Recovery.IncidentID == "bridge-1" || rec.Recovery.ExecutionName == "bridge-1" {
		t.Fatalf("after the cooldown: start %v, %+v", dec.StartRecovery, rec.Recovery)
	}
}

// A running incident that has recorded nothing for longer than the workflow
// can go quiet makes the check look its execution up; not before.
func TestStalled(t *testing.T) {
	rec := running()
	cfg := bridge().Recovery // max_delay 30 s
	quiet := cfg.MaxDelay.D() + TaskTimeout
	last := rec.Recovery.LastAttemptAt
	if Stalled(rec.Recovery, cfg, last.Add(quiet)) {
		t.Fatal("stalled at the edge")
	}
	if !Stalled(rec.Recovery, cfg, last.Add(quiet+time.Second)) {
		t.Fatal("not stalled past the edge")
	}
	if !Stalled(rec.Recovery, nil, last.Add(config.MaxMaxDelay+TaskTimeout+time.Second)) {
		t.Fatal("recovery removed from the config: never stalled")
	}
	pending := RecoveryStatus{Pending: true, DecidedAt: at(1)}
	if Stalled(pending, cfg, at(1000)) {
		t.Fatal("a pending start is looked up through its start, not Stalled")
	}

	// Through Evaluate: the check asks after it, and only then.
	c := check(11, criticalDown())
	_, dec := Evaluate(rec, c, last.Add(time.Minute))
	if dec.CheckExecution || dec.StartRecovery {
		t.Fatalf("fresh incident: %+v", dec)
	}
	c = check(20, criticalDown())
	_, dec = Evaluate(rec, c, last.Add(10*time.Minute))
	if !dec.CheckExecution || dec.StartRecovery {
		t.Fatalf("quiet incident: %+v", dec)
	}
}

// The longest run: every attempt at its budget, every wait at its cap, the
// exhausted task with its retries.
func TestMaxRecoveryRun(t *testing.T) {
	cfg := *bridge().Recovery // 3 attempts, waits 1 s and 2 s
	want := 3*AttemptBudget + (1+1)*time.Second + (2+1)*time.Second + TaskTimeout + LambdaRetryWaits
	if got := MaxRecoveryRun(cfg); got != want {
		t.Fatalf("MaxRecoveryRun = %v, want %v", got, want)
	}
	cfg.Jitter = true // jitter only shortens a wait
	if got := MaxRecoveryRun(cfg); got != want {
		t.Fatalf("with jitter %v, want %v", got, want)
	}
}
