package destination

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// TestCheck judges every refused form without the flags, with the flag
// that allows it, and with only the other flag. Addresses refused whatever
// the policy are tried with both flags.
func TestCheck(t *testing.T) {
	const (
		loopback  = "loopback"
		linkLocal = "link-local"
		always    = "always"
	)
	tests := []struct {
		addr   string
		refuse string // loopback, linkLocal, always, or "" when allowed
		reason string // a part of the refusal's text
	}{
		// Allowed: public, private VPC ranges, and public IPv4 inside IPv6.
		{addr: "93.184.216.34"},
		{addr: "10.0.0.1"},
		{addr: "2606:2800:220:1:248:1893:25c8:1946"},
		{addr: "fd00:ec2::253"},
		{addr: "::ffff:93.184.216.34"},
		{addr: "64:ff9b::93.184.216.34"},
		{addr: "64:ff9b:1::5db8:d822"},
		{addr: "2002:5db8:d822::1"},

		// Loopback, and what reaches the local host like it.
		{"127.0.0.1", loopback, "127.0.0.1 is a loopback address"},
		{"127.255.255.254", loopback, "is a loopback address"},
		{"0.0.0.0", loopback, "0.0.0.0 is a loopback address"},
		{"0.1.2.3", loopback, "0.1.2.3 is a loopback address"},
		{"::1", loopback, "::1 is a loopback address"},
		{"::", loopback, ":: is a loopback address"},
		{"::ffff:127.0.0.1", loopback, "::ffff:127.0.0.1 embeds 127.0.0.1 (IPv4-mapped), a loopback address"},
		{"::ffff:0.0.0.0", loopback, "embeds 0.0.0.0 (IPv4-mapped)"},
		{"::ffff:0:127.0.0.1", loopback, "embeds 127.0.0.1 (IPv4-translated)"},
		{"::127.0.0.1", loopback, "embeds 127.0.0.1 (IPv4-compatible)"},
		{"64:ff9b::127.0.0.1", loopback, "64:ff9b::7f00:1 embeds 127.0.0.1 (NAT64), a loopback address"},
		{"64:ff9b::1", loopback, "embeds 0.0.0.1 (NAT64)"},
		{"64:ff9b:1::7f00:1", loopback, "embeds 127.0.0.1 (NAT64)"},
		{"2002:7f00:1::", loopback, "2002:7f00:1:: embeds 127.0.0.1 (6to4), a loopback address"},

		// Link-local, site-local and instance metadata.
		{"169.254.169.254", linkLocal, "169.254.169.254 is a link-local or instance metadata address"},
		{"169.254.170.2", linkLocal, "is a link-local"},
		{"fe80::1", linkLocal, "fe80::1 is a link-local"},
		{"fe80::1%eth0", linkLocal, "fe80::1%eth0 is a link-local"},
		{"fec0::1", linkLocal, "fec0::1 is a site-local address"},
		{"feff::1", linkLocal, "is a site-local address"},
		{"fd00:ec2::254", linkLocal, "fd00:ec2::254 is a link-local or instance metadata address"},
		{"::ffff:169.254.169.254", linkLocal, "embeds 169.254.169.254 (IPv4-mapped)"},
		{"::169.254.169.254", linkLocal, "embeds 169.254.169.254 (IPv4-compatible)"},
		{"64:ff9b::169.254.169.254", linkLocal, "embeds 169.254.169.254 (NAT64)"},
		{"64:ff9b:1::a9fe:a9fe", linkLocal, "embeds 169.254.169.254 (NAT64)"},
		{"2002:a9fe:a9fe::", linkLocal, "2002:a9fe:a9fe:: embeds 169.254.169.254 (6to4), a link-local or instance metadata address"},

		// Multicast and broadcast: no TCP peer can be there.
		{"224.0.0.1", always, "224.0.0.1 is a multicast address"},
		{"239.255.255.250", always, "is a multicast address"},
		{"ff02::1", always, "ff02::1 is a multicast address"},
		{"ff05::1:3", always, "is a multicast address"},
		{"255.255.255.255", always, "255.255.255.255 is the broadcast address"},
		{"::ffff:255.255.255.255", always, "embeds 255.255.255.255 (IPv4-mapped), the broadcast address"},
		{"64:ff9b::224.0.0.1", always, "embeds 224.0.0.1 (NAT64), a multicast address"},
		{"2002:e000:1::", always, "embeds 224.0.0.1 (6to4), a multicast address"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.addr)
			var allowing, other Policy
			switch tt.refuse {
			case loopback:
				allowing, other = Policy{AllowLoopback: true}, Policy{AllowLinkLocal: true}
			case linkLocal:
				allowing, other = Policy{AllowLinkLocal: true}, Policy{AllowLoopback: true}
			case always:
				other = Policy{AllowLoopback: true, AllowLinkLocal: true}
			}
			err := Check(ip, Policy{})
			if tt.refuse == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			checkRefusal(t, err, tt.reason)
			if err := Check(ip, other); err == nil {
				t.Errorf("allowed under %+v, which does not cover it", other)
			}
			if tt.refuse == always {
				return
			}
			if err := Check(ip, allowing); err != nil {
				t.Errorf("refused under %+v: %v", allowing, err)
			}
		})
	}
	checkRefusal(t, Check(netip.Addr{}, Policy{AllowLoopback: true, AllowLinkLocal: true}), "invalid IP address")
}

// checkRefusal fails t unless err is the policy's typed refusal with reason
// in its text.
func checkRefusal(t *testing.T, err error, reason string) {
	t.Helper()
	var refused *RefusedError
	if !errors.As(err, &refused) || !errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v, want a *RefusedError wrapping ErrRefused", err)
	}
	if !strings.Contains(err.Error(), "refused destination: ") || !strings.Contains(refused.Reason, reason) {
		t.Errorf("err = %q, want %q in its reason", err, reason)
	}
}
