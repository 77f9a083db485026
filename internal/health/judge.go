package health

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/probe/outcome"
)

// Condition is what one round of probe results says about an integration,
// before thresholds and history turn it into a State.
type Condition int

// Conditions, from best to worst; Inconclusive says nothing about the targets.
const (
	// ConditionHealthy: every component healthy, within every limit.
	ConditionHealthy Condition = iota
	// ConditionDegraded: only non-critical components unhealthy, or a
	// healthy one over a critical limit (latency, certificate days, a body
	// metric).
	ConditionDegraded
	// ConditionFailed: a critical component unhealthy on the target's side.
	ConditionFailed
	// ConditionInconclusive: nothing is wrong on the targets' side that the
	// checker could see, but some failures point at the checker itself (its
	// resolver, network, resources or secrets), so health cannot be judged.
	ConditionInconclusive
)

var conditionNames = [...]string{"healthy", "degraded", "failed", "inconclusive"}

func (c Condition) String() string {
	if int(c) < len(conditionNames) {
		return conditionNames[c]
	}
	return fmt.Sprintf("Condition(%d)", int(c))
}

// Verdict is the one judgment of an integration's health from one round of
// probe results. The scheduled check and the recovery re-probe both reach
// theirs through Judge, so they can never disagree on what healthy means.
type Verdict struct {
	Condition Condition
	// Cause explains the condition in words, bounded (bound.Cause).
	Cause string
	// Components are the statuses in config order, errors bounded.
	Components []ComponentStatus
	// Score is the weighted mean of the component scores.
	Score float64
}

// Healthy reports whether the verdict lets the integration be ACTIVE.
func (v Verdict) Healthy() bool { return v.Condition == ConditionHealthy }

// Judge decides an integration's health from one round of probe results
// under its config (SPEC §3, §10). Results are matched to components by
// name: a component without a result is unhealthy ("no probe result", a fault
// of the checker), a result for a name the config lacks is ignored.
//
// A failure on the checker's side (outcome.SideChecker, and outcome.SideUnknown
// at a step im says is impaired) never counts against a target: the verdict
// is decided by the other components, and when they show nothing wrong it is
// Inconclusive rather than Healthy. im is the invocation-wide finding of
// Assess; the recovery re-probe passes the zero Impairment.
func Judge(cfg config.Integration, results []outcome.Result, im Impairment) Verdict {
	comps, weights := components(cfg, results, im)
	v := Verdict{Components: comps, Score: OverallScore(comps, weights)}
	v.Condition, v.Cause = assess(comps, cfg.Thresholds, metricLimits(cfg))
	v.Cause = bound.Text(v.Cause, bound.Cause)
	return v
}

// components builds the statuses in config order, matching results by name
// and taking criticality and weight from the config. A failure im takes as
// the checker's is recorded as outcome.SideChecker.
func components(cfg config.Integration, results []outcome.Result, im Impairment) ([]ComponentStatus, []float64) {
	byName := make(map[string]outcome.Result, len(results))
	for _, r := range results {
		if _, dup := byName[r.Component]; !dup {
			byName[r.Component] = r
		}
	}
	comps := make([]ComponentStatus, 0, len(cfg.Components))
	weights := make([]float64, 0, len(cfg.Components))
	for _, c := range cfg.Components {
		r, ok := byName[c.Name]
		if !ok {
			// A prober bug must not make an integration look healthy, nor
			// count against its targets.
			r = outcome.Result{Error: "no probe result", Side: outcome.SideChecker}
		}
		st := ComponentStatus{
			Name:         c.Name,
			Healthy:      r.Healthy,
			Critical:     c.IsCritical(),
			LatencyMs:    ms(r.Latency),
			Score:        Score(r, cfg.Thresholds),
			Metrics:      r.Metrics,
			CertDaysLeft: r.CertDaysLeft,
		}
		if !r.Healthy {
			st.Error = bound.Text(r.Error, bound.Error)
			switch {
			case r.Side == "":
				st.Side = outcome.SideTarget
			case im.checkerSide(r.Side, r.Phase):
				st.Side = outcome.SideChecker
			default:
				st.Side = r.Side
			}
		}
		comps = append(comps, st)
		weights = append(weights, c.Weight)
	}
	return comps, weights
}

