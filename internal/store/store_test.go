package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vigil-monitor/vigil/internal/emulator/emutest"
	"github.com/vigil-monitor/vigil/internal/health"
)

// moto is the package's one emulator; every test makes its own table in it.
var moto = &emutest.Shared{}

func TestMain(m *testing.M) { os.Exit(moto.Main(m)) }

var unsafeTableChars = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// newTable creates a fresh table named after the test and returns a raw
// client on it.
func newTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	client := dynamodb.NewFromConfig(moto.Get(t).AWSConfig())
	name := "vigil-" + unsafeTableChars.ReplaceAllString(t.Name(), "-")
	if len(name) > 200 {
		name = name[:200]
	}
	// A suffix keeps tables fresh under -count=N against the one emulator.
	name += "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := CreateTable(t.Context(), client, name); err != nil {
		t.Fatal(err)
	}
	return client, name
}

// counting wraps the real client to count requests per operation and to
// inject races and throttling at chosen points. It fakes nothing by itself:
// every call still reaches the emulator.
type counting struct {
	ItemAPI
	gets, puts, queries, batches, batchGets atomic.Int64
	// unprocessedOnce, when set, answers the first BatchGetItem with all
	// its keys unprocessed, as a throttled table does.
	unprocessedOnce atomic.Bool

	// beforePut runs before each PutItem is sent, with its 1-based number.
	beforePut func(n int64)
	// queryLimit, when set, forces small pages so pagination is exercised.
	queryLimit int32
	// batch, when set, replaces BatchWriteItem; it may call next.
	batch func(ctx context.Context, in *dynamodb.BatchWriteItemInput, next ItemAPI) (*dynamodb.BatchWriteItemOutput, error)
}

func (c *counting) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.gets.Add(1)
	return c.ItemAPI.GetItem(ctx, in, o...)
}

func (c *counting) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	n := c.puts.Add(1)
	if c.beforePut != nil {
		c.beforePut(n)
	}
	return c.ItemAPI.PutItem(ctx, in, o...)
}

func (c *counting) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.queries.Add(1)
	if c.queryLimit > 0 {
		in.Limit = aws.Int32(c.queryLimit)
	}
	return c.ItemAPI.Query(ctx, in, o...)
}

func (c *counting) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	c.batches.Add(1)
	if c.batch != nil {
		return c.batch(ctx, in, c.ItemAPI)
	}
	return c.ItemAPI.BatchWriteItem(ctx, in, o...)
}

func (c *counting) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.batchGets.Add(1)
	if c.unprocessedOnce.CompareAndSwap(true, false) {
		return &dynamodb.BatchGetItemOutput{UnprocessedKeys: in.RequestItems}, nil
	}
	return c.ItemAPI.BatchGetItem(ctx, in, o...)
}

func (c *counting) requests() int64 {
	return c.gets.Load() + c.puts.Load() + c.queries.Load() + c.batches.Load() + c.batchGets.Load()
}

// bump counts one check: the simplest UpdateFunc that always writes.
func bump(cur health.Record) (health.Record, bool, error) {
	cur.HealthChecksPerformed++
	if cur.State == health.Uninitialized {
		cur.State = health.Initializing
	}
	return cur, true, nil
}

