package health

import (
	"math"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/probe/outcome"
)

// Score is the 0–100 score of one component result (SPEC §3):
//
//   - unhealthy: 0;
//   - healthy, latency ≤ LatencyWarning: 100;
//   - healthy, slower: falls linearly from 100 at LatencyWarning to 50 at
//     LatencyCritical and keeps the same slope beyond it, floored at 1.
//
// With the default 1 s / 5 s thresholds: 3 s scores 75, 5 s 50, 7 s 25. The
// floor keeps a healthy component distinguishable from an unhealthy one. If
// LatencyCritical is not above LatencyWarning, any latency over the warning
// scores 50. The result is rounded to one decimal.
func Score(r outcome.Result, t config.Thresholds) float64 {
	if !r.Healthy {
		return 0
	}
	warn, crit := t.LatencyWarning.D(), t.LatencyCritical.D()
	if r.Latency <= warn {
		return 100
	}
	span := crit - warn
	if span <= 0 {
		return 50
	}
	s := 100 - 50*float64(r.Latency-warn)/float64(span)
	return round1(math.Max(s, 1))
}

// OverallScore is the weighted mean of the component scores; weights[i]
// belongs to comps[i]. A missing weight counts as 1 (the config default) and a
// negative one as 0. When every weight is zero the plain mean is used, so a
// configuration that zeroes all weights still gets a meaningful score. No
// components score 0. The result is rounded to one decimal.
func OverallScore(comps []ComponentStatus, weights []float64) float64 {
	if len(comps) == 0 {
		return 0
	}
	var sum, wsum, plain float64
	for i, c := range comps {
		w := 1.0
		if i < len(weights) {
			w = math.Max(weights[i], 0)
		}
		sum += w * c.Score
		wsum += w
		plain += c.Score
	}
	if wsum == 0 {
		return round1(plain / float64(len(comps)))
	}
	return round1(sum / wsum)
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
