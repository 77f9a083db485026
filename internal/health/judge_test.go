package health

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/probe/outcome"
)

// failedAt is an unhealthy result that stopped at phase, on side.
func failedAt(name, phase string, side outcome.Side, err string) outcome.Result {
	return outcome.Result{Component: name, Error: err, Phase: phase, Side: side}
}

// Judge is the one judgment of health: every limit the check applies, by
// component name, with the checker's own faults kept apart.
func TestJudge(t *testing.T) {
	c := Check{Integration: bridge()}
	memoryLimit(&c)
	withMem := c.Integration

	dnsTimeout := func(name string) outcome.Result {
		return failedAt(name, outcome.PhaseDNS, outcome.SideUnknown, "DNS: lookup of x timed out (timeout after 1s)")
	}
	tests := []struct {
		name    string
		integ   config.Integration
		results []outcome.Result
		im      Impairment
		want    Condition
		cause   string
	}{
		{"all healthy", bridge(), allOK(), Impairment{}, ConditionHealthy, "all components healthy"},
		{"critical down", bridge(), criticalDown(), Impairment{}, ConditionFailed, `critical component "orchestrator" unhealthy: status 503`},
		{"non-critical down", bridge(), nonCriticalDown(), Impairment{}, ConditionDegraded, `non-critical component "dashboard"`},
		{"6 s latency over the 5 s critical", bridge(), slow(), Impairment{}, ConditionDegraded, `component "registry" latency 6s over critical 5s`},
		{"812 MB over the 800 MB limit", withMem, withMemory(812), Impairment{}, ConditionDegraded, `MemoryMB 812 over critical 800`},
		{"799 MB within the limit", withMem, withMemory(799), Impairment{}, ConditionHealthy, "all components healthy"},
		{"certificate within its critical days", bridge(), expiring(3), Impairment{}, ConditionDegraded, "certificate expires in 3.0 days"},
		{"results in another order match by name", bridge(), reversed(criticalDown()), Impairment{}, ConditionFailed, `"orchestrator"`},
		{"a missing result is the checker's, not the target's", bridge(), allOK()[:2], Impairment{}, ConditionInconclusive, `"dashboard" not judged: no probe result`},
		{"a result for an unknown name is ignored", bridge(), append(allOK(), res("intruder", false, 0, "status 500")), Impairment{}, ConditionHealthy, "all components healthy"},
		{"checker-side failure only: inconclusive", bridge(), replace(allOK(), failedAt("orchestrator", outcome.PhaseChecker, outcome.SideChecker, `checker: secret header "Authorization" could not be resolved`)), Impairment{}, ConditionInconclusive, "checker-side fault"},
		{"checker-side beside a target failure: judged on the target", bridge(), replace(criticalDown(), failedAt("registry", outcome.PhaseDNS, outcome.SideChecker, "DNS: server refused the query")), Impairment{}, ConditionFailed, `"orchestrator"`},
		{"ambiguous failure alone counts against the target", bridge(), replace(allOK(), dnsTimeout("orchestrator")), Impairment{}, ConditionFailed, "timed out"},
		{"ambiguous failure at an impaired step is the checker's", bridge(), replace(allOK(), dnsTimeout("orchestrator")), Impairment{Phases: []string{outcome.PhaseDNS}}, ConditionInconclusive, "checker-side fault"},
		{"impaired DNS does not excuse a refused connection", bridge(), replace(allOK(), failedAt("orchestrator", outcome.PhaseConnect, outcome.SideTarget, "connect: connection refused")), Impairment{Phases: []string{outcome.PhaseDNS}}, ConditionFailed, "connection refused"},
		{"failed controls excuse every ambiguous failure", bridge(), replace(allOK(), failedAt("orchestrator", outcome.PhaseConnect, outcome.SideUnknown, "connect: timeout after 1s")), Impairment{All: true}, ConditionInconclusive, "checker-side fault"},
		{"failed controls never excuse a 503", bridge(), criticalDown(), Impairment{All: true}, ConditionFailed, "status 503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Judge(tt.integ, tt.results, tt.im)
			if v.Condition != tt.want || !strings.Contains(v.Cause, tt.cause) {
				t.Fatalf("Judge = %s %q, want %s containing %q", v.Condition, v.Cause, tt.want, tt.cause)
			}
			if v.Healthy() != (tt.want == ConditionHealthy) {
				t.Fatalf("Healthy() = %v for %s", v.Healthy(), v.Condition)
			}
			names := make([]string, len(v.Components))
			for i, c := range v.Components {
				names[i] = c.Name
			}
			if !slices.Equal(names, []string{"orchestrator", "registry", "dashboard"}) {
				t.Fatalf("components %v, want config order", names)
			}
		})
	}
}

