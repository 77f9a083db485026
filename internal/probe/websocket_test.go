package probe

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/vigil-monitor/vigil/internal/config"
)

// wsServer serves a real WebSocket endpoint on loopback:
//   - /echo answers every text message with "pong: " and the message;
//   - /silent upgrades, reads, and never answers;
//   - /plain answers 200 without upgrading.
func wsServer(t *testing.T, tlsServer bool) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"bridge.v1"}})
		if err != nil {
			return
		}
		defer conn.CloseNow()
		for {
			typ, msg, err := conn.Read(r.Context())
			if err != nil {
				return
			}
			if err := conn.Write(r.Context(), typ, append([]byte("pong: "), msg...)); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/silent", func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		for {
			if _, _, err := conn.Read(r.Context()); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "not a websocket")
	})
	if tlsServer {
		return newTLSServer(t, mux)
	}
	return newServer(t, mux)
}

func wsComponent(target string, p config.WebSocketProbe) config.Component {
	return config.Component{
		Name:          "bridge",
		Type:          config.TypeWebSocket,
		Target:        target,
		Timeout:       testTimeout,
		AllowLoopback: true,
		WebSocket:     &p,
	}
}

func TestProbeWebSocket(t *testing.T) {
	srv := wsServer(t, false)
	ws := "ws" + strings.TrimPrefix(srv.URL, "http")
	tlsSrv := wsServer(t, true)
	wss := "wss" + strings.TrimPrefix(tlsSrv.URL, "https")

	tests := []struct {
		name        string
		comp        config.Component
		healthy     bool
		errContains string
		wantCert    bool
	}{
		{
			name:    "handshake only",
			comp:    wsComponent(ws+"/echo", config.WebSocketProbe{}),
			healthy: true,
		},
		{
			name:    "round trip",
			comp:    wsComponent(ws+"/echo", config.WebSocketProbe{Send: "ping", Expect: "pong: ping", Subprotocols: []string{"bridge.v1"}}),
			healthy: true,
		},
		{
			name:    "round trip over an http URL",
			comp:    wsComponent(srv.URL+"/echo", config.WebSocketProbe{Send: "ping"}),
			healthy: true,
		},
		{
			name:        "server never upgrades",
			comp:        wsComponent(ws+"/plain", config.WebSocketProbe{}),
			errContains: "websocket handshake: status 200, server did not upgrade to WebSocket",
		},
		{
			name:        "server upgrades but never answers",
			comp:        short(wsComponent(ws+"/silent", config.WebSocketProbe{Send: "ping", Expect: "pong"})),
			errContains: `websocket reply: no reply containing "pong" within 200ms`,
		},
		{
			name:        "reply without the expected text",
			comp:        short(wsComponent(ws+"/echo", config.WebSocketProbe{Send: "ping", Expect: "never"})),
			errContains: `no reply containing "never" within 200ms`,
		},
		{
			name:        "connection refused",
			comp:        wsComponent("ws://"+closedPort(t), config.WebSocketProbe{}),
			errContains: "connect: connection refused",
		},
		{
			name: "loopback refused without allow_loopback",
			comp: func() config.Component {
				c := wsComponent(ws+"/echo", config.WebSocketProbe{})
				c.AllowLoopback = false
				return c
			}(),
			errContains: "refused destination: 127.0.0.1 is a loopback address",
		},
		{
			name:        "wss with an untrusted certificate",
			comp:        wsComponent(wss+"/echo", config.WebSocketProbe{}),
			errContains: "TLS handshake: certificate not accepted",
		},
		{
			name: "wss with verification off",
			comp: func() config.Component {
				c := wsComponent(wss+"/echo", config.WebSocketProbe{Send: "ping", Expect: "pong"})
				c.InsecureSkipVerify = true
				return c
			}(),
			healthy:  true,
			wantCert: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := ProbeWebSocket(t.Context(), tt.comp, nil)
			checkResult(t, r, tt.healthy, tt.errContains)
			if tt.healthy && r.StatusCode != http.StatusSwitchingProtocols {
				t.Errorf("StatusCode = %d, want 101", r.StatusCode)
			}
			if (r.CertDaysLeft != nil) != tt.wantCert {
				t.Errorf("CertDaysLeft set = %t, want %t", r.CertDaysLeft != nil, tt.wantCert)
			}
			if tt.wantCert && *r.CertDaysLeft <= 0 {
				t.Errorf("CertDaysLeft = %v, want > 0", *r.CertDaysLeft)
			}
		})
	}
}

func TestProbeWebSocketSendsHeaders(t *testing.T) {
	const secret = "ws-secret-value"
	got := make(chan http.Header, 1)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		// Close straight away, with the token echoed in the reason when
		// there is one: the probe expects a reply and must say why it got
		// none, without the secret.
		_, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		conn.Close(websocket.StatusGoingAway, strings.TrimSpace("bye "+token))
	}))
	c := wsComponent(srv.URL, config.WebSocketProbe{Headers: map[string]string{"X-Plain": "p"}, Send: "ping"})

	r := ProbeWebSocket(t.Context(), c, http.Header{"Authorization": {"Bearer " + secret}})
	checkResult(t, r, false, "websocket reply: server closed the connection (status 1001; reason not shown: the request carried secret headers)")
	if strings.Contains(r.Error, secret) || strings.Contains(r.Error, "bye") {
		t.Errorf("Error %q quotes the close reason of a request with secret headers", r.Error)
	}
	h := <-got
	if h.Get("X-Plain") != "p" || h.Get("Authorization") != "Bearer "+secret {
		t.Errorf("handshake headers = %v, want X-Plain and Authorization", h)
	}

	// Without secret headers the reason is quoted.
	r = ProbeWebSocket(t.Context(), c, nil)
	checkResult(t, r, false, `websocket reply: server closed the connection (status 1001 "bye")`)
	<-got
}

func TestProbeWebSocketClosesCleanly(t *testing.T) {
	closed := make(chan error, 1)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			closed <- err
			return
		}
		defer conn.CloseNow()
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		for {
			typ, msg, err := conn.Read(ctx)
			if err != nil {
				closed <- err
				return
			}
			conn.Write(ctx, typ, msg)
		}
	}))
	r := ProbeWebSocket(t.Context(), wsComponent(srv.URL, config.WebSocketProbe{Send: "hi", Expect: "hi"}), nil)
	checkResult(t, r, true, "")
	err := <-closed
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusNormalClosure {
		t.Errorf("server saw %v, want a normal closure", err)
	}
}
