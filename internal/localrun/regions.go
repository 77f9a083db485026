package localrun

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/vigil-monitor/vigil/internal/check"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/demobridge"
	"github.com/vigil-monitor/vigil/internal/dnstest"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/notify"
	"github.com/vigil-monitor/vigil/internal/shard"
)

// The regions demo: the same monitor probing from three regions, each a
// pool of HealthCheck bootstraps behind its own resolver, the document split
// into two shards, every tick decided once in the home under the quorum.

// The regions StartRegions runs: the home and two probe-only regions.
const (
	regionHome = "us-east-1"
	regionEU   = "eu-west-1"
	regionAPAC = "ap-southeast-2"
)

// demoRegions are the regions of the regions demo, the home first.
var demoRegions = []string{regionHome, regionEU, regionAPAC}

// outageInteg is the integration of the bridge's orchestrator, which act 4
// takes down.
const outageInteg = "orchestration"

// BridgeHost is the demo bridge's name in the regions demo's document: only
// the regions' stand-in resolvers know it (127.0.0.1), so a region whose
// resolver stops answering can no longer reach the bridge.
const BridgeHost = "bridge.vigil.test"

// regionsShardComponents is the demo's VIGIL_SHARD_COMPONENTS: the
// document's six components make two shards of at most four.
const regionsShardComponents = 4

// regionsInstances runs the coordinator and its two shards at once in each
// region.
const regionsInstances = 3

// regionsDocument is the demo's document: three integrations of the demo
// bridge, reached through BridgeHost (%[1]s is its host:port); the recovery
// webhook goes straight to the bridge (%[2]s), as the Recovery function,
// which runs in the home only, knows no stand-in resolver.
const regionsDocument = `# The regions demo's document, written by localrun.StartRegions: the demo
# bridge's components, reached through a name only the regions' resolvers know.
quorum: majority
integrations:
  - name: orchestration
    components:
      - {name: orchestrator, type: http, target: "http://%[1]s/health/orchestrator", timeout: 1s, allow_loopback: true}
      - {name: supervisor, type: http, target: "http://%[1]s/health/supervisor", timeout: 1s, allow_loopback: true}
    recovery:
      webhook: {url: "http://%[2]s/recover", allow_loopback: true}
      max_attempts: 2
      base_delay: 1s
      cooldown: 30m
  - name: messaging
    components:
      - {name: websocket-manager, type: http, target: "http://%[1]s/health/websocket-manager", timeout: 1s, allow_loopback: true}
      - {name: websocket, type: websocket, target: "ws://%[1]s/ws", timeout: 1s, allow_loopback: true, websocket: {send: '{"type":"ping"}', expect: pong}}
  - name: registry
    components:
      - {name: agent-registry, type: http, target: "http://%[1]s/health/agent-registry", timeout: 1s, allow_loopback: true}
      - {name: bridge-metrics, type: http, target: "http://%[1]s/metrics", timeout: 1s, allow_loopback: true}
`

// RegionsStack is a running three-region local Vigil (StartRegions).
type RegionsStack struct {
	*Stack
	// Resolvers are the regions' DNS servers, by region name: each
	// region's probes resolve BridgeHost through its own.
	Resolvers map[string]*dnstest.Server
	bridge    *demobridge.Bridge
	stops     []func()
}