// The check and Evaluate agree with Judge: a 6 s answer and 812 MB against
// 800 never count as healthy in either.
func TestEvaluateUsesJudge(t *testing.T) {
	c := check(1, withMemory(812))
	memoryLimit(&c)
	rec, _ := Evaluate(stored(Active), c, at(1))
	if rec.State != Degraded || rec.ConsecutiveFailures != 1 {
		t.Fatalf("812/800 MB: %s, %d failures", rec.State, rec.ConsecutiveFailures)
	}
	rec, _ = Evaluate(stored(Active), check(1, slow()), at(1))
	if rec.State != Degraded || rec.ConsecutiveFailures != 1 {
		t.Fatalf("6 s: %s, %d failures", rec.State, rec.ConsecutiveFailures)
	}
}

func reversed(rs []outcome.Result) []outcome.Result {
	out := slices.Clone(rs)
	slices.Reverse(out)
	return out
}

// replace returns rs with the result of the same component swapped for r.
func replace(rs []outcome.Result, r outcome.Result) []outcome.Result {
	out := slices.Clone(rs)
	for i := range out {
		if out[i].Component == r.Component {
			out[i] = r
		}
	}
	return out
}

// two integrations of the reference shape, a and b.
func twoIntegrations() []config.Integration {
	a, b := bridge(), bridge()
	a.Name, b.Name = "a", "b"
	for _, in := range []*config.Integration{&a, &b} {
		in.Components = slices.Clone(in.Components)
		for i := range in.Components {
			in.Components[i].Type = config.TypeHTTP
			in.Components[i].Target = "https://" + in.Name + ".example.com/" + in.Components[i].Name
		}
	}
	return []config.Integration{a, b}
}

func every(rs []outcome.Result, f func(name string) outcome.Result) []outcome.Result {
	out := make([]outcome.Result, len(rs))
	for i, r := range rs {
		out[i] = f(r.Component)
	}
	return out
}

