// Package probe checks one component over HTTP, WebSocket or TCP (SPEC §2, §10).
//
// A failed probe is data (a Result with Healthy false and a reason), never a Go
// error: errors are kept for infrastructure failures a retry might fix.
//
// Every failure names the phase it stopped in and whose fault it points at
// (Classify), so a monitor can tell "the target is down" from "the checker
// itself is broken" (SPEC §10, "the monitor does no harm").
package probe

import "github.com/vigil-monitor/vigil/internal/probe/outcome"

// Result, Side and the Side* and Phase* constants are package outcome's,
// which imports no network code so the health model can read results
// without linking the probes. They are named here too, so probe code and
// its callers read as before.

// Result is the outcome of probing one component once (outcome.Result).
type Result = outcome.Result

// Side is whose fault a failed probe points at (outcome.Side).
type Side = outcome.Side

// Sides, as Classify assigns them (see outcome.SideTarget and the others).
const (
	SideTarget  = outcome.SideTarget
	SideChecker = outcome.SideChecker
	SideUnknown = outcome.SideUnknown
)

// Phases, in the order a probe goes through them (see outcome.PhaseDNS and
// the others). Result.Phase holds one.
const (
	PhaseDNS         = outcome.PhaseDNS
	PhaseConnect     = outcome.PhaseConnect
	PhaseTLS         = outcome.PhaseTLS
	PhaseHeaders     = outcome.PhaseHeaders
	PhaseBody        = outcome.PhaseBody
	PhaseStatus      = outcome.PhaseStatus
	PhaseAssertion   = outcome.PhaseAssertion
	PhaseWSHandshake = outcome.PhaseWSHandshake
	PhaseWSReply     = outcome.PhaseWSReply
	PhaseChecker     = outcome.PhaseChecker
)