// StartRegions starts the regions demo's stack: three regions (us-east-1
// the home, eu-west-1, ap-southeast-2), each with its own stand-in resolver
// answering BridgeHost with 127.0.0.1 and three HealthCheck bootstraps (a
// coordinator and its two shards), the Recovery function in the home, and a
// demo bridge whose components each answer "initializing" to their first
// three health requests (one per region). It sets o's Regions,
// HealthCheckInstances, ConfigFile (written to o.Dir), Bridge and Functions,
// and adds VIGIL_SHARD_COMPONENTS to o.Env; the other options are the
// caller's.
func StartRegions(ctx context.Context, o Options) (rs *RegionsStack, err error) {
	rs = &RegionsStack{Resolvers: map[string]*dnstest.Server{}}
	defer func() {
		if err != nil {
			rs.Stop()
			rs = nil
		}
	}()
	// The bridge runs here, not in Start: the document names its port
	// behind BridgeHost, which Start's rewrite of the sample address cannot.
	rs.bridge = demobridge.New(demobridge.Options{InitChecks: len(demoRegions)})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return rs, fmt.Errorf("localrun: listen for bridge: %w", err)
	}
	srv := &http.Server{Handler: rs.bridge, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	rs.stops = append(rs.stops, func() { rs.bridge.Close(); _ = srv.Close() })
	addr := l.Addr().(*net.TCPAddr)

	o.Regions = nil
	for _, r := range demoRegions {
		dns, err := dnstest.NewServer()
		if err != nil {
			return rs, err
		}
		rs.stops = append(rs.stops, dns.Close)
		dns.Set(BridgeHost, netip.MustParseAddr("127.0.0.1"))
		rs.Resolvers[r] = dns
		o.Regions = append(o.Regions, Region{Name: r, DNSServer: dns.Addr})
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return rs, fmt.Errorf("localrun: regions demo directory: %w", err)
	}
	o.ConfigFile = filepath.Join(o.Dir, "vigil-regions.yaml")
	doc := fmt.Sprintf(regionsDocument, net.JoinHostPort(BridgeHost, strconv.Itoa(addr.Port)), addr.String())
	if err := os.WriteFile(o.ConfigFile, []byte(doc), 0o644); err != nil {
		return rs, fmt.Errorf("localrun: write regions document: %w", err)
	}
	o.Bridge, o.HealthCheckInstances = nil, regionsInstances
	o.Functions = []string{"healthcheck", "recovery"}
	o.Env = append(slices.Clip(o.Env), "VIGIL_SHARD_COMPONENTS="+strconv.Itoa(regionsShardComponents))
	rs.Stack, err = Start(ctx, o)
	if err != nil {
		return rs, err
	}
	rs.BridgeURL = "http://" + addr.String()
	return rs, nil
}

// Stop stops the stack, then the resolvers and the bridge.
func (rs *RegionsStack) Stop() {
	if rs == nil {
		return
	}
	rs.Stack.Stop()
	for i := len(rs.stops) - 1; i >= 0; i-- {
		rs.stops[i]()
	}
	rs.stops = nil
}

// DescribeShards says in one line how the HealthCheck function splits the
// stack's document into shards of at most capacity components each; 0 is
// the capacity the local functions compute themselves (shard.Capacity at
// their 256 MB).
func (s *Stack) DescribeShards(capacity int) (string, error) {
	doc, err := config.LoadFile(s.ConfigPath)
	if err != nil {
		return "", err
	}
	auto := capacity <= 0
	if auto {
		capacity = shard.Capacity(256, 0)
	}
	plan := shard.Plan(doc.Integrations, capacity)
	if len(plan) == 1 {
		why := fmt.Sprintf("at most %d components per invocation", capacity)
		if auto {
			why = fmt.Sprintf("a 256 MB invocation checks up to %d", capacity)
		}
		return fmt.Sprintf("1 shard: the document's %d components fit one invocation (%s), so the HealthCheck function checks them itself, without fanning out", plan[0].Components, why), nil
	}
	parts := make([]string, len(plan))
	for i, p := range plan {
		parts[i] = fmt.Sprintf("%s %s (%d components)", p.Key, strings.Join(p.Integrations, " + "), p.Components)
	}
	return fmt.Sprintf("%d shards of at most %d components: %s", len(plan), capacity, strings.Join(parts, " · ")), nil
}

