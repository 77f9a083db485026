package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
)

// healthyBody is what every target answers.
const healthyBody = `{"status":"healthy"}`

// DelayHandler answers /delay/{ms} with 200 and a healthy JSON body after
// sleeping ms milliseconds.
func DelayHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /delay/{ms}", func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(r.PathValue("ms"))
		if err != nil || ms < 0 || ms > 60_000 {
			http.Error(w, "bad delay", http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, healthyBody)
	})
	return mux
}

// Targets is a running loopback delay server.
type Targets struct {
	URL string // http://127.0.0.1:port
	srv *http.Server
}

// StartTargets serves DelayHandler on a free loopback port. The caller must
// Close it.
func StartTargets() (*Targets, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: listen for targets: %w", err)
	}
	t := &Targets{URL: "http://" + l.Addr().String(), srv: &http.Server{Handler: DelayHandler(), ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = t.srv.Serve(l) }()
	return t, nil
}

// Close stops the server.
func (t *Targets) Close() { _ = t.srv.Close() }

// Delay is component i's delay out of n: 5 ms, every 50th 100 ms, and the
// middle one 200 ms, the slowest probe.
func Delay(i, n int) time.Duration {
	switch {
	case i == n/2:
		return 200 * time.Millisecond
	case i%50 == 49:
		return 100 * time.Millisecond
	}
	return 5 * time.Millisecond
}

// Shape is one way of grouping n components into integrations.
type Shape struct {
	Name   string // "single" or "many"
	Size   int    // components in all
	Prefix string // integration names start with it
	// Groups is the number of components of each integration.
	Groups []int
}

// Integrations returns the shape's integration names.
func (s Shape) Integrations() []string {
	names := make([]string, len(s.Groups))
	for i := range s.Groups {
		names[i] = s.integration(i)
	}
	return names
}

func (s Shape) integration(i int) string {
	if len(s.Groups) == 1 {
		return s.Prefix
	}
	return fmt.Sprintf("%s-%03d", s.Prefix, i)
}

// Single is n components in as few integrations as the document allows:
// one, up to config.MaxComponents, else integrations of that many.
func Single(prefix string, n int) Shape {
	s := Shape{Name: "single", Size: n, Prefix: prefix}
	for left := n; left > 0; left -= config.MaxComponents {
		s.Groups = append(s.Groups, min(config.MaxComponents, left))
	}
	return s
}

// Many is n components in integrations of four, the last one smaller when
// four does not divide n (10 → 4, 4, 2).
func Many(prefix string, n int) Shape {
	s := Shape{Name: "many", Size: n, Prefix: prefix}
	for left := n; left > 0; left -= 4 {
		s.Groups = append(s.Groups, min(4, left))
	}
	return s
}

// URLs returns the target of every component of the shape, in order.
func (s Shape) URLs(base string) []string {
	urls := make([]string, 0, s.Size)
	for i := range s.Size {
		urls = append(urls, fmt.Sprintf("%s/delay/%d?c=%d", base, Delay(i, s.Size).Milliseconds(), i))
	}
	return urls
}

// ConfigYAML renders the integrations of shapes as a Vigil document: http
// components with allow_loopback and a 2 s timeout, and no recovery block,
// so no check starts an execution.
func ConfigYAML(base string, shapes ...Shape) string {
	var b strings.Builder
	b.WriteString("integrations:\n")
	for _, s := range shapes {
		urls := s.URLs(base)
		k := 0
		for g, n := range s.Groups {
			fmt.Fprintf(&b, "  - name: %s\n    components:\n", s.integration(g))
			for range n {
				fmt.Fprintf(&b, "      - name: c%04d\n        type: http\n        target: %s\n        timeout: 2s\n        allow_loopback: true\n", k, urls[k])
				k++
			}
		}
	}
	return b.String()
}

// Floor probes urls the bare way: one goroutine each, unbounded, a fresh
// transport without keep-alive per request (as each Vigil probe has), the
// body read to the end. It returns the wall time of the whole batch.
func Floor(ctx context.Context, urls []string) (time.Duration, error) {
	errs := make([]error, len(urls))
	var wg sync.WaitGroup
	start := time.Now()
	for i, u := range urls {
		wg.Go(func() {
			tr := &http.Transport{DisableKeepAlives: true}
			defer tr.CloseIdleConnections()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				errs[i] = err
				return
			}
			resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				errs[i] = err
				return
			}
			if resp.StatusCode != http.StatusOK {
				errs[i] = fmt.Errorf("%s: status %d", u, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return d, fmt.Errorf("bench: floor: %w", err)
	}
	return d, nil
}
