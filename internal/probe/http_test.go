package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
)

const (
	// testTimeout is generous: healthy probes finish far inside it even
	// under the race detector (a first TLS handshake alone can take 200ms).
	testTimeout = config.Duration(5 * time.Second)
	// shortTimeout is for the cases that must time out; Results are checked,
	// never wall-clock bounds.
	shortTimeout = config.Duration(200 * time.Millisecond)
)

// short returns c with shortTimeout.
func short(c config.Component) config.Component {
	c.Timeout = shortTimeout
	return c
}

func ptr[T any](v T) *T { return &v }

// httpComponent returns a loopback-allowed http component for target.
func httpComponent(target string, p config.HTTPProbe) config.Component {
	return config.Component{
		Name:          "api",
		Type:          config.TypeHTTP,
		Target:        target,
		Timeout:       testTimeout,
		AllowLoopback: true,
		HTTP:          &p,
	}
}

// waitForClient blocks until the client goes away or a long time passes,
// so a slow handler never holds up server shutdown.
func waitForClient(r *http.Request, d time.Duration) {
	select {
	case <-r.Context().Done():
	case <-time.After(d):
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func newServer(tb testing.TB, h http.Handler) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv
}

// serveJSON answers every request with body, as JSON.
func serveJSON(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	})
}

// newTLSServer is httptest.NewTLSServer without the server's log of the
// handshakes our probes refuse on purpose.
func newTLSServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

const healthJSON = `{"status":"up","version":2.5,"ready":true,"checks":[{"name":"db","ok":true},{"name":"cache","ok":false}],"mem":{"used_mb":312.5,"label":"high"}}`