// regionsPlay is one play of the regions demo: the ticks so far and what
// decided them.
type regionsPlay struct {
	s    *RegionsStack
	w    io.Writer
	ctx  context.Context
	step string // the act, for errors
	base time.Time
	n    int // ticks so far
	doc  *config.Document
	plan []shard.Shard // the document's shards
	// decidedBy is the region whose report decided each tick; late marks
	// the ticks decided late, and lateFrom the regions whose views they
	// were decided with.
	decidedBy map[int]string
	late      map[int]bool
	lateFrom  map[int][]string
	// setAside are the ticks whose decision set each region aside.
	setAside map[string][]int
	// executions counts the recovery executions started.
	executions int
}

// at is tick n's scheduled time.
func (p *regionsPlay) at(n int) time.Time { return p.base.Add(time.Duration(n) * time.Minute) }

func (p *regionsPlay) errorf(format string, args ...any) error {
	return fmt.Errorf("localrun: regions demo, %s: %s", p.step, fmt.Sprintf(format, args...))
}

// RegionsDemo is the scenario `make run` plays after Demo, on a
// StartRegions stack: every region reports each tick, and the report that
// completes the set has the home decide it; a region whose resolver stops
// answering is set aside without anything recorded failing; a region that
// stays silent leaves its ticks to be decided late by the next tick's first
// report; a real outage seen everywhere fails one integration and starts one
// recovery. It writes a narrated timeline to w and returns an error naming
// the step whenever something is not as described.
func (rs *RegionsStack) RegionsDemo(ctx context.Context, w io.Writer) error {
	p := &regionsPlay{
		s: rs, w: w, ctx: ctx,
		// One minute apart, delivered back to back (accelerated clock), all
		// in the recent past.
		base:      time.Now().UTC().Truncate(time.Minute).Add(-20 * time.Minute),
		decidedBy: map[int]string{}, late: map[int]bool{}, lateFrom: map[int][]string{}, setAside: map[string][]int{},
	}
	for _, act := range []struct {
		step string
		play func() error
	}{
		{"setup", p.setup},
		{"act 1 (healthy)", p.healthy},
		{"act 2 (a region's resolver stops answering)", p.resolverSilent},
		{"act 3 (a silent region)", p.regionSilent},
		{"act 4 (a real outage)", p.outage},
		{"summary", p.summary},
	} {
		p.step = act.step
		if err := act.play(); err != nil {
			return err
		}
	}
	return nil
}

func (p *regionsPlay) setup() error {
	var err error
	if p.doc, err = config.LoadFile(p.s.ConfigPath); err != nil {
		return p.errorf("%v", err)
	}
	p.plan = shard.Plan(p.doc.Integrations, regionsShardComponents)
	if len(p.plan) != 2 {
		return p.errorf("the document makes %d shards, want 2", len(p.plan))
	}
	shards, err := p.s.DescribeShards(regionsShardComponents)
	if err != nil {
		return p.errorf("%v", err)
	}
	fmt.Fprintf(p.w, "Vigil in three regions: %s (home), %s and %s, on moto; each region runs %d HealthCheck bootstraps (a coordinator and its shards) and probes through its own resolver (dnstest on loopback), which answers %s with 127.0.0.1.\n",
		regionHome, regionEU, regionAPAC, regionsInstances, BridgeHost)
	fmt.Fprintf(p.w, "%s (VIGIL_SHARD_COMPONENTS=%d).\n", shards, regionsShardComponents)
	fmt.Fprintf(p.w, "Each region reports its view of a tick to the home table; the report that completes the set has the home decide it (quorum: majority). Ticks are one minute apart, back to back; the regions report in a varying order.\n\n")
	return nil
}

// healthy: every region reports, the last report decides.
func (p *regionsPlay) healthy() error {
	fmt.Fprintf(p.w, "Act 1: healthy. Every region reports; the last report of a tick decides it.\n")
	// The bridge answers each component's first health request from every
	// region "initializing": one failure each, then ACTIVE.
	for _, want := range []struct {
		state    health.State
		failures int
	}{{health.Initializing, 1}, {health.Active, 0}} {
		last, err := p.tick(rotate(demoRegions, p.n+1))
		if err != nil {
			return err
		}
		if err := p.expectAll(last, want.state, want.failures); err != nil {
			return err
		}
	}
	// The integrations' first state changes.
	if _, err := p.s.notifications(p.ctx); err != nil {
		return p.errorf("%v", err)
	}
	return nil
}

