package probe

import (
	"context"
	"net/http"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
)

// ProbeTCP connects to the component's host:port through the guarded dialer
// and closes the connection at once. Latency is the connect time. headers
// are unused; the parameter keeps the ProbeFn shape.
func ProbeTCP(ctx context.Context, c config.Component, headers http.Header) Result {
	ctx, cancel, budget := withTimeout(ctx, c)
	defer cancel()

	r := Result{Component: c.Name}
	start := time.Now()
	conn, err := guardedDialer(c.AllowLoopback, c.AllowLinkLocal).DialContext(ctx, "tcp", c.Target)
	r.Latency = time.Since(start)
	if err != nil {
		r.Error = redact(describe(err, budget), headers)
		return r
	}
	// A close error says nothing about the target's health: it accepted.
	_ = conn.Close()
	r.Healthy = true
	return r
}
