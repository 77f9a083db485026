package netguard

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// get makes one GET to url with a client built from o, returning the
// response with its body read and closed.
func get(t *testing.T, o ClientOptions, url string, header http.Header) (*http.Response, error) {
	t.Helper()
	ctx := t.Context()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := NewClient(ctx, o).Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

var loopback = Policy{AllowLoopback: true}

func TestNewClientGuard(t *testing.T) {
	var sawClose atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawClose.Store(r.Close)
	}))
	t.Cleanup(srv.Close)

	// A proxy from the environment is ignored: the guard must see the
	// real destination.
	t.Setenv("HTTP_PROXY", "http://192.0.2.1:3128")
	resp, err := get(t, ClientOptions{Policy: loopback}, srv.URL, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("allowed loopback: %v", err)
	}
	if !sawClose.Load() {
		t.Error("request did not ask to close the connection; keep-alives must be off")
	}

	_, err = get(t, ClientOptions{}, srv.URL, nil)
	checkRefusal(t, err, "127.0.0.1 is a loopback address")
}

// TestNewClientHeaderCap checks a server that sends endless headers fails
// the request once it passes MaxResponseHeaderBytes.
func TestNewClientHeaderCap(t *testing.T) {
	_, err := get(t, ClientOptions{Policy: loopback}, "http://"+endlessHeaders(t), nil)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("server response headers exceeded %d bytes", MaxResponseHeaderBytes)) {
		t.Fatalf("err = %v, want the response header cap", err)
	}
}

// TestNewClientLargerThanBuffers checks that a request and a response far
// larger than the client's connection buffers arrive whole, over http and
// https: a header line several buffers long each way, and bodies of many
// buffers.
func TestNewClientLargerThanBuffers(t *testing.T) {
	reqHeader := strings.Repeat("q", 8*writeBufferSize)
	reqBody := strings.Repeat("b", 64*writeBufferSize)
	respHeader := strings.Repeat("r", 8*readBufferSize)
	respBody := strings.Repeat("s", 256*readBufferSize)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil || r.Header.Get("X-Big") != reqHeader || string(b) != reqBody {
			http.Error(w, "request damaged", http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Big", respHeader)
		io.WriteString(w, respBody)
	})
	plain := httptest.NewServer(h)
	t.Cleanup(plain.Close)
	encrypted := httptest.NewTLSServer(h)
	t.Cleanup(encrypted.Close)

	for _, tt := range []struct {
		name string
		url  string
	}{
		{"http", plain.URL},
		{"https", encrypted.URL},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, tt.url, strings.NewReader(reqBody))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Big", reqHeader)
			// The test server's certificate is its own; verification is
			// TestNewClientTLS's subject.
			resp, err := NewClient(ctx, ClientOptions{Policy: loopback, InsecureSkipVerify: true}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if got := resp.Header.Get("X-Big"); got != respHeader {
				t.Errorf("response header of %d bytes arrived as %d bytes", len(respHeader), len(got))
			}
			if string(body) != respBody {
				t.Errorf("response body of %d bytes arrived as %d bytes", len(respBody), len(body))
			}
		})
	}
}