// resolverSilent: a region's resolver stops answering; its view is set
// aside, nothing counts as failing, and the region is notified impaired
// once, then recovered.
func (p *regionsPlay) resolverSilent() error {
	eu := regionEU
	fmt.Fprintf(p.w, "\nAct 2: %s's resolver stops answering (every lookup there runs into its timeout).\n", eu)
	p.s.Resolvers[eu].SetMode(dnstest.Silent)
	for range 2 {
		last, err := p.tick(rotate(demoRegions, p.n+1))
		if err != nil {
			return err
		}
		if _, ok := last.RegionsImpaired[eu]; !ok || len(last.RegionsImpaired) != 1 {
			return p.errorf("tick %d: regions set aside %v, want %s alone", p.n, last.RegionsImpaired, eu)
		}
		if err := p.expectAll(last, health.Active, 0); err != nil {
			return err
		}
	}
	if err := p.expectNotified(notify.KindRegionImpaired, eu); err != nil {
		return err
	}
	p.s.Resolvers[eu].SetMode(dnstest.Answer)
	// Go's resolver shares one lookup of a name among a process's callers
	// and lets it run out its attempt after they gave up: the region's
	// bootstraps may still hold one, which the next tick's probes would
	// join and time out on. The next attempt is answered, so every such
	// lookup is over one attempt timeout after the resolver came back;
	// ticks a real minute apart never meet them.
	attempt := lookupAttemptTimeout()
	wait := attempt + 250*time.Millisecond
	fmt.Fprintf(p.w, ">>> %s's resolver answers again. Lookups the silent minutes left in flight in its bootstraps end within one resolver attempt (%s, resolv.conf's timeout): the accelerated clock waits %.1f s for them, as a real minute would.\n",
		eu, attempt, wait.Seconds())
	if err := sleep(p.ctx, wait); err != nil {
		return p.errorf("%v", err)
	}
	last, err := p.tick(rotate(demoRegions, p.n+1))
	if err != nil {
		return err
	}
	if len(last.RegionsImpaired) != 0 {
		return p.errorf("tick %d, the resolver back: regions still set aside: %v", p.n, last.RegionsImpaired)
	}
	if err := p.expectAll(last, health.Active, 0); err != nil {
		return err
	}
	return p.expectNotified(notify.KindRegionRecovered, eu)
}

// regionSilent: a region does not report for two ticks; each waits for it
// and is decided late, from the others' views, by the next tick's first
// report.
func (p *regionsPlay) regionSilent() error {
	ap := regionAPAC
	others := func() []string {
		return slices.DeleteFunc(rotate(demoRegions, p.n+1), func(r string) bool { return r == ap })
	}
	fmt.Fprintf(p.w, "\nAct 3: %s is silent for two ticks (its scheduler does not fire): each of those ticks waits for it, and the next tick's first report decides it late.\n", ap)
	silent := []int{p.n + 1, p.n + 2}
	for range silent {
		if _, err := p.tick(others()); err != nil {
			return err
		}
	}
	fmt.Fprintf(p.w, ">>> %s reports again, first.\n", ap)
	last, err := p.tick(append([]string{ap}, others()...))
	if err != nil {
		return err
	}
	if err := p.expectAll(last, health.Active, 0); err != nil {
		return err
	}
	for _, n := range silent {
		if !p.late[n] {
			return p.errorf("tick %d was decided on time by %s, want late", n, p.decidedBy[n])
		}
		if want := []string{regionEU, regionHome}; !slices.Equal(p.lateFrom[n], want) {
			return p.errorf("tick %d was decided from the views of %v, want %v", n, p.lateFrom[n], want)
		}
	}
	return nil
}

