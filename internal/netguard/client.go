package netguard

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
)

// MaxResponseHeaderBytes caps the response headers a NewClient client reads:
// a server that sends endless headers fails the request instead of filling
// the Lambda's memory.
const MaxResponseHeaderBytes = 64 << 10

// The buffers of a NewClient connection, each way. net/http's default, 4 KB
// each, suits a connection kept alive for many requests; a NewClient
// connection carries one request and one response and is closed. A probe's
// request is a few hundred bytes, and so is a health response's status line
// and headers. Anything larger still goes through, in more reads and writes:
// header lines longer than the buffer are joined by net/textproto, and
// bufio hands a read at least as large as its buffer straight to the
// connection.
const (
	readBufferSize  = 1 << 10
	writeBufferSize = 1 << 10
)

// ClientOptions configures NewClient.
type ClientOptions struct {
	// Policy says which destinations, refused by default, every dial may
	// reach, redirect hops included.
	Policy Policy
	// Resolver looks names up; nil is the system resolver. The guard checks
	// the addresses it returns like any others.
	Resolver *net.Resolver
	// InsecureSkipVerify turns TLS certificate verification off, for a
	// component that opted out (SPEC §10). TLS 1.2 stays the minimum.
	InsecureSkipVerify bool
	// MaxRedirects is how many redirects are followed; one more fails the
	// request with a *RedirectError. Negative follows none: the redirect
	// response is returned as the answer, for the caller to judge.
	MaxRedirects int
	// Secret holds the secret headers the caller sets on its request; only
	// their names are read here. They are dropped from every redirect hop
	// once one has left the original host (host and port) or gone from https
	// to http: net/http strips only Authorization and cookies, and only on a
	// change of domain.
	Secret http.Header
}

// NewClient returns a client for one request (or one WebSocket handshake)
// made within ctx. Every connection, redirect hops included, is dialled
// through NewDialer's guard and bound to ctx and its deadline, even though
// http.Transport dials detached from the request's context. The client uses
// no proxy (the guard must see the real destination), keeps no connection
// alive after the request (a frozen Lambda must never resume on a dead one),
// requires TLS 1.2 or later, caps response headers at
// MaxResponseHeaderBytes, and follows redirects to http and https only, as
// o says.
//
// Make the request with ctx or a context derived from it: every dial is
// bound to ctx, so the client is of no use once ctx ends. Build a new client
// for each request.
func NewClient(ctx context.Context, o ClientOptions) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			// No proxy: a proxy from the environment would hide the real
			// destination from the guard.
			Proxy:       nil,
			DialContext: boundDial(ctx, NewDialer(o.Policy, o.Resolver)),
			TLSClientConfig: &tls.Config{
				InsecureSkipVerify: o.InsecureSkipVerify,
				MinVersion:         tls.VersionTLS12,
			},
			DisableKeepAlives:      true,
			MaxResponseHeaderBytes: MaxResponseHeaderBytes,
			ReadBufferSize:         readBufferSize,
			WriteBufferSize:        writeBufferSize,
		},
		CheckRedirect: checkRedirect(o.MaxRedirects, o.Secret),
	}
}

// RedirectError is why a NewClient client did not follow a redirect: too
// many of them, or one to a scheme other than http and https. Find it with
// errors.As; its text names no URL.
type RedirectError struct {
	// Reason is the whole text, e.g. "more than 5 redirects".
	Reason string
}

func (e *RedirectError) Error() string { return e.Reason }

// checkRedirect caps redirects at limit and refuses hops to schemes other
// than http and https. The destination address of each hop is checked by
// the guarded dialer, since every hop dials anew.
func checkRedirect(limit int, secret http.Header) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if limit < 0 {
			return http.ErrUseLastResponse
		}
		if len(via) > limit {
			return &RedirectError{Reason: fmt.Sprintf("more than %d redirects", limit)}
		}
		if s := req.URL.Scheme; s != "http" && s != "https" {
			return &RedirectError{Reason: fmt.Sprintf("redirect to scheme %q refused", s)}
		}
		if secretsMustGo(via, req) {
			for k := range secret {
				req.Header.Del(k)
			}
		}
		return nil
	}
}

// secretsMustGo reports whether any hop so far, req included, left the
// original request's host or downgraded its scheme. net/http copies the
// original headers onto every hop, so the judgement covers the whole chain:
// a hop back to the original host after another host chose it keeps the
// secrets away too.
func secretsMustGo(via []*http.Request, req *http.Request) bool {
	orig := via[0].URL
	if leaves(orig, req.URL) {
		return true
	}
	for _, hop := range via[1:] {
		if leaves(orig, hop.URL) {
			return true
		}
	}
	return false
}

// leaves reports whether u is another host than orig (a port counts), or
// plain text where orig was encrypted. WebSocket URLs reach the client as
// http and https.
func leaves(orig, u *url.URL) bool {
	return u.Host != orig.Host || orig.Scheme == "https" && u.Scheme != "https"
}
