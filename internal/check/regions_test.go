package check

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/demobridge"
	"github.com/vigil-monitor/vigil/internal/dnstest"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/metrics"
	"github.com/vigil-monitor/vigil/internal/notify"
	"github.com/vigil-monitor/vigil/internal/probe"
)

// inProcess is a hand-written stand-in for Lambda's synchronous Invoke: it
// passes the event and the answer through JSON, as Lambda does, to the
// handler of that function name in this process. The real path (the SDK's
// Invoke through the local gateway to bootstraps under the Runtime Interface
// Emulator) is tested in internal/localrun.
type inProcess struct {
	handlers map[string]*Handler
	// fail, when set, fails an invoke before it reaches the handler.
	fail func(ev Event) error
}

func (p *inProcess) Call(ctx context.Context, function string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	var ev Event
	if err := json.Unmarshal(b, &ev); err != nil {
		return err
	}
	if p.fail != nil {
		if err := p.fail(ev); err != nil {
			return err
		}
	}
	h, ok := p.handlers[function]
	if !ok {
		return fmt.Errorf("no function %s", function)
	}
	res, err := h.Handle(ctx, ev)
	if err != nil {
		return fmt.Errorf("function error: %w", err)
	}
	b, err = json.Marshal(res)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// regionsFixture is three probing regions (r1 the home) of the resolver
// fixture's two integrations, each region with its own DNS server, sharing
// the home table, state machine and topic.
type regionsFixture struct {
	*resolverFixture
	regions map[string]*Handler
	dns     map[string]*dnstest.Server
	inbox   *inbox
}

var threeRegions = []string{"r1", "r2", "r3"}

func newRegionsFixture(t *testing.T, name string) *regionsFixture {
	t.Helper()
	rf := newResolverFixture(t, name)
	in := rf.subscribe()
	f := &regionsFixture{resolverFixture: rf, regions: map[string]*Handler{}, dns: map[string]*dnstest.Server{"r1": rf.dns}, inbox: in}
	inv := &inProcess{handlers: map[string]*Handler{}}
	for _, r := range threeRegions {
		h := *rf.h
		if r != "r1" {
			dns, err := dnstest.NewServer()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(dns.Close)
			dns.Set("a.vigil.test", netip.MustParseAddr("127.0.0.1"))
			dns.Set("b.vigil.test", netip.MustParseAddr("127.0.0.1"))
			f.dns[r] = dns
			h.Probers = probe.NewProbers(probe.WithResolver(dns.Resolver()))
		}
		h.Shards = rf.store
		h.Regions = &Regions{Region: r, Home: "r1", All: threeRegions, HomeFunction: "home-healthcheck", Invoker: inv}
		f.regions[r] = &h
	}
	inv.handlers["home-healthcheck"] = f.regions["r1"]
	return f
}

// report runs tick n in each region given, in order, and returns their
// results.
func (f *regionsFixture) report(n int, regions ...string) []Result {
	f.t.Helper()
	f.clock.Set(f.minute(n).Add(2 * time.Second))
	var out []Result
	for _, r := range regions {
		res, err := f.regions[r].Handle(context.Background(), Event{ScheduledTime: f.minute(n).Format(time.RFC3339)})
		if err != nil {
			f.t.Fatalf("tick %d in %s: %v", n, r, err)
		}
		out = append(out, res)
	}
	return out
}

func (f *regionsFixture) label(n int) string { return f.minute(n).Format(time.RFC3339) }

// Three regions against one table: the tick is decided once, by the report
// that completes the set; a region behind a resolver that never answers is
// set aside and notified, with nothing recorded as failing; a silent region
// leaves its tick to be decided at the next tick by the others; a real
// outage seen everywhere fails the integration and starts one recovery.
func TestRegionsDecideByQuorum(t *testing.T) {
	f := newRegionsFixture(t, "regions")
	main := f.name

	// Each report waits for the regions still missing; the last decides.
	rs := f.report(1, threeRegions...)
	if !slices.Equal(rs[0].WaitingFor, []string{"r2", "r3"}) || len(rs[0].Decided) != 0 || len(rs[0].Integrations) != 0 {
		t.Fatalf("first report: waiting %v, decided %v", rs[0].WaitingFor, rs[0].Decided)
	}
	if !slices.Equal(rs[2].Decided, []string{f.label(1)}) || len(rs[2].Integrations) != 2 {
		t.Fatalf("last report: decided %v, %d integrations", rs[2].Decided, len(rs[2].Integrations))
	}
	rs = f.report(2, "r3", "r2", "r1") // the home reports last: it decides in-process
	if !slices.Equal(rs[2].Decided, []string{f.label(2)}) || rs[2].Integrations[0].State != health.Active {
		t.Fatalf("tick 2: %+v", rs[2])
	}
	if v := f.record(main).Regions; len(v) != 3 || v[0].Region != "r1" || v[2].Region != "r3" {
		t.Fatalf("record's region views %+v", v)
	}

	// r3's resolver never answers: its view is set aside, nothing fails.
	f.dns["r3"].SetMode(dnstest.Silent)
	for n := 3; n <= 5; n++ {
		rs = f.report(n, threeRegions...)
		last := rs[2]
		if _, ok := last.RegionsImpaired["r3"]; !ok || len(last.RegionsImpaired) != 1 {
			t.Fatalf("tick %d: regions impaired %v", n, last.RegionsImpaired)
		}
		for _, ir := range last.Integrations {
			if ir.State != health.Active || ir.ConsecutiveFailures != 0 || ir.Inconclusive != "" {
				t.Fatalf("tick %d: %+v", n, ir)
			}
		}
	}
	if got := count(f.inbox.kinds(), notify.KindRegionImpaired); got != 1 {
		t.Fatalf("region_impaired notified %d times, want once (%v)", got, f.inbox.kinds())
	}
	if pts := f.points(metrics.MetricRegionImpaired); len(pts) != 5 || pts[4] != 1 || pts[0] != 0 {
		t.Fatalf("RegionImpaired points %v, want 0, 0, 1, 1, 1", pts)
	}
	if pts := f.points(metrics.MetricRegionLatency, metrics.Dim{Name: metrics.DimIntegration, Value: main}, metrics.Dim{Name: metrics.DimRegion, Value: "r2"}); len(pts) != 5 {
		t.Fatalf("RegionLatency points for r2: %v", pts)
	}
	f.dns["r3"].SetMode(dnstest.Answer)
	// A fresh resolver: the back-to-back ticks' unanswered lookups would
	// still be in flight (see TestResolverDownIsInconclusive).
	f.regions["r3"].Probers = probe.NewProbers(probe.WithResolver(f.dns["r3"].Resolver()))
	f.report(6, threeRegions...)
	if got := count(f.inbox.kinds(), notify.KindRegionRecovered); got != 1 {
		t.Fatalf("region_recovered notified %d times (%v)", got, f.inbox.kinds())
	}

	// r2 is silent: tick 7 waits, and the first report of tick 8 decides
	// it with the two regions that reported.
	rs = f.report(7, "r1", "r3")
	if !slices.Equal(rs[1].WaitingFor, []string{"r2"}) || !f.record(main).LastTick.Equal(f.minute(6)) {
		t.Fatalf("tick 7 decided without r2 and before tick 8: %+v", rs[1])
	}
	rs = f.report(8, "r1", "r3")
	if !slices.Equal(rs[0].Decided, []string{f.label(7) + " (late)"}) || !f.record(main).LastTick.Equal(f.minute(7)) {
		t.Fatalf("tick 8's first report decided %v; record at %v", rs[0].Decided, f.record(main).LastTick)
	}
	if pts := f.points(metrics.MetricRegionsMissing); len(pts) != 7 || pts[6] != 1 || pts[5] != 0 {
		t.Fatalf("RegionsMissing points %v, want six 0 then 1", pts)
	}

	// A real outage, seen by every region: FAILED at the third failure and
	// one recovery, never a second for the same incident.
	f.fault("orchestrator", demobridge.FaultDown)
	for n := 9; n <= 12; n++ {
		rs = f.report(n, threeRegions...)
		if n == 9 && !slices.Equal(rs[0].Decided, []string{f.label(8) + " (late)"}) {
			t.Fatalf("tick 9's first report decided %v, want tick 8 (late)", rs[0].Decided)
		}
	}
	rec := f.record(main)
	if rec.State != health.Failed || rec.ConsecutiveFailures != 4 || !rec.LastTick.Equal(f.minute(12)) {
		t.Fatalf("after the outage: %s, %d failures, last tick %v", rec.State, rec.ConsecutiveFailures, rec.LastTick)
	}
	if n := f.executions(); n != 1 {
		t.Fatalf("%d recovery executions, want 1", n)
	}
	if other := f.record(main + "-other"); other.State != health.Active {
		t.Fatalf("the other integration: %s", other.State)
	}
}

// A decide request reaches only the home region, and a malformed one
// changes nothing.
func TestDecideRefusedOutsideTheHome(t *testing.T) {
	f := newRegionsFixture(t, "decide-refused")
	f.report(1, threeRegions...)
	ev := Event{Decide: &DecideRequest{Tick: f.label(1), Shard: ShardRef{Index: 0, Count: 1}}}
	if _, err := f.regions["r2"].Handle(context.Background(), ev); err == nil {
		t.Fatal("a probe-only region decided a tick")
	}
	for _, bad := range []Event{
		{Decide: &DecideRequest{Tick: "yesterday", Shard: ShardRef{Index: 0, Count: 1}}},
		{Decide: &DecideRequest{Tick: f.label(1), Shard: ShardRef{Index: 2, Count: 1}}},
		{Decide: &DecideRequest{Tick: f.minute(9000).Format(time.RFC3339), Shard: ShardRef{Index: 0, Count: 1}}},
		{Decide: &DecideRequest{Tick: f.label(1), Shard: ShardRef{Index: 0, Count: 1}}, Manual: true},
	} {
		if _, err := f.regions["r1"].Handle(context.Background(), bad); err == nil {
			t.Errorf("decide %+v accepted", bad.Decide)
		}
	}
	if got := f.record(f.name).LastTick; !got.Equal(f.minute(1)) {
		t.Fatalf("record moved to %v", got)
	}
}

// Regions with shards: each region's coordinator invokes its own shards,
// whose heartbeats are the region's — another region's finished shards
// never stand in for its own.
func TestShardedRegionsEachReport(t *testing.T) {
	f := newRegionsFixture(t, "sharded-regions")
	for _, r := range threeRegions {
		inv := &inProcess{handlers: map[string]*Handler{"self": f.regions[r]}}
		f.regions[r].Fanout = &Fanout{Invoker: inv, Function: "self", Capacity: 3}
	}
	rs := f.report(1, threeRegions...)
	for i, r := range rs {
		if len(r.Shards) != 2 || r.Shards[0].Duplicate || r.Shards[1].Duplicate || r.ShardsFailed != 0 {
			t.Fatalf("%s: shards %+v", threeRegions[i], r.Shards)
		}
	}
	if !slices.Equal(rs[2].Decided, []string{f.label(1)}) || len(rs[2].Integrations) != 2 {
		t.Fatalf("last region: decided %v, %d integrations", rs[2].Decided, len(rs[2].Integrations))
	}
	if rec := f.record(f.name); !rec.LastTick.Equal(f.minute(1)) || len(rec.Regions) != 3 {
		t.Fatalf("record: tick %v, regions %+v", rec.LastTick, rec.Regions)
	}
}

// A region's report that arrives after a later tick was decided completes
// (or re-opens) its tick; deciding it then changes nothing and counts no
// stale tick: a late view never overwrites a later decision.
func TestOvertakenTickDropped(t *testing.T) {
	f := newRegionsFixture(t, "overtaken")
	f.report(1, threeRegions...)
	f.report(2, "r1", "r3")       // r2 late: tick 2 waits
	f.report(3, "r1", "r3", "r2") // tick 2 decided late, then tick 3
	before := f.record(f.name)
	f.clock.Set(f.minute(3).Add(30 * time.Second))
	r, err := f.regions["r2"].Handle(context.Background(), Event{ScheduledTime: f.label(2)})
	if err != nil {
		t.Fatal(err) // r2's report of tick 2, after tick 3 was decided
	}
	if !slices.Equal(r.Decided, []string{f.label(2)}) {
		t.Fatalf("r2's late report decided %v, want tick 2 (its set is complete now)", r.Decided)
	}
	after := f.record(f.name)
	if after.StaleTicks != 0 || after.Version != before.Version || !after.LastTick.Equal(f.minute(3)) {
		t.Fatalf("stale %d, version %d → %d, last tick %v: the overtaken tick was applied", after.StaleTicks, before.Version, after.Version, after.LastTick)
	}
	rs := f.report(4, threeRegions...)
	if !slices.Equal(rs[2].Decided, []string{f.label(4)}) || !f.record(f.name).LastTick.Equal(f.minute(4)) {
		t.Fatalf("tick 4: decided %v", rs[2].Decided)
	}
}