// assess classifies the statuses: failed when a critical component is
// unhealthy on the target's side; degraded when only non-critical ones are,
// when a healthy one is slower than LatencyCritical, when its certificate
// expires within CertCriticalDays (it still serves, but will not for long),
// or when a number it publishes from its body is over that metric's critical
// limit (memory about to run out); inconclusive when nothing of that holds
// but some failure is the checker's; healthy otherwise.
func assess(comps []ComponentStatus, th config.Thresholds, limits map[string]map[string]float64) (Condition, string) {
	var critical, other, slow, checker []string
	crit := ms(th.LatencyCritical.D())
	for _, c := range comps {
		switch {
		case !c.Healthy && c.Side == outcome.SideChecker:
			checker = append(checker, fmt.Sprintf("component %q not judged%s", c.Name, reason(c.Error)))
		case !c.Healthy && c.Critical:
			critical = append(critical, fmt.Sprintf("critical component %q unhealthy%s", c.Name, reason(c.Error)))
		case !c.Healthy:
			other = append(other, fmt.Sprintf("non-critical component %q unhealthy%s", c.Name, reason(c.Error)))
		case c.LatencyMs > crit:
			slow = append(slow, fmt.Sprintf("component %q latency %v over critical %v",
				c.Name, time.Duration(c.LatencyMs*float64(time.Millisecond)), th.LatencyCritical.D()))
		case c.CertDaysLeft != nil && th.CertCriticalDays > 0 && *c.CertDaysLeft <= float64(th.CertCriticalDays):
			slow = append(slow, fmt.Sprintf("component %q certificate expires in %.1f days (critical at %d)",
				c.Name, *c.CertDaysLeft, th.CertCriticalDays))
		default:
			slow = append(slow, overLimits(c, limits[c.Name])...)
		}
	}
	switch {
	case len(critical) > 0:
		return ConditionFailed, strings.Join(critical, "; ")
	case len(other)+len(slow) > 0:
		return ConditionDegraded, strings.Join(append(other, slow...), "; ")
	case len(checker) > 0:
		return ConditionInconclusive, "checker-side fault: " + strings.Join(checker, "; ")
	}
	return ConditionHealthy, "all components healthy"
}

// Impairment is what a whole invocation says about the checker itself: when
// a network step failed everywhere it was tried, the failures there that could
// be either side's (outcome.SideUnknown: a DNS timeout or server failure, a
// connect timeout) are taken as the checker's. The zero Impairment takes none.
type Impairment struct {
	// All: the document's control targets failed, so every ambiguous
	// failure is the checker's.
	All bool
	// Phases: network steps (outcome.PhaseDNS, outcome.PhaseConnect) that failed
	// everywhere they were tried.
	Phases []string
	// Cause says why, bounded; empty when not impaired.
	Cause string
}

// Impaired reports whether anything is impaired.
func (im Impairment) Impaired() bool { return im.All || len(im.Phases) > 0 }

// Attribute returns rs with every failure im takes as the checker's marked
// outcome.SideChecker, so the results say whose fault they are outside this
// invocation (another region's quorum reads them). rs is not modified.
func (im Impairment) Attribute(rs []outcome.Result) []outcome.Result {
	out := slices.Clone(rs)
	for i, r := range out {
		if !r.Healthy && im.checkerSide(r.Side, r.Phase) {
			out[i].Side = outcome.SideChecker
		}
	}
	return out
}

// checkerSide reports whether an unhealthy component's failure is the
// checker's under the invocation's impairment.
func (im Impairment) checkerSide(side outcome.Side, phase string) bool {
	if side == outcome.SideChecker {
		return true
	}
	return side == outcome.SideUnknown && (im.All || slices.Contains(im.Phases, phase))
}

