package netguard

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// listen returns a loopback listener closed at the end of the test.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// TestNewDialer checks the refusal happens at dial time, on the resolved
// address. Refused addresses are never connected to, so the link-local and
// multicast cases need no network.
func TestNewDialer(t *testing.T) {
	ln := listen(t)
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	tests := []struct {
		name    string
		addr    string
		policy  Policy
		refused string // a part of the reason; empty when the dial must succeed
	}{
		{name: "loopback allowed", addr: ln.Addr().String(), policy: Policy{AllowLoopback: true}},
		{name: "loopback refused", addr: ln.Addr().String(), refused: "127.0.0.1 is a loopback address"},
		{name: "loopback name refused after resolution", addr: "localhost:" + port, refused: "is a loopback address"},
		{name: "unspecified counts as loopback", addr: "0.0.0.0:" + port, refused: "0.0.0.0 is a loopback address"},
		{name: "link-local flag does not allow loopback", addr: ln.Addr().String(), policy: Policy{AllowLinkLocal: true}, refused: "loopback"},
		{name: "instance metadata refused", addr: "169.254.169.254:80", policy: Policy{AllowLoopback: true}, refused: "169.254.169.254 is a link-local or instance metadata address"},
		{name: "ECS credentials endpoint refused", addr: "169.254.170.2:80", refused: "link-local"},
		{name: "NAT64 loopback refused", addr: "[64:ff9b::127.0.0.1]:" + port, refused: "embeds 127.0.0.1 (NAT64)"},
		{name: "multicast refused whatever the policy", addr: "224.0.0.1:80", policy: Policy{AllowLoopback: true, AllowLinkLocal: true}, refused: "multicast"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := NewDialer(tt.policy, nil).DialContext(t.Context(), "tcp", tt.addr)
			if tt.refused == "" {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				conn.Close()
				return
			}
			if err == nil {
				conn.Close()
				t.Fatal("dial succeeded, want refused")
			}
			var opErr *net.OpError
			if !errors.As(err, &opErr) {
				t.Errorf("err = %T, want the dial's *net.OpError around the refusal", err)
			}
			checkRefusal(t, err, tt.refused)
		})
	}
}

// TestDialDeadline checks Dial gives the connection the context's deadline:
// a read from a peer that never writes ends with the deadline, though no
// context governs it.
func TestDialDeadline(t *testing.T) {
	ln := listen(t)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	conn, err := Dial(ctx, NewDialer(Policy{AllowLoopback: true}, nil), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer conn.Close()
	if peer := <-accepted; peer != nil {
		defer peer.Close()
	}
	_, err = conn.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read = %v, want the connection deadline", err)
	}

	// A refused dial never reaches SetDeadline and comes back typed.
	_, err = Dial(t.Context(), NewDialer(Policy{}, nil), "tcp", ln.Addr().String())
	checkRefusal(t, err, "loopback")
}

// checkRefusal fails t unless err is the guard's typed refusal with reason
// in its text.
func checkRefusal(t *testing.T, err error, reason string) {
	t.Helper()
	var refused *RefusedError
	if !errors.As(err, &refused) || !errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v, want a *RefusedError wrapping ErrRefused", err)
	}
	if !strings.Contains(err.Error(), "refused destination: ") || !strings.Contains(refused.Reason, reason) {
		t.Errorf("err = %q, want %q in its reason", err, reason)
	}
}
