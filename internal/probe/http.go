package probe

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/netguard"
)

// errBodyTooLarge marks a body over maxBody.
var errBodyTooLarge = &reasonError{"exceeds the 1 MiB cap"}

// ProbeHTTP sends the component's request and judges the response: status in
// ExpectedStatus, then every assertion, then every extracted metric. All
// failed assertions and metrics are reported, joined by "; ". Latency runs
// from the start of the request to the end of the body. For https targets
// CertDaysLeft is set whenever a response arrived. It uses the system
// resolver; NewProbers(WithResolver(r)) gives one that uses r.
func ProbeHTTP(ctx context.Context, c config.Component, headers http.Header) Result {
	return prober{}.http(ctx, c, headers)
}

func (p prober) http(ctx context.Context, c config.Component, headers http.Header) Result {
	r := p.probeHTTP(ctx, c, headers)
	r.Component = c.Name
	r.Error = netguard.Redact(r.Error, headers)
	return r
}

func (p prober) probeHTTP(ctx context.Context, c config.Component, extra http.Header) Result {
	ctx, cancel, budget := withTimeout(ctx, c)
	defer cancel()
	ctx, trace := withTracer(ctx)
	s := httpSettings(c)

	var r Result
	start := time.Now()
	fail := func(phase string, err error) Result {
		r.Latency = time.Since(start)
		markFailed(&r, phase, err, budget)
		return r
	}

	var body io.Reader
	if s.Body != "" {
		body = strings.NewReader(s.Body)
	}
	req, err := http.NewRequestWithContext(ctx, s.Method, c.Target, body)
	if err != nil {
		return fail(PhaseChecker, reasonf("invalid request: %s", networkText(err)))
	}
	req.Header = mergeHeaders(s.Headers, extra)
	// net/http sends req.Host, never a Host entry in the header map.
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host
		req.Header.Del("Host")
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", userAgent)
	}

	resp, err := p.client(ctx, c, s.MaxRedirects, extra).Do(req)
	if err != nil {
		return fail(trace.failure(err))
	}
	defer resp.Body.Close()

	r.StatusCode = resp.StatusCode
	r.CertDaysLeft = certDaysLeft(resp.TLS)
	b, err := readBody(resp)
	if err != nil {
		return fail(PhaseBody, err)
	}
	r.Latency = time.Since(start)

	if !slices.Contains(s.ExpectedStatus, resp.StatusCode) {
		if len(s.ExpectedStatus) == 1 {
			markFailed(&r, PhaseStatus, reasonf("status %d, want %d", resp.StatusCode, s.ExpectedStatus[0]), budget)
		} else {
			markFailed(&r, PhaseStatus, reasonf("status %d, want one of %v", resp.StatusCode, s.ExpectedStatus), budget)
		}
		return r
	}

	reasons, metrics := evaluateBody(b, s.Assertions, s.Metrics, extra)
	r.Metrics = metrics
	if len(reasons) > 0 {
		markFailed(&r, PhaseAssertion, &reasonError{strings.Join(reasons, "; ")}, budget)
		return r
	}
	r.Healthy = true
	return r
}

// httpSettings returns the component's http settings with defaults filled,
// so a component that skipped config defaulting still probes sensibly.
func httpSettings(c config.Component) config.HTTPProbe {
	var s config.HTTPProbe
	if c.HTTP != nil {
		s = *c.HTTP
	}
	if s.Method == "" {
		s.Method = http.MethodGet
	}
	if len(s.ExpectedStatus) == 0 {
		s.ExpectedStatus = []int{http.StatusOK}
	}
	if s.MaxRedirects == 0 {
		s.MaxRedirects = defaultMaxRedirects
	}
	return s
}

// readBody reads at most maxBody bytes, refusing a longer body up front
// when the server declares its length.
func readBody(resp *http.Response) ([]byte, error) {
	if resp.ContentLength > maxBody {
		return nil, errBodyTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBody {
		return nil, errBodyTooLarge
	}
	return b, nil
}

// certDaysLeft returns the days until the leaf certificate expires, or nil
// without a TLS connection.
func certDaysLeft(cs *tls.ConnectionState) *float64 {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return nil
	}
	days := time.Until(cs.PeerCertificates[0].NotAfter).Hours() / 24
	return &days
}