// Assess finds the checker impaired only when a step failed everywhere it
// was tried, across integrations, or when the controls fail.
func TestAssess(t *testing.T) {
	integs := twoIntegrations()
	dnsTimeout := func(n string) outcome.Result {
		return failedAt(n, outcome.PhaseDNS, outcome.SideUnknown, "DNS: lookup timed out (timeout after 1s)")
	}
	connTimeout := func(n string) outcome.Result {
		return failedAt(n, outcome.PhaseConnect, outcome.SideUnknown, "connect: timeout after 1s")
	}
	refused := func(n string) outcome.Result {
		return failedAt(n, outcome.PhaseConnect, outcome.SideTarget, "connect: connection refused")
	}
	ok := allOK()
	control := []config.Component{{Name: "c1", Type: config.TypeTCP, Target: "203.0.113.1:443"}, {Name: "c2", Type: config.TypeTCP, Target: "203.0.113.2:443"}}
	tests := []struct {
		name     string
		integs   []config.Integration
		results  [][]outcome.Result
		controls []config.Component
		cresults []outcome.Result
		want     Impairment
	}{
		{"all healthy", integs, [][]outcome.Result{ok, ok}, nil, nil, Impairment{}},
		{"resolver never answers: every lookup times out", integs, [][]outcome.Result{every(ok, dnsTimeout), every(ok, dnsTimeout)}, nil, nil, Impairment{Phases: []string{outcome.PhaseDNS}}},
		{"one integration's lookups time out, the other resolves", integs, [][]outcome.Result{every(ok, dnsTimeout), ok}, nil, nil, Impairment{}},
		{"a single integration cannot tell", integs[:1], [][]outcome.Result{every(ok, dnsTimeout)}, nil, nil, Impairment{}},
		{"no route out: every connect times out", integs, [][]outcome.Result{every(ok, connTimeout), every(ok, connTimeout)}, nil, nil, Impairment{Phases: []string{outcome.PhaseConnect}}},
		{"one refusal proves the network works", integs, [][]outcome.Result{every(ok, connTimeout), replace(every(ok, connTimeout), refused("dashboard"))}, nil, nil, Impairment{}},
		{"a real outage beside healthy ones", integs, [][]outcome.Result{criticalDown(), ok}, nil, nil, Impairment{}},
		{"both controls fail", integs, [][]outcome.Result{ok, ok}, control, []outcome.Result{connTimeout("c1"), connTimeout("c2")}, Impairment{All: true}},
		{"half the controls fail: not more than half", integs, [][]outcome.Result{ok, ok}, control, []outcome.Result{connTimeout("c1"), res("c2", true, time.Millisecond, "")}, Impairment{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Assess(tt.integs, tt.results, tt.controls, tt.cresults)
			if got.All != tt.want.All || !slices.Equal(got.Phases, tt.want.Phases) {
				t.Fatalf("Assess = %+v, want %+v", got, tt.want)
			}
			if got.Impaired() != (got.Cause != "") {
				t.Fatalf("impaired %v with cause %q", got.Impaired(), got.Cause)
			}
		})
	}
	// IP-literal targets never look anything up: they neither prove nor
	// disprove the resolver.
	ipOnly := twoIntegrations()
	for i := range ipOnly {
		for j := range ipOnly[i].Components {
			ipOnly[i].Components[j].Target = "https://203.0.113.9/"
		}
	}
	mixed := append(slices.Clone(integs), ipOnly[0])
	mixed[2].Name = "ips"
	got := Assess(mixed, [][]outcome.Result{every(ok, dnsTimeout), every(ok, dnsTimeout), ok}, nil, nil)
	if !slices.Equal(got.Phases, []string{outcome.PhaseDNS}) {
		t.Fatalf("healthy IP-literal targets hid a dead resolver: %+v", got)
	}
}

// An inconclusive check is recorded but changes no state, counter, score or
// availability, decides no recovery, and says so once.
func TestEvaluateInconclusive(t *testing.T) {
	rec, _ := failing(2, nil) // FAILED, 2 consecutive failures: one more makes recovery due
	before := rec
	im := Impairment{Phases: []string{outcome.PhaseDNS}, Cause: "dns failed everywhere"}
	c := check(3, every(allOK(), func(n string) outcome.Result {
		return failedAt(n, outcome.PhaseDNS, outcome.SideUnknown, "DNS: lookup timed out")
	}))
	c.Impairment = im
	got, dec := Evaluate(rec, c, at(3))
	if !dec.Inconclusive || !dec.CheckerChanged || dec.StartRecovery || len(dec.Transitions) != 0 || dec.Notify {
		t.Fatalf("decision %+v", dec)
	}
	if got.State != before.State || got.ConsecutiveFailures != before.ConsecutiveFailures || got.Score != before.Score ||
		!reflect.DeepEqual(got.Components, before.Components) || got.ErrorMessage != before.ErrorMessage {
		t.Fatalf("inconclusive check changed the judgment: %+v", got)
	}
	if got.HealthChecksPerformed != before.HealthChecksPerformed+1 || got.InconclusiveChecks != 1 ||
		!got.LastTick.Equal(tick(3)) || !strings.Contains(got.Inconclusive, "checker-side fault") {
		t.Fatalf("inconclusive check not recorded: checks %d, inconclusive %d %q, last tick %v", got.HealthChecksPerformed, got.InconclusiveChecks, got.Inconclusive, got.LastTick)
	}
	_, wantChecks := before.Availability.Ratio(time.Hour, at(3))
	if _, checks := got.Availability.Ratio(time.Hour, at(3)); checks != wantChecks {
		t.Fatalf("availability counted the inconclusive check: %d checks, want %d", checks, wantChecks)
	}
	if len(dec.Seen) != 3 || dec.Seen[0].Side != outcome.SideChecker {
		t.Fatalf("seen components %+v", dec.Seen)
	}

	// Still impaired: no second "changed". Then a conclusive failure counts
	// again, says the checker is back, and makes recovery due.
	got2, dec := Evaluate(got, func() Check { c := c; c.Tick = tick(4); return c }(), at(4))
	if dec.CheckerChanged || got2.InconclusiveChecks != 2 {
		t.Fatalf("second inconclusive check: changed %v, count %d", dec.CheckerChanged, got2.InconclusiveChecks)
	}
	got3, dec := Evaluate(got2, check(5, criticalDown()), at(5))
	if !dec.CheckerChanged || dec.Inconclusive || got3.Inconclusive != "" || got3.ConsecutiveFailures != 3 || !dec.StartRecovery {
		t.Fatalf("conclusive again: %+v, failures %d", dec, got3.ConsecutiveFailures)
	}
}

