package proxyproto

import (
	"net"
	"strconv"
)

// Command is the command of a header: the low four bits of the 13th byte of
// a version 2 header (spec 2.2). A version 1 header always means [Proxy].
type Command uint8

const (
	// Local means the proxy opened the connection on its own behalf, e.g.
	// for a health check. The receiver uses the real connection endpoints
	// and ignores any address in the header (spec 2.2).
	Local Command = 0x0
	// Proxy means the connection was relayed on behalf of a client whose
	// addresses the header carries (spec 2.2).
	Proxy Command = 0x1
)

// String returns "LOCAL", "PROXY" or the number of an unknown command.
func (c Command) String() string {
	switch c {
	case Local:
		return "LOCAL"
	case Proxy:
		return "PROXY"
	}
	return "Command(" + strconv.Itoa(int(c)) + ")"
}

// TLVType is the type byte of a version 2 TLV (spec 2.2).
type TLVType uint8

// Registered TLV types (spec 2.2). Types 0xE0-0xEF are reserved for
// application-specific data (spec 2.2.8); cloud load balancers use them,
// e.g. AWS sends its VPC endpoint id in 0xEA.
const (
	TypeALPN      TLVType = 0x01 // spec 2.2.1: ALPN protocol, e.g. "smtp"
	TypeAuthority TLVType = 0x02 // spec 2.2.2: host name, e.g. the TLS SNI
	TypeCRC32C    TLVType = 0x03 // spec 2.2.3: CRC32c of the whole header
	TypeNoop      TLVType = 0x04 // spec 2.2.4: padding, ignored
	TypeUniqueID  TLVType = 0x05 // spec 2.2.5: opaque connection id, <= 128 bytes
	TypeSSL       TLVType = 0x20 // spec 2.2.6: TLS details, see [Header.SSL]
	TypeNetNS     TLVType = 0x30 // spec 2.2.7: network namespace name
)

// Sub-TLV types found inside a [TypeSSL] TLV (spec 2.2.6).
const (
	SubtypeSSLVersion TLVType = 0x21 // TLS version, e.g. "TLSv1.3"
	SubtypeSSLCN      TLVType = 0x22 // client certificate Common Name
	SubtypeSSLCipher  TLVType = 0x23 // cipher name
	SubtypeSSLSigAlg  TLVType = 0x24 // signature algorithm of the server certificate
	SubtypeSSLKeyAlg  TLVType = 0x25 // key algorithm of the server certificate
)

// Bits of [SSLInfo.Client] (spec 2.2.6).
const (
	ClientSSL      uint8 = 0x01 // the client connected over TLS
	ClientCertConn uint8 = 0x02 // the client sent a certificate on this connection
	ClientCertSess uint8 = 0x04 // the client sent a certificate in this TLS session
)

// TLV is one Type-Length-Value vector of a version 2 header (spec 2.2).
type TLV struct {
	Type TLVType
	// Value is at most 65535 bytes long.
	Value []byte
}

// Header is a PROXY protocol header.
type Header struct {
	// Version is 1 (text, spec 2.1) or 2 (binary, spec 2.2).
	Version int
	// Command is Proxy or Local. Version 1 has no LOCAL command: a Local
	// header is written as "PROXY UNKNOWN".
	Command Command
	// Source and Destination are the addresses of the original connection:
	// the client and the address it connected to. They are *net.TCPAddr for
	// TCP, *net.UDPAddr for UDP and *net.UnixAddr for UNIX sockets (version
	// 2 only). Both are nil when the header carries no usable address: a
	// LOCAL command, a version 1 "UNKNOWN" line, or a version 2 unspecified
	// family or protocol. The receiver then uses the real socket addresses.
	Source, Destination net.Addr
	// TLVs holds the version 2 TLVs in wire order, including NOOP padding.
	// It is nil for version 1, and when the address family is unknown so
	// that the TLVs cannot be located.
	TLVs []TLV
}

// TLV returns the value of the first TLV of type t, and whether there is one.
func (h *Header) TLV(t TLVType) ([]byte, bool) {
	for i := range h.TLVs {
		if h.TLVs[i].Type == t {
			return h.TLVs[i].Value, true
		}
	}
	return nil, false
}

// SSLInfo is the content of a [TypeSSL] TLV (spec 2.2.6): what the proxy
// knows about the TLS connection it terminated. A server behind a proxy that
// terminates TLS (e.g. implicit TLS on port 465 at the load balancer) can use
// it to know that the client's connection was encrypted.
type SSLInfo struct {
	// Client is a bit field of ClientSSL, ClientCertConn and ClientCertSess.
	Client uint8
	// Verify is zero if the client presented a certificate that was
	// successfully verified, non-zero otherwise.
	Verify uint32
	// Version, CN, Cipher, SigAlg and KeyAlg are the values of the
	// corresponding sub-TLVs, empty when absent.
	Version, CN, Cipher, SigAlg, KeyAlg string
}

// TLS reports whether the client connected to the proxy over TLS.
func (s SSLInfo) TLS() bool { return s.Client&ClientSSL != 0 }

// Verified reports whether the client presented a certificate on this
// connection and the proxy verified it.
func (s SSLInfo) Verified() bool { return s.Client&ClientCertConn != 0 && s.Verify == 0 }

// SSL decodes the first [TypeSSL] TLV. ok is false when there is none or it
// is malformed.
func (h *Header) SSL() (info SSLInfo, ok bool) {
	v, found := h.TLV(TypeSSL)
	if !found || len(v) < 5 {
		return SSLInfo{}, false
	}
	info.Client = v[0]
	info.Verify = uint32(v[1])<<24 | uint32(v[2])<<16 | uint32(v[3])<<8 | uint32(v[4])
	subs, err := parseTLVs(v[5:])
	if err != nil {
		return SSLInfo{}, false
	}
	for _, t := range subs {
		switch t.Type {
		case SubtypeSSLVersion:
			info.Version = string(t.Value)
		case SubtypeSSLCN:
			info.CN = string(t.Value)
		case SubtypeSSLCipher:
			info.Cipher = string(t.Value)
		case SubtypeSSLSigAlg:
			info.SigAlg = string(t.Value)
		case SubtypeSSLKeyAlg:
			info.KeyAlg = string(t.Value)
		}
	}
	return info, true
}

// parseTLVs splits b into TLVs (spec 2.2). The vectors must fill b exactly:
// a vector whose length runs past the end, or 1 or 2 stray bytes at the end,
// make the header invalid. Values alias b.
func parseTLVs(b []byte) ([]TLV, error) {
	var out []TLV
	for len(b) > 0 {
		if len(b) < 3 {
			return nil, headerErr("v2: truncated TLV")
		}
		n := int(b[1])<<8 | int(b[2])
		if len(b)-3 < n {
			return nil, headerErr("v2: TLV length exceeds header")
		}
		out = append(out, TLV{Type: TLVType(b[0]), Value: b[3 : 3+n : 3+n]})
		b = b[3+n:]
	}
	return out, nil
}
