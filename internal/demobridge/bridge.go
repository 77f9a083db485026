// Package demobridge imitates the reference agent ↔ WebSocket bridge (SPEC
// §8): four components answering health checks, a metrics endpoint, a
// WebSocket ping/pong, a fault switch and a recovery webhook. `make run` and
// the tests use it as the monitored system; it listens wherever its caller
// serves it (loopback in every local use).
package demobridge

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Component names of the reference bridge.
const (
	WebSocketManager = "websocket-manager"
	Orchestrator     = "orchestrator"
	AgentRegistry    = "agent-registry"
	Supervisor       = "supervisor"
)

// AllComponents is the component value of a Fault that applies to the whole
// bridge.
const AllComponents = "*"

// Fault kinds accepted by POST /fault and SetFault.
const (
	FaultNone   = "none"   // clear (on "*": clear everything, leak, errors and resistance included)
	FaultDown   = "down"   // health answers 503 unhealthy
	FaultSlow   = "slow"   // health answers healthy after LatencyMs
	FaultLeak   = "leak"   // "*" only: /metrics memory rises above 800 MB
	FaultResist = "resist" // "*" only: the next Count recover calls fail
	FaultErrors = "errors" // "*" only: /metrics error rate rises to ErrorRateFaulty
)

// Error rates /metrics reports as error_rate_percent: the reference
// bridge's 0.02 %, and under the errors fault a rate over the sample
// config's 1 % critical limit.
const (
	ErrorRateNormal = 0.02
	ErrorRateFaulty = 2.5
)

// DefaultSlowLatency is the delay of a slow fault without latency_ms.
const DefaultSlowLatency = 1500 * time.Millisecond

// RecoverFailure is the error the recovery webhook answers while resisting.
const RecoverFailure = "recovery failed: supervisor restart timed out"

// Components returns the bridge's component names, in a fresh slice.
func Components() []string {
	return []string{WebSocketManager, Orchestrator, AgentRegistry, Supervisor}
}

// Options configure a Bridge.
type Options struct {
	// InitChecks is how many health requests per component answer 503
	// {"status":"initializing"} after start: 0 means the default 1, a
	// negative value skips the initialization phase.
	InitChecks int
	// Logger receives one line per fault change and recovery; nil discards.
	Logger *slog.Logger
}

// Fault is the body of POST /fault.
type Fault struct {
	Component string `json:"component"`
	Fault     string `json:"fault"`
	LatencyMs int    `json:"latency_ms,omitempty"` // slow; default DefaultSlowLatency
	Count     int    `json:"count,omitempty"`      // resist; default 1
}

// ComponentFault is the fault set on one component.
type ComponentFault struct {
	Fault     string `json:"fault"`
	LatencyMs int    `json:"latency_ms,omitempty"`
}

// State is the body of GET /state: the faults and counters.
type State struct {
	Faults          map[string]ComponentFault `json:"faults"`
	Leak            bool                      `json:"leak"`
	Errors          bool                      `json:"errors"`
	ResistRemaining int                       `json:"resist_remaining"`
	Counters        Counters                  `json:"counters"`
	UptimeSeconds   float64                   `json:"uptime_seconds"`
}

// Counters count the requests the bridge served.
type Counters struct {
	RecoverCalls      int            `json:"recover_calls"` // every POST /recover, replays included
	RecoveriesApplied int            `json:"recoveries_applied"`
	RecoveriesRefused int            `json:"recoveries_refused"`
	IdempotentReplays int            `json:"idempotent_replays"`
	HealthRequests    map[string]int `json:"health_requests"`
	MetricsRequests   int            `json:"metrics_requests"`
	WSConnections     int            `json:"ws_connections"` // open now
	WSMessages        int            `json:"ws_messages"`
}

// answer is a recorded recovery answer, replayed for a repeated
// Idempotency-Key.
type answer struct {
	status int
	body   []byte
}

// Bridge is the demo bridge. It implements http.Handler; Close ends open
// WebSocket connections.
type Bridge struct {
	mux        *http.ServeMux
	log        *slog.Logger
	initChecks int
	started    time.Time
	closed     chan struct{}
	closeOnce  sync.Once

	mu                sync.Mutex // guards every field below
	faults            map[string]ComponentFault
	componentStart    map[string]time.Time
	leak              bool
	leakReads         int
	errors            bool
	resist            int
	recoverCalls      int
	recoveriesApplied int
	recoveriesRefused int
	replays           int
	healthRequests    map[string]int
	metricsRequests   int
	wsConns           int
	wsMessages        int
	answers           map[string]answer // by Idempotency-Key
}

