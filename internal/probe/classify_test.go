package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/netguard"
)

// dialErr is the shape of a failed connect: *net.OpError around a syscall
// error.
func dialErr(errno syscall.Errno) error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
}

// inURL wraps err as http.Client.Do does, URL and all.
func inURL(err error) error {
	return &url.Error{Op: "Get", URL: "https://api.example.com/health?token=abc", Err: err}
}

// TestClassify covers every row of the classification table with the errors
// the standard library returns; TestPhases checks the same rows end to end.
func TestClassify(t *testing.T) {
	const name = "api.example.com"
	long := strings.Repeat("x", 10_000)
	tests := []struct {
		name   string
		err    error
		phase  string
		side   Side
		reason string
	}{
		// DNS.
		{"no such host", inURL(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}}), PhaseDNS, SideTarget, "DNS: no such host api.example.com"},
		{"DNS timeout", &net.DNSError{Err: "i/o timeout", Name: name, IsTimeout: true, IsTemporary: true}, PhaseDNS, SideUnknown, "DNS: lookup of api.example.com timed out (timeout after 1s)"},
		{"DNS deadline", &net.DNSError{Err: "context deadline exceeded", Name: name, UnwrapErr: context.DeadlineExceeded}, PhaseDNS, SideUnknown, "DNS: lookup of api.example.com timed out (timeout after 1s)"},
		{"DNS deadline without a DNSError", inURL(context.DeadlineExceeded), PhaseDNS, SideUnknown, "DNS: lookup of the target timed out (timeout after 1s)"},
		{"REFUSED", &net.DNSError{Err: "server misbehaving", Name: name}, PhaseDNS, SideChecker, "DNS: server refused the query for api.example.com (REFUSED)"},
		{"SERVFAIL", &net.DNSError{Err: "server misbehaving", Name: name, IsTemporary: true}, PhaseDNS, SideUnknown, "DNS: server failure for api.example.com (SERVFAIL)"},
		{"resolver refuses the connection", &net.DNSError{Err: "read udp 127.0.0.1:5353->127.0.0.1:53: read: connection refused", Name: name, IsTemporary: true}, PhaseDNS, SideChecker, "DNS: resolver unreachable looking up api.example.com (connection refused)"},
		{"resolver out of descriptors", &net.DNSError{Err: "dial udp 10.0.0.2:53: socket: too many open files", Name: name, IsTemporary: true}, PhaseDNS, SideChecker, "DNS: lookup of api.example.com failed: checker out of file descriptors (too many open files)"},
		{"resolver network unreachable", &net.DNSError{Err: "dial udp 10.0.0.2:53: connect: network is unreachable", Name: name, IsTemporary: true}, PhaseDNS, SideChecker, "DNS: lookup of api.example.com failed: network unreachable"},
		{"other resolver failure", &net.DNSError{Err: "lame referral", Name: name}, PhaseDNS, SideUnknown, "DNS: lookup of api.example.com failed: lame referral"},
		{"DNS canceled", &net.DNSError{Err: "operation was canceled", Name: name, UnwrapErr: context.Canceled}, PhaseDNS, SideChecker, "DNS: lookup of api.example.com canceled before completion"},
		{"DNS error found in any phase", &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}, PhaseConnect, SideTarget, "connect: no such host api.example.com"},

		// Connect.
		{"connection refused", inURL(dialErr(syscall.ECONNREFUSED)), PhaseConnect, SideTarget, "connect: connection refused"},
		{"connect timeout", inURL(context.DeadlineExceeded), PhaseConnect, SideUnknown, "connect: timeout after 1s"},
		{"connect i/o timeout", dialErr(syscall.ETIMEDOUT), PhaseConnect, SideUnknown, "connect: timeout after 1s"},
		{"host unreachable", dialErr(syscall.EHOSTUNREACH), PhaseConnect, SideUnknown, "connect: host unreachable"},
		{"network unreachable", dialErr(syscall.ENETUNREACH), PhaseConnect, SideChecker, "connect: network unreachable"},
		{"EMFILE", dialErr(syscall.EMFILE), PhaseConnect, SideChecker, "connect: checker out of file descriptors (too many open files)"},
		{"ENFILE", dialErr(syscall.ENFILE), PhaseConnect, SideChecker, "connect: checker out of file descriptors (file table overflow)"},
		{"ENOBUFS", dialErr(syscall.ENOBUFS), PhaseConnect, SideChecker, "connect: checker out of buffer space"},
		{"ENOMEM", dialErr(syscall.ENOMEM), PhaseConnect, SideChecker, "connect: checker out of memory"},
		{"EADDRNOTAVAIL", dialErr(syscall.EADDRNOTAVAIL), PhaseConnect, SideChecker, "connect: checker out of local addresses (cannot assign requested address)"},
		{"guard refusal", inURL(&net.OpError{Op: "dial", Err: &netguard.RefusedError{Reason: "169.254.169.254 is a link-local or instance metadata address"}}), PhaseConnect, SideTarget, "connect: refused destination: 169.254.169.254 is a link-local or instance metadata address"},
		{"canceled by the caller", inURL(context.Canceled), PhaseConnect, SideChecker, "connect: canceled before completion"},

		// TLS.
		{"TLS timeout", inURL(context.DeadlineExceeded), PhaseTLS, SideTarget, "TLS handshake: timeout after 1s"},
		{"TLS certificate", inURL(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), PhaseTLS, SideTarget, "TLS handshake: certificate not accepted: x509: certificate signed by unknown authority"},
		{"TLS alert", inURL(&net.OpError{Op: "remote error", Err: tls.AlertError(40)}), PhaseTLS, SideTarget, "TLS handshake: remote error: tls: handshake failure"},
		{"TLS reset", inURL(&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), PhaseTLS, SideTarget, "TLS handshake: connection reset by peer"},

		// Response headers and body.
		{"headers timeout", inURL(context.DeadlineExceeded), PhaseHeaders, SideTarget, "response headers: timeout after 1s"},
		{"headers cut short", inURL(io.EOF), PhaseHeaders, SideTarget, "response headers: connection closed by the server before a complete response"},
		{"redirects", inURL(&netguard.RedirectError{Reason: "more than 5 redirects"}), PhaseHeaders, SideTarget, "response headers: more than 5 redirects"},
		{"body timeout", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, PhaseBody, SideTarget, "body: timeout after 1s"},
		{"body cut short", io.ErrUnexpectedEOF, PhaseBody, SideTarget, "body: connection closed by the server before a complete response"},
		{"body too large", errBodyTooLarge, PhaseBody, SideTarget, "body: exceeds the 1 MiB cap"},

		// Reasons the probe words itself.
		{"status", reasonf("status 503, want 200"), PhaseStatus, SideTarget, "status 503, want 200"},
		{"assertion", reasonf(`json_path "status" is "down", want "up"`), PhaseAssertion, SideTarget, `assertion: json_path "status" is "down", want "up"`},
		{"long reason kept whole", reasonf("%s", long), PhaseAssertion, SideTarget, "assertion: " + long},
		{"websocket handshake", reasonf("status 404, server did not upgrade to WebSocket"), PhaseWSHandshake, SideTarget, "websocket handshake: status 404, server did not upgrade to WebSocket"},
		{"websocket reply", reasonf(`no reply containing "pong" within 1s`), PhaseWSReply, SideTarget, `websocket reply: no reply containing "pong" within 1s`},

		// The checker.
		{"not probed", reasonf("not probed: check ended before its turn (context deadline exceeded)"), PhaseChecker, SideChecker, "checker: not probed: check ended before its turn (context deadline exceeded)"},
		{"request never sent", inURL(errors.New(`net/http: invalid header field value for "X-Key"`)), PhaseChecker, SideChecker, `checker: net/http: invalid header field value for "X-Key"`},
		{"deadline before the request", inURL(context.DeadlineExceeded), PhaseChecker, SideChecker, "checker: timeout after 1s before the probe started"},

		// Anything else is the target's, bounded and without the URL.
		{"unknown network error", inURL(errors.New(long)), PhaseHeaders, SideTarget, "response headers: " + bound.Text(long, bound.Value)},

		// No phase (a caller that does not trace them, the recovery
		// webhook): the cause alone.
		{"no phase: refusal", inURL(&net.OpError{Op: "dial", Err: &netguard.RefusedError{Reason: "127.0.0.1 is a loopback address"}}), "", SideTarget, "refused destination: 127.0.0.1 is a loopback address"},
		{"no phase: timeout", inURL(context.DeadlineExceeded), "", SideTarget, "timeout after 1s"},
		{"no phase: connection refused", inURL(dialErr(syscall.ECONNREFUSED)), "", SideTarget, "connection refused"},
		{"no phase: header cap", inURL(fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", errors.New("net/http: server response headers exceeded 65536 bytes; aborted"))), "", SideTarget, "net/http: server response headers exceeded 65536 bytes; aborted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			side, reason := Classify(tt.err, tt.phase, time.Second)
			if side != tt.side || reason != tt.reason {
				t.Errorf("Classify = %s, %q\nwant        %s, %q", side, reason, tt.side, tt.reason)
			}
			if strings.Contains(reason, "token=abc") {
				t.Errorf("reason %q quotes the URL", reason)
			}
		})
	}
}
