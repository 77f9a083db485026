package probe

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/netguard"
)

// ProbeTCP connects to the component's host:port through the guarded dialer
// and closes the connection at once. Latency is the connect time. headers
// are unused; the parameter keeps the ProbeFn shape. It uses the system
// resolver; NewProbers(WithResolver(r)) gives one that uses r.
func ProbeTCP(ctx context.Context, c config.Component, headers http.Header) Result {
	return prober{}.tcp(ctx, c, headers)
}

func (p prober) tcp(ctx context.Context, c config.Component, headers http.Header) Result {
	ctx, cancel, budget := withTimeout(ctx, c)
	defer cancel()

	r := Result{Component: c.Name}
	start := time.Now()
	conn, err := netguard.Dial(ctx, netguard.NewDialer(policy(c), p.resolver), "tcp", c.Target)
	r.Latency = time.Since(start)
	if err != nil {
		// The dialer reports every lookup failure as a *net.DNSError, its
		// deadline included.
		phase := PhaseConnect
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) {
			phase = PhaseDNS
		}
		markFailed(&r, phase, err, budget)
		r.Error = netguard.Redact(r.Error, headers)
		return r
	}
	// A close error says nothing about the target's health: it accepted.
	_ = conn.Close()
	r.Healthy = true
	return r
}