// outage: the bridge's critical orchestrator goes down, every region sees
// it; FAILED, and one recovery at the third failure, never a second.
func (p *regionsPlay) outage() error {
	fmt.Fprintf(p.w, "\nAct 4: a real outage. The bridge's orchestrator (critical) goes down, and the bridge refuses recovery webhooks, so the outage outlasts the recovery.\n")
	if err := p.s.Bridge(p.ctx, "/fault", demobridge.Fault{Component: demobridge.Orchestrator, Fault: demobridge.FaultDown}); err != nil {
		return p.errorf("%v", err)
	}
	if err := p.s.Bridge(p.ctx, "/fault", demobridge.Fault{Component: demobridge.AllComponents, Fault: demobridge.FaultResist, Count: 10}); err != nil {
		return p.errorf("%v", err)
	}
	var execution string
	for failures := 1; failures <= 4; failures++ {
		last, err := p.tick(rotate(demoRegions, p.n+1))
		if err != nil {
			return err
		}
		for _, ir := range last.Integrations {
			want, wantFailures := health.Active, 0
			if ir.Name == outageInteg {
				want, wantFailures = health.Failed, failures
			}
			if ir.State != want || ir.ConsecutiveFailures != wantFailures {
				return p.errorf("tick %d: %s is %s with %d consecutive failures; want %s with %d", p.n, ir.Name, ir.State, ir.ConsecutiveFailures, want, wantFailures)
			}
			if ir.Name != outageInteg {
				continue
			}
			if failures == 1 {
				for _, c := range ir.Components {
					if !c.Healthy {
						fmt.Fprintf(p.w, "        %s: %s\n", c.Name, abbreviate(c.Error))
					}
				}
			}
			// Decided at the third failure; a later check may retry the
			// start while the execution has not yet recorded its first
			// attempt, under the same name, which Step Functions refuses
			// to start twice.
			switch {
			case failures < 3 && ir.RecoveryDue, failures == 3 && !ir.RecoveryStarted:
				return p.errorf("tick %d (failure %d): recovery due %v, started %v", p.n, failures, ir.RecoveryDue, ir.RecoveryStarted)
			case failures > 3 && ir.RecoveryStarted:
				return p.errorf("tick %d (failure %d): a second recovery started (%s)", p.n, failures, ir.RecoveryExecution)
			case failures > 3 && ir.RecoveryDue && ir.RecoveryExecution != execution:
				return p.errorf("tick %d (failure %d): recovery retried under another name %s, want %s", p.n, failures, ir.RecoveryExecution, execution)
			}
			if failures == 3 {
				execution = ir.RecoveryExecution
			}
		}
		rec, err := p.s.Record(p.ctx, outageInteg)
		if err != nil {
			return p.errorf("%v", err)
		}
		if len(rec.Regions) != len(demoRegions) {
			return p.errorf("tick %d: the record holds %d regions' views, want %d", p.n, len(rec.Regions), len(demoRegions))
		}
		for _, v := range rec.Regions {
			if v.Failing == 0 || v.Impaired {
				return p.errorf("tick %d: %s saw %d failing (set aside: %v); want every region to see the outage", p.n, v.Region, v.Failing, v.Impaired)
			}
		}
	}
	execs, err := p.s.Clients.SFN.ListExecutions(p.ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(p.s.StateMachineARN)})
	if err != nil {
		return p.errorf("list executions: %v", err)
	}
	p.executions = len(execs.Executions)
	if p.executions != 1 || aws.ToString(execs.Executions[0].Name) != execution {
		var names []string
		for _, e := range execs.Executions {
			names = append(names, aws.ToString(e.Name))
		}
		return p.errorf("recovery executions %v, want exactly one, %q", names, execution)
	}
	fmt.Fprintf(p.w, "Recovery executions on the state machine: 1 (%s, %s), started at the 3rd failure; the 4th started none.\n", execution, execs.Executions[0].Status)
	return nil
}

