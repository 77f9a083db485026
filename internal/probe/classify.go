package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/netguard"
)

// Classify is the one place a probe failure is judged: it says whose fault a
// failure in phase is and words it as "<phase in words>: <cause>". err is
// what failed: a dial, TLS or HTTP error, or a reason the probe worded
// itself (a status, an assertion). budget is the time the probe had, quoted
// in timeouts as "timeout after <budget>".
//
// The sides, in the order they are decided:
//
//   - phase PhaseChecker: SideChecker (the probe never reached the network).
//   - DNS (a *net.DNSError, or any error in PhaseDNS): no such host is
//     SideTarget; a timeout or SERVFAIL (IsTemporary) SideUnknown; REFUSED
//     (server misbehaving, not temporary), a resolver that refused the
//     connection or the checker's own resources or network SideChecker;
//     other resolver failures SideUnknown.
//   - the checker's resources or network (EMFILE, ENFILE, ENOBUFS, ENOMEM,
//     EADDRNOTAVAIL, ENETUNREACH), or a cancellation by the caller:
//     SideChecker.
//   - EHOSTUNREACH, and a timeout in PhaseConnect: SideUnknown.
//   - everything else, timeouts after connect included: SideTarget.
//
// The cause never repeats the request URL. Texts from the network stack are
// cut to bound.Value; reasons the probe worded itself are kept whole (they
// bound the target's values they quote).
//
// phase may be empty, for a caller that does not trace a request through
// its phases (the recovery webhook): the cause then comes without a label,
// and a timeout counts as the target's.
func Classify(err error, phase string, budget time.Duration) (Side, string) {
	side, cause := classify(err, phase, budget)
	if label := phaseLabel(phase); label != "" {
		return side, label + ": " + cause
	}
	return side, cause
}

// phaseLabel names a phase in a reason. A status reason ("status 503, want
// 200") names its phase already.
func phaseLabel(phase string) string {
	switch phase {
	case PhaseDNS:
		return "DNS"
	case PhaseTLS:
		return "TLS handshake"
	case PhaseStatus:
		return ""
	}
	return phase
}

// checkerErrnos are errors only the checker's own host can cause: it ran out
// of descriptors, buffers, memory or local ports, or has no route out.
var checkerErrnos = [...]struct {
	errno syscall.Errno
	text  string
}{
	{syscall.EMFILE, "checker out of file descriptors (too many open files)"},
	{syscall.ENFILE, "checker out of file descriptors (file table overflow)"},
	{syscall.ENOBUFS, "checker out of buffer space"},
	{syscall.ENOMEM, "checker out of memory"},
	{syscall.EADDRNOTAVAIL, "checker out of local addresses (cannot assign requested address)"},
	{syscall.ENETUNREACH, "network unreachable"},
}

// checkerFault reports whether err is one of checkerErrnos and words it.
// A resolver error keeps only the text of its cause, so that is searched too.
func checkerFault(err error, text string) (string, bool) {
	for _, e := range checkerErrnos {
		if errors.Is(err, e.errno) || text != "" && strings.Contains(text, e.errno.Error()) {
			return e.text, true
		}
	}
	return "", false
}

