// Package outcome is what a probe found, as data: the Result of probing one
// component once, the phase a failure stopped in and whose fault it points at.
// It imports no network code, so the health model judges results without
// linking the probes (package probe, which fills them).
package outcome

import "time"

// Result is the outcome of probing one component once.
type Result struct {
	Component string        `json:"component"`
	Healthy   bool          `json:"healthy"`
	Latency   time.Duration `json:"latency"`
	// Error says why the component is unhealthy, as "<phase>: <cause>";
	// empty when healthy. It never holds a secret header value, and
	// probe.Run cuts it to bound.Error bytes.
	Error string `json:"error,omitempty"`
	// Phase is where a failed probe stopped (Phase* constants); empty when healthy.
	Phase string `json:"phase,omitempty"`
	// Side is whose fault the failure points at; empty when healthy.
	Side       Side `json:"side,omitempty"`
	StatusCode int  `json:"status_code,omitempty"`
	// Metrics holds numbers extracted from an HTTP JSON body, by metric name.
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// CertDaysLeft is the days until the served certificate expires, for
	// https and wss targets; nil otherwise.
	CertDaysLeft *float64 `json:"cert_days_left,omitempty"`
}

// Side is whose fault a failed probe points at.
type Side string

// Sides, as probe.Classify assigns them.
const (
	// SideTarget: the target answered wrongly, refused or reset: its fault.
	SideTarget Side = "target"
	// SideChecker: only the checker can cause it: its resolver refusing or
	// unreachable, its own resources or network, a probe that never ran.
	SideChecker Side = "checker"
	// SideUnknown: could be either: a resolver that timed out or failed
	// (SERVFAIL), a connect that timed out, a host unreachable.
	SideUnknown Side = "unknown"
)

// Phases, in the order a probe goes through them. Result.Phase holds one.
const (
	// PhaseDNS is the name lookup.
	PhaseDNS = "dns"
	// PhaseConnect is the TCP connect, including the guard's check of the
	// resolved address.
	PhaseConnect = "connect"
	// PhaseTLS is the TLS handshake of an https or wss target.
	PhaseTLS = "tls"
	// PhaseHeaders is sending the request and waiting for the response
	// headers (and following redirects).
	PhaseHeaders = "response headers"
	// PhaseBody is reading the response body.
	PhaseBody = "body"
	// PhaseStatus is judging the status code against expected_status.
	PhaseStatus = "status"
	// PhaseAssertion is judging the body: assertions and extracted metrics.
	PhaseAssertion = "assertion"
	// PhaseWSHandshake is the WebSocket upgrade request and its answer.
	PhaseWSHandshake = "websocket handshake"
	// PhaseWSReply is sending the message and awaiting the expected reply.
	PhaseWSReply = "websocket reply"
	// PhaseChecker is a fault inside the checker before any network step:
	// a component not probed before the deadline, a probe panic, an unknown
	// probe type, secret headers that could not be resolved, a request the
	// checker could not build.
	PhaseChecker = "checker"
)