// tick has the regions of order report the next tick, one after another,
// and narrates one line per region. It checks that each tick is decided
// once, and by the report that completes the set, and returns the last
// region's result.
func (p *regionsPlay) tick(order []string) (check.Result, error) {
	p.n++
	n, t := p.n, p.at(p.n)
	fmt.Fprintf(p.w, "tick %-2d %s\n", n, t.Format("15:04Z"))
	var r check.Result
	for i, region := range order {
		began := time.Now()
		var err error
		if r, err = p.s.TickIn(p.ctx, region, t); err != nil {
			return r, p.errorf("tick %d in %s: %v", n, region, err)
		}
		if err := p.checkShards(n, region, r); err != nil {
			return r, err
		}
		// Reports come one after another: each waits for the regions that
		// have not reported yet.
		waiting := slices.DeleteFunc(slices.Clone(demoRegions), func(x string) bool { return slices.Contains(order[:i+1], x) })
		slices.Sort(waiting)
		if !slices.Equal(r.WaitingFor, waiting) {
			return r, p.errorf("tick %d in %s: waiting for %v, want %v", n, region, r.WaitingFor, waiting)
		}
		line, err := p.account(region, n, r)
		if err != nil {
			return r, err
		}
		fmt.Fprintf(p.w, "  %-15s %d shards %5.0f ms  %s\n", region, len(r.Shards), float64(time.Since(began).Milliseconds()), line)
		if err := p.narrateLate(r); err != nil {
			return r, err
		}
	}
	by := p.decidedBy[n]
	if last := order[len(order)-1]; len(order) == len(demoRegions) && by != last {
		return r, p.errorf("tick %d: every region reported, and %q decided it, not the last report (%s)", n, by, last)
	}
	if len(order) < len(demoRegions) && by != "" {
		return r, p.errorf("tick %d was decided by %s without every region's report", n, by)
	}
	return r, nil
}

// checkShards checks that a region's report of tick n ran every shard of
// the plan once, there: none failed, and none was skipped as a duplicate
// (each region reports each tick once).
func (p *regionsPlay) checkShards(n int, region string, r check.Result) error {
	var bad []string
	for _, sr := range r.Shards {
		switch {
		case sr.Error != "":
			bad = append(bad, fmt.Sprintf("%d/%d failed: %s", sr.Index, sr.Count, abbreviateTo(sr.Error, 120)))
		case sr.Duplicate:
			bad = append(bad, fmt.Sprintf("%d/%d skipped as already done this tick", sr.Index, sr.Count))
		}
	}
	if len(r.Shards) != len(p.plan) || len(bad) > 0 || r.ShardsFailed != 0 || r.Region != region {
		return p.errorf("tick %d in %s: %d of %d shards ran (%s; %d failed), reporting as region %q", n, region, len(r.Shards)-len(bad), len(p.plan), strings.Join(bad, "; "), r.ShardsFailed, r.Region)
	}
	return nil
}

