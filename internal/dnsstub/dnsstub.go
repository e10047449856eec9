// Package dnsstub is a minimal DNS stub resolver (RFC 1035) for the
// lookups whose DNSSEC status matters: it asks one configured recursive
// resolver with the DO bit (RFC 3225, EDNS0 of RFC 6891) and reports
// whether the resolver set the AD bit (RFC 4035 3.2.3, RFC 6840 5.7) on
// the answer. It validates nothing itself: the AD bit is only as
// trustworthy as the path to the resolver, which should be on the same
// host (RFC 7672 2.1, RFC 6698 4.1).
//
// Queries go over UDP with random IDs from a fresh socket (so a random
// source port); answers whose ID, flags or question do not match are
// ignored, not taken; a truncated answer is asked again over TCP (RFC 7766).
package dnsstub

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

const (
	// DefaultTimeout bounds one attempt (RFC 1035 4.2.1 leaves it to the
	// resolver; 5 s is what the usual stub resolvers use).
	DefaultTimeout = 5 * time.Second
	// DefaultAttempts is how many times a UDP query is sent before the
	// lookup fails.
	DefaultAttempts = 2
	// DefaultUDPSize is the EDNS0 payload size announced (RFC 6891 6.2.5;
	// 1232 avoids IP fragmentation, as DNS Flag Day 2020 recommends).
	DefaultUDPSize = 1232
	// maxCNAMEs bounds the CNAME chain followed within one answer.
	maxCNAMEs = 8
)

// ContextDialer opens connections; *net.Dialer implements it.
type ContextDialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Client queries one recursive resolver. The zero value is not usable:
// Server must be set. A Client is safe for concurrent use.
type Client struct {
	// Server is the resolver's "host:port", e.g. "127.0.0.1:53".
	Server string
	// Timeout bounds each attempt; zero means DefaultTimeout.
	Timeout time.Duration
	// Attempts is the number of UDP tries; zero means DefaultAttempts.
	Attempts int
	// UDPSize is the EDNS0 UDP payload size; zero means DefaultUDPSize.
	UDPSize int
	// Dialer opens the sockets; nil means a net.Dialer.
	Dialer ContextDialer
}

// Response is an answer of the resolver with RCODE NOERROR or NXDOMAIN.
type Response struct {
	// RCode is dnsmessage.RCodeSuccess or dnsmessage.RCodeNameError.
	RCode dnsmessage.RCode
	// Secure reports the AD bit: the resolver validated the answer
	// (or the denial of existence) with DNSSEC.
	Secure bool
	// Answers is the answer section.
	Answers []dnsmessage.Resource
}

// Error is a failed lookup: the network, a malformed or mismatched answer,
// or an RCODE other than NOERROR and NXDOMAIN (SERVFAIL is what a
// validating resolver answers for bogus data).
type Error struct {
	Name  string
	Type  dnsmessage.Type
	RCode dnsmessage.RCode // zero when no answer was received
	// Timeout reports that no matching answer came in time.
	Timeout bool
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("dns: %s %s: %v", e.Name, typeName(e.Type), e.Err)
	}
	return fmt.Sprintf("dns: %s %s: %s", e.Name, typeName(e.Type), e.RCode)
}

func (e *Error) Unwrap() error { return e.Err }

func typeName(t dnsmessage.Type) string {
	if t == TypeTLSA {
		return "TLSA"
	}
	return strings.TrimPrefix(t.String(), "Type")
}

// TypeTLSA is the TLSA record type (RFC 6698 7.1), which dnsmessage does
// not name.
const TypeTLSA dnsmessage.Type = 52

// Exchange asks the resolver for name's records of type qtype and returns
// the answer when its RCODE is NOERROR or NXDOMAIN.
func (c *Client) Exchange(ctx context.Context, name string, qtype dnsmessage.Type) (*Response, error) {
	fqdn := name
	if !strings.HasSuffix(fqdn, ".") {
		fqdn += "."
	}
	qname, err := dnsmessage.NewName(fqdn)
	if err != nil {
		return nil, &Error{Name: name, Type: qtype, Err: err}
	}
	q := dnsmessage.Question{Name: qname, Type: qtype, Class: dnsmessage.ClassINET}
	attempts := c.Attempts
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	var msg *dnsmessage.Message
	for i := 0; i < attempts; i++ {
		msg, err = c.exchange(ctx, "udp", q)
		if err == nil && msg.Header.Truncated {
			// RFC 7766 5: a truncated UDP answer is asked again over TCP.
			msg, err = c.exchange(ctx, "tcp", q)
		}
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		var ne net.Error
		return nil, &Error{Name: name, Type: qtype, Timeout: errors.As(err, &ne) && ne.Timeout(), Err: err}
	}
	switch msg.Header.RCode {
	case dnsmessage.RCodeSuccess, dnsmessage.RCodeNameError:
	default:
		return nil, &Error{Name: name, Type: qtype, RCode: msg.Header.RCode}
	}
	return &Response{RCode: msg.Header.RCode, Secure: msg.Header.AuthenticData, Answers: msg.Answers}, nil
}