// New returns a Bridge whose components start now.
func New(opts Options) *Bridge {
	initChecks := opts.InitChecks
	switch {
	case initChecks == 0:
		initChecks = 1
	case initChecks < 0:
		initChecks = 0
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := time.Now()
	b := &Bridge{
		mux: http.NewServeMux(), log: logger, initChecks: initChecks, started: now,
		closed:         make(chan struct{}),
		faults:         map[string]ComponentFault{},
		componentStart: map[string]time.Time{},
		healthRequests: map[string]int{},
		answers:        map[string]answer{},
	}
	for _, c := range Components() {
		b.componentStart[c] = now
		b.healthRequests[c] = 0
	}
	b.mux.HandleFunc("GET /health/{component}", b.handleHealth)
	b.mux.HandleFunc("GET /metrics", b.handleMetrics)
	b.mux.HandleFunc("GET /ws", b.handleWS)
	b.mux.HandleFunc("POST /fault", b.handleFault)
	b.mux.HandleFunc("POST /recover", b.handleRecover)
	b.mux.HandleFunc("GET /state", b.handleState)
	return b
}

// ServeHTTP routes a request to the bridge's endpoints.
func (b *Bridge) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.mux.ServeHTTP(w, r) }

// Close ends every open WebSocket connection with a going-away status.
// Call it before shutting the HTTP server down: hijacked connections are
// not closed by the server.
func (b *Bridge) Close() { b.closeOnce.Do(func() { close(b.closed) }) }

func known(component string) bool { return slices.Contains(Components(), component) }

// SetFault applies f as POST /fault does; the error says what is wrong with
// an unknown component or fault.
func (b *Bridge) SetFault(f Fault) error {
	all := f.Component == AllComponents
	if !all && !known(f.Component) {
		return fmt.Errorf("unknown component %q: want one of %s, or %q for the whole bridge",
			f.Component, strings.Join(Components(), ", "), AllComponents)
	}
	targets := []string{f.Component}
	if all {
		targets = Components()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch f.Fault {
	case FaultNone:
		for _, c := range targets {
			delete(b.faults, c)
		}
		if all {
			b.leak, b.leakReads, b.resist, b.errors = false, 0, 0, false
		}
	case FaultDown:
		for _, c := range targets {
			b.faults[c] = ComponentFault{Fault: FaultDown}
		}
	case FaultSlow:
		ms := f.LatencyMs
		if ms <= 0 {
			ms = int(DefaultSlowLatency / time.Millisecond)
		}
		for _, c := range targets {
			b.faults[c] = ComponentFault{Fault: FaultSlow, LatencyMs: ms}
		}
	case FaultLeak, FaultResist, FaultErrors:
		if !all {
			return fmt.Errorf("fault %q applies to the whole bridge: use component %q", f.Fault, AllComponents)
		}
		switch f.Fault {
		case FaultLeak:
			b.leak, b.leakReads = true, 0
		case FaultErrors:
			b.errors = true
		default:
			b.resist = max(f.Count, 1)
		}
	default:
		return fmt.Errorf("unknown fault %q: want one of %s, %s, %s, %s, %s, %s (the last three with component %q)",
			f.Fault, FaultNone, FaultDown, FaultSlow, FaultLeak, FaultResist, FaultErrors, AllComponents)
	}
	b.log.Info("fault set", "component", f.Component, "fault", f.Fault, "latency_ms", f.LatencyMs, "count", f.Count)
	return nil
}

// Snapshot returns the faults and counters, as GET /state does.
func (b *Bridge) Snapshot() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := State{
		Faults:          make(map[string]ComponentFault, len(b.faults)),
		Leak:            b.leak,
		Errors:          b.errors,
		ResistRemaining: b.resist,
		UptimeSeconds:   time.Since(b.started).Seconds(),
		Counters: Counters{
			RecoverCalls:      b.recoverCalls,
			RecoveriesApplied: b.recoveriesApplied,
			RecoveriesRefused: b.recoveriesRefused,
			IdempotentReplays: b.replays,
			HealthRequests:    make(map[string]int, len(b.healthRequests)),
			MetricsRequests:   b.metricsRequests,
			WSConnections:     b.wsConns,
			WSMessages:        b.wsMessages,
		},
	}
	for k, v := range b.faults {
		s.Faults[k] = v
	}
	for k, v := range b.healthRequests {
		s.Counters.HealthRequests[k] = v
	}
	return s
}

func (b *Bridge) handleHealth(w http.ResponseWriter, r *http.Request) {
	c := r.PathValue("component")
	if !known(c) {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": fmt.Sprintf("unknown component %q", c)})
		return
	}
	b.mu.Lock()
	b.healthRequests[c]++
	n := b.healthRequests[c]
	f := b.faults[c]
	uptime := time.Since(b.componentStart[c]).Seconds()
	b.mu.Unlock()

	switch {
	case f.Fault == FaultDown:
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"status": "unhealthy", "component": c, "error": c + " is not responding (fault injected)",
		})
		return
	case n <= b.initChecks:
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "initializing", "component": c})
		return
	case f.Fault == FaultSlow:
		// Sleep outside the lock; a caller that gives up ends the wait.
		if !sleep(r.Context(), b.closed, time.Duration(f.LatencyMs)*time.Millisecond) {
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "healthy", "component": c, "uptime_seconds": uptime})
}

