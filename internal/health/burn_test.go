package health

import (
	"testing"
	"time"
)

// checksEveryMinute records one check a minute for the n minutes up to and
// including now; failed(k) says whether the check k minutes before now
// failed.
func checksEveryMinute(now time.Time, n int, failed func(k int) bool) Availability {
	var a Availability
	for k := n - 1; k >= 0; k-- {
		a = a.add(now.Add(-time.Duration(k)*time.Minute), !failed(k), 100*time.Millisecond)
	}
	return a
}

func minutesAgo(ks ...int) func(int) bool {
	set := map[int]bool{}
	for _, k := range ks {
		set[k] = true
	}
	return func(k int) bool { return set[k] }
}

func failedWithin(from, to int) func(int) bool {
	return func(k int) bool { return k >= from && k <= to }
}

func TestBurn(t *testing.T) {
	// At 12:59 the 6-hour window (hour slots 07:00 to 12:00) holds 360
	// checks.
	now := time.Date(2025, 6, 1, 12, 59, 0, 0, time.UTC)
	for _, c := range []struct {
		name   string
		slo    float64
		failed func(int) bool
		level  int
	}{
		{"all healthy", 99.9, minutesAgo(), BurnNone},
		// 1 of 60 is 16.7× the budget, but one failed check never pages.
		{"one failed check now", 99.9, minutesAgo(0), BurnNone},
		{"two failed checks now", 99.9, minutesAgo(0, 1), BurnNone},
		// Three in the hour, the last in the past 5 minutes: fast burn.
		{"three failed, last 2 min ago", 99.9, minutesAgo(2, 20, 40), BurnFast},
		// Same three, but the short window is clean: the fast burn has
		// stopped, the slow one (30 minutes) still holds.
		{"three failed, last 10 min ago", 99.9, minutesAgo(10, 20, 40), BurnSlow},
		// Over the 30-minute short window too: nothing fires any more.
		{"three failed, last 45 min ago", 99.9, minutesAgo(45, 50, 55), BurnNone},
		// Spread over six hours, one in the last 30 minutes: slow burn.
		{"three failed over 6 h", 99.9, minutesAgo(25, 130, 250), BurnSlow},
		// A looser SLO needs more: at 99 % the hour must hold 9 failures
		// (14.4 × 1 % × 60 = 8.64) and the 5 minutes 1 of 5 (20 % ≥ 14.4 %).
		// Eight: 13.3× in the hour, 2.2× over six hours: neither fires.
		{"99%: eight in the hour", 99, failedWithin(0, 7), BurnNone},
		{"99%: nine in the hour", 99, failedWithin(0, 8), BurnFast},
		// 6 × 1 % × 360 = 21.6: 22 failures in 6 h, and 2 of the last 30
		// checks (6.7 % ≥ 6 %).
		{"99%: 21 over 6 h", 99, func(k int) bool { return k == 1 || k == 3 || (k >= 100 && k < 119) }, BurnNone},
		{"99%: 22 over 6 h", 99, func(k int) bool { return k == 1 || k == 3 || (k >= 100 && k < 120) }, BurnSlow},
		{"99%: 22 over 6 h, one recent", 99, func(k int) bool { return k == 1 || (k >= 100 && k < 121) }, BurnNone},
		{"outage", 99.9, failedWithin(0, 14), BurnFast},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := checksEveryMinute(now, 6*60, c.failed)
			b := a.Burn(c.slo, now)
			if b.Level != c.level {
				t.Errorf("level %d, want %d; fast %+v; slow %+v", b.Level, c.level, b.Fast, b.Slow)
			}
		})
	}
}

func TestBurnWindows(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 30, 0, 0, time.UTC)
	a := checksEveryMinute(now, 90, minutesAgo(2, 20, 40))
	b := a.Burn(99.9, now)
	// The 1 h window is the last 60 minute slots; 3 of 60 is 50× a 0.1 % budget.
	if w := b.Fast.Long; w.Checks != 60 || w.Failed != 3 || w.Rate < 49.99 || w.Rate > 50.01 {
		t.Errorf("fast long window %+v, want 60 checks, 3 failed, rate 50", w)
	}
	if w := b.Fast.Short; w.Checks != 5 || w.Failed != 1 || w.Rate < 199.99 || w.Rate > 200.01 {
		t.Errorf("fast short window %+v, want 5 checks, 1 failed, rate 200", w)
	}
	// The 6 h window reads hour slots: 12:00 and 11:00 hold the 90 checks.
	if w := b.Slow.Long; w.Checks != 90 || w.Failed != 3 {
		t.Errorf("slow long window %+v, want 90 checks, 3 failed", w)
	}
	if b := (Availability{}).Burn(99.9, now); b.Level != BurnNone || b.Fast.Long.Checks != 0 {
		t.Errorf("no checks: %+v", b)
	}
}

func TestBudgetLeft(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 30, 0, 0, time.UTC)
	if _, ok := (Availability{}).BudgetLeft(99.9, now); ok {
		t.Error("budget left with no checks")
	}
	// 1 failed of 2,000 (0.05 %) spends half of a 0.1 % budget.
	a := checksEveryMinute(now, 2000, minutesAgo(1000))
	if left, ok := a.BudgetLeft(99.9, now); !ok || left < 0.499 || left > 0.501 {
		t.Errorf("left %v %v, want 0.5", left, ok)
	}
	// 4 of 2,000 (0.2 %) overspends it twice: -1.
	a = checksEveryMinute(now, 2000, minutesAgo(1, 2, 3, 4))
	if left, _ := a.BudgetLeft(99.9, now); left > -0.999 || left < -1.001 {
		t.Errorf("left %v, want -1", left)
	}
	if ErrorBudget(99.9) < 0.000999 || ErrorBudget(99.9) > 0.001001 || ErrorBudget(100) != 0 {
		t.Errorf("ErrorBudget(99.9) = %v, ErrorBudget(100) = %v", ErrorBudget(99.9), ErrorBudget(100))
	}
}
