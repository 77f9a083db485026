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
		res, applied, err := s.UpdateManyApplied(ctx, names, 2, func(_ string, cur health.Record) (health.Record, bool, error) { return bump(cur) })
		if err != nil || c.batchGets.Load() != 1 || c.gets.Load() != 0 {
			t.Fatalf("UpdateManyApplied: %v, %d BatchGetItem, %d GetItem; want one batch", err, c.batchGets.Load(), c.gets.Load())
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
