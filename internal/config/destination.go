package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/vigil-monitor/vigil/internal/destination"
)

// checkAddr judges a literal IP from a target with destination.Check, the
// function the probes' and the webhook's dialer applies to every resolved
// address, so load time and dial time cannot disagree. The refusal is
// reworded under ErrRefusedDestination, which config's callers test for.
func checkAddr(ip netip.Addr, allowLoopback, allowLinkLocal bool) error {
	err := destination.Check(ip, destination.Policy{AllowLoopback: allowLoopback, AllowLinkLocal: allowLinkLocal})
	var refused *destination.RefusedError
	if errors.As(err, &refused) {
		return fmt.Errorf("%w: %s", ErrRefusedDestination, refused.Reason)
	}
	return err
}

// checkHost judges a host taken from a target before any DNS resolution:
// literal IPs through checkAddr, and "localhost" names (RFC 6761) as loopback.
func checkHost(host string, allowLoopback, allowLinkLocal bool) error {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		if allowLoopback {
			return nil
		}
		return fmt.Errorf("%w: %q is a loopback name", ErrRefusedDestination, host)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return checkAddr(ip, allowLoopback, allowLinkLocal)
	}
	// Some resolvers read "127.1", "2130706433" or "0x7f.1" as IPv4 addresses;
	// a name made only of digits, dots and hex prefixes is refused rather than
	// left to whichever reading the resolver picks.
	if looksNumeric(h) {
		return fmt.Errorf("%w: %q is neither a canonical IP address nor a host name", ErrInvalidTarget, host)
	}
	return nil
}

func looksNumeric(h string) bool {
	if h == "" {
		return false
	}
	for _, part := range strings.Split(h, ".") {
		p := strings.TrimPrefix(part, "0x")
		if p == "" {
			continue
		}
		if _, err := strconv.ParseUint(p, 16, 64); err != nil {
			return false
		}
		if part == p && strings.ContainsAny(p, "abcdef") {
			// Without a 0x prefix a hex-looking label ("cafe") is a plain name.
			return false
		}
	}
	return true
}

// URL schemes each use accepts. Any other scheme is refused outright (SPEC §10).
var (
	httpSchemes = []string{"http", "https"}
	wsSchemes   = []string{"ws", "wss"}
)

// checkURL parses raw and checks its scheme against want and its host
// against the refused destinations.
func checkURL(raw string, want []string, allowLoopback, allowLinkLocal bool) error {
	if raw == "" {
		return ErrRequired
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %q: %v", ErrInvalidTarget, raw, err)
	}
	scheme := strings.ToLower(u.Scheme)
	switch scheme {
	case "http", "https", "ws", "wss":
	case "":
		return fmt.Errorf("%w: %q has no scheme (want %s)", ErrInvalidTarget, raw, strings.Join(want, " or "))
	default:
		return fmt.Errorf("%w: scheme %q is not allowed (want %s)", ErrRefusedDestination, u.Scheme, strings.Join(want, " or "))
	}
	if !slices.Contains(want, scheme) {
		return fmt.Errorf("%w: scheme %q does not suit this use (want %s)", ErrInvalidTarget, u.Scheme, strings.Join(want, " or "))
	}
	if u.Opaque != "" || u.Host == "" {
		return fmt.Errorf("%w: %q has no host", ErrInvalidTarget, raw)
	}
	// Credentials in a URL would be logged with it; secrets belong in
	// secret_headers.
	if u.User != nil {
		return fmt.Errorf("%w: %q carries credentials; use secret_headers", ErrInvalidTarget, raw)
	}
	if u.Fragment != "" {
		return fmt.Errorf("%w: %q has a fragment, which is never sent", ErrInvalidTarget, raw)
	}
	if p := u.Port(); p != "" {
		if err := checkPort(p); err != nil {
			return err
		}
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%w: %q has no host", ErrInvalidTarget, raw)
	}
	return checkHost(u.Hostname(), allowLoopback, allowLinkLocal)
}

// checkHostPort checks a tcp target "host:port".
func checkHostPort(raw string, allowLoopback, allowLinkLocal bool) error {
	if raw == "" {
		return ErrRequired
	}
	host, port, err := net.SplitHostPort(raw)
	if err != nil {
		return fmt.Errorf("%w: %q is not host:port: %v", ErrInvalidTarget, raw, err)
	}
	if host == "" {
		return fmt.Errorf("%w: %q has no host", ErrInvalidTarget, raw)
	}
	if err := checkPort(port); err != nil {
		return err
	}
	return checkHost(host, allowLoopback, allowLinkLocal)
}

func checkPort(p string) error {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%w: port %q is not in 1..65535", ErrInvalidTarget, p)
	}
	return nil
}

// Host is the host part of the component's target (a name or an IP
// literal), "" when the target does not parse.
func (c Component) Host() string {
	if c.Type == TypeTCP {
		host, _, err := net.SplitHostPort(c.Target)
		if err != nil {
			return ""
		}
		return host
	}
	u, err := url.Parse(c.Target)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// UsesResolver reports whether probing the component starts with a DNS
// lookup: its target host is a name, not an IP literal.
func (c Component) UsesResolver() bool {
	h := c.Host()
	if h == "" {
		return false
	}
	_, err := netip.ParseAddr(h)
	return err != nil
}
