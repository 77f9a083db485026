package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http/httptrace"
	"sync"
)

// tracer follows an HTTP request (a probe's, or a WebSocket handshake's)
// through its phases, so a failure can name where it stopped: an error from
// http.Client.Do alone does not say whether the deadline passed during the
// lookup, the TLS handshake or the wait for headers.
//
// Only a step that succeeds moves the phase on. A dial the client gave up on
// may still report its end later, from its own goroutine; a failed end keeps
// the phase where the failure was.
type tracer struct {
	mu    sync.Mutex // guards the fields below; hooks run on other goroutines
	phase string     // "" until the request reaches the network
	host  string     // the name of the last lookup
}

// withTracer attaches a new tracer to ctx. The probe must build its client
// and request from the returned context: the guarded dial reads the lookup
// and connect hooks from it (netguard.NewClient dials with the context it
// was built with, not the request's).
func withTracer(ctx context.Context) (context.Context, *tracer) {
	t := &tracer{}
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GetConn: func(string) { t.enter(PhaseConnect, "") },
		DNSStart: func(info httptrace.DNSStartInfo) {
			t.enter(PhaseDNS, info.Host)
		},
		DNSDone: func(info httptrace.DNSDoneInfo) {
			if info.Err == nil {
				t.enter(PhaseConnect, "")
			}
		},
		TLSHandshakeStart: func() { t.enter(PhaseTLS, "") },
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if err == nil {
				t.enter(PhaseHeaders, "")
			}
		},
		GotConn: func(httptrace.GotConnInfo) { t.enter(PhaseHeaders, "") },
	}), t
}

func (t *tracer) enter(phase, host string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.phase = phase
	if host != "" {
		t.host = host
	}
}

// failure returns the phase err happened in, and err with the looked-up name
// when it ended a lookup without saying so (the client returns the context's
// error when the deadline passes before the dial reports back). A request
// that never reached the network failed in PhaseChecker.
func (t *tracer) failure(err error) (string, error) {
	t.mu.Lock()
	phase, host := t.phase, t.host
	t.mu.Unlock()
	if phase == "" {
		return PhaseChecker, err
	}
	var dnsErr *net.DNSError
	if phase == PhaseDNS && !errors.As(err, &dnsErr) {
		err = &net.DNSError{Err: networkText(err), Name: host, IsTimeout: isTimeout(err), UnwrapErr: err}
	}
	return phase, err
}
