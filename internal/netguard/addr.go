// Package netguard builds the one guarded network client Vigil uses to reach
// anything a configuration names: the probes' targets and the recovery
// webhook (SPEC §10). It owns the dialer that applies the destination policy
// to every resolved address, the HTTP client around that dialer, and the
// redaction of secret header values from what comes back.
//
// The policy itself is package destination, which imports no network code,
// so config checks addresses at load time with the very function the dialer
// uses at dial time without linking this package's HTTP client.
package netguard

import "github.com/vigil-monitor/vigil/internal/destination"

// Policy says which destinations, refused by default, a guarded dial
// allows: destination.Policy, named here for the callers of NewClient and
// NewDialer. The zero Policy allows none of them.
type Policy = destination.Policy

// RefusedError is a destination the guard refused (destination.RefusedError),
// inside the *net.OpError of a refused dial. Find it with errors.As.
type RefusedError = destination.RefusedError

// ErrRefused is wrapped by every refusal of the guard (destination.ErrRefused).
var ErrRefused = destination.ErrRefused
