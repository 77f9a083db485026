package store

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vigil-monitor/vigil/internal/health"
)

// The applied plan rides on the check's batched read; an integration named
// "applied" is not confused with it; writes are conditional on the rev read.
func TestAppliedPlan(t *testing.T) {
	client, table := newTable(t)
	ctx := t.Context()
	c := &counting{ItemAPI: client}
	s := New(c, table)
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	names := []string{"applied", "bridge"}
	update := func() ([]Updated, Applied) {
		t.Helper()
		c.batchGets.Store(0)
		c.gets.Store(0)
		res, applied, err := s.UpdateBatch(ctx, s.ReadBatch(ctx, names), 2, func(_ string, cur health.Record) (health.Record, bool, error) { return bump(cur) })
		if err != nil || c.batchGets.Load() != 1 || c.gets.Load() != 0 {
			t.Fatalf("UpdateBatch: %v, %d BatchGetItem, %d GetItem; want one batch", err, c.batchGets.Load(), c.gets.Load())
		}
		for i, r := range res {
			if r.Err != nil || r.Record.Integration != names[i] {
				t.Fatalf("%s: %+v", names[i], r)
			}
		}
		return res, applied
	}

	_, applied := update()
	if applied != (Applied{}) {
		t.Fatalf("nothing applied yet, read %+v", applied)
	}
	if ok, err := s.PutApplied(ctx, "h1", 12, at, applied); !ok || err != nil {
		t.Fatalf("first record: %v, %v", ok, err)
	}
	_, applied = update()
	if applied.Hash != "h1" || applied.Rev != 1 || applied.Alarms != 12 || !applied.At.Equal(at) {
		t.Fatalf("read back %+v", applied)
	}

	// Two invocations read rev 1. The first records h2; the second, with
	// the same plan, loses the race and changes nothing.
	stale := applied
	if ok, err := s.PutApplied(ctx, "h2", 13, at, applied); !ok || err != nil {
		t.Fatalf("h2: %v, %v", ok, err)
	}
	if ok, err := s.PutApplied(ctx, "h2", 13, at, stale); ok || err != nil {
		t.Fatalf("same plan, lost race: %v, %v", ok, err)
	}
	if got, _ := s.ReadApplied(ctx); got.Hash != "h2" || got.Rev != 2 {
		t.Fatalf("after the same-plan race: %+v", got)
	}
	// A loser with another plan may have overwritten some of the winner's
	// alarms: it clears the record, so the next check converges again.
	if ok, err := s.PutApplied(ctx, "h-old", 11, at, stale); ok || err != nil {
		t.Fatalf("other plan, lost race: %v, %v", ok, err)
	}
	if got, _ := s.ReadApplied(ctx); got.Hash != "" || got.Rev != 3 {
		t.Fatalf("after the other-plan race: %+v, want cleared at rev 3", got)
	}

	// A malformed item reads as nothing applied and is overwritten.
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "ALERTING"}, "sk": &types.AttributeValueMemberS{Value: "applied"},
		"kind": &types.AttributeValueMemberS{Value: "applied"}, "rev": &types.AttributeValueMemberS{Value: "not a number"},
		"hash": &types.AttributeValueMemberS{Value: "h9"},
	}}); err != nil {
		t.Fatal(err)
	}
	_, applied = update()
	if !applied.Malformed || applied.Hash != "" {
		t.Fatalf("malformed item read as %+v", applied)
	}
	if ok, err := s.PutApplied(ctx, "h3", 1, at, applied); !ok || err != nil {
		t.Fatalf("over a malformed item: %v, %v", ok, err)
	}
	if got, _ := s.ReadApplied(context.Background()); got.Hash != "h3" || got.Rev != 1 {
		t.Fatalf("after overwrite: %+v", got)
	}
}

// A batch read before its update (the check reads while it probes) goes
// stale when another writer updates a record meanwhile: the update is
// re-applied to that writer's version, not lost or written over it.
func TestStaleBatchReapplies(t *testing.T) {
	client, table := newTable(t)
	ctx := t.Context()
	s := New(client, table)
	names := []string{"a", "b"}
	if res := s.UpdateMany(ctx, names, 2, func(_ string, cur health.Record) (health.Record, bool, error) { return bump(cur) }); res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("seed: %+v", res)
	}
	b := s.ReadBatch(ctx, names)
	if _, err := s.Update(ctx, "a", bump); err != nil { // the rival, after the read
		t.Fatal(err)
	}
	res, _, err := s.UpdateBatch(ctx, b, 2, func(_ string, cur health.Record) (health.Record, bool, error) { return bump(cur) })
	if err != nil || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("UpdateBatch: %v, %+v", err, res)
	}
	a, err := s.Get(ctx, "a")
	if err != nil || a.Version != 3 || a.HealthChecksPerformed != 3 {
		t.Fatalf("a: version %d, checks %d (%v); want both updates counted", a.Version, a.HealthChecksPerformed, err)
	}
	if res[1].Record.Version != 2 {
		t.Fatalf("b: version %d, want 2", res[1].Record.Version)
	}
}
