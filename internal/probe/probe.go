package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
)

// ProbeFn probes one component once, within ctx and the component's timeout.
// headers are resolved extra headers (secret auth headers) set over the
// component's plain headers; their values never appear in Result.Error.
// A probe never returns a Go error: a failure is a Result with Healthy false.
type ProbeFn func(ctx context.Context, c config.Component, headers http.Header) Result

// NewProbers returns the probe for each component type, by config type name.
// It returns a new map on each call, so a caller may add to it (a test probe,
// say) without affecting anyone else.
//
// The probes share no state: each one builds its own connection and, for
// http and websocket, its own http.Transport. That costs a little per probe
// but means every probe measures a full connect and TLS handshake, no
// connection outlives its probe (a frozen Lambda never resumes on a dead
// keep-alive connection), and every dial is bound to the probe's deadline.
func NewProbers() map[string]ProbeFn {
	return map[string]ProbeFn{
		config.TypeHTTP:      ProbeHTTP,
		config.TypeWebSocket: ProbeWebSocket,
		config.TypeTCP:       ProbeTCP,
	}
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

// describe turns a dial, TLS or HTTP error into a short reason. It names the
// cause rather than repeating the whole wrapped chain, which would carry the
// full URL and internal detail a dashboard reader does not need.
func describe(err error, budget time.Duration) string {
	var (
		refused  *refusedError
		redirect *redirectError
		certErr  *tls.CertificateVerificationError
		alert    tls.AlertError
		record   tls.RecordHeaderError
		dnsErr   *net.DNSError
		netErr   net.Error
		urlErr   *url.Error
	)
	// The URL is in the config already; the cause is what matters.
	cause := err
	if errors.As(err, &urlErr) {
		cause = urlErr.Err
	}
	switch {
	case errors.As(err, &refused):
		return refused.Error()
	case errors.As(err, &redirect):
		return redirect.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("timeout after %s", budget)
	case errors.Is(err, context.Canceled):
		return "canceled before completion"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer"
	case errors.As(err, &certErr):
		return "TLS certificate not accepted: " + certErr.Err.Error()
	case errors.As(err, &alert), errors.As(err, &record):
		return "TLS handshake failed: " + cause.Error()
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("DNS lookup of %s failed: %s", dnsErr.Name, dnsErr.Err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the server before a complete response"
	}
	return cause.Error()
}
