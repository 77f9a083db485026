package health

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// Retention of the availability buckets and latency samples kept in the state
// item; the item must stay small enough to read and write on every check.
const (
	MinuteBuckets  = 60  // 1 h of minute slots
	HourBuckets    = 24  // 24 h of hour slots
	DayBuckets     = 30  // 30 d of day slots
	LatencySamples = 100 // most recent check durations kept for percentiles
)

// add returns a with one check recorded at tick. The receiver's slices are
// never written to, so the previous record stays intact.
func (a Availability) add(tick time.Time, healthy bool, duration time.Duration) Availability {
	tick = tick.UTC()
	day := time.Date(tick.Year(), tick.Month(), tick.Day(), 0, 0, 0, 0, time.UTC)
	out := Availability{
		Minutes: addBucket(a.Minutes, tick.Truncate(time.Minute), MinuteBuckets*time.Minute, healthy),
		Hours:   addBucket(a.Hours, tick.Truncate(time.Hour), HourBuckets*time.Hour, healthy),
		Days:    addBucket(a.Days, day, DayBuckets*24*time.Hour, healthy),
	}
	lat := a.LatencyMs
	if len(lat) >= LatencySamples {
		lat = lat[len(lat)-LatencySamples+1:]
	}
	out.LatencyMs = make([]float64, 0, len(lat)+1)
	out.LatencyMs = append(out.LatencyMs, lat...)
	out.LatencyMs = append(out.LatencyMs, ms(duration))
	return out
}

// addBucket counts one check in the slot starting at slot, dropping slots that
// are keep or more before it. Buckets stay sorted by Start.
func addBucket(bs []Bucket, slot time.Time, keep time.Duration, healthy bool) []Bucket {
	start := slot.Unix()
	oldest := slot.Add(-keep).Unix()
	out := make([]Bucket, 0, len(bs)+1)
	found := false
	for _, b := range bs {
		if b.Start <= oldest {
			continue
		}
		if b.Start == start {
			found = true
			b.Checks++
			if healthy {
				b.Healthy++
			}
		}
		out = append(out, b)
	}
	if !found {
		b := Bucket{Start: start, Checks: 1}
		if healthy {
			b.Healthy = 1
		}
		out = append(out, b)
		slices.SortFunc(out, func(x, y Bucket) int { return cmp.Compare(x.Start, y.Start) })
	}
	return out
}

// Ratio is the share of healthy checks in the window ending at now, and the
// number of checks it is based on. Windows up to 1 h use minute slots, up to
// 24 h hour slots, longer ones day slots; a slot counts when it starts after
// now-window, so "1h" means the last 60 minute slots. With no checks in the
// window the ratio is 0: callers must look at checks before reading it as an
// outage.
func (a Availability) Ratio(window time.Duration, now time.Time) (ratio float64, checks int) {
	bs := a.Days
	switch {
	case window <= time.Hour:
		bs = a.Minutes
	case window <= 24*time.Hour:
		bs = a.Hours
	}
	from, to := now.Add(-window).Unix(), now.Unix()
	healthy := 0
	for _, b := range bs {
		if b.Start > from && b.Start <= to {
			checks += b.Checks
			healthy += b.Healthy
		}
	}
	if checks == 0 {
		return 0, 0
	}
	return float64(healthy) / float64(checks), checks
}

// LatencyPercentile is the p-th percentile (p in 0–100, e.g. 95) of the
// recent check durations in milliseconds, by the nearest-rank method, so the
// value is always one that was observed. It is 0 with no samples.
func (a Availability) LatencyPercentile(p float64) float64 {
	n := len(a.LatencyMs)
	if n == 0 {
		return 0
	}
	s := slices.Clone(a.LatencyMs)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return s[rank-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
