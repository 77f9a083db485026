package probe

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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
	headers := []http.Header{{"Authorization": {"Bearer x"}}}

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
	if r := results[12]; r.Healthy || !strings.Contains(r.Error, `unknown probe type "gopher"`) {
		t.Errorf("unknown type: %+v", r)
	}
	if r := results[13]; r.Healthy || !strings.Contains(r.Error, "probe panicked: probe bug") {
		t.Errorf("panicking probe: %+v", r)
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
			}
		})
	}
}