// endlessHeaders serves one connection that answers any request with a
// status line and headers that never end (up to 16 times the cap), and
// returns its address.
func endlessHeaders(t *testing.T) string {
	t.Helper()
	ln := listen(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
			return
		}
		if _, err := io.WriteString(conn, "HTTP/1.1 200 OK\r\n"); err != nil {
			return
		}
		line := "X-Pad: " + strings.Repeat("a", 1000) + "\r\n"
		for written := 0; written < 16*MaxResponseHeaderBytes; written += len(line) {
			if _, err := io.WriteString(conn, line); err != nil {
				return // the client gave up, as it should
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// TestNewClientTLS checks TLS 1.2 is the minimum, with verification on or
// off.
func TestNewClientTLS(t *testing.T) {
	tests := []struct {
		name        string
		maxVersion  uint16
		insecure    bool
		errContains string // empty when the request must succeed
	}{
		{name: "TLS 1.1 only refused", maxVersion: tls.VersionTLS11, insecure: true, errContains: "protocol version"},
		{name: "TLS 1.2 accepted", maxVersion: tls.VersionTLS12, insecure: true},
		{name: "TLS 1.3 accepted", maxVersion: tls.VersionTLS13, insecure: true},
		{name: "untrusted certificate refused", maxVersion: tls.VersionTLS13, errContains: "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes refused on purpose
			srv.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tt.maxVersion}
			srv.StartTLS()
			t.Cleanup(srv.Close)
			_, err := get(t, ClientOptions{Policy: loopback, InsecureSkipVerify: tt.insecure}, srv.URL, nil)
			switch {
			case tt.errContains == "" && err != nil:
				t.Fatalf("request failed: %v", err)
			case tt.errContains != "" && (err == nil || !strings.Contains(err.Error(), tt.errContains)):
				t.Fatalf("err = %v, want %q", err, tt.errContains)
			}
		})
	}
}

func TestNewClientRedirects(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/to-file", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	})
	mux.HandleFunc("/to-metadata", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	tests := []struct {
		name        string
		path        string
		max         int
		status      int
		errContains string
		typed       any // a pointer to the error type the failure must hold
	}{
		{name: "followed", path: "/moved", max: 5, status: http.StatusOK},
		{name: "not followed: the 3xx is the answer", path: "/moved", max: -1, status: http.StatusFound},
		{name: "capped", path: "/loop", max: 3, errContains: "more than 3 redirects", typed: new(*RedirectError)},
		{name: "non-http scheme refused", path: "/to-file", max: 5, errContains: `redirect to scheme "file" refused`, typed: new(*RedirectError)},
		{name: "hop re-checked by the guard", path: "/to-metadata", max: 5, errContains: "169.254.169.254 is a link-local", typed: new(*RefusedError)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := get(t, ClientOptions{Policy: loopback, MaxRedirects: tt.max}, srv.URL+tt.path, nil)
			if tt.errContains == "" {
				if err != nil || resp.StatusCode != tt.status {
					t.Fatalf("resp %v, err %v, want status %d", resp, err, tt.status)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errContains) || !errors.As(err, tt.typed) {
				t.Fatalf("err = %v, want %T with %q", err, tt.typed, tt.errContains)
			}
		})
	}
}

// TestNewClientSecretsOnRedirect follows redirects from one address that
// speaks both https and http, so a hop can change the scheme alone.
func TestNewClientSecretsOnRedirect(t *testing.T) {
	const secret = "sk-PLANTED-9f8e7d"
	var (
		mu   sync.Mutex // guards seen
		seen = map[string]string{}
	)
	mux := http.NewServeMux()
	record := func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path] = r.Header.Get("X-Api-Key")
		mu.Unlock()
	}
	srv, httpsBase, httpBase := dualServer(t, mux)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	redirect := func(to string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			record(w, r)
			http.Redirect(w, r, to, http.StatusFound)
		}
	}
	mux.HandleFunc("/landing/", record)
	mux.HandleFunc("/same", redirect(httpsBase+"/landing/same"))
	mux.HandleFunc("/downgrade", redirect(httpBase+"/landing/downgrade"))
	mux.HandleFunc("/upgrade", redirect(httpsBase+"/landing/upgrade"))
	mux.HandleFunc("/away", redirect("https://localhost:"+port+"/bounce"))
	mux.HandleFunc("/bounce", redirect(httpsBase+"/landing/back"))

	tests := []struct {
		start, landing string
		keeps          bool
	}{
		{httpsBase + "/same", "/landing/same", true},
		{httpsBase + "/downgrade", "/landing/downgrade", false},
		{httpBase + "/upgrade", "/landing/upgrade", true},
		// Once a hop left the host, a later hop back gets no secret: the
		// other host chose where it goes.
		{httpsBase + "/away", "/landing/back", false},
	}
	for _, tt := range tests {
		t.Run(tt.landing, func(t *testing.T) {
			o := ClientOptions{Policy: loopback, InsecureSkipVerify: true, MaxRedirects: 5, Secret: http.Header{"X-Api-Key": {secret}}}
			resp, err := get(t, o, tt.start, http.Header{"X-Api-Key": {secret}})
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("resp %v, err %v", resp, err)
			}
			mu.Lock()
			got, ok := seen[tt.landing]
			mu.Unlock()
			switch {
			case !ok:
				t.Fatalf("%s never reached", tt.landing)
			case tt.keeps && got != secret:
				t.Errorf("%s got %q, want the secret kept", tt.landing, got)
			case !tt.keeps && got != "":
				t.Errorf("%s got the secret, want it dropped", tt.landing)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if seen["/bounce"] != "" {
		t.Error("the other host got the secret")
	}
}

// dualServer serves h on one loopback port in both https (a self-signed
// certificate for 127.0.0.1 and localhost) and plain http, and returns the
// base URL of each.
func dualServer(t *testing.T, h http.Handler) (*httptest.Server, string, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = dualListener{srv.Listener, &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}}
	srv.Start()
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	return srv, "https://" + addr, "http://" + addr
}

// dualListener tells TLS from plain connections by their first byte (22
// opens a TLS handshake) and hands TLS ones over as *tls.Conn, which
// http.Server serves as https.
type dualListener struct {
	net.Listener
	config *tls.Config
}

func (l dualListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	pc := &peekedConn{Conn: conn, r: bufio.NewReader(conn)}
	// Peeking here holds up the next Accept; the test's clients write at
	// once, so it never waits long.
	if first, err := pc.r.Peek(1); err == nil && first[0] == 22 {
		return tls.Server(pc, l.config), nil
	}
	return pc, nil
}

// peekedConn reads through the reader that peeked at its first byte.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// selfSigned returns a certificate for 127.0.0.1 and localhost.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
