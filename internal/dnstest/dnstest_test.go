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
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

func newServer(t *testing.T) *Server {
	t.Helper()
	s, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

var (
	v4a = netip.MustParseAddr("192.0.2.1")
	v4b = netip.MustParseAddr("192.0.2.2")
	v6  = netip.MustParseAddr("2001:db8::1")
)

func TestServerModes(t *testing.T) {
	type wantErr struct {
		notFound, temporary, timeout bool
		text                         string // DNSError.Err
	}
	tests := []struct {
		name    string
		setup   func(s *Server)
		lookup  string
		network string
		want    []netip.Addr
		err     *wantErr
	}{
		{
			name:    "A answer",
			setup:   func(s *Server) { s.Set("api.vigil.test", v4a, v4b) },
			lookup:  "api.vigil.test",
			network: "ip4",
			want:    []netip.Addr{v4a, v4b},
		},
		{
			name:    "A and AAAA answers",
			setup:   func(s *Server) { s.Set("api.vigil.test", v4a, v6) },
			lookup:  "api.vigil.test",
			network: "ip",
			want:    []netip.Addr{v4a, v6},
		},
		{
			name:    "names are case-insensitive and may be rooted",
			setup:   func(s *Server) { s.Set("API.Vigil.Test.", v4a) },
			lookup:  "api.VIGIL.test",
			network: "ip4",
			want:    []netip.Addr{v4a},
		},
		{
			name:    "IPv4-mapped addresses are served as A",
			setup:   func(s *Server) { s.Set("api.vigil.test", netip.MustParseAddr("::ffff:192.0.2.1")) },
			lookup:  "api.vigil.test",
			network: "ip4",
			want:    []netip.Addr{v4a},
		},
		{
			name:    "no address of the asked type",
			setup:   func(s *Server) { s.Set("api.vigil.test", v4a) },
			lookup:  "api.vigil.test",
			network: "ip6",
			err:     &wantErr{notFound: true, text: "no such host"},
		},
		{
			name:    "name never set",
			setup:   func(s *Server) {},
			lookup:  "nobody.vigil.test",
			network: "ip",
			err:     &wantErr{notFound: true, text: "no such host"},
		},
		{
			name:    "NXDomain",
			setup:   func(s *Server) { s.Set("api.vigil.test", v4a); s.SetMode(NXDomain) },
			lookup:  "api.vigil.test",
			network: "ip",
			err:     &wantErr{notFound: true, text: "no such host"},
		},
		{
			name:    "Refuse",
			setup:   func(s *Server) { s.Set("api.vigil.test", v4a); s.SetMode(Refuse) },
			lookup:  "api.vigil.test",
			network: "ip",
			err:     &wantErr{text: "server misbehaving"},
		},
		{
			name:    "ServFail",
			setup:   func(s *Server) { s.Set("api.vigil.test", v4a); s.SetMode(ServFail) },
			lookup:  "api.vigil.test",
			network: "ip",
			err:     &wantErr{temporary: true, text: "server misbehaving"},
		},
		{
			name:    "Silent",
			setup:   func(s *Server) { s.Set("api.vigil.test", v4a); s.SetMode(Silent) },
			lookup:  "api.vigil.test",
			network: "ip",
			err:     &wantErr{timeout: true},
		},
		{
			name: "a name's mode overrides the server's",
			setup: func(s *Server) {
				s.Set("api.vigil.test", v4a)
				s.SetMode(Refuse)
				s.SetNameMode("api.vigil.test", Answer)
			},
			lookup:  "api.vigil.test",
			network: "ip4",
			want:    []netip.Addr{v4a},
		},
		{
			name: "a silent name on an answering server",
			setup: func(s *Server) {
				s.Set("api.vigil.test", v4a)
				s.SetNameMode("api.vigil.test", Silent)
			},
			lookup:  "api.vigil.test",
			network: "ip4",
			err:     &wantErr{timeout: true},
		},
		{
			name: "SERVFAIL for one name only",
			setup: func(s *Server) {
				s.Set("api.vigil.test", v4a)
				s.Set("db.vigil.test", v4b)
				s.SetNameMode("db.vigil.test", ServFail)
			},
			lookup:  "db.vigil.test",
			network: "ip4",
			err:     &wantErr{temporary: true, text: "server misbehaving"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t)
			tt.setup(s)
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			got, err := s.Resolver().LookupNetIP(ctx, tt.network, tt.lookup)
			if s.Queries() == 0 {
				t.Error("Queries() = 0 after a lookup")
			}
			if tt.err == nil {
				if err != nil {
					t.Fatalf("lookup: %v", err)
				}
				slices.SortFunc(got, netip.Addr.Compare)
				if !slices.Equal(got, tt.want) {
					t.Errorf("addresses = %v, want %v", got, tt.want)
				}
				return
			}
			var dnsErr *net.DNSError
			if !errors.As(err, &dnsErr) {
				t.Fatalf("err = %v (%T), want a *net.DNSError", err, err)
			}
			// A timeout is temporary too; IsTemporary tells SERVFAIL from
			// REFUSED only among answers.
			temporary := dnsErr.IsTemporary && !dnsErr.IsTimeout
			if dnsErr.IsNotFound != tt.err.notFound || temporary != tt.err.temporary || dnsErr.IsTimeout != tt.err.timeout {
				t.Errorf("err = %+v, want IsNotFound %t, IsTemporary %t, IsTimeout %t",
					dnsErr, tt.err.notFound, tt.err.temporary, tt.err.timeout)
			}
			if tt.err.text != "" && dnsErr.Err != tt.err.text {
				t.Errorf("Err = %q, want %q", dnsErr.Err, tt.err.text)
			}
		})
	}
}

