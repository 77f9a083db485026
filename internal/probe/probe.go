package probe

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/netguard"
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

// ResolverAt returns a resolver that asks the DNS server at addr
// (host:port) for every name, over UDP or TCP as Go's resolver chooses: a
// region's own resolver (VIGIL_DNS_SERVER) rather than the system's.
func ResolverAt(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// prober holds what the probes share: settings, never state.
type prober struct {
	resolver *net.Resolver // nil for the system resolver
}

// policy is the component's exceptions to the destination guard.
func policy(c config.Component) netguard.Policy {
	return netguard.Policy{AllowLoopback: c.AllowLoopback, AllowLinkLocal: c.AllowLinkLocal}
}

// client builds the guarded client for one probe of c within ctx (see
// netguard.NewClient): secret headers are dropped from a redirect hop
// that leaves the host or goes from https to http.
func (p prober) client(ctx context.Context, c config.Component, maxRedirects int, secret http.Header) *http.Client {
	return netguard.NewClient(ctx, netguard.ClientOptions{
		Policy:             policy(c),
		Resolver:           p.resolver,
		InsecureSkipVerify: c.InsecureSkipVerify, // opted into per component (SPEC §10)
		MaxRedirects:       maxRedirects,
		Secret:             secret,
	})
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

// withheld stands in a reason for a value the target sent, when the
// request carried secret headers: a target may echo a credential in any
// shape (escaped, encoded, cut, embedded in other text), and no redaction
// can know them all, so none of such an answer is quoted.
const withheld = "not shown: the request carried secret headers"
