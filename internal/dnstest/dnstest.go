// Package dnstest runs a real DNS server on loopback that a test controls, in
// the spirit of net/http/httptest: a test sets the answers and the failure
// mode, and probes resolve through Server.Resolver over real UDP (and TCP)
// sockets, with Go's own resolver parsing real DNS messages.
//
// It is not a mock of net.Resolver, and it is for tests and the local demo's
// stand-in resolvers only (internal/localrun gives each demo region one): it
// serves A and AAAA answers for names the caller set and nothing else,
// without caching, delegation or recursion.
package dnstest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"golang.org/x/net/dns/dnsmessage"
)

// Mode is how the server answers a query.
type Mode int

// Modes. The zero Mode is Answer.
const (
	// Answer serves the addresses given to Set: A records for IPv4, AAAA
	// for IPv6, an empty NOERROR answer when the name has none of the
	// asked type, and NXDOMAIN for a name never Set.
	Answer Mode = iota
	// Silent reads every query and never answers: the resolver that never
	// answers, so a lookup runs until its deadline.
	Silent
	// Refuse answers RCODE REFUSED, as a resolver that will not serve the
	// client does.
	Refuse
	// ServFail answers RCODE SERVFAIL, as a resolver that cannot reach the
	// name's authoritative servers does.
	ServFail
	// NXDomain answers RCODE NXDOMAIN: the name does not exist.
	NXDomain
)

var modeNames = [...]string{"Answer", "Silent", "Refuse", "ServFail", "NXDomain"}

func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// udpLimit is the largest UDP answer sent; a larger one is truncated (TC
// set, no answers) so the client retries over TCP. It is the EDNS payload
// size Go's resolver advertises.
const udpLimit = 1232

// Server is a DNS server on 127.0.0.1, serving UDP and TCP. Its methods are
// safe for concurrent use, including while it serves queries.
type Server struct {
	// Addr is the UDP address, "127.0.0.1:port".
	Addr string
	// TCPAddr is the TCP address, "127.0.0.1:port" (another port than Addr).
	TCPAddr string

	udp *net.UDPConn
	tcp net.Listener
	wg  sync.WaitGroup // the serving goroutines

	mu      sync.Mutex // guards the fields below
	mode    Mode
	names   map[string][]netip.Addr // by canonical name
	modes   map[string]Mode         // per-name modes, over mode
	conns   map[net.Conn]struct{}   // open TCP connections, closed by Close
	queries int
	closed  bool
}

// NewServer starts a server on loopback in mode Answer with no names. The
// caller must Close it.
func NewServer() (*Server, error) {
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("dnstest: listen udp: %w", err)
	}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		udp.Close()
		return nil, fmt.Errorf("dnstest: listen tcp: %w", err)
	}
	s := &Server{
		Addr:    udp.LocalAddr().String(),
		TCPAddr: tcp.Addr().String(),
		udp:     udp,
		tcp:     tcp,
		names:   map[string][]netip.Addr{},
		modes:   map[string]Mode{},
		conns:   map[net.Conn]struct{}{},
	}
	s.wg.Go(s.serveUDP)
	s.wg.Go(s.serveTCP)
	return s, nil
}

// Set makes name resolve to ips in mode Answer, replacing what was set
// before. With no ips the name exists but has no addresses (NOERROR, no
// answers). Names are case-insensitive; a trailing dot is optional.
func (s *Server) Set(name string, ips ...netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names[canonical(name)] = slices.Clone(ips)
}

// SetMode sets how every name without a mode of its own is answered.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// SetNameMode sets how queries for name are answered, over the server's
// mode. SetNameMode(name, Answer) serves name from Set whatever the
// server's mode.
func (s *Server) SetNameMode(name string, m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.modes[canonical(name)] = m
}

// Queries returns how many queries the server has received, answered or
// not.
func (s *Server) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

// Resolver returns a resolver that uses Go's DNS client (PreferGo) and sends
// every query to this server, whatever /etc/resolv.conf names: UDP to Addr,
// TCP to TCPAddr. Search domains and attempts still come from
// /etc/resolv.conf, and /etc/hosts is still read first.
//
// Go's resolver shares an in-flight lookup of a name among the callers of
// one Resolver and lets it run out its own timeouts (resolv.conf's) after
// they give up. A test that makes the server answer again right after
// Silent should take a fresh Resolver, or its lookups join the unanswered
// one.
func (s *Server) Resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			if strings.HasPrefix(network, "tcp") {
				return d.DialContext(ctx, "tcp", s.TCPAddr)
			}
			return d.DialContext(ctx, "udp", s.Addr)
		},
	}
}

