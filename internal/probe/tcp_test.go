package probe

import (
	"net"
	"testing"

	"github.com/vigil-monitor/vigil/internal/config"
)

func TestProbeTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()

	tests := []struct {
		name          string
		target        string
		allowLoopback bool
		healthy       bool
		errContains   string
	}{
		{name: "healthy", target: ln.Addr().String(), allowLoopback: true, healthy: true},
		{name: "refused", target: closedPort(t), allowLoopback: true, errContains: "connection refused"},
		{name: "loopback refused without allow_loopback", target: ln.Addr().String(), errContains: "refused destination: 127.0.0.1 is a loopback address"},
		{name: "link-local refused", target: "169.254.169.254:80", allowLoopback: true, errContains: "169.254.169.254 is a link-local or instance metadata address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := config.Component{Name: "db", Type: config.TypeTCP, Target: tt.target, Timeout: testTimeout, AllowLoopback: tt.allowLoopback}
			r := ProbeTCP(t.Context(), c, nil)
			checkResult(t, r, tt.healthy, tt.errContains)
		})
	}
}