func TestProbeHTTP(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/health", serveJSON(healthJSON))
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.Header.Get("X-Plain"), b)
	})
	mux.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		waitForClient(r, 5*time.Second)
	})
	mux.HandleFunc("/trickle", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		for range 100 {
			if _, err := io.WriteString(w, "."); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		// No Content-Length, so the cap on reading is what stops it.
		chunk := strings.Repeat("x", 64<<10)
		for range 17 {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/big-declared", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(maxBody+1))
		io.WriteString(w, strings.Repeat("x", maxBody+1))
	})
	mux.HandleFunc("/exactly-1mib", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", maxBody))
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/health", http.StatusMovedPermanently)
	})
	srv := newServer(t, mux)
	refused := "http://" + closedPort(t)

	mux.HandleFunc("/to-refused", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, refused+"/x", http.StatusFound)
	})
	mux.HandleFunc("/to-file", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	})

	tests := []struct {
		name        string
		comp        config.Component
		healthy     bool
		status      int
		errContains string
		metrics     map[string]float64
	}{
		{
			name:    "healthy",
			comp:    httpComponent(srv.URL+"/health", config.HTTPProbe{}),
			healthy: true,
			status:  200,
		},
		{
			name:    "method headers and body are sent",
			comp:    httpComponent(srv.URL+"/echo", config.HTTPProbe{Method: "POST", Body: "ping", Headers: map[string]string{"X-Plain": "hello"}, Assertions: []config.Assertion{{Contains: "POST hello ping"}}}),
			healthy: true,
			status:  200,
		},
		{
			name:        "wrong status",
			comp:        httpComponent(srv.URL+"/fail", config.HTTPProbe{}),
			status:      500,
			errContains: "status 500, want 200",
		},
		{
			name:        "status outside a list",
			comp:        httpComponent(srv.URL+"/fail", config.HTTPProbe{ExpectedStatus: []int{200, 204}}),
			status:      500,
			errContains: "status 500, want one of [200 204]",
		},
		{
			name:    "expected non-200 status",
			comp:    httpComponent(srv.URL+"/fail", config.HTTPProbe{ExpectedStatus: []int{500}}),
			healthy: true,
			status:  500,
		},
		{
			name:        "connection refused",
			comp:        httpComponent(refused, config.HTTPProbe{}),
			errContains: "connection refused",
		},
		{
			name:        "timeout waiting for response",
			comp:        short(httpComponent(srv.URL+"/sleep", config.HTTPProbe{})),
			errContains: "response headers: timeout after 200ms",
		},
		{
			name:        "slow body",
			comp:        short(httpComponent(srv.URL+"/trickle", config.HTTPProbe{})),
			status:      200,
			errContains: "body: timeout after 200ms",
		},
		{
			name:        "oversized body",
			comp:        httpComponent(srv.URL+"/big", config.HTTPProbe{}),
			status:      200,
			errContains: "body: exceeds the 1 MiB cap",
		},
		{
			name:        "oversized declared body",
			comp:        httpComponent(srv.URL+"/big-declared", config.HTTPProbe{}),
			status:      200,
			errContains: "body: exceeds the 1 MiB cap",
		},
		{
			name:    "body of exactly 1 MiB",
			comp:    httpComponent(srv.URL+"/exactly-1mib", config.HTTPProbe{}),
			healthy: true,
			status:  200,
		},
		{
			name:    "redirect followed",
			comp:    httpComponent(srv.URL+"/moved", config.HTTPProbe{Assertions: []config.Assertion{{JSONPath: "status", Equals: ptr("up")}}}),
			healthy: true,
			status:  200,
		},
		{
			name:    "redirects forbidden: the 3xx is the answer",
			comp:    httpComponent(srv.URL+"/moved", config.HTTPProbe{MaxRedirects: -1, ExpectedStatus: []int{301}}),
			healthy: true,
			status:  301,
		},
		{
			name:        "redirect loop is capped",
			comp:        httpComponent(srv.URL+"/loop", config.HTTPProbe{MaxRedirects: 3}),
			errContains: "more than 3 redirects",
		},
		{
			name:        "redirect to a refused destination",
			comp:        httpComponent(srv.URL+"/to-refused", config.HTTPProbe{}),
			errContains: "connection refused",
		},
		{
			name:        "redirect to a non-http scheme",
			comp:        httpComponent(srv.URL+"/to-file", config.HTTPProbe{}),
			errContains: `redirect to scheme "file" refused`,
		},
		{
			name: "loopback refused without allow_loopback",
			comp: func() config.Component {
				c := httpComponent(srv.URL+"/health", config.HTTPProbe{})
				c.AllowLoopback = false
				return c
			}(),
			errContains: "refused destination: 127.0.0.1 is a loopback address",
		},
		{
			name: "name resolving to loopback refused at dial",
			comp: func() config.Component {
				c := httpComponent(strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)+"/health", config.HTTPProbe{})
				c.AllowLoopback = false
				return c
			}(),
			errContains: "is a loopback address",
		},
		{
			name: "json_path assertions pass",
			comp: httpComponent(srv.URL+"/health", config.HTTPProbe{Assertions: []config.Assertion{
				{JSONPath: "status", Equals: ptr("up")},
				{JSONPath: "version", Equals: ptr("2.5")},
				{JSONPath: "ready", Equals: ptr("true")},
				{JSONPath: "checks.0.ok", Equals: ptr("true")},
				{JSONPath: "checks.1.name", Equals: ptr("cache")},
				{JSONPath: "mem"},
				{Contains: `"status":"up"`},
				{Regex: `"version":\s*2\.\d`},
			}}),
			healthy: true,
			status:  200,
		},
		{
			name:        "json_path missing",
			comp:        httpComponent(srv.URL+"/health", config.HTTPProbe{Assertions: []config.Assertion{{JSONPath: "checks.5.ok"}}}),
			status:      200,
			errContains: `json_path "$.checks[5].ok" not found`,
		},
		{
			name:        "json_path equals mismatch",
			comp:        httpComponent(srv.URL+"/health", config.HTTPProbe{Assertions: []config.Assertion{{JSONPath: "checks.1.ok", Equals: ptr("true")}}}),
			status:      200,
			errContains: `json_path "$.checks[1].ok" is false, want "true"`,
		},
		{
			name:        "json_path equals on an object",
			comp:        httpComponent(srv.URL+"/health", config.HTTPProbe{Assertions: []config.Assertion{{JSONPath: "mem", Equals: ptr("x")}}}),
			status:      200,
			errContains: `json_path "$.mem" is an object, want "x"`,
		},
		{
			name:        "json_path on a body that is not JSON",
			comp:        httpComponent(srv.URL+"/fail", config.HTTPProbe{ExpectedStatus: []int{500}, Assertions: []config.Assertion{{JSONPath: "status"}}}),
			status:      500,
			errContains: "body is not valid JSON",
		},
		{
			name:        "contains fails",
			comp:        httpComponent(srv.URL+"/health", config.HTTPProbe{Assertions: []config.Assertion{{Contains: `"status":"down"`}}}),
			status:      200,
			errContains: `body does not contain "\"status\":\"down\""`,
		},
		{
			name:        "regex fails",
			comp:        httpComponent(srv.URL+"/health", config.HTTPProbe{Assertions: []config.Assertion{{Regex: `"version":\s*3`}}}),
			status:      200,
			errContains: `body does not match regex`,
		},
		{
			name: "every failed assertion is reported",
			comp: httpComponent(srv.URL+"/health", config.HTTPProbe{Assertions: []config.Assertion{
				{JSONPath: "status", Equals: ptr("down")},
				{Contains: "nope"},
			}}),
			status:      200,
			errContains: `json_path "$.status" is "up", want "down"; body does not contain "nope"`,
		},
		{
			name: "extracted metrics",
			comp: httpComponent(srv.URL+"/health", config.HTTPProbe{Metrics: []config.ExtractedMetric{
				{Name: "MemoryMB", JSONPath: "mem.used_mb"},
				{Name: "Version", JSONPath: "version"},
			}}),
			healthy: true,
			status:  200,
			metrics: map[string]float64{"MemoryMB": 312.5, "Version": 2.5},
		},
		{
			name: "missing metric path",
			comp: httpComponent(srv.URL+"/health", config.HTTPProbe{Metrics: []config.ExtractedMetric{
				{Name: "MemoryMB", JSONPath: "mem.used_mb"},
				{Name: "CPU", JSONPath: "cpu.pct"},
			}}),
			status:      200,
			errContains: `metric CPU: json_path "$.cpu.pct" not found`,
			metrics:     map[string]float64{"MemoryMB": 312.5},
		},
		{
			name:        "non-numeric metric",
			comp:        httpComponent(srv.URL+"/health", config.HTTPProbe{Metrics: []config.ExtractedMetric{{Name: "MemoryMB", JSONPath: "mem.label"}}}),
			status:      200,
			errContains: `metric MemoryMB: json_path "$.mem.label" is a string, not a number`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := ProbeHTTP(t.Context(), tt.comp, nil)
			checkResult(t, r, tt.healthy, tt.errContains)
			if r.StatusCode != tt.status {
				t.Errorf("StatusCode = %d, want %d", r.StatusCode, tt.status)
			}
			if r.CertDaysLeft != nil {
				t.Errorf("CertDaysLeft = %v for a plain http target, want nil", *r.CertDaysLeft)
			}
			if len(r.Metrics) != len(tt.metrics) {
				t.Errorf("Metrics = %v, want %v", r.Metrics, tt.metrics)
			}
			for k, want := range tt.metrics {
				if got, ok := r.Metrics[k]; !ok || got != want {
					t.Errorf("Metrics[%s] = %v (present %t), want %v", k, got, ok, want)
				}
			}
		})
	}
}

