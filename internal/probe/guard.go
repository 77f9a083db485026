package probe

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/vigil-monitor/vigil/internal/config"
)

// refusedError marks a dial the guard refused, so Classify can report the
// guard's reason rather than the dial error wrapped around it.
type refusedError struct{ err error }

func (e *refusedError) Error() string { return e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// guardedDialer returns a dialer that checks every resolved address with
// config.CheckAddr just before connecting. Config checks targets at load
// time, but a name can resolve anywhere at dial time (DNS rebinding, a
// record pointing at 169.254.169.254), and every redirect hop dials anew.
// Names are looked up with r, or the system resolver when r is nil.
func guardedDialer(allowLoopback, allowLinkLocal bool, r *net.Resolver) *net.Dialer {
	return &net.Dialer{
		Resolver: r,
		// A probe connection lives for one probe; TCP keep-alive probes
		// would never fire.
		KeepAlive: -1,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				// Fail closed: an address we cannot read is not one we can vouch for.
				return &refusedError{fmt.Errorf("%w: unparsable address %q", config.ErrRefusedDestination, address)}
			}
			if err := config.CheckAddr(ap.Addr(), allowLoopback, allowLinkLocal); err != nil {
				return &refusedError{err}
			}
			return nil
		},
	}
}

// dialFunc is the shape of http.Transport.DialContext.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// boundDial returns a dial function tied to the probe's context rather than
// the one it is called with: http.Transport detaches dials from the request
// context (and its deadline), and a probe must never leave a dial running
// after it returns. The connection also gets the probe's deadline, so reads
// and writes that no context governs (a WebSocket close handshake, a TLS
// handshake) stop in time as well.
func boundDial(probeCtx context.Context, d *net.Dialer) dialFunc {
	return func(_ context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(probeCtx, network, addr)
		if err != nil {
			return nil, err
		}
		if deadline, ok := probeCtx.Deadline(); ok {
			if err := conn.SetDeadline(deadline); err != nil {
				conn.Close()
				return nil, err
			}
		}
		return conn, nil
	}
}
