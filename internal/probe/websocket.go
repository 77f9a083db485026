package probe

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/vigil-monitor/vigil/internal/bound"
	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/netguard"
)

// ProbeWebSocket performs the WebSocket handshake with the component's
// headers and subprotocols. With Send set, it writes Send as a text message
// and reads replies until one contains Expect (any reply when Expect is
// empty), proving delivery end to end. Latency runs from the start to the
// upgrade, or to the matching reply with Send. The connection is closed with
// a normal closure. For wss targets CertDaysLeft is set once the handshake
// response arrived. It uses the system resolver;
// NewProbers(WithResolver(r)) gives one that uses r.
func ProbeWebSocket(ctx context.Context, c config.Component, headers http.Header) Result {
	return prober{}.webSocket(ctx, c, headers)
}

func (p prober) webSocket(ctx context.Context, c config.Component, headers http.Header) Result {
	r := p.probeWebSocket(ctx, c, headers)
	r.Component = c.Name
	r.Error = netguard.Redact(r.Error, headers)
	return r
}

func (p prober) probeWebSocket(ctx context.Context, c config.Component, extra http.Header) Result {
	ctx, cancel, budget := withTimeout(ctx, c)
	defer cancel()
	ctx, trace := withTracer(ctx)
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
	fail := func(phase string, err error) Result {
		r.Latency = time.Since(start)
		markFailed(&r, phase, err, budget)
		return r
	}
	conn, resp, err := websocket.Dial(ctx, c.Target, &websocket.DialOptions{
		HTTPClient:   p.client(ctx, c, defaultMaxRedirects, extra),
		HTTPHeader:   h,
		Subprotocols: s.Subprotocols,
	})
	if resp != nil {
		r.StatusCode = resp.StatusCode
		r.CertDaysLeft = certDaysLeft(resp.TLS)
	}
	if err != nil {
		// The library only returns a response when the server answered.
		switch {
		case resp != nil && resp.StatusCode != http.StatusSwitchingProtocols:
			return fail(PhaseWSHandshake, reasonf("status %d, server did not upgrade to WebSocket", resp.StatusCode))
		case resp != nil:
			// An upgrade the library would not accept (a bad accept key,
			// an unasked subprotocol); drop its "failed to WebSocket dial".
			if inner := errors.Unwrap(err); inner != nil {
				err = inner
			}
			return fail(PhaseWSHandshake, err)
		}
		phase, err := trace.failure(err)
		if phase == PhaseHeaders {
			phase = PhaseWSHandshake
		}
		return fail(phase, err)
	}
	// CloseNow is a no-op after a clean Close; it covers every failure path.
	defer conn.CloseNow()
	conn.SetReadLimit(maxBody)

	if s.Send != "" {
		if err := conn.Write(ctx, websocket.MessageText, []byte(s.Send)); err != nil {
			return fail(PhaseWSReply, err)
		}
		if err := awaitReply(ctx, conn, []byte(s.Expect), extra); err != nil {
			if errors.Is(err, errNoReply) {
				err = reasonf("no reply containing %q within %s", s.Expect, budget)
			}
			return fail(PhaseWSReply, err)
		}
	}
	r.Latency = time.Since(start)
	r.Healthy = true
	// The close handshake is bounded by the connection deadline set at
	// dial; its outcome does not change the verdict.
	_ = conn.Close(websocket.StatusNormalClosure, "")
	return r
}

// errNoReply is awaitReply's error when the deadline passed first; the
// caller words it, since it knows Expect and the budget.
var errNoReply = errors.New("no reply")

// awaitReply reads messages until one contains expect. It returns nil on a
// match, errNoReply when the deadline passed first, and otherwise why the
// connection ended; a close reason is quoted only when the handshake carried
// no secret headers.
func awaitReply(ctx context.Context, conn *websocket.Conn, expect []byte, secret http.Header) error {
	for {
		_, msg, err := conn.Read(ctx)
		if err == nil {
			if bytes.Contains(msg, expect) {
				return nil
			}
			continue
		}
		if ctx.Err() != nil || isTimeout(err) {
			return errNoReply
		}
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			reason := ""
			switch {
			case ce.Reason == "":
			case len(secret) > 0:
				reason = "; reason " + withheld
			default:
				reason = " " + bound.Quote(ce.Reason)
			}
			return reasonf("server closed the connection (status %d%s) before the expected reply", int(ce.Code), reason)
		}
		return err
	}
}