// checkResult asserts the verdict, the reason and the fields every Result
// carries.
func checkResult(t *testing.T, r Result, healthy bool, errContains string) {
	t.Helper()
	if r.Component == "" {
		t.Error("Component is empty")
	}
	if r.Healthy != healthy {
		t.Errorf("Healthy = %t, want %t (Error %q)", r.Healthy, healthy, r.Error)
	}
	if healthy && (r.Error != "" || r.Phase != "" || r.Side != "") {
		t.Errorf("healthy result with Error %q, Phase %q, Side %q", r.Error, r.Phase, r.Side)
	}
	if !healthy && !strings.Contains(r.Error, errContains) {
		t.Errorf("Error = %q, want it to contain %q", r.Error, errContains)
	}
	if !healthy && (r.Phase == "" || r.Side == "") {
		t.Errorf("unhealthy result without Phase (%q) or Side (%q): %q", r.Phase, r.Side, r.Error)
	}
	if strings.Contains(r.Error, "://") {
		t.Errorf("Error = %q quotes a URL", r.Error)
	}
	if r.Latency <= 0 {
		t.Errorf("Latency = %v, want > 0", r.Latency)
	}
}

func TestProbeHTTPTLS(t *testing.T) {
	srv := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))

	tests := []struct {
		name        string
		insecure    bool
		healthy     bool
		errContains string
	}{
		{name: "untrusted certificate", errContains: "TLS handshake: certificate not accepted"},
		{name: "verification off", insecure: true, healthy: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := httpComponent(srv.URL, config.HTTPProbe{})
			c.InsecureSkipVerify = tt.insecure
			r := ProbeHTTP(t.Context(), c, nil)
			checkResult(t, r, tt.healthy, tt.errContains)
			if !strings.Contains(r.Error, "certificate") && !tt.healthy {
				t.Errorf("Error = %q, want it to mention the certificate", r.Error)
			}
			if !tt.healthy {
				return
			}
			if r.CertDaysLeft == nil {
				t.Fatal("CertDaysLeft = nil for an https target")
			}
			want := time.Until(srv.Certificate().NotAfter).Hours() / 24
			if d := *r.CertDaysLeft - want; d > 1 || d < -1 {
				t.Errorf("CertDaysLeft = %v, want about %v", *r.CertDaysLeft, want)
			}
		})
	}
}

