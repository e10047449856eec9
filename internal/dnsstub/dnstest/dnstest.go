// Package dnstest is a fake recursive DNS resolver for tests, shaped like
// httptest: NewServer serves a small zone over UDP and TCP on one
// loopback port and sets the AD bit (RFC 4035 3.2.3) on answers whose
// names are not marked insecure. It can also misbehave the ways a real
// path does: SERVFAIL, truncation, a spoofed answer before the real one.
package dnstest

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// TypeTLSA is the TLSA record type (RFC 6698 7.1).
const TypeTLSA dnsmessage.Type = 52

// Query is one question the server received.
type Query struct {
	Name    string // lower case, without the final dot
	Type    dnsmessage.Type
	Network string // "udp" or "tcp"
	DO, AD  bool   // the query's DNSSEC OK and AD bits
}

type key struct {
	name string
	typ  dnsmessage.Type
}

// Server is the fake resolver. Configure it before the queries it answers.
type Server struct {
	// Addr is the "127.0.0.1:port" it serves UDP and TCP on.
	Addr string

	mu       sync.Mutex
	records  map[key][]dnsmessage.Resource
	names    map[string]bool
	insecure map[string]bool
	servfail map[key]bool
	truncate bool
	spoof    bool
	queries  []Query

	udp net.PacketConn
	tcp net.Listener
	wg  sync.WaitGroup
}

// NewServer starts a server that stops when the test ends.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	s, err := Start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Start starts a server on a free loopback port; Close stops it.
func Start() (*Server, error) {
	s := &Server{
		records:  map[key][]dnsmessage.Resource{},
		names:    map[string]bool{},
		insecure: map[string]bool{},
		servfail: map[key]bool{},
	}
	var err error
	for range 10 {
		s.udp, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		// TCP on the same port number as UDP; taken by chance, try again.
		s.tcp, err = net.Listen("tcp", s.udp.LocalAddr().String())
		if err == nil {
			break
		}
		s.udp.Close()
	}
	if err != nil {
		return nil, err
	}
	s.Addr = s.udp.LocalAddr().String()
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() {
	s.udp.Close()
	s.tcp.Close()
	s.wg.Wait()
}

func norm(name string) string { return strings.TrimSuffix(strings.ToLower(name), ".") }

func mustName(name string) dnsmessage.Name {
	n, err := dnsmessage.NewName(norm(name) + ".")
	if err != nil {
		panic(err)
	}
	return n
}

func (s *Server) add(name string, t dnsmessage.Type, body dnsmessage.ResourceBody) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key{norm(name), t}
	rr := dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: mustName(name), Type: t, Class: dnsmessage.ClassINET, TTL: 300},
		Body:   body,
	}
	s.records[k] = append(s.records[k], rr)
	s.names[k.name] = true
}

// AddMX adds an MX record; host "." is the null MX.
func (s *Server) AddMX(name string, pref uint16, host string) {
	s.add(name, dnsmessage.TypeMX, &dnsmessage.MXResource{Pref: pref, MX: mustName(host)})
}

// AddA adds an A or AAAA record for ip.
func (s *Server) AddA(name, ip string) {
	a := net.ParseIP(ip)
	if v4 := a.To4(); v4 != nil {
		var r dnsmessage.AResource
		copy(r.A[:], v4)
		s.add(name, dnsmessage.TypeA, &r)
		return
	}
	var r dnsmessage.AAAAResource
	copy(r.AAAA[:], a.To16())
	s.add(name, dnsmessage.TypeAAAA, &r)
}

// AddTXT adds a TXT record made of the strings txt.
func (s *Server) AddTXT(name string, txt ...string) {
	s.add(name, dnsmessage.TypeTXT, &dnsmessage.TXTResource{TXT: txt})
}

// AddCNAME makes name an alias of target.
func (s *Server) AddCNAME(name, target string) {
	s.add(name, dnsmessage.TypeCNAME, &dnsmessage.CNAMEResource{CNAME: mustName(target)})
}

// AddTLSA adds a TLSA record (RFC 6698 2.1) at name, e.g. "_25._tcp.mx.example".
func (s *Server) AddTLSA(name string, usage, selector, matching uint8, data []byte) {
	s.AddRaw(name, TypeTLSA, append([]byte{usage, selector, matching}, data...))
}