func (b *Bridge) handleMetrics(w http.ResponseWriter, _ *http.Request) {
	b.mu.Lock()
	b.metricsRequests++
	memory := 180 + 0.5*float64(b.metricsRequests%20)
	if b.leak {
		// A leak keeps growing with every read, from just over the 800 MB
		// critical threshold.
		b.leakReads++
		memory = 810 + 15*float64(min(b.leakReads, 100))
	}
	cpu := 12.5
	for _, f := range b.faults {
		if f.Fault == FaultSlow {
			cpu = 78
		}
	}
	errRate := ErrorRateNormal
	if b.errors {
		errRate = ErrorRateFaulty
	}
	conns := b.wsConns
	b.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"memory_mb": memory, "cpu_percent": cpu, "connections": conns, "async_tasks": 4 + 2*conns,
		"error_rate_percent": errRate,
	})
}

func (b *Bridge) handleWS(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	f := b.faults[WebSocketManager]
	b.mu.Unlock()
	if f.Fault == FaultDown {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"status": "unhealthy", "component": WebSocketManager, "error": "websocket manager is down (fault injected)",
		})
		return
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		b.log.Warn("websocket accept failed", "error", err)
		return
	}
	defer conn.CloseNow()
	b.mu.Lock()
	b.wsConns++
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.wsConns--
		b.mu.Unlock()
	}()

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-b.closed:
			_ = conn.Close(websocket.StatusGoingAway, "bridge shutting down")
			cancel()
		case <-ctx.Done():
		}
	}()
	conn.SetReadLimit(64 << 10)
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		b.mu.Lock()
		b.wsMessages++
		f := b.faults[WebSocketManager]
		b.mu.Unlock()
		var msg struct {
			Type string `json:"type"`
		}
		reply := map[string]any{"type": "error", "error": `unsupported message: send {"type":"ping"}`}
		if typ == websocket.MessageText && json.Unmarshal(data, &msg) == nil && msg.Type == "ping" {
			if f.Fault == FaultSlow && !sleep(ctx, b.closed, time.Duration(f.LatencyMs)*time.Millisecond) {
				return
			}
			reply = map[string]any{"type": "pong", "ts": time.Now().UnixMilli()}
		}
		out, _ := json.Marshal(reply)
		if err := conn.Write(ctx, websocket.MessageText, out); err != nil {
			return
		}
	}
}

func (b *Bridge) handleFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid fault body: " + err.Error()})
		return
	}
	if err := b.SetFault(f); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, b.Snapshot())
}

// IdempotencyKeyHeader names the header whose repeated value replays the
// first answer instead of acting again.
const IdempotencyKeyHeader = "Idempotency-Key"

func (b *Bridge) handleRecover(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get(IdempotencyKeyHeader)
	// The whole decision runs under the lock, so two concurrent calls with
	// one key cannot both act; nothing here blocks.
	b.mu.Lock()
	b.recoverCalls++
	if a, ok := b.answers[key]; ok && key != "" {
		b.replays++
		b.mu.Unlock()
		w.Header().Set("Idempotent-Replayed", "true")
		writeRaw(w, a.status, a.body)
		return
	}
	var a answer
	if b.resist > 0 {
		b.resist--
		b.recoveriesRefused++
		a.status = http.StatusInternalServerError
		a.body, _ = json.Marshal(map[string]any{"error": RecoverFailure})
	} else {
		cleared := make([]string, 0, len(b.faults))
		for c := range b.faults {
			cleared = append(cleared, c)
		}
		slices.Sort(cleared)
		if b.leak {
			cleared = append(cleared, FaultLeak)
		}
		if b.errors {
			cleared = append(cleared, FaultErrors)
		}
		clear(b.faults)
		b.leak, b.leakReads, b.errors = false, 0, false
		now := time.Now()
		for c := range b.componentStart {
			b.componentStart[c] = now
		}
		b.recoveriesApplied++
		a.status = http.StatusOK
		a.body, _ = json.Marshal(map[string]any{"status": "recovered", "cleared": cleared, "recovered_at": now.UTC()})
	}
	if key != "" {
		b.answers[key] = a
	}
	b.mu.Unlock()
	b.log.Info("recover called", "status", a.status, "idempotency_key", key)
	writeRaw(w, a.status, a.body)
}

func (b *Bridge) handleState(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, b.Snapshot())
}

// sleep waits d; false means the caller or the bridge gave up first.
func sleep(ctx context.Context, closed <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-closed:
		return false
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"encoding response"}`)
	}
	writeRaw(w, status, body)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// Two writes rather than append: a replayed body is shared between
	// concurrent requests and must not be written into.
	_, _ = w.Write(body)
	_, _ = io.WriteString(w, "\n")
}