// TestServerTCP checks a framed query over TCP, then a truncated UDP answer
// that Go's resolver must retry over TCP.
func TestServerTCP(t *testing.T) {
	s := newServer(t)
	s.Set("api.vigil.test", v4a)

	t.Run("raw query", func(t *testing.T) {
		c, err := net.Dial("tcp", s.TCPAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		// Two queries on one connection, as resolvers may send.
		for id := range uint16(2) {
			resp := exchangeTCP(t, c, id, "api.vigil.test.")
			if resp.ID != id || resp.RCode != dnsmessage.RCodeSuccess || len(resp.Answers) != 1 {
				t.Fatalf("response = %+v, want one answer to query %d", resp.Header, id)
			}
			if a, ok := resp.Answers[0].Body.(*dnsmessage.AResource); !ok || netip.AddrFrom4(a.A) != v4a {
				t.Errorf("answer = %v, want %v", resp.Answers[0].Body, v4a)
			}
		}
	})

	t.Run("truncated over UDP, retried over TCP", func(t *testing.T) {
		var many []netip.Addr
		for i := range 100 {
			many = append(many, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)}))
		}
		s.Set("many.vigil.test", many...)
		got, err := s.Resolver().LookupNetIP(t.Context(), "ip6", "many.vigil.test")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(many) {
			t.Errorf("got %d addresses, want %d", len(got), len(many))
		}
	})
}

func exchangeTCP(t *testing.T, c net.Conn, id uint16, name string) dnsmessage.Message {
	t.Helper()
	q := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}},
	}
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)); err != nil {
		t.Fatal(err)
	}
	var size [2]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatal(err)
	}
	resp := make([]byte, binary.BigEndian.Uint16(size[:]))
	if _, err := io.ReadFull(c, resp); err != nil {
		t.Fatal(err)
	}
	var m dnsmessage.Message
	if err := m.Unpack(resp); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestServerConcurrent changes answers and modes while lookups run; the
// race detector is the judge.
func TestServerConcurrent(t *testing.T) {
	s := newServer(t)
	s.Set("api.vigil.test", v4a)
	r := s.Resolver()

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 20 {
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
				// Errors are expected while the mode flips; only races matter.
				_, _ = r.LookupNetIP(ctx, "ip4", fmt.Sprintf("n%d.vigil.test", i%2))
				cancel()
			}
		})
	}
	wg.Go(func() {
		modes := []Mode{Answer, Refuse, ServFail, NXDomain}
		for j := range 50 {
			s.Set(fmt.Sprintf("n%d.vigil.test", j%2), v4a, v4b)
			s.SetNameMode("n1.vigil.test", modes[j%len(modes)])
			s.SetMode(modes[(j+1)%len(modes)])
			_ = s.Queries()
		}
		s.SetMode(Answer)
	})
	wg.Wait()
	if s.Queries() == 0 {
		t.Error("no queries served")
	}
}

// TestServerClose checks Close ends a silent TCP exchange still open and
// that lookups fail afterwards.
func TestServerClose(t *testing.T) {
	s, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	s.Set("api.vigil.test", v4a)
	s.SetMode(Silent)

	c, err := net.Dial("tcp", s.TCPAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q, _ := (&dnsmessage.Message{Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName("api.vigil.test."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}}}).Pack()
	if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(q))), q...)); err != nil {
		t.Fatal(err)
	}

	s.Close()
	s.Close() // a second Close is a no-op

	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	// EOF, or a reset when Close came before the server read the query.
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read on a connection Close ended: %v, want EOF or a reset", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.Resolver().LookupNetIP(ctx, "ip4", "api.vigil.test"); err == nil {
		t.Error("lookup succeeded after Close")
	}
}

func TestModeString(t *testing.T) {
	for m, want := range map[Mode]string{Answer: "Answer", Silent: "Silent", Refuse: "Refuse", ServFail: "ServFail", NXDomain: "NXDomain", Mode(9): "Mode(9)"} {
		if got := m.String(); got != want {
			t.Errorf("Mode(%d).String() = %q, want %q", int(m), got, want)
		}
	}
}
