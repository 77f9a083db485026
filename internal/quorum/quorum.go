// Package quorum merges what several probing regions saw of one tick into
// the results the health model judges: a component counts as failing only
// when a quorum of the regions that observed it saw it failing, and a region
// whose view contradicts every other region's is set aside as impaired. It
// is pure: the check reads the regions' observations and writes the merged
// decision.
package quorum

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/health"
	"github.com/vigil-monitor/vigil/internal/probe/outcome"
)

// Report is one region's results of one tick.
type Report struct {
	Region string
	// Results by integration name, failures already attributed under the
	// region's own impairment (health.Impairment.Attribute).
	Results map[string][]outcome.Result
	// Impaired is the region's own finding about itself (health.Assess);
	// empty when it found nothing.
	Impaired string
}

// Decision is the merged view of a tick.
type Decision struct {
	// Results holds one slice per integration, in the order given to Merge.
	Results [][]outcome.Result
	// Views holds what each region saw of each integration, by region.
	Views [][]health.RegionView
	// Regions are the regions that reported, sorted.
	Regions []string
	// Impaired maps a region whose view was set aside to why.
	Impaired map[string]string
}

// minOthers is how many other regions must contradict a region before its
// view is set aside: with one other, there is no telling which is wrong.
const minOthers = 2

// Merge decides the tick from the regions' reports under quorum q. With one
// report it returns that region's results unchanged.
func Merge(integs []config.Integration, reports []Report, q config.Quorum) Decision {
	reports = uniqueByRegion(reports)
	d := Decision{Results: make([][]outcome.Result, len(integs)), Views: make([][]health.RegionView, len(integs)), Impaired: map[string]string{}}
	for _, r := range reports {
		d.Regions = append(d.Regions, r.Region)
	}
	if len(reports) == 1 {
		for i, integ := range integs {
			d.Results[i] = reports[0].Results[integ.Name]
			d.Views[i] = views(integ, reports, d.Impaired)
		}
		if reports[0].Impaired != "" {
			d.Impaired[reports[0].Region] = "its own checks found it impaired: " + reports[0].Impaired
		}
		return d
	}
	d.Impaired = impaired(integs, reports)
	for i, integ := range integs {
		d.Results[i] = mergeIntegration(integ, reports, d.Impaired, q)
		d.Views[i] = views(integ, reports, d.Impaired)
	}
	return d
}

func uniqueByRegion(reports []Report) []Report {
	out := slices.Clone(reports)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Region < out[j].Region })
	return slices.CompactFunc(out, func(a, b Report) bool { return a.Region == b.Region })
}

// find returns the region's result for a component.
func find(r Report, integration, component string) (outcome.Result, bool) {
	for _, res := range r.Results[integration] {
		if res.Component == component {
			return res, true
		}
	}
	return outcome.Result{}, false
}

// impaired finds the regions to set aside: one that judged itself impaired,
// and one that saw at least half of what it probed failing while every other
// region that probed those components — at least two — saw them pass.
func impaired(integs []config.Integration, reports []Report) map[string]string {
	out := map[string]string{}
	for _, r := range reports {
		if r.Impaired != "" {
			out[r.Region] = "its own checks found it impaired: " + r.Impaired
			continue
		}
		probed, failing, contradicted := 0, 0, true
		var first string
		for _, integ := range integs {
			for _, c := range integ.Components {
				res, ok := find(r, integ.Name, c.Name)
				if !ok {
					continue
				}
				probed++
				if res.Healthy {
					continue
				}
				failing++
				if first == "" {
					first = integ.Name + "/" + c.Name + ": " + res.Error
				}
				passing := 0
				for _, o := range reports {
					if o.Region == r.Region {
						continue
					}
					if ores, ok := find(o, integ.Name, c.Name); ok {
						if !ores.Healthy {
							contradicted = false
						} else {
							passing++
						}
					}
				}
				if passing < minOthers {
					contradicted = false
				}
			}
		}
		if failing > 0 && 2*failing >= probed && contradicted {
			out[r.Region] = bound.Text(fmt.Sprintf("saw %d of %d components failing that every other region saw pass (first: %s)", failing, probed, first), bound.Cause)
		}
	}
	return out
}

// mergeIntegration decides each component of integ in config order.
func mergeIntegration(integ config.Integration, reports []Report, impaired map[string]string, q config.Quorum) []outcome.Result {
	out := make([]outcome.Result, 0, len(integ.Components))
	for _, c := range integ.Components {
		var failing, healthy []outcome.Result
		var failingIn []string
		var unobserved *outcome.Result
		for _, r := range reports {
			res, ok := find(r, integ.Name, c.Name)
			if !ok {
				continue
			}
			if _, aside := impaired[r.Region]; aside || (!res.Healthy && res.Side == outcome.SideChecker) {
				if unobserved == nil {
					unobserved = &res
				}
				continue
			}
			if res.Healthy {
				healthy = append(healthy, res)
			} else {
				failing = append(failing, res)
				failingIn = append(failingIn, r.Region)
			}
		}
		observers := len(failing) + len(healthy)
		switch {
		case q.Reached(len(failing), observers):
			res := failing[0]
			res.Error = bound.Text(fmt.Sprintf("%s (failing in %d of %d regions: %s)", res.Error, len(failing), observers, strings.Join(failingIn, ", ")), bound.Error)
			out = append(out, res)
		case len(healthy) > 0:
			out = append(out, median(healthy))
		case len(failing) > 0:
			// Too few regions observed it to make a quorum either way.
			out = append(out, outcome.Result{
				Component: c.Name, Phase: outcome.PhaseChecker, Side: outcome.SideChecker,
				Error: fmt.Sprintf("failing in %d of %d observing regions (%s); quorum %s not reached", len(failing), observers, strings.Join(failingIn, ", "), q),
			})
		case unobserved != nil:
			res := *unobserved
			res.Healthy, res.Side = false, outcome.SideChecker
			res.Error = bound.Text("no region could observe it: "+res.Error, bound.Error)
			out = append(out, res)
		}
	}
	return out
}

// median returns the healthy result with the median latency (the lower one
// of an even count), so one slow region does not set the latency.
func median(rs []outcome.Result) outcome.Result {
	s := slices.Clone(rs)
	slices.SortStableFunc(s, func(a, b outcome.Result) int { return cmp.Compare(a.Latency, b.Latency) })
	return s[(len(s)-1)/2]
}

// views is what each region saw of integ.
func views(integ config.Integration, reports []Report, impaired map[string]string) []health.RegionView {
	var out []health.RegionView
	for _, r := range reports {
		rs, ok := r.Results[integ.Name]
		if !ok {
			continue
		}
		v := health.RegionView{Region: r.Region}
		_, v.Impaired = impaired[r.Region]
		var slowest time.Duration
		for _, res := range rs {
			slowest = max(slowest, res.Latency)
			if !res.Healthy {
				v.Failing++
			}
		}
		v.LatencyMs = float64(slowest.Microseconds()) / 1000
		out = append(out, v)
	}
	return out
}