// account checks one region's report against the ticks decided so far and
// returns its narration: its own view when impaired, the ticks it decided,
// what the tick still waits for, and the decided states.
func (p *regionsPlay) account(region string, n int, r check.Result) (string, error) {
	var parts []string
	if r.CheckerImpaired != "" {
		cause, _, _ := strings.Cut(r.CheckerImpaired, " (first")
		parts = append(parts, "own checks find it impaired: "+abbreviateTo(cause, 80))
	}
	onTime := false
	for _, label := range r.Decided {
		at, late := strings.CutSuffix(label, " (late)")
		tt, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return "", p.errorf("tick %d in %s: decided %q", n, region, label)
		}
		k := int(tt.Sub(p.base) / time.Minute)
		if by, ok := p.decidedBy[k]; ok {
			return "", p.errorf("tick %d decided twice: by %s, and again by %s at tick %d", k, by, region, n)
		}
		if late != (k < n) {
			return "", p.errorf("tick %d in %s: decided %q", n, region, label)
		}
		p.decidedBy[k], p.late[k] = region, late
		if late {
			parts = append(parts, fmt.Sprintf("decided tick %d late", k))
			continue
		}
		onTime = true
		parts = append(parts, fmt.Sprintf("decided tick %d", k))
	}
	if len(r.WaitingFor) > 0 {
		if onTime {
			return "", p.errorf("tick %d in %s: decided, yet waiting for %v", n, region, r.WaitingFor)
		}
		parts = append(parts, "waiting for "+strings.Join(r.WaitingFor, ", "))
	}
	if onTime != (len(r.Integrations) > 0) {
		return "", p.errorf("tick %d in %s: decided %v with %d integrations", n, region, r.Decided, len(r.Integrations))
	}
	if onTime {
		parts = append(parts, states(r.Integrations))
		for _, ir := range r.Integrations {
			if ir.Outcome != "applied" {
				return "", p.errorf("tick %d: %s's check was %q, want applied", n, ir.Name, ir.Outcome)
			}
			if ir.RecoveryDue {
				parts = append(parts, fmt.Sprintf("%s: recovery due, StartExecution %s (started: %v)", ir.Name, ir.RecoveryExecution, ir.RecoveryStarted))
			}
		}
		aside := slices.Sorted(maps.Keys(r.RegionsImpaired))
		for _, other := range aside {
			p.setAside[other] = append(p.setAside[other], n)
		}
		if len(aside) > 0 {
			parts = append(parts, strings.Join(aside, ", ")+" set aside")
		}
	}
	return strings.Join(parts, " · "), nil
}

// narrateLate prints the states a late decision left, read back from the
// records, with the regions whose views it was decided from.
func (p *regionsPlay) narrateLate(r check.Result) error {
	if len(r.Integrations) > 0 {
		return nil // the records are past the late tick already
	}
	for _, label := range r.Decided {
		at, late := strings.CutSuffix(label, " (late)")
		if !late {
			continue
		}
		tt, _ := time.Parse(time.RFC3339, at)
		k := int(tt.Sub(p.base) / time.Minute)
		var irs []check.IntegrationResult
		var from []string
		for _, integ := range p.doc.Integrations {
			rec, err := p.s.Record(p.ctx, integ.Name)
			if err != nil {
				return p.errorf("%v", err)
			}
			if !rec.LastTick.Equal(tt) {
				return p.errorf("tick %d decided late, yet %s's record is at %s", k, integ.Name, rec.LastTick.Format(time.RFC3339))
			}
			irs = append(irs, check.IntegrationResult{Name: integ.Name, State: rec.State, ConsecutiveFailures: rec.ConsecutiveFailures})
			var regions []string
			for _, v := range rec.Regions {
				regions = append(regions, v.Region)
			}
			slices.Sort(regions)
			if from != nil && !slices.Equal(from, regions) {
				return p.errorf("tick %d decided late from %v for one integration, %v for another", k, from, regions)
			}
			from = regions
		}
		p.lateFrom[k] = from
		fmt.Fprintf(p.w, "        tick %d, decided late from the views of %s: %s\n", k, strings.Join(from, " and "), states(irs))
	}
	return nil
}

// expectAll checks that a decided tick left every integration in state with
// that many consecutive failures, and nothing inconclusive.
func (p *regionsPlay) expectAll(r check.Result, state health.State, failures int) error {
	if len(r.Integrations) != len(p.doc.Integrations) {
		return p.errorf("tick %d: the deciding report holds %d integrations, want %d", p.n, len(r.Integrations), len(p.doc.Integrations))
	}
	for _, ir := range r.Integrations {
		if ir.State != state || ir.ConsecutiveFailures != failures || ir.Inconclusive != "" {
			return p.errorf("tick %d: %s is %s with %d consecutive failures (inconclusive: %q); want %s with %d", p.n, ir.Name, ir.State, ir.ConsecutiveFailures, ir.Inconclusive, state, failures)
		}
	}
	return nil
}