// query builds the question with RD, AD (RFC 6840 5.7: asks for the AD
// bit) and an OPT record with DO (RFC 3225).
func (c *Client) query(id uint16, q dnsmessage.Question) ([]byte, error) {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true, AuthenticData: true})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAdditionals(); err != nil {
		return nil, err
	}
	size := c.UDPSize
	if size <= 0 {
		size = DefaultUDPSize
	}
	var opt dnsmessage.ResourceHeader
	if err := opt.SetEDNS0(size, dnsmessage.RCodeSuccess, true); err != nil {
		return nil, err
	}
	if err := b.OPTResource(opt, dnsmessage.OPTResource{}); err != nil {
		return nil, err
	}
	return b.Finish()
}

func (c *Client) exchange(ctx context.Context, network string, q dnsmessage.Question) (*dnsmessage.Message, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d ContextDialer = &net.Dialer{}
	if c.Dialer != nil {
		d = c.Dialer
	}
	conn, err := d.DialContext(ctx, network, c.Server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	id := uint16(rand.N(1 << 16))
	query, err := c.query(id, q)
	if err != nil {
		return nil, err
	}
	if network == "tcp" {
		// RFC 1035 4.2.2: a two-octet length before each message.
		if _, err := conn.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(query))), query...)); err != nil {
			return nil, err
		}
		var l [2]byte
		if _, err := io.ReadFull(conn, l[:]); err != nil {
			return nil, err
		}
		buf := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(conn, buf); err != nil {
			return nil, err
		}
		msg, err := match(buf, id, q)
		if err != nil {
			return nil, err
		}
		return msg, nil
	}
	if _, err := conn.Write(query); err != nil {
		return nil, err
	}
	buf := make([]byte, 65535)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		// An answer that does not match is ignored (it may be spoofed,
		// or late for an earlier query); the deadline ends the wait.
		if msg, err := match(buf[:n], id, q); err == nil {
			return msg, nil
		}
	}
}

// errMismatch is an answer to another question.
var errMismatch = errors.New("answer does not match the query")

// match parses an answer and checks that it answers the query: same ID,
// QR set, the same single question (name compared without case, RFC 4343).
func match(buf []byte, id uint16, q dnsmessage.Question) (*dnsmessage.Message, error) {
	var msg dnsmessage.Message
	if err := msg.Unpack(buf); err != nil {
		return nil, err
	}
	if msg.Header.ID != id || !msg.Header.Response || msg.Header.OpCode != 0 || len(msg.Questions) != 1 {
		return nil, errMismatch
	}
	got := msg.Questions[0]
	if got.Type != q.Type || got.Class != q.Class || !strings.EqualFold(got.Name.String(), q.Name.String()) {
		return nil, errMismatch
	}
	return &msg, nil
}

// Records returns the records of type qtype for name in the answers,
// following CNAMEs within them (RFC 1034 3.6.2), and the name they were
// found at (name itself, or the end of its CNAME chain).
func (r *Response) Records(name string, qtype dnsmessage.Type) (owner string, rrs []dnsmessage.Resource) {
	owner = strings.TrimSuffix(strings.ToLower(name), ".")
	for hops := 0; ; hops++ {
		var next string
		rrs = rrs[:0]
		for _, rr := range r.Answers {
			rrOwner := strings.TrimSuffix(strings.ToLower(rr.Header.Name.String()), ".")
			if rrOwner != owner || rr.Header.Class != dnsmessage.ClassINET {
				continue
			}
			switch {
			case rr.Header.Type == qtype:
				rrs = append(rrs, rr)
			case rr.Header.Type == dnsmessage.TypeCNAME && qtype != dnsmessage.TypeCNAME:
				if c, ok := rr.Body.(*dnsmessage.CNAMEResource); ok {
					next = strings.TrimSuffix(strings.ToLower(c.CNAME.String()), ".")
				}
			}
		}
		if len(rrs) > 0 || next == "" || hops == maxCNAMEs {
			return owner, rrs
		}
		owner = next
	}
}
