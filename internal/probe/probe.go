package probe

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/config"
)

// ProbeFn probes one component once, within ctx and the component's timeout.
// headers are resolved extra headers (secret auth headers) set over the
// component's plain headers; their values never appear in Result.Error.
// A probe never returns a Go error: a failure is a Result with Healthy false.
type ProbeFn func(ctx context.Context, c config.Component, headers http.Header) Result

// NewProbers returns the probe for each component type, by config type name,
// configured by opts. It returns a new map on each call, so a caller may add
// to it (a test probe, say) without affecting anyone else.
//
// The probes share no state: each one builds its own connection and, for
// http and websocket, its own http.Transport. That costs a little per probe
// but means every probe measures a full connect and TLS handshake, no
// connection outlives its probe (a frozen Lambda never resumes on a dead
// keep-alive connection), and every dial is bound to the probe's deadline.
func NewProbers(opts ...Option) map[string]ProbeFn {
	var p prober
	for _, opt := range opts {
		opt(&p)
	}
	return map[string]ProbeFn{
		config.TypeHTTP:      p.http,
		config.TypeWebSocket: p.webSocket,
		config.TypeTCP:       p.tcp,
	}
}

// Option configures the probes NewProbers returns.
type Option func(*prober)

// WithResolver makes every probe (http, websocket and tcp, redirect hops
// included) look names up with r. The guard checks the addresses r returns,
// as it does the system resolver's. nil, the default, is the system
// resolver: Go's own on Lambda.
func WithResolver(r *net.Resolver) Option {
	return func(p *prober) { p.resolver = r }
}

// prober holds what the probes share: settings, never state.
type prober struct {
	resolver *net.Resolver // nil for the system resolver
}

// dialer returns the guarded dialer for c.
func (p prober) dialer(c config.Component) *net.Dialer {
	return guardedDialer(c.AllowLoopback, c.AllowLinkLocal, p.resolver)
}

const (
	// defaultTimeout applies when a component reaches a probe without the
	// default filled in (config normally fills it), so a probe never runs
	// without a deadline.
	defaultTimeout = config.DefaultTimeout
	// defaultMaxRedirects applies to websocket handshakes, which have no
	// setting of their own, and to http components whose MaxRedirects was
	// left zero.
	defaultMaxRedirects = config.DefaultMaxRedirects
	// maxBody caps what a probe reads of an HTTP body or a WebSocket message.
	maxBody = 1 << 20
	// userAgent identifies probes in the target's access logs.
	userAgent = "Vigil-Probe/1"
)

// withTimeout applies the component's timeout to ctx. It also returns the
// budget the probe really has, for error messages: the component timeout, or
// less when ctx ends sooner (the Lambda deadline).
func withTimeout(ctx context.Context, c config.Component) (context.Context, context.CancelFunc, time.Duration) {
	timeout := c.Timeout.D()
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	budget := timeout
	if d, ok := ctx.Deadline(); ok {
		if left := time.Until(d); left < budget {
			budget = max(left, 0).Round(time.Millisecond)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, cancel, budget
}

// mergeHeaders returns the component's plain headers with extra set over
// them, key by key.
func mergeHeaders(plain map[string]string, extra http.Header) http.Header {
	h := make(http.Header, len(plain)+len(extra)+1)
	for k, v := range plain {
		h.Set(k, v)
	}
	for k, vs := range extra {
		h[http.CanonicalHeaderKey(k)] = vs
	}
	return h
}

// redact removes every extra header value from msg. Probe errors are built
// not to carry header values, but a target may echo one back (in a body an
// assertion quotes, say), and a secret must never reach a log or a metric.
func redact(msg string, headers http.Header) string {
	if msg == "" {
		return msg
	}
	for _, vs := range headers {
		for _, v := range vs {
			if v != "" {
				msg = strings.ReplaceAll(msg, v, "[redacted]")
			}
		}
	}
	return msg
}

// quoteValue quotes a value taken from the target for a reason: secret
// header values redacted first (a cut could split one), then bounded.
func quoteValue(v string, secret http.Header) string {
	return bound.Quote(redact(v, secret))
}

// redirectError explains why a redirect was not followed.
type redirectError struct{ msg string }

func (e *redirectError) Error() string { return e.msg }

// checkRedirect caps redirects at limit and refuses hops to schemes other
// than http and https. The destination address of each hop is re-checked by
// the guarded dialer, since every hop dials anew. Secret headers are dropped
// when a hop leaves the original host: net/http strips only Authorization and
// cookies, and a secret API key must not follow a redirect to another site.
func checkRedirect(limit int, secret http.Header) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if limit < 0 {
			// The redirect response itself is the answer; expected_status judges it.
			return http.ErrUseLastResponse
		}
		if len(via) > limit {
			return &redirectError{fmt.Sprintf("more than %d redirects", limit)}
		}
		if s := req.URL.Scheme; s != "http" && s != "https" {
			return &redirectError{fmt.Sprintf("redirect to scheme %q refused", s)}
		}
		if req.URL.Host != via[0].URL.Host {
			for k := range secret {
				req.Header.Del(k)
			}
		}
		return nil
	}
}