func classify(err error, phase string, budget time.Duration) (Side, string) {
	var (
		reason   *reasonError
		refused  *netguard.RefusedError
		redirect *netguard.RedirectError
		certErr  *tls.CertificateVerificationError
		alert    tls.AlertError
		record   tls.RecordHeaderError
		dnsErr   *net.DNSError
	)
	timeout := isTimeout(err)
	switch {
	case phase == PhaseChecker:
		switch {
		case errors.As(err, &reason):
			return SideChecker, reason.msg
		case timeout:
			return SideChecker, fmt.Sprintf("timeout after %s before the probe started", budget)
		case errors.Is(err, context.Canceled):
			return SideChecker, "canceled before the probe started"
		}
		return SideChecker, networkText(err)
	case errors.As(err, &dnsErr):
		return classifyDNS(dnsErr, budget)
	case phase == PhaseDNS:
		return classifyDNS(&net.DNSError{Err: networkText(err), IsTimeout: timeout, UnwrapErr: err}, budget)
	case errors.As(err, &reason):
		return SideTarget, reason.msg
	case errors.As(err, &refused):
		return SideTarget, refused.Error()
	case errors.As(err, &redirect):
		return SideTarget, redirect.Error()
	}
	if text, ok := checkerFault(err, ""); ok {
		return SideChecker, text
	}
	switch {
	case errors.Is(err, syscall.EHOSTUNREACH):
		return SideUnknown, "host unreachable"
	case timeout && phase == PhaseConnect:
		return SideUnknown, fmt.Sprintf("timeout after %s", budget)
	case timeout:
		return SideTarget, fmt.Sprintf("timeout after %s", budget)
	case errors.Is(err, context.Canceled):
		// Only the caller cancels a probe's context.
		return SideChecker, "canceled before completion"
	case errors.Is(err, syscall.ECONNREFUSED):
		return SideTarget, "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return SideTarget, "connection reset by peer"
	case errors.As(err, &certErr):
		return SideTarget, "certificate not accepted: " + bound.Text(certErr.Err.Error(), bound.Value)
	case errors.As(err, &alert), errors.As(err, &record):
		return SideTarget, networkText(err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return SideTarget, "connection closed by the server before a complete response"
	}
	return SideTarget, networkText(err)
}

// classifyDNS judges a failed lookup. Go's resolver tells the answers apart
// only by flags and text: SERVFAIL and REFUSED both read "server
// misbehaving", SERVFAIL with IsTemporary set; a socket error keeps only its
// text.
func classifyDNS(d *net.DNSError, budget time.Duration) (Side, string) {
	name := d.Name
	if name == "" {
		name = "the target"
	}
	switch {
	case d.IsNotFound:
		return SideTarget, "no such host " + name
	case d.IsTimeout || errors.Is(d, context.DeadlineExceeded):
		return SideUnknown, fmt.Sprintf("lookup of %s timed out (timeout after %s)", name, budget)
	case errors.Is(d, context.Canceled):
		return SideChecker, fmt.Sprintf("lookup of %s canceled before completion", name)
	case strings.Contains(d.Err, syscall.ECONNREFUSED.Error()):
		return SideChecker, fmt.Sprintf("resolver unreachable looking up %s (connection refused)", name)
	}
	if text, ok := checkerFault(d, d.Err); ok {
		return SideChecker, fmt.Sprintf("lookup of %s failed: %s", name, text)
	}
	switch {
	case d.Err == "server misbehaving" && d.IsTemporary:
		return SideUnknown, fmt.Sprintf("server failure for %s (SERVFAIL)", name)
	case d.Err == "server misbehaving":
		// REFUSED, and the rarer FORMERR and NOTIMP: the checker's
		// resolver will not answer it, whatever the name.
		return SideChecker, fmt.Sprintf("server refused the query for %s (REFUSED)", name)
	}
	return SideUnknown, fmt.Sprintf("lookup of %s failed: %s", name, bound.Text(d.Err, bound.Value))
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout()
}

// transportBroken is how net/http prefixes a failure to read the response
// on a connection it wrote the request to ("malformed HTTP response …",
// "server response headers exceeded …"). The cause after it is what says
// what went wrong; the prefix would take most of bound.Value.
const transportBroken = "net/http: HTTP/1.x transport connection broken: "

// networkText is err's own text, without the request URL a *url.Error adds
// or net/http's transportBroken prefix, cut to bound.Value.
func networkText(err error) string {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	return bound.Text(strings.TrimPrefix(err.Error(), transportBroken), bound.Value)
}

// reasonError is a failure the probe worded itself (a status, an assertion,
// a probe that never ran). Classify quotes it whole: any value from the
// target inside it is already bounded.
type reasonError struct{ msg string }

func (e *reasonError) Error() string { return e.msg }

func reasonf(format string, args ...any) error {
	return &reasonError{fmt.Sprintf(format, args...)}
}

// markFailed marks r unhealthy, stopped in phase because of err.
func markFailed(r *Result, phase string, err error, budget time.Duration) {
	r.Healthy = false
	r.Phase = phase
	r.Side, r.Error = Classify(err, phase, budget)
}

// checkerResult is the Result of a component the checker could not probe.
func checkerResult(format string, args ...any) Result {
	var r Result
	markFailed(&r, PhaseChecker, reasonf(format, args...), 0)
	return r
}
