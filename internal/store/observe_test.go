package store

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/vigil-monitor/vigil/internal/probe/outcome"
)

var obsTick = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// observation is a region's report of shard 1/3 with healthy and failing
// results carrying every field.
func observation(region string, tick time.Time) Observation {
	days := 42.5
	return Observation{Tick: tick, Shard: "1/3", Region: region, At: tick.Add(20*time.Second + 1500*time.Microsecond),
		Results: map[string][]outcome.Result{
			"bridge": {
				{Component: "api", Healthy: true, Latency: 123456789, StatusCode: 200, Metrics: map[string]float64{"queue_depth": 7.25}, CertDaysLeft: &days},
				{Component: "db", Latency: 2 * time.Second, Error: "connect: timeout after 2s", Phase: outcome.PhaseConnect, Side: outcome.SideUnknown},
			},
			"relay": {{Component: "ws", Latency: 15 * time.Millisecond, Error: "status: 503 <Service Unavailable> & more", Phase: outcome.PhaseStatus, Side: outcome.SideTarget, StatusCode: 503}},
		}}
}

func sameObservation(t *testing.T, got, want Observation) {
	t.Helper()
	if !got.Tick.Equal(want.Tick) || !got.At.Equal(want.At) || got.Shard != want.Shard || got.Region != want.Region || got.Impaired != want.Impaired {
		t.Errorf("observation %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual(got.Results, want.Results) {
		t.Errorf("results of %s %+v\nwant %+v", got.Region, got.Results, want.Results)
	}
}

func putRaw(t *testing.T, client ItemAPI, table string, item map[string]types.AttributeValue) {
	t.Helper()
	if _, err := client.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
}

func getRaw(t *testing.T, client ItemAPI, table, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: keyOf(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

// Two regions' observations come back whole and sorted by region; the
// results are stored compressed, and the tick is marked open.
func TestObservationRoundTrip(t *testing.T) {
	client, table := newTable(t)
	ctx := t.Context()
	s := New(client, table)
	us, eu := observation("us-east-1", obsTick), observation("eu-west-1", obsTick)
	eu.Impaired = "resolver refused: 9 of 9 controls failing"
	for _, o := range []Observation{us, eu} {
		if err := s.PutObservation(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Observations(ctx, obsTick, "1/3")
	if err != nil || len(got) != 2 {
		t.Fatalf("Observations = %d, %v; want 2", len(got), err)
	}
	sameObservation(t, got[0], eu)
	sameObservation(t, got[1], us)

	for _, other := range []struct {
		tick  time.Time
		shard string
	}{{obsTick.Add(time.Minute), "1/3"}, {obsTick, "2/3"}, {obsTick.Add(time.Nanosecond), "1/3"}} {
		if got, err := s.Observations(ctx, other.tick, other.shard); err != nil || len(got) != 0 {
			t.Errorf("Observations(%v, %s) = %d, %v; want none", other.tick, other.shard, len(got), err)
		}
	}

	item := getRaw(t, client, table, "OBS#2026-03-01T12:00:00Z#1/3", "eu-west-1")
	b, ok := item["results"].(*types.AttributeValueMemberB)
	if !ok || len(b.Value) < 2 || b.Value[0] != 0x1f || b.Value[1] != 0x8b {
		t.Errorf("results attribute %T is not gzip", item["results"])
	}
	if want := strconv.FormatInt(obsTick.Add(time.Hour).Unix(), 10); describeAttr(item, "expires_at") != want || stringAttr(item, "kind") != "observation" {
		t.Errorf("expires_at %s kind %s, want %s and observation", describeAttr(item, "expires_at"), describeAttr(item, "kind"), want)
	}
	open := getRaw(t, client, table, "OPEN#1/3", "2026-03-01T12:00:00.000000000Z")
	if want := strconv.FormatInt(obsTick.Add(time.Hour).Unix(), 10); describeAttr(open, "expires_at") != want {
		t.Errorf("open marker %v, want expires_at %s", open, want)
	}
}

// A tampered item is skipped and named; the good ones still come back.
func TestObservationsSkipMalformed(t *testing.T) {
	client, table := newTable(t)
	ctx := t.Context()
	s := New(client, table)
	good := observation("us-east-1", obsTick)
	if err := s.PutObservation(ctx, good); err != nil {
		t.Fatal(err)
	}
	raw := func(o Observation, tamper func(map[string]types.AttributeValue)) {
		item, err := observationItem(o)
		if err != nil {
			t.Fatal(err)
		}
		tamper(item)
		putRaw(t, client, table, item)
	}
	raw(observation("ap-south-1", obsTick), func(item map[string]types.AttributeValue) {
		item["results"] = &types.AttributeValueMemberB{Value: []byte("not gzip at all")}
	})
	raw(observation("eu-west-1", obsTick), func(item map[string]types.AttributeValue) { item["sk"] = sAttr("eu-north-1") })
	slow := observation("sa-east-1", obsTick)
	slow.Results["bridge"][0].Latency = -time.Second
	raw(slow, func(map[string]types.AttributeValue) {})
	many := observation("me-south-1", obsTick)
	many.Results = map[string][]outcome.Result{"big": make([]outcome.Result, MaxObservationResults+1)}
	for i := range many.Results["big"] {
		many.Results["big"][i] = outcome.Result{Component: "c", Healthy: true}
	}
	raw(many, func(map[string]types.AttributeValue) {})

	got, err := s.Observations(ctx, obsTick, "1/3")
	if len(got) != 1 {
		t.Fatalf("%d observations, want only us-east-1 (%v)", len(got), err)
	}
	sameObservation(t, got[0], good)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
	for _, want := range []string{`"ap-south-1": malformed stored item: attribute results: gzip: invalid header`,
		`"eu-north-1": malformed stored item: key does not match`, `"sa-east-1": malformed stored item: integration "bridge" result 0: latency -1s`,
		`"me-south-1": malformed stored item: 10001 results, over 10000`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}

// An observation too big for one item is refused, naming shard, region and
// size, and nothing is written; one just under the bound is written whole.
// So is an observation Observations would skip.
func TestPutObservationRefused(t *testing.T) {
	client, table := newTable(t)
	ctx := t.Context()
	s := New(client, table)
	rng := rand.New(rand.NewPCG(1, 2))
	noise := func(n int) Observation { // incompressible errors
		o := observation("eu-west-1", obsTick)
		rs := make([]outcome.Result, n)
		for i := range rs {
			b := make([]byte, 250)
			for j := range b {
				b[j] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"[rng.IntN(64)]
			}
			rs[i] = outcome.Result{Component: "c" + strconv.Itoa(i), Error: string(b), Phase: outcome.PhaseBody, Side: outcome.SideTarget}
		}
		o.Results = map[string][]outcome.Result{"noisy": rs}
		return o
	}

	err := s.PutObservation(ctx, noise(3000))
	m := regexp.MustCompile(`shard 1/3 by eu-west-1: item is (\d+) bytes compressed, over the 358400-byte limit`).FindStringSubmatch(errString(err))
	if m == nil {
		t.Fatalf("err = %v, want the shard, region and size named", err)
	}
	if n, _ := strconv.Atoi(m[1]); n <= MaxObservationItem {
		t.Errorf("refused at %d bytes", n)
	}
	if got, _ := s.Observations(ctx, obsTick, "1/3"); len(got) != 0 {
		t.Errorf("refused observation was written")
	}
	if ticks, _ := s.OpenTicks(ctx, "1/3", obsTick.Add(time.Hour)); len(ticks) != 0 {
		t.Errorf("refused observation opened tick %v", ticks)
	}

	if err := s.PutObservation(ctx, noise(1200)); err != nil {
		t.Fatalf("an observation under the bound: %v", err)
	}
	if got, err := s.Observations(ctx, obsTick, "1/3"); err != nil || len(got) != 1 || len(got[0].Results["noisy"]) != 1200 {
		t.Fatalf("read back %d observations, %v", len(got), err)
	}

	for _, tc := range []struct {
		change func(*Observation)
		want   string
	}{
		{func(o *Observation) { o.Shard = "1#3" }, `shard "1#3" is not 1-64 bytes without '#'`},
		{func(o *Observation) { o.Region = "" }, `region "" is not 1-64 bytes`},
		{func(o *Observation) { o.Tick = time.Time{} }, "tick is zero"},
		{func(o *Observation) { o.Results["relay"][0].Side = "sideways" }, `integration "relay" result 0: side "sideways" is unknown`},
		{func(o *Observation) { o.Results["relay"][0].Error = strings.Repeat("e", 257) }, `"relay" result 0: error is 257 bytes, over 256`},
		{func(o *Observation) { o.Results[""] = nil }, `integration name "" is not 1-64 bytes`},
		{func(o *Observation) { o.Results["bridge"][0].Metrics = map[string]float64{"": 1} }, `"bridge" result 0: metric name "" is not 1-255 bytes`},
	} {
		o := observation("us-west-2", obsTick)
		tc.change(&o)
		if err := s.PutObservation(ctx, o); err == nil || !strings.Contains(err.Error(), "refusing to write: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
	if got, _ := s.Observations(ctx, obsTick, "1/3"); len(got) != 1 {
		t.Errorf("%d observations after refusals, want 1", len(got))
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Open ticks come oldest first, at most 10, strictly before the bound, and
// only the shard's own; CloseTick removes one and is idempotent.
func TestOpenTicksAndCloseTick(t *testing.T) {
	client, table := newTable(t)
	ctx := t.Context()
	s := New(client, table)
	// Half-second steps mix whole seconds and fractions, which a trimmed
	// RFC3339Nano sort key would order wrongly.
	ticks := make([]time.Time, 13)
	for i := range ticks {
		ticks[i] = obsTick.Add(time.Duration(i) * 500 * time.Millisecond)
	}
	for _, i := range rand.New(rand.NewPCG(3, 4)).Perm(len(ticks)) {
		o := observation("eu-west-1", ticks[i])
		if err := s.PutObservation(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	other := observation("eu-west-1", obsTick.Add(-time.Minute))
	other.Shard = "2/3"
	if err := s.PutObservation(ctx, other); err != nil {
		t.Fatal(err)
	}
	open := func(before time.Time, want ...time.Time) {
		t.Helper()
		got, err := s.OpenTicks(ctx, "1/3", before)
		if err != nil || !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("OpenTicks(before %v) = %v, %v\nwant %v", before, got, err, want)
		}
	}
	open(obsTick.Add(time.Hour), ticks[:10]...)
	open(ticks[3], ticks[:3]...)
	open(obsTick)
	for range 2 {
		if err := s.CloseTick(ctx, ticks[1], "1/3"); err != nil {
			t.Fatal(err)
		}
	}
	open(ticks[3], ticks[0], ticks[2])
	if got, err := s.OpenTicks(ctx, "2/3", obsTick); err != nil || len(got) != 1 || !got[0].Equal(other.Tick) {
		t.Errorf("shard 2/3 open ticks = %v, %v", got, err)
	}
}

// A heartbeat only moves forward, and a malformed one is named.
func TestShardTick(t *testing.T) {
	client, table := newTable(t)
	ctx := t.Context()
	s := New(client, table)
	if tick, err := s.ShardTick(ctx, "0/2"); err != nil || !tick.IsZero() {
		t.Fatalf("ShardTick before any = %v, %v", tick, err)
	}
	t5, t55 := obsTick.Add(5*time.Second), obsTick.Add(5500*time.Millisecond)
	at := obsTick.Add(time.Minute)
	for _, step := range []struct {
		tick time.Time
		want bool
	}{{t5, true}, {t55, true}, {t55, false}, {t5, false}, {obsTick, false}} {
		if ok, err := s.PutShardTick(ctx, "0/2", step.tick, at.Add(time.Duration(step.tick.Nanosecond()))); err != nil || ok != step.want {
			t.Errorf("PutShardTick(%v) = %v, %v; want %v", step.tick, ok, err, step.want)
		}
	}
	if tick, err := s.ShardTick(ctx, "0/2"); err != nil || !tick.Equal(t55) {
		t.Errorf("ShardTick = %v, %v; want %v", tick, err, t55)
	}
	if got, want := stringAttr(getRaw(t, client, table, "SHARD", "0/2"), "at"), "2026-03-01T12:01:00.5Z"; got != want {
		t.Errorf("at %q, want %q (the forward write's)", got, want)
	}
	if ok, err := s.PutShardTick(ctx, "1/2", t5, at); err != nil || !ok {
		t.Fatalf("PutShardTick 1/2 = %v, %v", ok, err)
	}
	item := keyOf("SHARD", "2/2")
	item["kind"], item["tick"] = sAttr("shard"), sAttr("yesterday")
	putRaw(t, client, table, item)

	ticks, err := s.ShardTicks(ctx)
	if len(ticks) != 2 || !ticks["0/2"].Equal(t55) || !ticks["1/2"].Equal(t5) {
		t.Errorf("ShardTicks = %v, want 0/2 at %v and 1/2 at %v", ticks, t55, t5)
	}
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), `heartbeat "2/2": malformed stored item: attribute tick is not an RFC 3339 time`) {
		t.Errorf("ShardTicks err = %v, want 2/2 named", err)
	}
	if _, err := s.ShardTick(ctx, "2/2"); !errors.Is(err, ErrMalformed) {
		t.Errorf("ShardTick of a malformed heartbeat: %v", err)
	}
}

// SetRegionStatus writes only over the version read.
func TestRegionStatus(t *testing.T) {
	client, table := newTable(t)
	ctx := t.Context()
	s := New(client, table)
	if sts, err := s.RegionStatuses(ctx); err != nil || len(sts) != 0 {
		t.Fatalf("RegionStatuses before any = %v, %v", sts, err)
	}
	impaired := RegionStatus{Region: "eu-west-1", Impaired: true, Cause: "sees 4 of 5 failing; 2 others see them passing", Since: obsTick}
	recovered := RegionStatus{Region: "eu-west-1", Since: obsTick.Add(time.Hour)}
	for _, step := range []struct {
		st   RegionStatus
		prev int64
		want bool
	}{{impaired, 0, true}, {recovered, 0, false}, {recovered, 1, true}, {impaired, 1, false}, {impaired, 3, false}} {
		if ok, err := s.SetRegionStatus(ctx, step.st, step.prev); err != nil || ok != step.want {
			t.Errorf("SetRegionStatus(%+v over %d) = %v, %v; want %v", step.st, step.prev, ok, err, step.want)
		}
	}
	if ok, err := s.SetRegionStatus(ctx, RegionStatus{Region: "ap-south-1"}, 0); err != nil || !ok {
		t.Fatalf("second region: %v, %v", ok, err)
	}
	sts, err := s.RegionStatuses(ctx)
	recovered.Version = 2
	if got := sts["eu-west-1"]; err != nil || len(sts) != 2 || got.Version != 2 || got.Impaired || got.Cause != "" || !got.Since.Equal(recovered.Since) {
		t.Errorf("RegionStatuses = %+v, %v; want eu-west-1 %+v", sts, err, recovered)
	}
	if ok, err := s.SetRegionStatus(ctx, impaired, 2); err != nil || !ok {
		t.Fatalf("impaired again: %v, %v", ok, err)
	}
	sts, _ = s.RegionStatuses(ctx)
	if got := sts["eu-west-1"]; got.Version != 3 || !got.Impaired || got.Cause != impaired.Cause || !got.Since.Equal(impaired.Since) || got.Region != "eu-west-1" {
		t.Errorf("after the third write %+v", got)
	}
	if _, err := s.SetRegionStatus(ctx, RegionStatus{Region: "eu#west"}, 0); err == nil || !strings.Contains(err.Error(), `region "eu#west" is not 1-64 bytes without '#'`) {
		t.Errorf("a region with '#': %v", err)
	}
	if sts, _ := s.RegionStatuses(ctx); len(sts) != 2 {
		t.Errorf("%d region statuses after a refused write, want 2", len(sts))
	}
}
