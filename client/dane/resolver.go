package dane

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/smtpkit/smtp/internal/dnsstub"
)

// Resolver looks names up through one DNSSEC-validating recursive
// resolver and reports whether each answer is secure (its AD bit). Its
// LookupMX, LookupIPAddr and LookupTXT have the signatures of
// net.Resolver's, so it can serve a client.Deliverer and MTA-STS as well;
// failures are *net.DNSError values with IsNotFound for NXDOMAIN and
// NODATA, as net.Resolver returns them. Safe for concurrent use.
type Resolver struct {
	// Server is the validating resolver, "host:port" (e.g.
	// "127.0.0.1:53"). The AD bit is trusted, so the path to it must be
	// trusted too: a resolver on the same host.
	Server string
	// Timeout bounds each query attempt; zero means 5 s.
	Timeout time.Duration
	// Attempts is the number of UDP tries per query; zero means 2.
	Attempts int
	// Dialer opens the sockets; nil means a net.Dialer.
	Dialer interface {
		DialContext(ctx context.Context, network, address string) (net.Conn, error)
	}
}

func (r *Resolver) stub() *dnsstub.Client {
	return &dnsstub.Client{Server: r.Server, Timeout: r.Timeout, Attempts: r.Attempts, Dialer: r.Dialer}
}

// exchange asks and turns failures and empty answers into *net.DNSError.
// The Response is returned also when the name has no such records
// (resp.Secure then says whether the denial was validated).
func (r *Resolver) exchange(ctx context.Context, name string, t dnsmessage.Type) (*dnsstub.Response, string, []dnsmessage.Resource, error) {
	resp, err := r.stub().Exchange(ctx, name, t)
	if err != nil {
		var e *dnsstub.Error
		de := &net.DNSError{Err: err.Error(), Name: name, Server: r.Server, IsTemporary: true}
		if errors.As(err, &e) {
			de.IsTimeout = e.Timeout
			if e.RCode != 0 {
				de.Err = "server answered " + e.RCode.String()
			}
		}
		return nil, "", nil, de
	}
	owner, rrs := resp.Records(name, t)
	if len(rrs) == 0 {
		return resp, owner, nil, &net.DNSError{Err: "no such host", Name: name, Server: r.Server, IsNotFound: true}
	}
	return resp, owner, rrs, nil
}

// LookupMXSecure returns name's MX records (RFC 5321 5.1), in the order
// received, and whether the answer, or the denial that there are none,
// is secure.
func (r *Resolver) LookupMXSecure(ctx context.Context, name string) ([]*net.MX, bool, error) {
	resp, _, rrs, err := r.exchange(ctx, name, dnsmessage.TypeMX)
	secure := resp != nil && resp.Secure
	var mxs []*net.MX
	for _, rr := range rrs {
		if mx, ok := rr.Body.(*dnsmessage.MXResource); ok {
			mxs = append(mxs, &net.MX{Host: mx.MX.String(), Pref: mx.Pref})
		}
	}
	return mxs, secure, err
}

// LookupMX is LookupMXSecure without the security status.
func (r *Resolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mxs, _, err := r.LookupMXSecure(ctx, name)
	return mxs, err
}

// Addresses is the outcome of an address lookup.
type Addresses struct {
	Addrs []net.IPAddr
	// Canonical is the name the addresses were found at: the host itself
	// or the end of its CNAME chain.
	Canonical string
	// Secure reports that both the A and the AAAA answers were secure.
	Secure bool
}

// LookupIPSecure looks up host's A and AAAA records.
func (r *Resolver) LookupIPSecure(ctx context.Context, host string) (Addresses, error) {
	out := Addresses{Canonical: strings.TrimSuffix(strings.ToLower(host), "."), Secure: true}
	var firstErr error
	found := false
	for _, t := range []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA} {
		resp, owner, rrs, err := r.exchange(ctx, host, t)
		var de *net.DNSError
		if err != nil && !(errors.As(err, &de) && de.IsNotFound) {
			return Addresses{}, err
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		out.Secure = out.Secure && resp.Secure
		for _, rr := range rrs {
			found = true
			out.Canonical = owner
			switch b := rr.Body.(type) {
			case *dnsmessage.AResource:
				out.Addrs = append(out.Addrs, net.IPAddr{IP: net.IP(b.A[:])})
			case *dnsmessage.AAAAResource:
				out.Addrs = append(out.Addrs, net.IPAddr{IP: net.IP(b.AAAA[:])})
			}
		}
	}
	if !found {
		return out, firstErr
	}
	return out, nil
}

// LookupIPAddr returns host's addresses (an address literal as itself).
func (r *Resolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []net.IPAddr{{IP: net.IP(ip.AsSlice()), Zone: ip.Zone()}}, nil
	}
	a, err := r.LookupIPSecure(ctx, host)
	return a.Addrs, err
}

// LookupTXTSecure returns name's TXT records, the strings of each record
// joined (RFC 7208 3.3 style, as net.Resolver does), and whether the
// answer is secure.
func (r *Resolver) LookupTXTSecure(ctx context.Context, name string) ([]string, bool, error) {
	resp, _, rrs, err := r.exchange(ctx, name, dnsmessage.TypeTXT)
	secure := resp != nil && resp.Secure
	var txts []string
	for _, rr := range rrs {
		if t, ok := rr.Body.(*dnsmessage.TXTResource); ok {
			txts = append(txts, strings.Join(t.TXT, ""))
		}
	}
	return txts, secure, err
}

// LookupTXT is LookupTXTSecure without the security status.
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txts, _, err := r.LookupTXTSecure(ctx, name)
	return txts, err
}

// TLSAResult is the outcome of a TLSA lookup.
type TLSAResult struct {
	// Name is the name queried, "_port._tcp.host".
	Name string
	// Records are the records found, empty when the name has none.
	Records []TLSA
	// Malformed counts records too short to parse (unusable).
	Malformed int
	// Secure reports that the answer, or the denial, is secure.
	Secure bool
}

// LookupTLSA looks up the TLSA records of host's port (RFC 6698 3:
// "_port._tcp.host"). A name without records is not an error.
func (r *Resolver) LookupTLSA(ctx context.Context, host string, port int) (TLSAResult, error) {
	name := "_" + strconv.Itoa(port) + "._tcp." + strings.TrimSuffix(host, ".")
	res := TLSAResult{Name: name}
	resp, _, rrs, err := r.exchange(ctx, name, dnsstub.TypeTLSA)
	var de *net.DNSError
	if err != nil && !(errors.As(err, &de) && de.IsNotFound) {
		return res, err
	}
	res.Secure = resp.Secure
	for _, rr := range rrs {
		if u, ok := rr.Body.(*dnsmessage.UnknownResource); ok {
			t, perr := ParseTLSA(u.Data)
			if perr != nil {
				res.Malformed++
				continue
			}
			res.Records = append(res.Records, t)
		}
	}
	return res, nil
}