// Close stops the server, closes every open connection and waits for its
// goroutines to end. Lookups through its Resolver fail afterwards. Close may
// be called more than once.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.udp.Close()
	s.tcp.Close()
	s.wg.Wait()
}

func (s *Server) serveUDP() {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := s.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		resp := s.respond(buf[:n], udpLimit)
		if resp == nil {
			continue
		}
		// A lost answer is what UDP does; the client retries or times out.
		_, _ = s.udp.WriteToUDPAddrPort(resp, from)
	}
}

func (s *Server) serveTCP() {
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() { s.serveConn(c) })
	}
}

// serveConn answers length-prefixed queries on one TCP connection until
// the client or Close ends it.
func (s *Server) serveConn(c net.Conn) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	var size [2]byte
	for {
		if _, err := io.ReadFull(c, size[:]); err != nil {
			return
		}
		req := make([]byte, binary.BigEndian.Uint16(size[:]))
		if _, err := io.ReadFull(c, req); err != nil {
			return
		}
		resp := s.respond(req, 0xffff)
		if resp == nil {
			continue
		}
		if _, err := c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(resp)))); err != nil {
			return
		}
		if _, err := c.Write(resp); err != nil {
			return
		}
	}
}

// respond returns the packed answer to req, at most limit bytes, or nil to
// answer nothing (Silent, or a message that is not a query).
func (s *Server) respond(req []byte, limit int) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(req)
	if err != nil || h.Response {
		return nil
	}
	hdr := dnsmessage.Header{
		ID:                 h.ID,
		Response:           true,
		OpCode:             h.OpCode,
		RecursionDesired:   h.RecursionDesired,
		RecursionAvailable: true,
	}
	q, err := p.Question()
	if err != nil {
		s.count()
		hdr.RCode = dnsmessage.RCodeFormatError
		return pack(dnsmessage.Message{Header: hdr}, limit)
	}
	name := canonical(q.Name.String())

	s.mu.Lock()
	s.queries++
	mode := s.mode
	if m, ok := s.modes[name]; ok {
		mode = m
	}
	addrs, known := s.names[name]
	addrs = slices.Clone(addrs)
	s.mu.Unlock()

	msg := dnsmessage.Message{Header: hdr, Questions: []dnsmessage.Question{q}}
	switch {
	case mode == Silent:
		return nil
	case mode == Refuse:
		msg.RCode = dnsmessage.RCodeRefused
	case mode == ServFail:
		msg.RCode = dnsmessage.RCodeServerFailure
	case mode == NXDomain, !known:
		msg.Authoritative = true
		msg.RCode = dnsmessage.RCodeNameError
	default:
		msg.Authoritative = true
		msg.Answers = answers(q, addrs)
	}
	return pack(msg, limit)
}

func (s *Server) count() {
	s.mu.Lock()
	s.queries++
	s.mu.Unlock()
}

// answers returns the records of addrs that match q's type.
func answers(q dnsmessage.Question, addrs []netip.Addr) []dnsmessage.Resource {
	var out []dnsmessage.Resource
	for _, a := range addrs {
		a = a.Unmap()
		rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
		switch {
		case a.Is4() && q.Type == dnsmessage.TypeA:
			rh.Type = dnsmessage.TypeA
			out = append(out, dnsmessage.Resource{Header: rh, Body: &dnsmessage.AResource{A: a.As4()}})
		case a.Is6() && q.Type == dnsmessage.TypeAAAA:
			rh.Type = dnsmessage.TypeAAAA
			out = append(out, dnsmessage.Resource{Header: rh, Body: &dnsmessage.AAAAResource{AAAA: a.As16()}})
		}
	}
	return out
}

// pack packs msg, truncating it (TC set, no answers) when it exceeds limit.
func pack(msg dnsmessage.Message, limit int) []byte {
	b, err := msg.Pack()
	if err == nil && len(b) <= limit {
		return b
	}
	msg.Truncated = true
	msg.Answers = nil
	b, err = msg.Pack()
	if err != nil {
		// Only a name over 255 bytes fails to pack, and such a name was
		// parsed from the query, so this cannot happen; answer nothing.
		return nil
	}
	return b
}

// canonical lower-cases name and roots it, as names appear in queries.
func canonical(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}