// expectNotified reads the notifications sent since the last look and
// checks that kind was sent exactly once, for region.
func (p *regionsPlay) expectNotified(kind, region string) error {
	ns, err := p.s.notifications(p.ctx)
	if err != nil {
		return p.errorf("%v", err)
	}
	var got []notification
	for _, n := range ns {
		if n.Kind == notify.KindRegionImpaired || n.Kind == notify.KindRegionRecovered {
			got = append(got, n)
		}
	}
	if len(got) != 1 || got[0].Kind != kind {
		var kinds []string
		for _, n := range got {
			kinds = append(kinds, n.Kind)
		}
		return p.errorf("region notifications %v, want one %s for %s", kinds, kind, region)
	}
	fmt.Fprintf(p.w, "        notified once: %s (%s, topic %s): %s\n", kind, got[0].Severity, got[0].Topic, abbreviateTo(got[0].Cause, 110))
	return nil
}

// summary checks that every tick was applied once to every integration,
// and says what happened.
func (p *regionsPlay) summary() error {
	for _, integ := range p.doc.Integrations {
		rec, err := p.s.Record(p.ctx, integ.Name)
		if err != nil {
			return p.errorf("%v", err)
		}
		if rec.HealthChecksPerformed != p.n || !rec.LastTick.Equal(p.at(p.n)) {
			return p.errorf("%s counts %d checks up to %s; want %d, up to tick %d", integ.Name, rec.HealthChecksPerformed, rec.LastTick.Format(time.RFC3339), p.n, p.n)
		}
	}
	var late []string
	for n := 1; n <= p.n; n++ {
		if p.late[n] {
			late = append(late, strconv.Itoa(n))
		}
	}
	var aside []string
	for _, r := range slices.Sorted(maps.Keys(p.setAside)) {
		ticks := make([]string, len(p.setAside[r]))
		for i, n := range p.setAside[r] {
			ticks[i] = strconv.Itoa(n)
		}
		aside = append(aside, fmt.Sprintf("%s at ticks %s", r, strings.Join(ticks, ", ")))
	}
	if len(aside) == 0 {
		aside = []string{"none"}
	}
	fmt.Fprintf(p.w, "\nSummary: %d shards per tick in each of %d regions (%s); %d ticks, %d decisions, each once: %d on time, %d late (ticks %s); regions set aside: %s; recovery executions: %d.\n",
		len(p.plan), len(demoRegions), strings.Join(demoRegions, ", "), p.n, len(p.decidedBy), len(p.decidedBy)-len(late), len(late), strings.Join(late, ", "), strings.Join(aside, "; "), p.executions)
	return nil
}

// states lists integrations' states by name, with their consecutive
// failures when they have any.
func states(irs []check.IntegrationResult) string {
	irs = slices.Clone(irs)
	slices.SortFunc(irs, func(a, b check.IntegrationResult) int { return strings.Compare(a.Name, b.Name) })
	parts := make([]string, len(irs))
	for i, ir := range irs {
		parts[i] = fmt.Sprintf("%s %s", ir.Name, ir.State)
		switch ir.ConsecutiveFailures {
		case 0:
		case 1:
			parts[i] += " (1 failure)"
		default:
			parts[i] += fmt.Sprintf(" (%d failures)", ir.ConsecutiveFailures)
		}
	}
	return strings.Join(parts, ", ")
}

// rotate returns regions starting at the k-th, wrapping around: ticks
// rotate who reports last, so the home and the probe-only regions take
// turns completing the set.
func rotate(regions []string, k int) []string {
	k %= len(regions)
	return append(slices.Clone(regions[k:]), regions[:k]...)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lookupAttemptTimeout is how long Go's resolver waits for the answer to one
// attempt of a lookup: resolv.conf's "options timeout:n", 5 s by default.
func lookupAttemptTimeout() time.Duration {
	d := 5 * time.Second
	b, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return d
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "options" {
			continue
		}
		for _, o := range f[1:] {
			if v, ok := strings.CutPrefix(o, "timeout:"); ok {
				if n, err := strconv.Atoi(v); err == nil {
					d = time.Duration(max(n, 1)) * time.Second
				}
			}
		}
	}
	return d
}
