package probe

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/dnstest"
)

// newDNS starts a dnstest server serving, on one resolver, a name for each
// answer a probe must tell apart.
func newDNS(t *testing.T) *dnstest.Server {
	t.Helper()
	s, err := dnstest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	loopback := netip.MustParseAddr("127.0.0.1")
	s.Set("api.vigil.test", loopback)
	s.Set("metadata.vigil.test", netip.MustParseAddr("169.254.169.254"))
	for name, mode := range map[string]dnstest.Mode{
		"silent.vigil.test":   dnstest.Silent,
		"refused.vigil.test":  dnstest.Refuse,
		"servfail.vigil.test": dnstest.ServFail,
		"nx.vigil.test":       dnstest.NXDomain,
	} {
		s.Set(name, loopback)
		s.SetNameMode(name, mode)
	}
	return s
}

// stallListener returns the address of a TCP listener that accepts
// connections and never writes to them: a TLS handshake or an HTTP request
// sent there waits until its deadline.
func stallListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// unreachableResolver returns a Go resolver whose server port is closed:
// every query is answered by the kernel with "connection refused".
func unreachableResolver(t *testing.T) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", addr)
		},
	}
}

// TestPhases probes through real loopback servers and a real DNS server
// and checks each failure names its phase and whose fault it is.
func TestPhases(t *testing.T) {
	dns := newDNS(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, healthJSON)
	})
	mux.HandleFunc("/no-headers", func(w http.ResponseWriter, r *http.Request) {
		waitForClient(r, testTimeout.D())
	})
	mux.HandleFunc("/stalled-body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		io.WriteString(w, `{"status":`)
		w.(http.Flusher).Flush()
		waitForClient(r, testTimeout.D())
	})
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	srv := newServer(t, mux)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	api := "http://api.vigil.test:" + port
	host := func(name string) string { return "http://" + name + ":" + port + "/ok" }

	ws := wsServer(t, false)
	_, wsPort, _ := net.SplitHostPort(ws.Listener.Addr().String())
	wsAPI := "ws://api.vigil.test:" + wsPort
	tlsSrv := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	stall := stallListener(t)
	refused := closedPort(t)
	_, refusedPort, _ := net.SplitHostPort(refused)

	tcp := func(target string) config.Component {
		return config.Component{Name: "db", Type: config.TypeTCP, Target: target, Timeout: testTimeout, AllowLoopback: true}
	}

	tests := []struct {
		name        string
		comp        config.Component
		resolver    *net.Resolver // dns's when nil
		headers     http.Header
		healthy     bool
		phase       string
		side        Side
		errContains string
	}{
		{name: "http healthy through the resolver", comp: httpComponent(api+"/ok", config.HTTPProbe{}), healthy: true},
		{
			name:        "DNS timeout",
			comp:        short(httpComponent(host("silent.vigil.test"), config.HTTPProbe{})),
			phase:       PhaseDNS,
			side:        SideUnknown,
			errContains: "DNS: lookup of silent.vigil.test timed out (timeout after 200ms)",
		},
		{
			name:        "DNS REFUSED",
			comp:        httpComponent(host("refused.vigil.test"), config.HTTPProbe{}),
			phase:       PhaseDNS,
			side:        SideChecker,
			errContains: "DNS: server refused the query for refused.vigil.test (REFUSED)",
		},
		{
			name:        "DNS SERVFAIL",
			comp:        httpComponent(host("servfail.vigil.test"), config.HTTPProbe{}),
			phase:       PhaseDNS,
			side:        SideUnknown,
			errContains: "DNS: server failure for servfail.vigil.test (SERVFAIL)",
		},
		{
			name:        "NXDOMAIN",
			comp:        httpComponent(host("nx.vigil.test"), config.HTTPProbe{}),
			phase:       PhaseDNS,
			side:        SideTarget,
			errContains: "DNS: no such host nx.vigil.test",
		},
		{
			name:        "resolver unreachable",
			comp:        httpComponent(host("api.vigil.test"), config.HTTPProbe{}),
			resolver:    unreachableResolver(t),
			phase:       PhaseDNS,
			side:        SideChecker,
			errContains: "DNS: resolver unreachable looking up api.vigil.test (connection refused)",
		},
		{
			name:        "connection refused",
			comp:        httpComponent("http://api.vigil.test:"+refusedPort, config.HTTPProbe{}),
			phase:       PhaseConnect,
			side:        SideTarget,
			errContains: "connect: connection refused",
		},
		{
			name:        "name resolving to the metadata address is refused at dial",
			comp:        httpComponent(host("metadata.vigil.test"), config.HTTPProbe{}),
			phase:       PhaseConnect,
			side:        SideTarget,
			errContains: "connect: refused destination: 169.254.169.254",
		},
		{
			name:        "TLS handshake stalls",
			comp:        short(httpComponent("https://"+stall, config.HTTPProbe{})),
			phase:       PhaseTLS,
			side:        SideTarget,
			errContains: "TLS handshake: timeout after 200ms",
		},
		{
			name:        "TLS certificate not accepted",
			comp:        httpComponent(tlsSrv.URL, config.HTTPProbe{}),
			phase:       PhaseTLS,
			side:        SideTarget,
			errContains: "TLS handshake: certificate not accepted: x509:",
		},
		{
			name:        "response headers never come",
			comp:        short(httpComponent(api+"/no-headers", config.HTTPProbe{})),
			phase:       PhaseHeaders,
			side:        SideTarget,
			errContains: "response headers: timeout after 200ms",
		},
		{
			name:        "redirect loop",
			comp:        httpComponent(api+"/loop", config.HTTPProbe{MaxRedirects: 2}),
			phase:       PhaseHeaders,
			side:        SideTarget,
			errContains: "response headers: more than 2 redirects",
		},
		{
			name:        "body stalls",
			comp:        short(httpComponent(api+"/stalled-body", config.HTTPProbe{})),
			phase:       PhaseBody,
			side:        SideTarget,
			errContains: "body: timeout after 200ms",
		},
		{
			name:        "status 503",
			comp:        httpComponent(api+"/down", config.HTTPProbe{}),
			phase:       PhaseStatus,
			side:        SideTarget,
			errContains: "status 503, want 200",
		},
		{
			name:        "failed assertion",
			comp:        httpComponent(api+"/ok", config.HTTPProbe{Assertions: []config.Assertion{{JSONPath: "status", Equals: ptr("down")}}}),
			phase:       PhaseAssertion,
			side:        SideTarget,
			errContains: `assertion: json_path "$.status" is "up", want "down"`,
		},
		{
			name:        "failed metric",
			comp:        httpComponent(api+"/ok", config.HTTPProbe{Metrics: []config.ExtractedMetric{{Name: "CPU", JSONPath: "cpu"}}}),
			phase:       PhaseAssertion,
			side:        SideTarget,
			errContains: `assertion: metric CPU: json_path "$.cpu" not found`,
		},
		{
			name:        "request the checker cannot send",
			comp:        httpComponent(api+"/ok", config.HTTPProbe{}),
			headers:     http.Header{"X-Api-Key": {"bad\r\nvalue"}},
			phase:       PhaseChecker,
			side:        SideChecker,
			errContains: "checker: net/http: invalid header field value",
		},
		{name: "websocket healthy through the resolver", comp: wsComponent(wsAPI+"/echo", config.WebSocketProbe{Send: "ping", Expect: "pong"}), healthy: true},
		{
			name:        "websocket DNS REFUSED",
			comp:        wsComponent("ws://refused.vigil.test:"+wsPort+"/echo", config.WebSocketProbe{}),
			phase:       PhaseDNS,
			side:        SideChecker,
			errContains: "DNS: server refused the query for refused.vigil.test",
		},
		{
			name:        "websocket handshake refused",
			comp:        wsComponent(wsAPI+"/nope", config.WebSocketProbe{}),
			phase:       PhaseWSHandshake,
			side:        SideTarget,
			errContains: "websocket handshake: status 404, server did not upgrade to WebSocket",
		},
		{
			name:        "websocket handshake never answered",
			comp:        short(wsComponent("ws://"+stall, config.WebSocketProbe{})),
			phase:       PhaseWSHandshake,
			side:        SideTarget,
			errContains: "websocket handshake: timeout after 200ms",
		},
		{
			name:        "websocket no reply",
			comp:        short(wsComponent(wsAPI+"/silent", config.WebSocketProbe{Send: "ping", Expect: "pong"})),
			phase:       PhaseWSReply,
			side:        SideTarget,
			errContains: `websocket reply: no reply containing "pong" within 200ms`,
		},
		{name: "tcp healthy through the resolver", comp: tcp(strings.TrimPrefix(api, "http://")), healthy: true},
		{
			name:        "tcp NXDOMAIN",
			comp:        tcp("nx.vigil.test:" + port),
			phase:       PhaseDNS,
			side:        SideTarget,
			errContains: "DNS: no such host nx.vigil.test",
		},
		{
			name:        "tcp DNS timeout",
			comp:        short(tcp("silent.vigil.test:" + port)),
			phase:       PhaseDNS,
			side:        SideUnknown,
			errContains: "DNS: lookup of silent.vigil.test timed out (timeout after 200ms)",
		},
		{
			name:        "tcp connection refused",
			comp:        tcp(refused),
			phase:       PhaseConnect,
			side:        SideTarget,
			errContains: "connect: connection refused",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resolver := tt.resolver
			if resolver == nil {
				resolver = dns.Resolver()
			}
			probe := NewProbers(WithResolver(resolver))[tt.comp.Type]
			r := probe(t.Context(), tt.comp, tt.headers)
			checkResult(t, r, tt.healthy, tt.errContains)
			if r.Phase != tt.phase || r.Side != tt.side {
				t.Errorf("Phase, Side = %q, %q, want %q, %q (Error %q)", r.Phase, r.Side, tt.phase, tt.side, r.Error)
			}
		})
	}
}
