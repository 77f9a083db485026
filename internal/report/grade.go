package report

import (
	"math"

	"github.com/vigil-monitor/vigil/internal/health"
)

// Grades of an integration's health, as the reference report labels its
// score ("EXCELLENT (95/100)").
const (
	GradeExcellent = "EXCELLENT"
	GradeGood      = "GOOD"
	GradeFair      = "FAIR"
	GradePoor      = "POOR"
)

// Lower bounds of the grade bands, on the 0–100 score; below GradeFairMin
// is POOR.
const (
	GradeExcellentMin = 95.0
	GradeGoodMin      = 80.0
	GradeFairMin      = 60.0
)

// Grade is the band of score: ≥ 95 EXCELLENT, ≥ 80 GOOD, ≥ 60 FAIR, else
// POOR. The score is first rounded to the one decimal the report prints, so
// a score shown as 95.0 is never GOOD.
func Grade(score float64) string {
	s := math.Round(score*10) / 10
	switch {
	case s >= GradeExcellentMin:
		return GradeExcellent
	case s >= GradeGoodMin:
		return GradeGood
	case s >= GradeFairMin:
		return GradeFair
	}
	return GradePoor
}

// GradeOf is the grade shown for an integration in state with score: the
// band of the score, capped by the state, because the score is a weighted
// mean that averages a down component away (one critical component of five
// down still scores 80). FAILED is POOR; DEGRADED and INITIALIZING are at
// best FAIR; only ACTIVE earns GOOD or EXCELLENT. UNINITIALIZED has no grade
// ("").
func GradeOf(state health.State, score float64) string {
	g := Grade(score)
	switch state {
	case health.Active:
		return g
	case health.Degraded, health.Initializing:
		if g == GradeExcellent || g == GradeGood {
			return GradeFair
		}
		return g
	case health.Failed:
		return GradePoor
	}
	return ""
}