// A cooldown that ends while the checker is impaired starts nothing: a new
// incident is only decided on a conclusive check.
func TestInconclusiveNeverDecidesRecovery(t *testing.T) {
	rec, _ := failing(5, nil)
	rec.Recovery = RecoveryStatus{IncidentID: "old", ExecutionName: "old", LastOutcome: RecoveryExhausted, CooldownUntil: at(5)}
	c := check(6, every(allOK(), func(n string) outcome.Result {
		return failedAt(n, outcome.PhaseChecker, outcome.SideChecker, "not probed")
	}))
	got, dec := Evaluate(rec, c, at(6))
	if dec.StartRecovery || got.Recovery.Pending || got.Recovery.IncidentID != "old" {
		t.Fatalf("inconclusive check decided a recovery: %+v", got.Recovery)
	}
	_, dec = Evaluate(got, check(7, criticalDown()), at(7))
	if !dec.StartRecovery {
		t.Fatal("the next conclusive failure did not decide the recovery")
	}
}

// A stored LastTick from the future is dropped, never blocking later ticks.
func TestEvaluateRepairsFutureTick(t *testing.T) {
	rec := stored(Active)
	rec.LastTick = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	got, dec := Evaluate(rec, check(1, allOK()), at(1))
	if dec.Outcome != Applied || !strings.Contains(dec.Repaired, "9999-12-31") || !got.LastTick.Equal(tick(1)) {
		t.Fatalf("future tick not repaired: %+v, last tick %v", dec, got.LastTick)
	}
	// Within MaxTickAhead a tick is real (clock skew) and keeps its meaning.
	rec.LastTick = at(1).Add(MaxTickAhead - time.Second)
	_, dec = Evaluate(rec, check(1, allOK()), at(1))
	if dec.Outcome != Stale || dec.Repaired != "" {
		t.Fatalf("near-future tick: %+v", dec)
	}
}

// Texts from targets are cut before they reach the record, whatever their
// size.
func TestEvaluateBoundsTexts(t *testing.T) {
	huge := strings.Repeat("x", 450_000)
	rs := criticalDown()
	rs[0].Error = huge
	rs[1] = res("registry", false, 0, huge)
	got, dec := Evaluate(stored(Active), check(1, rs), at(1))
	for _, c := range got.Components {
		if len(c.Error) > bound.Error {
			t.Fatalf("component %s error %d bytes", c.Name, len(c.Error))
		}
	}
	if len(got.ErrorMessage) > bound.Message || len(dec.Transitions[0].Cause) > bound.Cause || !strings.Contains(got.ErrorMessage, "bytes]") {
		t.Fatalf("message %d bytes, cause %d bytes", len(got.ErrorMessage), len(dec.Transitions[0].Cause))
	}
}
