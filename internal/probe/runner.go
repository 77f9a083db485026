package probe

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/netguard"
)

// Run probes every component concurrently, at most limit at a time, and
// returns one Result per component in the order of comps. headers[i] holds
// the secret headers of comps[i], as SecretHeaders returns them; headers may
// be shorter than comps, or nil. A limit below 1 means no bound other than
// len(comps).
//
// Run never fails as a whole: a component whose turn comes after ctx ended,
// an unknown probe type, secret headers that could not be resolved, or a
// probe that panics each yield an unhealthy Result on the checker's side
// (PhaseChecker, SideChecker) saying so, and the other components are still
// probed. Every Result.Error leaving Run is cut to bound.Error bytes.
func Run(ctx context.Context, probers map[string]ProbeFn, comps []config.Component, headers []Headers, limit int) []Result {
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
				var h Headers
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
// one broken probe cannot take the whole check down. It is the one gate every
// Result passes, so the bound on Error is applied here.
func runOne(ctx context.Context, probers map[string]ProbeFn, c config.Component, h Headers) (r Result) {
	defer func() {
		if v := recover(); v != nil {
			r = checkerResult("probe panicked: %s", netguard.Redact(fmt.Sprint(v), h.Header))
		}
		r.Component = c.Name
		r.Error = bound.Text(r.Error, bound.Error)
	}()
	if err := ctx.Err(); err != nil {
		// The check ran out of time before this component's turn; say so
		// rather than report a timeout the target did not cause.
		return checkerResult("not probed: check ended before its turn (%s)", err)
	}
	fn, ok := probers[c.Type]
	if !ok || fn == nil {
		return checkerResult("unknown probe type %q", c.Type)
	}
	if len(h.Unresolved) > 0 {
		return checkerResult("%s could not be resolved", secretNames(h.Unresolved))
	}
	return fn(ctx, c, h.Header)
}

// secretNames words the unresolved secret headers: `secret header "A"`,
// `secret headers "A", "B"`.
func secretNames(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	if len(names) == 1 {
		return "secret header " + quoted[0]
	}
	return "secret headers " + strings.Join(quoted, ", ")
}
