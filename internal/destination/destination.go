// Package destination is the address policy of SPEC §10: which IP addresses
// a probe or the recovery webhook may connect to (Check). It imports no
// network code, so config judges literal IPs at load time with the very
// function netguard's dialer applies to every resolved address at dial time,
// without linking an HTTP client.
package destination

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrRefused is wrapped by every refusal of the policy: errors.Is(err,
// ErrRefused) tells a refused destination from a network failure.
var ErrRefused = errors.New("refused destination")

// RefusedError is a destination the policy refused, at load time (Check) or
// at dial time (a netguard.NewDialer dialer, which returns it inside a
// *net.OpError). Find it with errors.As; it unwraps to ErrRefused. Its text
// names an address, never a header value.
type RefusedError struct {
	// Addr is the refused address; the zero Addr when it could not be read.
	Addr netip.Addr
	// Reason names the address and says what it is, e.g.
	// "127.0.0.1 is a loopback address".
	Reason string
}

func (e *RefusedError) Error() string { return ErrRefused.Error() + ": " + e.Reason }

// Unwrap returns ErrRefused.
func (e *RefusedError) Unwrap() error { return ErrRefused }

// Policy says which destinations, refused by default, a caller allows.
// The zero Policy allows none of them.
type Policy struct {
	// AllowLoopback lets loopback (127.0.0.0/8, ::1) and the addresses that
	// reach the local host like it (0.0.0.0/8, ::) through. The Lambda
	// runtime API and the parameters-and-secrets extension live there.
	AllowLoopback bool
	// AllowLinkLocal lets link-local (169.254.0.0/16, fe80::/10), site-local
	// (fec0::/10) and the instance metadata address (fd00:ec2::254) through.
	AllowLinkLocal bool
}

// allowance is which Policy flag lets a refused range through.
type allowance int

const (
	never allowance = iota
	byLoopback
	byLinkLocal
)

func (p Policy) allows(a allowance) bool {
	switch a {
	case byLoopback:
		return p.AllowLoopback
	case byLinkLocal:
		return p.AllowLinkLocal
	}
	return false
}

// refusedRange is one range of refused addresses: what it is, in words, and
// which flag lets it through.
type refusedRange struct {
	prefix netip.Prefix
	what   string
	allow  allowance
}

// refusedRanges are the addresses Check refuses, IPv4 and IPv6 alike.
// Multicast and broadcast are refused whatever the policy: no TCP peer can
// be there, so a target that resolves to one is a mistake or an attack.
var refusedRanges = [...]refusedRange{
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address", byLoopback},
	{netip.MustParsePrefix("0.0.0.0/8"), `a loopback address ("this network", which reaches the local host)`, byLoopback},
	{netip.MustParsePrefix("::1/128"), "a loopback address", byLoopback},
	{netip.MustParsePrefix("::/128"), "a loopback address (unspecified, which reaches the local host)", byLoopback},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local or instance metadata address", byLinkLocal},
	{netip.MustParsePrefix("fe80::/10"), "a link-local or instance metadata address", byLinkLocal},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address (judged as link-local)", byLinkLocal},
	// The EC2 instance metadata service's IPv6 address is unique-local, so
	// no link-local range covers it.
	{netip.MustParsePrefix("fd00:ec2::254/128"), "a link-local or instance metadata address", byLinkLocal},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address, which no TCP peer can be", never},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address, which no TCP peer can be", never},
	{netip.MustParsePrefix("255.255.255.255/32"), "the broadcast address, which no TCP peer can be", never},
}

// ipv4Embedding is an IPv6 range whose addresses carry an IPv4 address that
// a host, tunnel or translator on the way may connect to instead.
type ipv4Embedding struct {
	prefix netip.Prefix
	name   string
	at     int // index of the IPv4 address's first byte in the IPv6 address
}

// ipv4Embeddings are judged by the IPv4 address they carry, so that
// 64:ff9b::127.0.0.1 is loopback and 2002:a9fe:a9fe:: is 169.254.169.254.
//
// The local-use NAT64 prefix 64:ff9b:1::/48 lets an operator pick a prefix
// length from /48 to /96 (RFC 8215, RFC 6052), each placing the IPv4 address
// elsewhere; the policy cannot know the translator's, and reads the /96
// layout that translators use, as for the well-known prefix.
var ipv4Embeddings = [...]ipv4Embedding{
	{netip.MustParsePrefix("::ffff:0:0/96"), "IPv4-mapped", 12},
	{netip.MustParsePrefix("::ffff:0:0:0/96"), "IPv4-translated", 12},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64", 12},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "NAT64", 12},
	{netip.MustParsePrefix("2002::/16"), "6to4", 2},
	// IPv4-compatible (deprecated); :: and ::1 are judged as themselves.
	{netip.MustParsePrefix("::/96"), "IPv4-compatible", 12},
}

// Check reports whether a probe or webhook may connect to ip under p
// (SPEC §10). It returns nil or a *RefusedError, for:
//   - loopback (127.0.0.0/8, ::1) and what reaches the local host like it:
//     all of 0.0.0.0/8 and ::, unless p.AllowLoopback;
//   - link-local (169.254.0.0/16, fe80::/10), site-local (fec0::/10) and the
//     instance metadata address fd00:ec2::254, unless p.AllowLinkLocal;
//   - multicast (224.0.0.0/4, ff00::/8) and the broadcast address
//     255.255.255.255, always: no TCP peer can be there;
//   - an IPv6 address that carries an IPv4 one — IPv4-mapped ::ffff:a.b.c.d,
//     IPv4-translated ::ffff:0:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64
//     64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16 — whose IPv4 address
//     is refused by the rules above.
//
// A zone is ignored; the zero Addr is refused. Private ranges (10.0.0.0/8 and
// the like) are allowed: a VPC's own services are legitimate targets.
//
// Config calls it at load time on literal IPs; netguard.NewDialer's dialer
// calls it again on every resolved address, since a name may resolve to any
// of these.
func Check(ip netip.Addr, p Policy) error {
	if !ip.IsValid() {
		return &RefusedError{Reason: "invalid IP address"}
	}
	bare := ip.WithZone("")
	if r, ok := refusedRangeOf(bare); ok && !p.allows(r.allow) {
		return &RefusedError{Addr: ip, Reason: fmt.Sprintf("%s is %s", ip, r.what)}
	}
	if v4, form, ok := embeddedIPv4(bare); ok {
		if r, ok := refusedRangeOf(v4); ok && !p.allows(r.allow) {
			return &RefusedError{Addr: ip, Reason: fmt.Sprintf("%s embeds %s (%s), %s", ip, v4, form, r.what)}
		}
	}
	return nil
}

func refusedRangeOf(ip netip.Addr) (refusedRange, bool) {
	for _, r := range refusedRanges {
		if r.prefix.Contains(ip) {
			return r, true
		}
	}
	return refusedRange{}, false
}

// embeddedIPv4 returns the IPv4 address an IPv6 address carries, and the
// name of the form that carries it.
func embeddedIPv4(ip netip.Addr) (netip.Addr, string, bool) {
	if !ip.Is6() || ip == netip.IPv6Unspecified() || ip == netip.IPv6Loopback() {
		return netip.Addr{}, "", false
	}
	b := ip.As16()
	for _, e := range ipv4Embeddings {
		if e.prefix.Contains(ip) {
			return netip.AddrFrom4([4]byte(b[e.at : e.at+4])), e.name, true
		}
	}
	return netip.Addr{}, "", false
}