func rawItem(t *testing.T, client ItemAPI, table, integration string) map[string]types.AttributeValue {
	t.Helper()
	out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName: aws.String(table), Key: stateKey(integration), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func TestCreateTableShape(t *testing.T) {
	client, table := newTable(t)
	ctx := t.Context()
	// A second call must accept the existing table.
	if err := CreateTable(ctx, client, table); err != nil {
		t.Fatalf("second CreateTable: %v", err)
	}

	d, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	tb := d.Table
	if tb.TableStatus != types.TableStatusActive {
		t.Errorf("status %s, want ACTIVE", tb.TableStatus)
	}
	if tb.BillingModeSummary == nil || tb.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("billing mode %+v, want PAY_PER_REQUEST", tb.BillingModeSummary)
	}
	keys := map[string]types.KeyType{}
	for _, k := range tb.KeySchema {
		keys[aws.ToString(k.AttributeName)] = k.KeyType
	}
	if want := (map[string]types.KeyType{"pk": types.KeyTypeHash, "sk": types.KeyTypeRange}); !reflect.DeepEqual(keys, want) {
		t.Errorf("key schema %v, want %v", keys, want)
	}
	attrs := map[string]types.ScalarAttributeType{}
	for _, a := range tb.AttributeDefinitions {
		attrs[aws.ToString(a.AttributeName)] = a.AttributeType
	}
	if want := (map[string]types.ScalarAttributeType{"pk": "S", "sk": "S"}); !reflect.DeepEqual(attrs, want) {
		t.Errorf("attribute definitions %v, want %v", attrs, want)
	}
	if tb.SSEDescription == nil || tb.SSEDescription.Status != types.SSEStatusEnabled {
		t.Errorf("SSE %+v, want ENABLED", tb.SSEDescription)
	}

	ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != "expires_at" {
		t.Errorf("TTL %+v, want ENABLED on expires_at", d)
	}

	b, err := client.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if d := b.ContinuousBackupsDescription; d == nil || d.PointInTimeRecoveryDescription == nil ||
		d.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus != types.PointInTimeRecoveryStatusEnabled {
		t.Errorf("point-in-time recovery %+v, want ENABLED", d)
	}
}

func TestUpdateCreatesThenUpdates(t *testing.T) {
	client, table := newTable(t)
	s := New(client, table)
	ctx := t.Context()

	var seen []health.Record
	fn := func(cur health.Record) (health.Record, bool, error) {
		seen = append(seen, cur)
		return bump(cur)
	}
	first, err := s.Update(ctx, "bridge", fn)
	if err != nil {
		t.Fatal(err)
	}
	if seen[0].Integration != "bridge" || seen[0].State != health.Uninitialized || seen[0].Version != 0 {
		t.Errorf("first cur = %+v, want zero record for bridge, UNINITIALIZED, version 0", seen[0])
	}
	if first.Version != 1 || first.HealthChecksPerformed != 1 || first.Integration != "bridge" {
		t.Errorf("first write = version %d, checks %d, integration %q; want 1, 1, bridge", first.Version, first.HealthChecksPerformed, first.Integration)
	}
	second, err := s.Update(ctx, "bridge", fn)
	if err != nil {
		t.Fatal(err)
	}
	if second.Version != 2 || second.HealthChecksPerformed != 2 {
		t.Errorf("second write = version %d, checks %d; want 2, 2", second.Version, second.HealthChecksPerformed)
	}
	got, err := s.Get(ctx, "bridge")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, second) {
		t.Errorf("Get = %+v\nwant %+v", got, second)
	}
	item := rawItem(t, client, table, "bridge")
	for name, want := range map[string]string{"kind": `"state"`, "schema": "1", "pk": `"STATE"`, "sk": `"bridge"`} {
		if got := describeAttr(item, name); got != want {
			t.Errorf("attribute %s = %s, want %s", name, got, want)
		}
	}
}

