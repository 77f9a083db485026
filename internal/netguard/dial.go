package netguard

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/vigil-monitor/vigil/internal/destination"
)

// NewDialer returns a dialer that checks every address it is about to
// connect to with destination.Check under p, and refuses with a
// *RefusedError (inside the *net.OpError the dial returns) rather than
// connect. Config checks literal targets at load time, but a name can
// resolve anywhere at dial time (DNS rebinding, a record pointing at
// 169.254.169.254), and every redirect hop dials anew. Names are looked up
// with r, or the system resolver when r is nil.
//
// Dial with Dial, or through NewClient, so the connection also gets the
// caller's deadline.
func NewDialer(p Policy, r *net.Resolver) *net.Dialer {
	return &net.Dialer{
		Resolver: r,
		// A guarded connection lives for one probe or call; TCP keep-alive
		// probes would never fire.
		KeepAlive: -1,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				// Fail closed: an address we cannot read is not one we can vouch for.
				return &RefusedError{Reason: fmt.Sprintf("unparsable address %q", address)}
			}
			return destination.Check(ap.Addr(), p)
		},
	}
}

// Dial connects to addr through d within ctx, and gives the connection ctx's
// deadline, so reads and writes that no context governs (a TLS handshake, a
// WebSocket close handshake) stop in time as well. The caller closes the
// connection.
func Dial(ctx context.Context, d *net.Dialer, network, addr string) (net.Conn, error) {
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		// Already a *net.OpError naming the operation and the address.
		return nil, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(deadline); err != nil {
			conn.Close()
			return nil, fmt.Errorf("netguard: set deadline on %s: %w", addr, err)
		}
	}
	return conn, nil
}

// dialFunc is the shape of http.Transport.DialContext.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// boundDial returns a dial function tied to ctx rather than the context it
// is called with: http.Transport detaches dials from the request context
// (and its deadline), and a caller must never leave a dial running after it
// returns.
func boundDial(ctx context.Context, d *net.Dialer) dialFunc {
	return func(_ context.Context, network, addr string) (net.Conn, error) {
		return Dial(ctx, d, network, addr)
	}
}
