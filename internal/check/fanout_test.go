package check

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/metrics"
)

// newFanoutFixture is the resolver fixture's two integrations (3 and 2
// components) with room for 3 components per shard: two shards, each
// checked by an invocation of the same handler.
func newFanoutFixture(t *testing.T, name string) (*resolverFixture, *inProcess) {
	t.Helper()
	f := newResolverFixture(t, name)
	inv := &inProcess{handlers: map[string]*Handler{"self": f.h}}
	f.h.Shards = f.store
	f.h.Fanout = &Fanout{Invoker: inv, Function: "self", Capacity: 3}
	return f, inv
}

// A tick over two shards: each shard checks its integrations and records
// its heartbeat; the coordinator gathers both. The same tick again probes
// nothing: both shards answer that they are done.
func TestFanOutChecksEveryShardOnce(t *testing.T) {
	f, _ := newFanoutFixture(t, "fanout")
	r := f.at(1)
	if len(r.Shards) != 2 || r.ShardsFailed != 0 || len(r.Integrations) != 2 {
		t.Fatalf("coordinator result: %d shards, %d failed, %d integrations", len(r.Shards), r.ShardsFailed, len(r.Integrations))
	}
	for i, s := range r.Shards {
		if s.Index != i || s.Count != 2 || s.Integrations != 1 || s.Duplicate || s.Error != "" {
			t.Errorf("shard %d: %+v", i, s)
		}
	}
	if r.Shards[0].Components+r.Shards[1].Components != 5 {
		t.Errorf("components %d + %d, want 5", r.Shards[0].Components, r.Shards[1].Components)
	}
	for _, ir := range r.Integrations {
		if ir.Outcome != "applied" {
			t.Errorf("%s: %s", ir.Name, ir.Outcome)
		}
	}
	again := f.at(1)
	for _, s := range again.Shards {
		if !s.Duplicate || s.Error != "" {
			t.Errorf("repeated tick, shard %d: %+v", s.Index, s)
		}
	}
	if len(again.Integrations) != 0 {
		t.Errorf("repeated tick wrote %d integrations", len(again.Integrations))
	}
	r = f.at(2)
	for _, ir := range r.Integrations {
		if ir.State != health.Active {
			t.Errorf("tick 2: %s is %s", ir.Name, ir.State)
		}
	}
}

// A shard that fails twice does not stop the other: its integrations are
// checked, the failure is counted in ShardsFailed and returned, and a retry
// of the tick checks only the failed shard.
func TestFailingShardIsVisibleAndAlone(t *testing.T) {
	f, inv := newFanoutFixture(t, "fanout-fail")
	tries := 0
	inv.fail = func(ev Event) error {
		if ev.Shard != nil && ev.Shard.Index == 1 {
			tries++
			return errors.New("simulated: Rate Exceeded")
		}
		return nil
	}
	r, err := f.atErr(1)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 shards failed: shard 1/2") {
		t.Fatalf("error %v", err)
	}
	if tries != 2 || r.ShardsFailed != 1 || !r.Shards[1].Retried || r.Shards[1].Error == "" || r.Shards[0].Error != "" {
		t.Fatalf("tries %d, result shards %+v", tries, r.Shards)
	}
	if len(r.Integrations) != 1 || r.Integrations[0].Outcome != "applied" {
		t.Fatalf("shard 0's integrations: %+v", r.Integrations)
	}
	if pts := f.points(metrics.MetricShardsFailed); len(pts) != 1 || pts[0] != 1 {
		t.Fatalf("ShardsFailed points %v", pts)
	}
	inv.fail = nil
	r, err = f.atErr(1)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Shards[0].Duplicate || r.Shards[1].Duplicate || len(r.Integrations) != 1 || r.Integrations[0].Outcome != "applied" {
		t.Fatalf("retried tick: shards %+v, integrations %+v", r.Shards, r.Integrations)
	}
}

// A shard event is validated like any other: no integrations, a bad key or
// budget is refused before anything is probed.
func TestShardEventValidated(t *testing.T) {
	f, _ := newFanoutFixture(t, "fanout-bad")
	tick := f.minute(1).Format("2006-01-02T15:04:05Z")
	for _, ev := range []Event{
		{ScheduledTime: tick, Shard: &ShardRef{Index: 0, Count: 2}},
		{ScheduledTime: tick, Integrations: []string{f.name}, Shard: &ShardRef{Index: 2, Count: 2}},
		{ScheduledTime: tick, Integrations: []string{f.name}, Shard: &ShardRef{Index: 0, Count: 2, BudgetMs: -1}},
	} {
		if _, err := f.h.Handle(context.Background(), ev); !errors.Is(err, ErrBadEvent) {
			t.Errorf("shard %+v: error %v", ev.Shard, err)
		}
	}
}
