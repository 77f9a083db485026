package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/vigil-monitor/vigil/internal/config"
)

// ProbeWebSocket performs the WebSocket handshake with the component's
// headers and subprotocols. With Send set, it writes Send as a text message
// and reads replies until one contains Expect (any reply when Expect is
// empty), proving delivery end to end. Latency runs from the start to the
// upgrade, or to the matching reply with Send. The connection is closed with
// a normal closure. For wss targets CertDaysLeft is set once the handshake
// response arrived.
func ProbeWebSocket(ctx context.Context, c config.Component, headers http.Header) Result {
	r := probeWebSocket(ctx, c, headers)
	r.Component = c.Name
	r.Error = redact(r.Error, headers)
	return r
}

func probeWebSocket(ctx context.Context, c config.Component, extra http.Header) Result {
	ctx, cancel, budget := withTimeout(ctx, c)
	defer cancel()
	var s config.WebSocketProbe
	if c.WebSocket != nil {
		s = *c.WebSocket
	}
	h := mergeHeaders(s.Headers, extra)
	if h.Get("User-Agent") == "" {
		h.Set("User-Agent", userAgent)
	}

	var r Result
	start := time.Now()
	conn, resp, err := websocket.Dial(ctx, c.Target, &websocket.DialOptions{
		HTTPClient:   newHTTPClient(ctx, c, defaultMaxRedirects, extra),
		HTTPHeader:   h,
		Subprotocols: s.Subprotocols,
	})
	if resp != nil {
		r.StatusCode = resp.StatusCode
		r.CertDaysLeft = certDaysLeft(resp.TLS)
	}
	if err != nil {
		r.Latency = time.Since(start)
		// The library only returns a response when the server answered.
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			r.Error = fmt.Sprintf("handshake failed: status %d, server did not upgrade to WebSocket", resp.StatusCode)
		} else {
			r.Error = "handshake failed: " + describe(err, budget)
		}
		return r
	}
	// CloseNow is a no-op after a clean Close; it covers every failure path.
	defer conn.CloseNow()
	conn.SetReadLimit(maxBody)

	if s.Send != "" {
		if err := conn.Write(ctx, websocket.MessageText, []byte(s.Send)); err != nil {
			r.Latency = time.Since(start)
			r.Error = "sending message: " + describe(err, budget)
			return r
		}
		if reason := awaitReply(ctx, conn, []byte(s.Expect)); reason != "" {
			r.Latency = time.Since(start)
			if reason == errNoReply {
				reason = fmt.Sprintf("no reply containing %q within %s", s.Expect, budget)
			}
			r.Error = reason
			return r
		}
	}
	r.Latency = time.Since(start)
	r.Healthy = true
	// The close handshake is bounded by the connection deadline set at
	// dial; its outcome does not change the verdict.
	_ = conn.Close(websocket.StatusNormalClosure, "")
	return r
}

// errNoReply is awaitReply's reason when the deadline passed first; the
// caller words it, since it knows Expect and the budget.
const errNoReply = "no reply"

// awaitReply reads messages until one contains expect. It returns "" on a
// match and a reason otherwise.
func awaitReply(ctx context.Context, conn *websocket.Conn, expect []byte) string {
	for {
		_, msg, err := conn.Read(ctx)
		if err == nil {
			if bytes.Contains(msg, expect) {
				return ""
			}
			continue
		}
		var netErr net.Error
		if ctx.Err() != nil || errors.As(err, &netErr) && netErr.Timeout() {
			return errNoReply
		}
		if status := websocket.CloseStatus(err); status != -1 {
			return fmt.Sprintf("server closed the connection (status %d) before the expected reply", status)
		}
		return "reading reply: " + describe(err, 0)
	}
}
