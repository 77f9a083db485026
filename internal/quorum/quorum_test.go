package quorum

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/probe/outcome"
)

// integs is two integrations: api (a, b, c, d) and db (x).
var integs = []config.Integration{
	{Name: "api", Components: []config.Component{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}}},
	{Name: "db", Components: []config.Component{{Name: "x"}}},
}

func ok(name string, ms int) outcome.Result {
	return outcome.Result{Component: name, Healthy: true, Latency: time.Duration(ms) * time.Millisecond}
}

func bad(name string, side outcome.Side) outcome.Result {
	return outcome.Result{Component: name, Error: "dns: lookup timed out", Phase: outcome.PhaseDNS, Side: side, Latency: time.Second}
}

// region reports every component healthy at latency ms except those in failing.
func region(name string, ms int, failing map[string]outcome.Side) Report {
	r := Report{Region: name, Results: map[string][]outcome.Result{}}
	for _, integ := range integs {
		for _, c := range integ.Components {
			res := ok(c.Name, ms)
			if side, f := failing[c.Name]; f {
				res = bad(c.Name, side)
			}
			r.Results[integ.Name] = append(r.Results[integ.Name], res)
		}
	}
	return r
}

func all(side outcome.Side) map[string]outcome.Side {
	return map[string]outcome.Side{"a": side, "b": side, "c": side, "d": side, "x": side}
}

// verdict is the merged health of every component, as "a+ b- …".
func verdict(d Decision) string {
	var parts []string
	for _, rs := range d.Results {
		for _, r := range rs {
			mark := "+"
			switch {
			case !r.Healthy && r.Side == outcome.SideChecker:
				mark = "?"
			case !r.Healthy:
				mark = "-"
			}
			parts = append(parts, r.Component+mark)
		}
	}
	return strings.Join(parts, " ")
}

func TestMerge(t *testing.T) {
	target := outcome.SideTarget
	for _, tc := range []struct {
		name     string
		q        config.Quorum
		reports  []Report
		want     string
		impaired []string
	}{
		{"one region is as today", config.Quorum{}, []Report{region("r1", 10, map[string]outcome.Side{"a": target})}, "a- b+ c+ d+ x+", nil},
		{"all healthy", config.Quorum{}, []Report{region("r1", 10, nil), region("r2", 20, nil), region("r3", 30, nil)}, "a+ b+ c+ d+ x+", nil},
		{"a real outage seen everywhere", config.Quorum{}, []Report{
			region("r1", 10, map[string]outcome.Side{"a": target}), region("r2", 20, map[string]outcome.Side{"a": target}), region("r3", 30, map[string]outcome.Side{"a": target}),
		}, "a- b+ c+ d+ x+", nil},
		{"two of three is a majority", config.Quorum{}, []Report{
			region("r1", 10, map[string]outcome.Side{"a": target}), region("r2", 20, map[string]outcome.Side{"a": target}), region("r3", 30, nil),
		}, "a- b+ c+ d+ x+", nil},
		{"one of three is not, and one disagreement is no impairment", config.Quorum{}, []Report{
			region("r1", 10, map[string]outcome.Side{"a": target}), region("r2", 20, nil), region("r3", 30, nil),
		}, "a+ b+ c+ d+ x+", nil},
		{"a region behind a dead resolver is set aside", config.Quorum{}, []Report{
			region("r1", 10, all(outcome.SideUnknown)), region("r2", 20, nil), region("r3", 30, nil),
		}, "a+ b+ c+ d+ x+", []string{"r1"}},
		{"a region that found itself impaired abstains", config.Quorum{}, []Report{
			func() Report {
				r := region("r1", 10, all(outcome.SideChecker))
				r.Impaired = "dns failed everywhere"
				return r
			}(),
			region("r2", 20, map[string]outcome.Side{"x": target}), region("r3", 30, map[string]outcome.Side{"x": target}),
		}, "a+ b+ c+ d+ x-", []string{"r1"}},
		{"a silent region: the two others decide", config.Quorum{}, []Report{
			region("r2", 20, map[string]outcome.Side{"a": target}), region("r3", 30, map[string]outcome.Side{"a": target}),
		}, "a- b+ c+ d+ x+", nil},
		{"a silent region and a tie: not failing", config.Quorum{}, []Report{
			region("r2", 20, map[string]outcome.Side{"a": target}), region("r3", 30, nil),
		}, "a+ b+ c+ d+ x+", nil},
		{"quorum 1: any observing region", config.Quorum{N: 1}, []Report{
			region("r1", 10, map[string]outcome.Side{"a": target}), region("r2", 20, nil), region("r3", 30, nil),
		}, "a- b+ c+ d+ x+", nil},
		{"quorum 2 with one observer failing: inconclusive", config.Quorum{N: 2}, []Report{
			region("r1", 10, map[string]outcome.Side{"a": target}), region("r2", 20, map[string]outcome.Side{"a": outcome.SideChecker}),
		}, "a? b+ c+ d+ x+", nil},
		{"nobody could observe: inconclusive", config.Quorum{}, []Report{
			region("r1", 10, map[string]outcome.Side{"x": outcome.SideChecker}), region("r2", 20, map[string]outcome.Side{"x": outcome.SideChecker}),
		}, "a+ b+ c+ d+ x?", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Merge(integs, tc.reports, tc.q)
			if got := verdict(d); got != tc.want {
				t.Errorf("verdict %q, want %q", got, tc.want)
			}
			var imp []string
			for _, r := range d.Regions {
				if _, ok := d.Impaired[r]; ok {
					imp = append(imp, r)
				}
			}
			if strings.Join(imp, ",") != strings.Join(tc.impaired, ",") {
				t.Errorf("impaired %v (%v), want %v", imp, d.Impaired, tc.impaired)
			}
		})
	}
}

func TestMergeSaysWhereAndViews(t *testing.T) {
	target := outcome.SideTarget
	d := Merge(integs, []Report{
		region("r3", 30, map[string]outcome.Side{"a": target}), region("r1", 10, map[string]outcome.Side{"a": target}), region("r2", 20, nil),
	}, config.Quorum{})
	if got := d.Results[0][0].Error; !strings.Contains(got, "failing in 2 of 3 regions: r1, r3") {
		t.Errorf("error %q does not say where it failed", got)
	}
	if got := d.Results[0][1].Latency; got != 20*time.Millisecond {
		t.Errorf("healthy latency %v, want the median 20ms", got)
	}
	if strings.Join(d.Regions, ",") != "r1,r2,r3" {
		t.Errorf("regions %v", d.Regions)
	}
	v := d.Views[0]
	if len(v) != 3 || v[0].Region != "r1" || v[0].Failing != 1 || v[0].LatencyMs != 1000 || v[1].LatencyMs != 20 || v[1].Failing != 0 {
		t.Errorf("views %+v", v)
	}
}
