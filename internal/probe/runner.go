package probe

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/vigil-monitor/vigil/internal/config"
)

// Run probes every component concurrently, at most limit at a time, and
// returns one Result per component in the order of comps. headers[i] holds
// the resolved extra headers of comps[i]; headers may be shorter than comps,
// or nil. A limit below 1 means no bound other than len(comps).
//
// Run never fails as a whole: an unknown probe type, a probe that panics, or
// a component whose turn comes after ctx ended each yield an unhealthy
// Result saying so, and the other components are still probed.
func Run(ctx context.Context, probers map[string]ProbeFn, comps []config.Component, headers []http.Header, limit int) []Result {
	results := make([]Result, len(comps))
	if len(comps) == 0 {
		return results
	}
	if limit < 1 || limit > len(comps) {
		limit = len(comps)
	}

	// A fixed pool of limit workers rather than a goroutine per component
	// waiting on a semaphore: same bound, and at 1,000 components far fewer
	// goroutine stacks against the Lambda's memory budget (SPEC §9).
	next := make(chan int)
	var wg sync.WaitGroup
	for range limit {
		wg.Go(func() {
			for i := range next {
				var h http.Header
				if i < len(headers) {
					h = headers[i]
				}
				results[i] = runOne(ctx, probers, comps[i], h)
			}
		})
	}
	for i := range comps {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

// runOne probes one component, turning a panic into an unhealthy Result so
// one broken probe cannot take the whole check down.
func runOne(ctx context.Context, probers map[string]ProbeFn, c config.Component, h http.Header) (r Result) {
	defer func() {
		if v := recover(); v != nil {
			r = Result{Error: redact(fmt.Sprintf("probe panicked: %v", v), h)}
		}
		r.Component = c.Name
	}()
	if err := ctx.Err(); err != nil {
		// The check ran out of time before this component's turn; say so
		// rather than report a timeout the target did not cause.
		return Result{Error: fmt.Sprintf("not probed: check ended before its turn (%s)", err)}
	}
	fn, ok := probers[c.Type]
	if !ok || fn == nil {
		return Result{Error: fmt.Sprintf("unknown probe type %q", c.Type)}
	}
	return fn(ctx, c, h)
}