func TestProbeHTTPSecretHeaders(t *testing.T) {
	const secret = "s3cr3t-token-value"
	other := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reports whether the secret followed the redirect here.
		fmt.Fprintf(w, `{"leaked":%t}`, r.Header.Get("X-Api-Key") != "")
	}))
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			// A target that echoes the credential back in its body.
			fmt.Fprintf(w, `{"token":%q}`, r.Header.Get("X-Api-Key"))
		case "/away":
			http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1), http.StatusFound)
		}
	}))
	secretHeaders := http.Header{"X-Api-Key": {secret}}

	tests := []struct {
		name        string
		comp        config.Component
		headers     http.Header // secretHeaders when nil
		healthy     bool
		errContains string
	}{
		{
			name:        "a body answering secret headers is not quoted",
			comp:        httpComponent(srv.URL+"/echo", config.HTTPProbe{Assertions: []config.Assertion{{JSONPath: "token", Equals: ptr("other")}}}),
			errContains: `assertion: json_path "$.token" differs from "other" (value not shown: the request carried secret headers)`,
		},
		{
			name:        "secret header overrides a plain one",
			comp:        httpComponent(srv.URL+"/echo", config.HTTPProbe{Headers: map[string]string{"x-api-key": "plain"}, Assertions: []config.Assertion{{JSONPath: "token", Equals: ptr("plain")}}}),
			errContains: `json_path "$.token" differs from "plain" (value not shown`,
		},
		{
			name:    "secret is not forwarded to another host on redirect",
			comp:    httpComponent(srv.URL+"/away", config.HTTPProbe{Assertions: []config.Assertion{{JSONPath: "leaked", Equals: ptr("false")}}}),
			healthy: true,
		},
		{
			name:        "invalid header value is not quoted",
			comp:        httpComponent(srv.URL+"/echo", config.HTTPProbe{}),
			headers:     http.Header{"X-Api-Key": {secret + "\r\nInjected: 1"}},
			errContains: "invalid header field value",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.headers
			if h == nil {
				h = secretHeaders
			}
			r := ProbeHTTP(t.Context(), tt.comp, h)
			checkResult(t, r, tt.healthy, tt.errContains)
			if strings.Contains(r.Error, secret) {
				t.Errorf("Error %q contains the secret header value", r.Error)
			}
		})
	}
}

