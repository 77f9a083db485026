package recovery

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitor/vigil/internal/config"
	"github.com/vigil-monitor/vigil/internal/netguard"
)

var testPayload = actionPayload{Integration: "bridge", IncidentID: "bridge-1", Attempt: 1, IdempotencyKey: "bridge-1-1"}

// rawServer answers each connection's first request with answer(request),
// written as is, and returns its address.
func rawServer(t *testing.T, answer func(r *http.Request, w io.Writer)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			if r, err := http.ReadRequest(bufio.NewReader(conn)); err == nil {
				answer(r, conn)
			}
			conn.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// TestWebhookGuardedClient checks the webhook's client is netguard's, with
// each of its guards: the typed refusal at dial, the response header cap,
// TLS 1.2 at least, and no redirect followed.
func TestWebhookGuardedClient(t *testing.T) {
	endless := rawServer(t, func(_ *http.Request, w io.Writer) {
		if _, err := io.WriteString(w, "HTTP/1.1 200 OK\r\n"); err != nil {
			return
		}
		line := "X-Pad: " + strings.Repeat("a", 1000) + "\r\n"
		for written := 0; written < 16*netguard.MaxResponseHeaderBytes; written += len(line) {
			if _, err := io.WriteString(w, line); err != nil {
				return // the webhook gave up, as it should
			}
		}
	})
	tls11 := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	tls11.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes refused on purpose
	tls11.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	tls11.StartTLS()
	t.Cleanup(tls11.Close)
	landing := newTarget(t, http.StatusOK)
	redirect := httptest.NewServer(http.RedirectHandler(landing.URL, http.StatusFound))
	t.Cleanup(redirect.Close)
	_, port, _ := net.SplitHostPort(landing.Listener.Addr().String())

	tests := []struct {
		name        string
		url         string
		loopback    bool
		errContains string
		refused     bool // the error must be the guard's typed refusal
	}{
		{name: "loopback refused at dial", url: landing.URL, errContains: "webhook: refused destination: 127.0.0.1 is a loopback address", refused: true},
		{name: "NAT64 loopback refused at dial", url: "http://[64:ff9b::127.0.0.1]:" + port + "/", errContains: "embeds 127.0.0.1 (NAT64)", refused: true},
		{name: "metadata through 6to4 refused at dial", url: "http://[2002:a9fe:a9fe::]/", loopback: true, errContains: "embeds 169.254.169.254 (6to4)", refused: true},
		{name: "endless headers refused", url: "http://" + endless + "/", loopback: true, errContains: fmt.Sprintf("server response headers exceeded %d bytes", netguard.MaxResponseHeaderBytes)},
		{name: "TLS 1.1 refused", url: tls11.URL, loopback: true, errContains: "protocol version"},
		{name: "redirect not followed", url: redirect.URL, loopback: true, errContains: "webhook: status 302, want one of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := runWebhook(t.Context(), &config.Webhook{URL: tt.url, AllowLoopback: tt.loopback, Timeout: dur(5 * time.Second)}, nil, testPayload)
			if err == nil || !strings.Contains(err.Error(), tt.errContains) {
				t.Fatalf("err = %v, want %q", err, tt.errContains)
			}
			var refused *netguard.RefusedError
			if got := errors.As(err, &refused) && errors.Is(err, netguard.ErrRefused); got != tt.refused {
				t.Errorf("typed refusal = %v, want %v (%v)", got, tt.refused, err)
			}
		})
	}
	if n := landing.calls.Load(); n != 0 {
		t.Errorf("the refused or redirected-to webhook was called %d times", n)
	}
}

// TestWebhookErrorRedacted has a webhook answer garbage that echoes the
// secret header, in each shape a secret leaked in: the error names the
// failure and holds no part of the secret.
func TestWebhookErrorRedacted(t *testing.T) {
	for _, secret := range []string{"sk-PLANTED-9f8e7d", `p"a\ss"w\\rd-PLANTED`, "Bearer sk-PLANTED-tok"} {
		t.Run(secret, func(t *testing.T) {
			addr := rawServer(t, func(r *http.Request, w io.Writer) {
				echo := r.Header.Get("Authorization")
				if _, token, ok := strings.Cut(echo, " "); ok {
					echo = token // the target echoes the token alone
				}
				// A status line that is not one: net/http quotes it.
				fmt.Fprintf(w, "HTTP/1.1 %s\r\n\r\n", echo)
			})
			w := &config.Webhook{URL: "http://" + addr + "/", AllowLoopback: true, Timeout: dur(5 * time.Second)}
			err := runWebhook(t.Context(), w, http.Header{"Authorization": {secret}}, testPayload)
			if err == nil || !strings.Contains(err.Error(), "malformed HTTP") {
				t.Fatalf("err = %v, want the malformed answer named", err)
			}
			if strings.Contains(err.Error(), "PLANTED") {
				t.Errorf("err = %q leaks the secret", err)
			}
		})
	}
}
