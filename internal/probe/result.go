// Package probe checks one component over HTTP, WebSocket or TCP (SPEC §2, §10).
//
// A failed probe is data (a Result with Healthy false and a reason), never a Go
// error: errors are kept for infrastructure failures a retry might fix.
package probe

import "time"

// Result is the outcome of probing one component once.
type Result struct {
	Component string        `json:"component"`
	Healthy   bool          `json:"healthy"`
	Latency   time.Duration `json:"latency"`
	// Error says why the component is unhealthy; empty when healthy.
	Error      string `json:"error,omitempty"`
	StatusCode int    `json:"status_code,omitempty"`
	// Metrics holds numbers extracted from an HTTP JSON body, by metric name.
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// CertDaysLeft is the days until the served certificate expires, for
	// https and wss targets; nil otherwise.
	CertDaysLeft *float64 `json:"cert_days_left,omitempty"`
}
