package probe

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/config"
)

func TestRun(t *testing.T) {
	var inFlight, maxInFlight atomic.Int32
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		// Hold the slot long enough for the others to pile up if the bound
		// were not kept.
		time.Sleep(20 * time.Millisecond)
		if r.URL.Path == "/down" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))

	probers := NewProbers()
	probers["panics"] = func(context.Context, config.Component, http.Header) Result {
		panic("probe bug")
	}

	var comps []config.Component
	for i := range 12 {
		path := "/up"
		if i%4 == 3 {
			path = "/down"
		}
		c := httpComponent(srv.URL+path, config.HTTPProbe{})
		c.Name = fmt.Sprintf("c%02d", i)
		comps = append(comps, c)
	}
	comps = append(comps,
		config.Component{Name: "mystery", Type: "gopher"},
		config.Component{Name: "broken", Type: "panics"},
	)
	// Headers for the first component only: the rest must cope with none.
	headers := []Headers{{Header: http.Header{"Authorization": {"Bearer x"}}}}

	const limit = 3
	results := Run(t.Context(), probers, comps, headers, limit)

	if len(results) != len(comps) {
		t.Fatalf("got %d results for %d components", len(results), len(comps))
	}
	for i, r := range results {
		if r.Component != comps[i].Name {
			t.Errorf("results[%d].Component = %q, want %q", i, r.Component, comps[i].Name)
		}
	}
	for i := range 12 {
		r := results[i]
		wantHealthy := i%4 != 3
		if r.Healthy != wantHealthy {
			t.Errorf("%s: Healthy = %t, want %t (%s)", r.Component, r.Healthy, wantHealthy, r.Error)
		}
	}
	if got := maxInFlight.Load(); got > limit || got < 1 {
		t.Errorf("max in flight = %d, want between 1 and %d", got, limit)
	}
	if r := results[12]; r.Healthy || r.Error != `checker: unknown probe type "gopher"` || r.Phase != PhaseChecker || r.Side != SideChecker {
		t.Errorf("unknown type: %+v", r)
	}
	if r := results[13]; r.Healthy || r.Error != "checker: probe panicked: probe bug" || r.Phase != PhaseChecker || r.Side != SideChecker {
		t.Errorf("panicking probe: %+v", r)
	}
	if r := results[3]; r.Phase != PhaseStatus || r.Side != SideTarget || !strings.Contains(r.Error, "status 503") {
		t.Errorf("down component: %+v", r)
	}
}

func TestRunEdgeCases(t *testing.T) {
	tests := []struct {
		name  string
		ctx   func(t *testing.T) context.Context
		comps []config.Component
		limit int
		want  []string // Error of each result
	}{
		{
			name: "no components",
			ctx:  func(t *testing.T) context.Context { return t.Context() },
		},
		{
			name:  "unbounded limit",
			ctx:   func(t *testing.T) context.Context { return t.Context() },
			comps: []config.Component{{Name: "a", Type: "x"}, {Name: "b", Type: "y"}},
			limit: 0,
			want:  []string{`unknown probe type "x"`, `unknown probe type "y"`},
		},
		{
			name: "context already ended",
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithCancel(t.Context())
				cancel()
				return ctx
			},
			comps: []config.Component{{Name: "a", Type: config.TypeTCP, Target: "127.0.0.1:1"}},
			limit: 1,
			want:  []string{"not probed: check ended before its turn"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results := Run(tt.ctx(t), NewProbers(), tt.comps, nil, tt.limit)
			if len(results) != len(tt.want) {
				t.Fatalf("got %d results, want %d", len(results), len(tt.want))
			}
			for i, r := range results {
				if r.Healthy || !strings.Contains(r.Error, tt.want[i]) || r.Component != tt.comps[i].Name {
					t.Errorf("results[%d] = %+v, want unhealthy %q", i, r, tt.want[i])
				}
				if r.Phase != PhaseChecker || r.Side != SideChecker {
					t.Errorf("results[%d] Phase, Side = %q, %q, want the checker's", i, r.Phase, r.Side)
				}
			}
		})
	}
}