// Assess judges a whole invocation: integs and results (one slice per
// integration, in config order) and the document's control targets with
// their results. The checker is impaired
//   - entirely, when more than half of the control targets fail;
//   - at the DNS step, when components of at least two integrations failed
//     there ambiguously and no component whose target is a host name got past
//     it (healthy, failed later, or answered "no such host");
//   - at the connect step likewise, counting every component.
//
// A step that works for one target works for all: independent targets
// failing the same step at once is the checker's resolver or network.
func Assess(integs []config.Integration, results [][]outcome.Result, controls []config.Component, controlResults []outcome.Result) Impairment {
	if failed, reasons := failures(controlResults); len(controls) > 0 && 2*failed > len(controls) {
		return Impairment{All: true, Cause: bound.Text(fmt.Sprintf("%d of %d control targets failing: %s",
			failed, len(controls), strings.Join(reasons, "; ")), bound.Cause)}
	}
	var im Impairment
	var causes []string
	for _, phase := range []string{outcome.PhaseDNS, outcome.PhaseConnect} {
		failedIn := map[int]bool{}
		passed, failed := 0, 0
		var first string
		for i, integ := range integs {
			if i >= len(results) {
				break
			}
			for j, r := range results[i] {
				if phase == outcome.PhaseDNS && (j >= len(integ.Components) || !integ.Components[j].UsesResolver()) {
					continue
				}
				switch {
				case !r.Healthy && r.Phase == phase && r.Side != outcome.SideTarget:
					failedIn[i] = true
					failed++
					if first == "" {
						first = r.Component + ": " + r.Error
					}
				case r.Healthy || pastPhase(r, phase):
					passed++
				}
			}
		}
		if len(failedIn) >= 2 && passed == 0 {
			im.Phases = append(im.Phases, phase)
			causes = append(causes, fmt.Sprintf("%s failed for all %d components of %d integrations that tried it (first: %s)",
				phase, failed, len(failedIn), first))
		}
	}
	im.Cause = bound.Text(strings.Join(causes, "; "), bound.Cause)
	return im
}

// pastPhase reports whether an unhealthy result shows that the network step
// phase (DNS or connect) worked: it failed at a later step, or at this one
// with the other side's own answer (no such host, connection refused).
func pastPhase(r outcome.Result, phase string) bool {
	switch r.Phase {
	case phase:
		return r.Side == outcome.SideTarget
	case "", outcome.PhaseChecker, outcome.PhaseDNS:
		// Never reached the network, or stopped before connecting.
		return false
	}
	return true
}

// failures counts the unhealthy results and names them.
func failures(rs []outcome.Result) (int, []string) {
	var reasons []string
	for _, r := range rs {
		if !r.Healthy {
			reasons = append(reasons, r.Component+": "+r.Error)
		}
	}
	return len(reasons), reasons
}

// metricLimits maps component name → extracted metric name → critical limit,
// for the metrics that have one.
func metricLimits(cfg config.Integration) map[string]map[string]float64 {
	var out map[string]map[string]float64
	for _, c := range cfg.Components {
		if c.HTTP == nil {
			continue
		}
		for _, m := range c.HTTP.Metrics {
			if m.Critical == nil {
				continue
			}
			if out == nil {
				out = map[string]map[string]float64{}
			}
			if out[c.Name] == nil {
				out[c.Name] = map[string]float64{}
			}
			out[c.Name][m.Name] = *m.Critical
		}
	}
	return out
}

// overLimits names the component's metrics above their critical limits, in
// name order so causes are stable.
func overLimits(c ComponentStatus, limits map[string]float64) []string {
	var names []string
	for name, limit := range limits {
		if v, ok := c.Metrics[name]; ok && v > limit {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	out := make([]string, 0, len(names))
	for _, name := range names {
		out = append(out, fmt.Sprintf("component %q %s %g over critical %g", c.Name, name, c.Metrics[name], limits[name]))
	}
	return out
}

func reason(err string) string {
	if err == "" {
		return ""
	}
	return ": " + err
}

// errorMessage joins the errors of the unhealthy components, "" when all are
// healthy, bounded (bound.Message).
func errorMessage(comps []ComponentStatus) string {
	var parts []string
	for _, c := range comps {
		if !c.Healthy {
			msg := c.Error
			if msg == "" {
				msg = "unhealthy"
			}
			parts = append(parts, c.Name+": "+msg)
		}
	}
	return bound.Text(strings.Join(parts, "; "), bound.Message)
}
