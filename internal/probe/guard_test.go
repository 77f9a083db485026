package probe

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/vigil-monitor/vigil/internal/config"
)

// TestGuardedDialer checks the refusal happens at dial time, on the resolved
// address. Refused addresses are never connected to, so the link-local
// cases need no network.
func TestGuardedDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	tests := []struct {
		name           string
		addr           string
		allowLoopback  bool
		allowLinkLocal bool
		refused        string // substring of the reason; empty when the dial must succeed
	}{
		{name: "loopback allowed", addr: ln.Addr().String(), allowLoopback: true},
		{name: "loopback refused", addr: ln.Addr().String(), refused: "127.0.0.1 is a loopback address"},
		{name: "loopback name refused after resolution", addr: "localhost:" + port, refused: "is a loopback address"},
		{name: "unspecified counts as loopback", addr: "0.0.0.0:" + port, refused: "is a loopback address"},
		{name: "link-local flag does not allow loopback", addr: ln.Addr().String(), allowLinkLocal: true, refused: "loopback"},
		{name: "instance metadata refused", addr: "169.254.169.254:80", allowLoopback: true, refused: "169.254.169.254 is a link-local or instance metadata address"},
		{name: "ECS credentials endpoint refused", addr: "169.254.170.2:80", refused: "link-local"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := guardedDialer(tt.allowLoopback, tt.allowLinkLocal, nil).DialContext(t.Context(), "tcp", tt.addr)
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
			var refused *refusedError
			if !errors.As(err, &refused) || !errors.Is(err, config.ErrRefusedDestination) {
				t.Errorf("err = %v, want a refusal from the guard", err)
			}
			if side, got := Classify(err, PhaseConnect, 0); side != SideTarget || !strings.Contains(got, tt.refused) {
				t.Errorf("reason = %s %q, want target %q", side, got, tt.refused)
			}
		})
	}
}