// AddRaw adds a record of any type with the given RDATA.
func (s *Server) AddRaw(name string, t dnsmessage.Type, rdata []byte) {
	s.add(name, t, &dnsmessage.UnknownResource{Type: t, Data: rdata})
}

// Insecure marks name: answers about it (or through a CNAME to it) have
// no AD bit.
func (s *Server) Insecure(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.insecure[norm(name)] = true
}

// ServFail makes questions for name and type t get SERVFAIL, as a
// validating resolver answers for bogus data.
func (s *Server) ServFail(name string, t dnsmessage.Type) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.servfail[key{norm(name), t}] = true
}

// Truncate makes every UDP answer empty with the TC bit, so that the
// client must ask again over TCP.
func (s *Server) Truncate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.truncate = true
}

// Spoof makes the server send, before each UDP answer, a forged one with
// another ID and an A record of 192.0.2.66 that a client must ignore.
func (s *Server) Spoof() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.spoof = true
}

// Queries returns the questions received so far.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.queries...)
}

func (s *Server) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, addr, err := s.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		for _, out := range s.answer(buf[:n], "udp") {
			s.udp.WriteTo(out, addr)
		}
	}
}

func (s *Server) serveTCP() {
	defer s.wg.Done()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			for {
				var l [2]byte
				if _, err := io.ReadFull(c, l[:]); err != nil {
					return
				}
				msg := make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(c, msg); err != nil {
					return
				}
				for _, out := range s.answer(msg, "tcp") {
					c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(out))), out...))
				}
			}
		}()
	}
}

// answer returns the messages to send back for one query.
func (s *Server) answer(query []byte, network string) [][]byte {
	var q dnsmessage.Message
	if err := q.Unpack(query); err != nil || len(q.Questions) != 1 {
		return nil
	}
	question := q.Questions[0]
	rec := Query{Name: norm(question.Name.String()), Type: question.Type, Network: network, AD: q.Header.AuthenticData}
	for _, a := range q.Additionals {
		if a.Header.Type == dnsmessage.TypeOPT {
			rec.DO = a.Header.DNSSECAllowed()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = append(s.queries, rec)
	h := dnsmessage.Header{ID: q.Header.ID, Response: true, RecursionDesired: true, RecursionAvailable: true}
	resp := dnsmessage.Message{Header: h, Questions: q.Questions}
	var out [][]byte
	if s.spoof && network == "udp" {
		forged := resp
		forged.Header.ID++
		forged.Header.AuthenticData = true
		forged.Answers = []dnsmessage.Resource{{
			Header: dnsmessage.ResourceHeader{Name: question.Name, Type: question.Type, Class: dnsmessage.ClassINET, TTL: 300},
			Body:   &dnsmessage.AResource{A: [4]byte{192, 0, 2, 66}},
		}}
		if question.Type != dnsmessage.TypeA {
			forged.Answers = nil
		}
		if b, err := forged.Pack(); err == nil {
			out = append(out, b)
		}
	}
	switch {
	case s.servfail[key{rec.Name, question.Type}]:
		resp.Header.RCode = dnsmessage.RCodeServerFailure
	case s.truncate && network == "udp":
		resp.Header.Truncated = true
	default:
		secure := true
		name := rec.Name
		for hops := 0; hops < 10; hops++ {
			secure = secure && !s.insecure[name]
			if rrs := s.records[key{name, question.Type}]; len(rrs) > 0 {
				resp.Answers = append(resp.Answers, rrs...)
				break
			}
			cn := s.records[key{name, dnsmessage.TypeCNAME}]
			if len(cn) == 0 {
				if !s.names[name] && len(resp.Answers) == 0 {
					resp.Header.RCode = dnsmessage.RCodeNameError
				}
				break
			}
			resp.Answers = append(resp.Answers, cn[0])
			name = norm(cn[0].Body.(*dnsmessage.CNAMEResource).CNAME.String())
		}
		// RFC 6840 5.7, 4035 3.2.3: AD only for a query that asked with
		// AD or DO, and only when everything in the answer validated.
		resp.Header.AuthenticData = secure && (rec.DO || rec.AD)
	}
	b, err := resp.Pack()
	if err != nil {
		panic(errors.Join(errors.New("dnstest: packing answer"), err))
	}
	return append(out, b)
}