// TestProbeHTTPSecretNotDowngraded follows a redirect from an https target
// to plain http on the same host name: the secret must not travel in clear.
// (The ports differ here, which is a change of host too; netguard's tests
// isolate the scheme with one port speaking both.)
func TestProbeHTTPSecretNotDowngraded(t *testing.T) {
	const secret = "s3cr3t-token-value"
	got := make(chan string, 1)
	plain := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("X-Api-Key")
	}))
	tlsSrv := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != secret {
			http.Error(w, "no key", http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, plain.URL+"/landing", http.StatusFound)
	}))
	if !strings.HasPrefix(tlsSrv.URL, "https://127.0.0.1:") || !strings.HasPrefix(plain.URL, "http://127.0.0.1:") {
		t.Fatalf("servers at %s and %s, want both on 127.0.0.1", tlsSrv.URL, plain.URL)
	}
	c := httpComponent(tlsSrv.URL, config.HTTPProbe{})
	c.InsecureSkipVerify = true
	r := ProbeHTTP(t.Context(), c, http.Header{"X-Api-Key": {secret}})
	checkResult(t, r, true, "")
	// The handler sent before it answered, so a healthy probe has it here.
	select {
	case key := <-got:
		if key != "" {
			t.Errorf("the plain http server got the secret %q", key)
		}
	default:
		t.Error("the redirect never reached the plain http server")
	}
}

func TestProbeHTTPDeadlineFromContext(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		waitForClient(r, 5*time.Second)
	}))
	c := httpComponent(srv.URL, config.HTTPProbe{})
	c.Timeout = config.Duration(10 * time.Second)
	// The caller's deadline is shorter than the component's timeout: it wins.
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	r := ProbeHTTP(ctx, c, nil)
	checkResult(t, r, false, "timeout after")
	if strings.Contains(r.Error, "10s") {
		t.Errorf("Error = %q, want the caller's shorter budget", r.Error)
	}
}

func BenchmarkProbeHTTP(b *testing.B) {
	srv := newServer(b, serveJSON(healthJSON))
	c := httpComponent(srv.URL, config.HTTPProbe{
		Assertions: []config.Assertion{{JSONPath: "checks.0.ok", Equals: ptr("true")}},
		Metrics:    []config.ExtractedMetric{{Name: "MemoryMB", JSONPath: "mem.used_mb"}},
	})
	// As loaded: the paths parsed once, not at every probe.
	if err := c.ValidateAndSetDefaults(); err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	b.ReportAllocs()
	start := cpuTime(b)
	for b.Loop() {
		if r := ProbeHTTP(ctx, c, nil); !r.Healthy {
			b.Fatalf("probe failed: %s", r.Error)
		}
	}
	reportCPU(b, start)
}

// BenchmarkBareHTTP is the floor BenchmarkProbeHTTP is held to (SPEC §9: CPU
// per probe within 1.1× a bare Go client's): net/http's own client doing the
// same work, a fresh connection per request as every probe makes, the body
// read and decoded, and the same two values looked up.
func BenchmarkBareHTTP(b *testing.B) {
	srv := newServer(b, serveJSON(healthJSON))
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	ctx := b.Context()
	b.ReportAllocs()
	start := cpuTime(b)
	for b.Loop() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		if err != nil {
			b.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d, error %v", resp.StatusCode, err)
		}
		// Decoded as the probe must, not knowing the body's shape.
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			b.Fatal(err)
		}
		check := doc["checks"].([]any)[0].(map[string]any)
		if check["ok"] != true {
			b.Fatalf("checks[0].ok = %v", check["ok"])
		}
		if _, ok := doc["mem"].(map[string]any)["used_mb"].(float64); !ok {
			b.Fatal("mem.used_mb is not a number")
		}
	}
	reportCPU(b, start)
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time used since start per iteration, as
// cpu-ns/op: on a shared machine wall time says little of what a probe
// costs. It counts the loopback server's share too, alike for every
// benchmark here.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}