func TestUpdateRequestCounts(t *testing.T) {
	client, table := newTable(t)
	ctx := t.Context()
	if _, err := New(client, table).Update(ctx, "bridge", bump); err != nil {
		t.Fatal(err)
	}

	t.Run("steady state is one get and one put", func(t *testing.T) {
		c := &counting{ItemAPI: client}
		r, err := New(c, table).Update(ctx, "bridge", bump)
		if err != nil {
			t.Fatal(err)
		}
		if c.gets.Load() != 1 || c.puts.Load() != 1 || c.requests() != 2 {
			t.Errorf("requests: %d get, %d put, %d total; want 1, 1, 2", c.gets.Load(), c.puts.Load(), c.requests())
		}
		if r.Version != 2 {
			t.Errorf("version %d, want 2", r.Version)
		}
	})

	t.Run("write=false does no put", func(t *testing.T) {
		c := &counting{ItemAPI: client}
		r, err := New(c, table).Update(ctx, "bridge", func(cur health.Record) (health.Record, bool, error) {
			cur.HealthChecksPerformed = 999 // must not reach the table
			return cur, false, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if c.puts.Load() != 0 || c.requests() != 1 {
			t.Errorf("requests: %d put, %d total; want 0, 1", c.puts.Load(), c.requests())
		}
		if r.Version != 2 || r.HealthChecksPerformed != 2 {
			t.Errorf("returned version %d, checks %d; want the stored 2, 2", r.Version, r.HealthChecksPerformed)
		}
	})

	t.Run("fn error writes nothing", func(t *testing.T) {
		c := &counting{ItemAPI: client}
		boom := errors.New("boom")
		_, err := New(c, table).Update(ctx, "bridge", func(health.Record) (health.Record, bool, error) {
			return health.Record{}, true, boom
		})
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "store: update bridge") {
			t.Errorf("err = %v, want wrapped boom naming bridge", err)
		}
		if c.puts.Load() != 0 {
			t.Errorf("%d puts, want 0", c.puts.Load())
		}
	})
}

func TestUpdateConcurrentWritersLoseNothing(t *testing.T) {
	client, table := newTable(t)
	ctx := t.Context()
	const writers, increments = 2, 20

	var wg sync.WaitGroup
	var applied atomic.Int64
	errs := make(chan error, writers*increments)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := New(client, table) // one store per "invocation"
			for range increments {
				_, err := s.Update(ctx, "bridge", bump)
				switch {
				case err == nil:
					applied.Add(1)
				case errors.Is(err, ErrConflict):
					// A writer starved by a rival in a tight loop gives
					// up loudly; what matters is that nothing it
					// reported as written is lost.
					t.Logf("gave up: %v", err)
				default:
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := New(client, table).Get(ctx, "bridge")
	if err != nil {
		t.Fatal(err)
	}
	n := applied.Load()
	if int64(got.HealthChecksPerformed) != n || got.Version != n || n < writers*increments*3/4 {
		t.Errorf("counter %d, version %d; want both equal to the %d updates reported written (of %d)", got.HealthChecksPerformed, got.Version, n, writers*increments)
	}
}

func TestUpdateLoserReappliesOnAllOld(t *testing.T) {
	client, table := newTable(t)
	ctx := t.Context()
	if _, err := New(client, table).Update(ctx, "bridge", bump); err != nil {
		t.Fatal(err)
	}

	// Just before the loser's first write, another invocation wins the race.
	c := &counting{ItemAPI: client}
	c.beforePut = func(n int64) {
		if n != 1 {
			return
		}
		if _, err := New(client, table).Update(ctx, "bridge", func(cur health.Record) (health.Record, bool, error) {
			cur.ErrorMessage = "written by the winner"
			return bump(cur)
		}); err != nil {
			t.Error(err)
		}
	}
	var curs []health.Record
	got, err := New(c, table).Update(ctx, "bridge", func(cur health.Record) (health.Record, bool, error) {
		curs = append(curs, cur)
		return bump(cur)
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.gets.Load() != 1 || c.puts.Load() != 2 {
		t.Errorf("loser made %d gets, %d puts; want 1 get (no re-read) and 2 puts", c.gets.Load(), c.puts.Load())
	}
	if len(curs) != 2 {
		t.Fatalf("fn called %d times, want 2", len(curs))
	}
	if curs[0].Version != 1 || curs[1].Version != 2 || curs[1].ErrorMessage != "written by the winner" {
		t.Errorf("fn saw versions %d then %d (%q); want 1 then the winner's 2", curs[0].Version, curs[1].Version, curs[1].ErrorMessage)
	}
	if got.Version != 3 || got.HealthChecksPerformed != 3 || got.ErrorMessage != "written by the winner" {
		t.Errorf("result version %d, checks %d, error %q; want 3, 3, the winner's", got.Version, got.HealthChecksPerformed, got.ErrorMessage)
	}
}

func TestUpdateFirstWriteRace(t *testing.T) {
	// Both writers see no item; the loser's attribute_not_exists fails and
	// the winner's item arrives with the failure.
	client, table := newTable(t)
	ctx := t.Context()
	c := &counting{ItemAPI: client}
	c.beforePut = func(n int64) {
		if n == 1 {
			if _, err := New(client, table).Update(ctx, "fresh", bump); err != nil {
				t.Error(err)
			}
		}
	}
	got, err := New(c, table).Update(ctx, "fresh", bump)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.HealthChecksPerformed != 2 || c.gets.Load() != 1 {
		t.Errorf("version %d, checks %d, gets %d; want 2, 2, 1", got.Version, got.HealthChecksPerformed, c.gets.Load())
	}
}

func TestUpdateGivesUpWithErrConflict(t *testing.T) {
	client, table := newTable(t)
	ctx := t.Context()
	c := &counting{ItemAPI: client}
	// Someone else wins before every one of our writes.
	c.beforePut = func(int64) {
		if _, err := New(client, table).Update(ctx, "busy", bump); err != nil {
			t.Error(err)
		}
	}
	_, err := New(c, table).Update(ctx, "busy", bump)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	if c.puts.Load() != maxUpdateTries || c.gets.Load() != 1 {
		t.Errorf("%d puts, %d gets; want %d, 1", c.puts.Load(), c.gets.Load(), maxUpdateTries)
	}
}

func TestUpdateRefusesMalformedItem(t *testing.T) {
	client, table := newTable(t)
	ctx := t.Context()
	good := func(name string) map[string]types.AttributeValue {
		item, err := marshalState(health.Record{Integration: name, Version: 3, State: health.Active})
		if err != nil {
			t.Fatal(err)
		}
		item["pk"] = &types.AttributeValueMemberS{Value: "STATE"}
		item["sk"] = &types.AttributeValueMemberS{Value: name}
		item["kind"] = &types.AttributeValueMemberS{Value: "state"}
		item["schema"] = &types.AttributeValueMemberN{Value: "1"}
		return item
	}
	tests := []struct {
		name  string
		spoil func(map[string]types.AttributeValue)
		want  string // in the error
	}{
		{"unknown state", func(i map[string]types.AttributeValue) {
			i["state"] = &types.AttributeValueMemberS{Value: "BOGUS"}
		}, `state "BOGUS" is unknown`},
		{"string for a number", func(i map[string]types.AttributeValue) {
			i["consecutive_failures"] = &types.AttributeValueMemberS{Value: "three"}
		}, "attribute consecutive_failures"},
		{"newer schema", func(i map[string]types.AttributeValue) {
			i["schema"] = &types.AttributeValueMemberN{Value: "2"}
		}, "schema is 2, want 1"},
		{"wrong kind", func(i map[string]types.AttributeValue) {
			i["kind"] = &types.AttributeValueMemberS{Value: "history"}
		}, `kind is "history", want "state"`},
		{"no kind", func(i map[string]types.AttributeValue) {
			delete(i, "kind")
		}, "kind is missing"},
		{"version zero", func(i map[string]types.AttributeValue) {
			i["version"] = &types.AttributeValueMemberN{Value: "0"}
		}, "version 0 is below 1"},
		{"availability not JSON", func(i map[string]types.AttributeValue) {
			i["availability"] = &types.AttributeValueMemberS{Value: "{broken"}
		}, "attribute availability"},
		{"history of the wrong type", func(i map[string]types.AttributeValue) {
			i["history"] = &types.AttributeValueMemberN{Value: "7"}
		}, "attribute history: want a JSON string"},
		{"other integration's record", func(i map[string]types.AttributeValue) {
			i["integration"] = &types.AttributeValueMemberS{Value: "someone-else"}
		}, `integration attribute is "someone-else"`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("bad-%d", i)
			item := good(name)
			tt.spoil(item)
			if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
				t.Fatal(err)
			}
			before := rawItem(t, client, table, name)

			c := &counting{ItemAPI: client}
			called := false
			_, err := New(c, table).Update(ctx, name, func(cur health.Record) (health.Record, bool, error) {
				called = true
				return bump(cur)
			})
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			for _, want := range []string{"store: update " + name, tt.want} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if called {
				t.Error("fn was called on a malformed item")
			}
			if c.puts.Load() != 0 {
				t.Errorf("%d puts, want 0", c.puts.Load())
			}
			if after := rawItem(t, client, table, name); !reflect.DeepEqual(before, after) {
				t.Errorf("item changed:\nbefore %#v\nafter  %#v", before, after)
			}
			if _, err := New(client, table).Get(ctx, name); !errors.Is(err, ErrMalformed) {
				t.Errorf("Get err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestUpdateRefusesToWriteInvalidRecord(t *testing.T) {
	client, table := newTable(t)
	c := &counting{ItemAPI: client}
	_, err := New(c, table).Update(t.Context(), "bridge", func(cur health.Record) (health.Record, bool, error) {
		cur.State = "SIDEWAYS"
		return cur, true, nil
	})
	if !errors.Is(err, health.ErrInvalidRecord) || c.puts.Load() != 0 {
		t.Errorf("err = %v, puts %d; want ErrInvalidRecord and no put", err, c.puts.Load())
	}
}

func TestUpdateSameTickWrittenOnce(t *testing.T) {
	client, table := newTable(t)
	c := &counting{ItemAPI: client}
	s := New(c, table)
	tick := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	apply := func(cur health.Record) (health.Record, bool, error) {
		if cur.LastTick.Equal(tick) {
			return cur, false, nil // duplicate delivery of this tick
		}
		cur.LastTick = tick
		return bump(cur)
	}
	for range 2 {
		if _, err := s.Update(t.Context(), "bridge", apply); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Get(t.Context(), "bridge")
	if err != nil {
		t.Fatal(err)
	}
	if got.HealthChecksPerformed != 1 || got.Version != 1 || c.puts.Load() != 1 {
		t.Errorf("checks %d, version %d, puts %d; want 1, 1, 1", got.HealthChecksPerformed, got.Version, c.puts.Load())
	}
	if !got.LastTick.Equal(tick) {
		t.Errorf("last tick %v, want %v", got.LastTick, tick)
	}
}

func TestGetNotFound(t *testing.T) {
	client, table := newTable(t)
	_, err := New(client, table).Get(t.Context(), "nobody")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "nobody") {
		t.Errorf("err = %v, want ErrNotFound naming nobody", err)
	}
}

func TestList(t *testing.T) {
	client, table := newTable(t)
	ctx := t.Context()
	s := New(client, table)
	names := []string{"orchestrator", "agent-registry", "websocket-manager", "Zeta", "supervisor"}
	for _, n := range names {
		if _, err := s.Update(ctx, n, bump); err != nil {
			t.Fatal(err)
		}
	}
	// Items of other kinds share the table but not the partition.
	if err := s.PutHistory(ctx, "orchestrator", []health.Transition{{From: health.Uninitialized, To: health.Initializing, At: time.Now()}}); err != nil {
		t.Fatal(err)
	}

	c := &counting{ItemAPI: client, queryLimit: 2}
	recs, err := New(c, table).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Integration)
	}
	want := []string{"Zeta", "agent-registry", "orchestrator", "supervisor", "websocket-manager"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	if c.queries.Load() < 3 {
		t.Errorf("%d queries with page size 2, want at least 3 (pagination)", c.queries.Load())
	}

	t.Run("malformed item is reported beside the rest", func(t *testing.T) {
		item := map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "STATE"}, "sk": &types.AttributeValueMemberS{Value: "broken"},
			"kind": &types.AttributeValueMemberS{Value: "state"}, "schema": &types.AttributeValueMemberN{Value: "1"},
			"integration": &types.AttributeValueMemberS{Value: "broken"}, "version": &types.AttributeValueMemberN{Value: "1"},
			"state": &types.AttributeValueMemberS{Value: "BOGUS"},
		}
		if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatal(err)
		}
		recs, err := s.List(ctx)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "broken") {
			t.Errorf("err = %v, want ErrMalformed naming broken", err)
		}
		if len(recs) != len(names) {
			t.Errorf("%d records, want the %d readable ones", len(recs), len(names))
		}
		// A second bad item: each is named, with its own problems.
		item["sk"] = &types.AttributeValueMemberS{Value: "also-broken"}
		item["integration"] = &types.AttributeValueMemberS{Value: "also-broken"}
		item["schema"] = &types.AttributeValueMemberN{Value: "2"}
		if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatal(err)
		}
		recs, err = s.List(ctx)
		bad := MalformedItems(err)
		if len(bad) != 2 || len(recs) != len(names) {
			t.Fatalf("%d records and %d malformed items (%v); want %d and 2", len(recs), len(bad), err, len(names))
		}
		for i, want := range []struct{ name, problem string }{
			{"also-broken", "schema is 2, want 1"}, {"broken", `state "BOGUS" is unknown`},
		} {
			if bad[i].Integration != want.name || !strings.Contains(strings.Join(bad[i].Problems, "; "), want.problem) || !errors.Is(bad[i], ErrMalformed) {
				t.Errorf("malformed item %d = %+v, want %s with %q", i, bad[i], want.name, want.problem)
			}
		}
	})
}

// A Store needs a client that reads and writes items, nothing more: the
// table's administration is CreateTable's, through TableAPI, which no
// function's role may call. itemsOnly hides every other method of the
// client, and every operation of a Store still works through it.
func TestStoreNeedsOnlyItemAPI(t *testing.T) {
	methods := func(v any) []string {
		typ := reflect.TypeOf(v).Elem()
		var out []string
		for i := range typ.NumMethod() {
			out = append(out, typ.Method(i).Name)
		}
		return out
	}
	if got, want := methods((*ItemAPI)(nil)), []string{"BatchGetItem", "BatchWriteItem", "GetItem", "PutItem", "Query"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ItemAPI methods %v, want %v", got, want)
	}
	if got, want := methods((*TableAPI)(nil)), []string{"CreateTable", "DescribeContinuousBackups", "DescribeTable", "DescribeTimeToLive", "UpdateContinuousBackups", "UpdateTimeToLive"}; !reflect.DeepEqual(got, want) {
		t.Errorf("TableAPI methods %v, want %v", got, want)
	}

	client, table := newTable(t)
	ctx := t.Context()
	type itemsOnly struct{ ItemAPI }
	s := New(itemsOnly{client}, table)
	if _, err := s.Update(ctx, "a", bump); err != nil {
		t.Fatal(err)
	}
	if out := s.UpdateMany(ctx, []string{"a", "b"}, 2, func(_ string, cur health.Record) (health.Record, bool, error) { return bump(cur) }); out[0].Err != nil || out[1].Err != nil {
		t.Fatalf("UpdateMany: %+v", out)
	}
	if r, err := s.Get(ctx, "a"); err != nil || r.HealthChecksPerformed != 2 {
		t.Fatalf("Get = %+v, %v; want 2 checks", r, err)
	}
	if recs, err := s.List(ctx); err != nil || len(recs) != 2 {
		t.Fatalf("List = %d records, %v; want 2", len(recs), err)
	}
	if err := s.PutHistory(ctx, "a", []health.Transition{{From: health.Uninitialized, To: health.Initializing, At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutAttempt(ctx, Attempt{IncidentID: "a-1", Integration: "a", Attempt: 1, Outcome: "failed", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.PutApplied(ctx, "hash", 3, time.Now(), Applied{}); err != nil || !ok {
		t.Fatalf("PutApplied = %v, %v", ok, err)
	}
	if a, err := s.ReadApplied(ctx); err != nil || a.Hash != "hash" {
		t.Fatalf("ReadApplied = %+v, %v", a, err)
	}
}

func TestPutHistory(t *testing.T) {
	client, table := newTable(t)
	ctx := t.Context()
	c := &counting{ItemAPI: client}
	s := New(c, table)
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }

	// Half-second steps mix whole seconds and fractions, which a trimmed
	// RFC3339Nano key would sort wrongly.
	base := now.Add(-time.Hour)
	ts := make([]health.Transition, 30)
	for i := range ts {
		ts[i] = health.Transition{From: health.Active, To: health.Degraded, At: base.Add(time.Duration(i) * 500 * time.Millisecond), Cause: fmt.Sprintf("cause %d", i)}
	}
	if err := s.PutHistory(ctx, "bridge", ts); err != nil {
		t.Fatal(err)
	}
	if c.batches.Load() != 2 {
		t.Errorf("%d BatchWriteItem calls, want 2", c.batches.Load())
	}
	// Writing the same transitions again is idempotent.
	if err := s.PutHistory(ctx, "bridge", ts); err != nil {
		t.Fatal(err)
	}

	out, err := client.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "HISTORY#bridge"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != len(ts) {
		t.Fatalf("%d history items, want %d", len(out.Items), len(ts))
	}
	wantExpiry := now.Add(30 * 24 * time.Hour).Unix()
	for i, item := range out.Items {
		var h historyItem
		if err := attributevalue.UnmarshalMap(item, &h); err != nil {
			t.Fatal(err)
		}
		if h.Cause != ts[i].Cause || !h.At.Equal(ts[i].At) || h.To != health.Degraded || h.Kind != "history" || h.Integration != "bridge" {
			t.Errorf("item %d = %+v, want transition %+v in time order", i, h, ts[i])
		}
		if h.ExpiresAt != wantExpiry {
			t.Errorf("item %d expires_at %d, want %d", i, h.ExpiresAt, wantExpiry)
		}
		at, err := time.Parse(time.RFC3339Nano, strings.SplitN(h.SK, "#", 2)[0])
		if err != nil || !at.Equal(ts[i].At) {
			t.Errorf("item %d sort key %q does not parse back to %v (%v)", i, h.SK, ts[i].At, err)
		}
	}
}

func TestPutHistoryUnprocessed(t *testing.T) {
	ts := make([]health.Transition, 10)
	for i := range ts {
		ts[i] = health.Transition{From: health.Active, To: health.Failed, At: time.Now().Add(time.Duration(i) * time.Second)}
	}

	t.Run("retried until written", func(t *testing.T) {
		client, table := newTable(t)
		// Throttling cannot be provoked in the emulator: this wrapper writes
		// only the first three items of each request for real and hands the
		// rest back as unprocessed, as DynamoDB does under load.
		c := &counting{ItemAPI: client}
		c.batch = func(ctx context.Context, in *dynamodb.BatchWriteItemInput, next ItemAPI) (*dynamodb.BatchWriteItemOutput, error) {
			reqs := in.RequestItems[table]
			k := min(3, len(reqs))
			if _, err := next.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs[:k]}}); err != nil {
				return nil, err
			}
			out := &dynamodb.BatchWriteItemOutput{}
			if k < len(reqs) {
				out.UnprocessedItems = map[string][]types.WriteRequest{table: reqs[k:]}
			}
			return out, nil
		}
		if err := New(c, table).PutHistory(t.Context(), "bridge", ts); err != nil {
			t.Fatal(err)
		}
		if c.batches.Load() != 4 { // 3 + 3 + 3 + 1
			t.Errorf("%d calls, want 4", c.batches.Load())
		}
		out, err := client.Query(t.Context(), &dynamodb.QueryInput{
			TableName:                 aws.String(table),
			KeyConditionExpression:    aws.String("pk = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "HISTORY#bridge"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Items) != len(ts) {
			t.Errorf("%d items written, want %d", len(out.Items), len(ts))
		}
	})

	t.Run("bounded", func(t *testing.T) {
		client, table := newTable(t)
		c := &counting{ItemAPI: client}
		c.batch = func(_ context.Context, in *dynamodb.BatchWriteItemInput, _ ItemAPI) (*dynamodb.BatchWriteItemOutput, error) {
			return &dynamodb.BatchWriteItemOutput{UnprocessedItems: in.RequestItems}, nil
		}
		err := New(c, table).PutHistory(t.Context(), "bridge", ts)
		if err == nil || !strings.Contains(err.Error(), "10 items still unprocessed") || !strings.Contains(err.Error(), "put history bridge") {
			t.Errorf("err = %v, want unprocessed items named", err)
		}
		if c.batches.Load() != maxBatchTries {
			t.Errorf("%d calls, want %d", c.batches.Load(), maxBatchTries)
		}
	})
}

func TestPutAttempt(t *testing.T) {
	client, table := newTable(t)
	ctx := t.Context()
	s := New(client, table)
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }

	a := Attempt{IncidentID: "bridge-20250301T1200", Integration: "bridge", Attempt: 2, Outcome: "failed", DurationMs: 812.5, Error: "webhook 503", At: now}
	created, err := s.PutAttempt(ctx, a)
	if err != nil || !created {
		t.Fatalf("first PutAttempt = %v, %v; want true, nil", created, err)
	}
	dup := a
	dup.Outcome = "succeeded"
	created, err = s.PutAttempt(ctx, dup)
	if err != nil || created {
		t.Fatalf("duplicate PutAttempt = %v, %v; want false, nil", created, err)
	}

	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "INCIDENT#bridge-20250301T1200"},
			"sk": &types.AttributeValueMemberS{Value: "ATTEMPT#002"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got Attempt
	if err := attributevalue.UnmarshalMap(out.Item, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Errorf("stored %+v, want the first report %+v", got, a)
	}
	if want := fmt.Sprint(now.Add(90 * 24 * time.Hour).Unix()); describeAttr(out.Item, "expires_at") != want {
		t.Errorf("expires_at %s, want %s", describeAttr(out.Item, "expires_at"), want)
	}

	if _, err := s.PutAttempt(ctx, Attempt{Integration: "bridge", Attempt: 1}); err == nil {
		t.Error("PutAttempt without incident id succeeded")
	}
}

// UpdateMany reads every state in BatchGetItem calls of 100 keys, writes
// each conditionally, and keeps one integration's problem to itself.
func TestUpdateManyBatchesReads(t *testing.T) {
	client, table := newTable(t)
	ctx := t.Context()
	c := &counting{ItemAPI: client}
	s := New(c, table)
	var names []string
	for i := range 150 {
		names = append(names, fmt.Sprintf("bridge-%03d", i))
	}
	// One stored malformed item must not stop the others.
	item, err := marshalState(health.Record{Integration: "bridge-007", Version: 1, State: "BOGUS"})
	if err != nil {
		t.Fatal(err)
	}
	item["pk"] = &types.AttributeValueMemberS{Value: "STATE"}
	item["sk"] = &types.AttributeValueMemberS{Value: "bridge-007"}
	item["kind"] = &types.AttributeValueMemberS{Value: "state"}
	item["schema"] = &types.AttributeValueMemberN{Value: "1"}
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}

	for round := 1; round <= 2; round++ {
		c.gets.Store(0)
		c.puts.Store(0)
		c.batchGets.Store(0)
		c.unprocessedOnce.Store(round == 2)
		var calls atomic.Int64
		res := s.UpdateMany(ctx, names, 8, func(name string, cur health.Record) (health.Record, bool, error) {
			calls.Add(1)
			if cur.Integration != name {
				return cur, false, fmt.Errorf("fn got %q for %q", cur.Integration, name)
			}
			return bump(cur)
		})
		for i, r := range res {
			switch {
			case names[i] == "bridge-007":
				if !errors.Is(r.Err, ErrMalformed) {
					t.Fatalf("round %d: malformed item: %v", round, r.Err)
				}
			case r.Err != nil:
				t.Fatalf("round %d: %s: %v", round, names[i], r.Err)
			case r.Record.HealthChecksPerformed != round || r.Record.Version != int64(round):
				t.Fatalf("round %d: %s = %d checks, version %d", round, names[i], r.Record.HealthChecksPerformed, r.Record.Version)
			}
		}
		wantBatches := int64(2)
		if round == 2 {
			wantBatches = 3 // one answered all-unprocessed, retried
		}
		if c.gets.Load() != 0 || c.batchGets.Load() != wantBatches || c.puts.Load() != 149 || calls.Load() != 149 {
			t.Fatalf("round %d: %d GetItem, %d BatchGetItem, %d PutItem, fn %d times; want 0, %d, 149, 149",
				round, c.gets.Load(), c.batchGets.Load(), c.puts.Load(), calls.Load(), wantBatches)
		}
	}
	after := rawItem(t, client, table, "bridge-007")
	if !reflect.DeepEqual(after, item) {
		t.Fatal("malformed item was changed")
	}
}