// TestRunBoundsErrors checks every Error leaving Run fits bound.Error and
// still says what failed, and that a value from an answer to secret headers
// is not quoted at all, so no cut can split a secret echoed in it.
func TestRunBoundsErrors(t *testing.T) {
	huge := strings.Repeat("x", 450<<10)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/huge":
			fmt.Fprintf(w, `{"status":%q}`, huge)
		case "/echo":
			fmt.Fprintf(w, `{"token":%q}`, strings.Repeat("a", 40)+r.Header.Get("Authorization"))
		}
	}))
	probers := NewProbers()
	probers["panics"] = func(context.Context, config.Component, http.Header) Result {
		panic(huge)
	}
	assert := func(path string) config.Component {
		c := httpComponent(srv.URL+path, config.HTTPProbe{Assertions: []config.Assertion{{JSONPath: "status", Equals: ptr("up")}, {JSONPath: "token", Equals: ptr("x")}}})
		c.Name = strings.TrimPrefix(path, "/")
		return c
	}
	comps := []config.Component{
		assert("/huge"),
		assert("/echo"),
		{Name: "panics", Type: "panics"},
		{Name: "long-type", Type: huge},
	}
	headers := []Headers{1: {Header: http.Header{"Authorization": {secretValue}}}}
	results := Run(t.Context(), probers, comps, headers, 0)

	tests := []struct {
		errContains string
		phase       string
	}{
		{`assertion: json_path "$.status" is "xxxx`, PhaseAssertion},
		{`json_path "$.token" differs from "x" (value not shown: the request carried secret headers)`, PhaseAssertion},
		{"checker: probe panicked: xxxx", PhaseChecker},
		{"checker: unknown probe type", PhaseChecker},
	}
	for i, tt := range tests {
		r := results[i]
		if len(r.Error) > bound.Error {
			t.Errorf("%s: Error is %d bytes, want at most %d", r.Component, len(r.Error), bound.Error)
		}
		if r.Healthy || !strings.Contains(r.Error, tt.errContains) || r.Phase != tt.phase {
			t.Errorf("%s: Phase %q, Error %q, want %s and %q", r.Component, r.Phase, r.Error, tt.phase, tt.errContains)
		}
		if strings.Contains(r.Error, "s3cr3t") {
			t.Errorf("%s: Error %q holds part of the secret", r.Component, r.Error)
		}
	}
	// The 450 KB value is cut where it is quoted, so the other assertion's
	// reason still fits.
	if r := results[0]; !strings.Contains(r.Error, `want "up"; json_path "$.token" not found`) {
		t.Errorf("huge: Error %q, want both assertions reported", r.Error)
	}
}

// Probes run concurrently, up to the limit: each target answers only once
// every one of them has been asked, so a serial runner — or a limit below
// the number of targets — leaves the first waiting until its timeout.
func TestRunProbesConcurrently(t *testing.T) {
	const n = 8
	type round struct {
		arrived int
		all     chan struct{} // closed when the n-th request arrives
	}
	var mu sync.Mutex
	cur := &round{all: make(chan struct{})}
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		rd := cur
		rd.arrived++
		if rd.arrived == n {
			close(rd.all)
		}
		mu.Unlock()
		select {
		case <-rd.all:
			w.WriteHeader(http.StatusOK)
		case <-r.Context().Done():
		}
	}))
	comps := make([]config.Component, n)
	for i := range comps {
		comps[i] = httpComponent(srv.URL, config.HTTPProbe{})
		comps[i].Name = fmt.Sprintf("c%d", i)
		comps[i].Timeout = config.Duration(time.Second)
	}
	for i, r := range Run(context.Background(), NewProbers(), comps, nil, n) {
		if !r.Healthy {
			t.Fatalf("component %d: %s — the probes did not run concurrently", i, r.Error)
		}
	}
	// With room for one fewer, the last target is not reached in time.
	mu.Lock()
	cur = &round{all: make(chan struct{})}
	mu.Unlock()
	failed := 0
	for _, r := range Run(context.Background(), NewProbers(), comps, nil, n-1) {
		if !r.Healthy {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("a limit below the number of targets still answered them all: the bound is not applied")
	}
}
