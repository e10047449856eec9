package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"net"
	"net/netip"
)

const (
	// MaxV1Length is the longest version 1 line, CRLF included: "PROXY
	// UNKNOWN" followed by two full IPv6 addresses and two 5-digit ports
	// (spec 2.1). It is fixed by the protocol and not configurable: a line
	// without CRLF in its first 107 bytes is invalid.
	MaxV1Length = 107

	// DefaultMaxHeaderLength is the default bound on a whole version 2
	// header, 16-byte fixed part included. The protocol allows 16+65535
	// bytes; real proxies send the addresses (at most 216 bytes, for UNIX
	// sockets) and a few short TLVs (spec 2.2 notes headers are designed
	// to fit in 536 bytes), so 4096 leaves room for TLS and cloud TLVs
	// while bounding what an unauthenticated peer makes us allocate.
	DefaultMaxHeaderLength = 4096

	// MinMaxHeaderLength is the smallest accepted bound on a version 2
	// header: the fixed part plus the largest address block (two 108-byte
	// UNIX paths, spec 2.2). Smaller configured values are raised to it.
	MinMaxHeaderLength = v2FixedLength + 2*unixPathLength

	// v1MinLength is the length of the shortest valid line, "PROXY
	// UNKNOWN\r\n" (spec 2.1); a receiver can always read that much.
	v1MinLength = 15

	v2FixedLength  = 16  // signature, ver_cmd, fam, len (spec 2.2)
	unixPathLength = 108 // spec 2.2: AF_UNIX addresses are 108 bytes each

	// v2Signature opens every version 2 header (spec 2.2). Its fifth byte is
	// NUL: it is compared as bytes, never as a C string.
	v2Signature = "\r\n\r\n\x00\r\nQUIT\n"
	v1Prefix    = "PROXY "
)

// ReadHeader reads one PROXY protocol header, version 1 or 2, from r and
// bounds a version 2 header by [DefaultMaxHeaderLength]. See
// [ReadHeaderLimit].
func ReadHeader(r io.Reader) (*Header, error) {
	return ReadHeaderLimit(r, 0)
}

// ReadHeaderLimit reads one PROXY protocol header, version 1 or 2, from r.
// A version 2 header longer than maxLength bytes in total is rejected before
// its body is read; maxLength <= 0 means [DefaultMaxHeaderLength], and values
// below [MinMaxHeaderLength] are raised to it.
//
// On success, exactly the header's bytes have been consumed from r, so the
// caller can go on reading the connection's data from r. Version 1 lines are
// read one byte at a time after their first 15 bytes: pass a [bufio.Reader]
// (an [io.ByteReader]) to avoid one Read call per byte. On failure an
// unspecified number of bytes has been consumed; the error is a
// [*HeaderError] and the connection should be closed (spec 2.1: "abort the
// connection").
func ReadHeaderLimit(r io.Reader, maxLength int) (*Header, error) {
	if maxLength <= 0 {
		maxLength = DefaultMaxHeaderLength
	}
	maxLength = max(maxLength, MinMaxHeaderLength)
	br, ok := r.(io.ByteReader)
	if !ok {
		br = &oneByteReader{r: r}
	}
	first, err := br.ReadByte()
	if err != nil {
		return nil, readErr(err, false)
	}
	// Spec 2.2: a version 2 header starts with the signature, a version 1
	// header with "PROXY"; anything else is not covered by the spec and the
	// connection must be dropped. Deciding on the first byte fails fast on a
	// client that speaks SMTP or TLS directly.
	switch first {
	case v1Prefix[0]:
		return readV1(r, br)
	case v2Signature[0]:
		return readV2(r, first, maxLength)
	}
	return nil, headerErr("no PROXY protocol header")
}

// readV1 reads the rest of a version 1 line whose 'P' has been read.
func readV1(r io.Reader, br io.ByteReader) (*Header, error) {
	var line [MaxV1Length]byte
	line[0] = v1Prefix[0]
	if _, err := io.ReadFull(r, line[1:v1MinLength]); err != nil {
		return nil, readErr(err, true)
	}
	if string(line[:len(v1Prefix)]) != v1Prefix {
		return nil, headerErr("no PROXY protocol header")
	}
	n := v1MinLength
	if i := bytes.IndexByte(line[:n-1], '\n'); i >= 0 {
		return nil, headerErr("v1: line ends before the protocol field")
	}
	// Spec 2.1: wait for the CRLF before decoding; no CRLF in the first 107
	// characters makes the line invalid.
	for line[n-1] != '\n' {
		if n == MaxV1Length {
			return nil, headerErr("v1: no CRLF within 107 bytes")
		}
		b, err := br.ReadByte()
		if err != nil {
			return nil, readErr(err, true)
		}
		line[n] = b
		n++
	}
	// Spec 2.1: a lone LF must not end the line.
	if line[n-2] != '\r' {
		return nil, headerErr("v1: line does not end with CRLF")
	}
	return parseV1(line[len(v1Prefix) : n-2])
}

// parseV1 parses what follows "PROXY " on a version 1 line, CRLF excluded
// (spec 2.1).
func parseV1(b []byte) (*Header, error) {
	h := &Header{Version: 1, Command: Proxy}
	var want4 bool
	switch {
	case bytes.HasPrefix(b, []byte("UNKNOWN")):
		// Spec 2.1: for UNKNOWN, the receiver ignores anything before the
		// CRLF and uses the real connection addresses.
		if rest := b[len("UNKNOWN"):]; len(rest) > 0 && rest[0] != ' ' {
			return nil, headerErr("v1: unknown protocol")
		}
		return h, nil
	case bytes.HasPrefix(b, []byte("TCP4 ")):
		want4 = true
	case bytes.HasPrefix(b, []byte("TCP6 ")):
	default:
		return nil, headerErr("v1: unknown protocol")
	}
	// Spec 2.1: exactly one space between each of the four fields.
	var f [4][]byte
	n := 0
	for field := range bytes.SplitSeq(b[len("TCP4 "):], []byte(" ")) {
		switch {
		case len(field) == 0:
			return nil, headerErr("v1: empty field (fields need exactly one space between them)")
		case n == len(f):
			return nil, headerErr("v1: too many fields")
		}
		f[n] = field
		n++
	}
	if n < len(f) {
		return nil, headerErr("v1: too few fields")
	}
	src, err := parseV1Addr(f[0], want4)
	if err != nil {
		return nil, headerErr("v1: bad source address")
	}
	dst, err := parseV1Addr(f[1], want4)
	if err != nil {
		return nil, headerErr("v1: bad destination address")
	}
	sport, ok := parseV1Port(f[2])
	if !ok {
		return nil, headerErr("v1: bad source port")
	}
	dport, ok := parseV1Port(f[3])
	if !ok {
		return nil, headerErr("v1: bad destination port")
	}
	h.Source = &net.TCPAddr{IP: net.IP(src.AsSlice()), Port: sport}
	h.Destination = &net.TCPAddr{IP: net.IP(dst.AsSlice()), Port: dport}
	return h, nil
}

var errBadAddr = errors.New("bad address")

// parseV1Addr parses an address in the family the line announced (spec 2.1:
// dotted quad without leading zeros for TCP4, colon-hex for TCP6). netip
// already rejects IPv4 octets with leading zeros; zones are not addresses.
func parseV1Addr(b []byte, want4 bool) (netip.Addr, error) {
	if len(b) == 0 || len(b) > len("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255") {
		return netip.Addr{}, errBadAddr
	}
	a, err := netip.ParseAddr(string(b))
	if err != nil || a.Zone() != "" || a.Is4() != want4 {
		return netip.Addr{}, errBadAddr
	}
	return a, nil
}

// parseV1Port parses a decimal port in [0, 65535] without leading zeros
// (spec 2.1).
func parseV1Port(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > len("65535") || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= 0xFFFF
}

// readV2 reads the rest of a version 2 header whose first byte has been read.
func readV2(r io.Reader, first byte, maxLength int) (*Header, error) {
	var fixed [v2FixedLength]byte
	fixed[0] = first
	if _, err := io.ReadFull(r, fixed[1:]); err != nil {
		return nil, readErr(err, true)
	}
	if string(fixed[:len(v2Signature)]) != v2Signature {
		return nil, headerErr("no PROXY protocol header")
	}
	// Spec 2.2: the version nibble must be 2; unassigned commands must be
	// dropped.
	if fixed[12]>>4 != 2 {
		return nil, headerErr("v2: unsupported version")
	}
	if Command(fixed[12]&0x0F) > Proxy {
		return nil, headerErr("v2: unknown command")
	}
	n := int(binary.BigEndian.Uint16(fixed[14:16]))
	if v2FixedLength+n > maxLength {
		return nil, headerErr("v2: header too long")
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, readErr(err, true)
	}
	return parseV2(&fixed, body)
}

// addrLength returns the size of the address block of a version 2
// family/protocol byte among the combinations listed in spec 2.2, and false
// for the others.
func addrLength(fam byte) (int, bool) {
	switch fam {
	case 0x00: // UNSPEC
		return 0, true
	case 0x11, 0x12: // TCP, UDP over IPv4: 2*4 + 2*2
		return 12, true
	case 0x21, 0x22: // TCP, UDP over IPv6: 2*16 + 2*2
		return 36, true
	case 0x31, 0x32: // UNIX stream, datagram: 2*108
		return 2 * unixPathLength, true
	}
	return 0, false
}

// parseV2 decodes a version 2 header from its fixed part and body (spec 2.2).
func parseV2(fixed *[v2FixedLength]byte, body []byte) (*Header, error) {
	h := &Header{Version: 2, Command: Command(fixed[12] & 0x0F)}
	fam := fixed[13]
	alen, known := addrLength(fam)
	if h.Command == Local {
		// Spec 2.2: for LOCAL the receiver uses the real endpoints and
		// discards the address block, family included; it must not assume
		// the length is zero. TLVs are read when they can be located.
		if !known || len(body) < alen {
			return h, nil
		}
	} else {
		// Spec 2.2: other family or protocol values must be rejected.
		if fam>>4 > 3 || fam&0x0F > 2 {
			return nil, headerErr("v2: unsupported address family or protocol")
		}
		if !known {
			// A valid family with an UNSPEC protocol, or the reverse: the
			// receiver ignores the address information (spec 2.2), and
			// cannot tell where TLVs would start.
			return h, nil
		}
		if len(body) < alen {
			return nil, headerErr("v2: address block truncated")
		}
		h.Source, h.Destination = decodeV2Addrs(fam, body[:alen])
	}
	tlvs, err := parseTLVs(body[alen:])
	if err != nil {
		return nil, err
	}
	h.TLVs = tlvs
	if err := checkCRC(fixed, body, tlvs); err != nil {
		return nil, err
	}
	return h, nil
}

// decodeV2Addrs decodes the address block of a known, specified family.
func decodeV2Addrs(fam byte, b []byte) (src, dst net.Addr) {
	switch fam {
	case 0x11, 0x12:
		return ipAddr(fam, b[0:4], b[8:10]), ipAddr(fam, b[4:8], b[10:12])
	case 0x21, 0x22:
		return ipAddr(fam, b[0:16], b[32:34]), ipAddr(fam, b[16:32], b[34:36])
	case 0x31, 0x32:
		network := "unix"
		if fam == 0x32 {
			network = "unixgram"
		}
		return &net.UnixAddr{Name: unixName(b[:unixPathLength]), Net: network},
			&net.UnixAddr{Name: unixName(b[unixPathLength:]), Net: network}
	}
	return nil, nil
}

func ipAddr(fam byte, ip, port []byte) net.Addr {
	p := int(binary.BigEndian.Uint16(port))
	a := make(net.IP, len(ip))
	copy(a, ip)
	if fam&0x0F == 0x02 {
		return &net.UDPAddr{IP: a, Port: p}
	}
	return &net.TCPAddr{IP: a, Port: p}
}

// unixName decodes a NUL-padded sun_path. A path starting with NUL is a
// Linux abstract socket, written "@name" as package net does.
func unixName(b []byte) string {
	if b[0] == 0 {
		rest := bytes.TrimRight(b[1:], "\x00")
		if len(rest) == 0 {
			return ""
		}
		return "@" + string(rest)
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkCRC verifies a CRC32C TLV (spec 2.2.3): the checksum of the whole
// header with the checksum field zeroed must match, else the connection is
// invalid.
func checkCRC(fixed *[v2FixedLength]byte, body []byte, tlvs []TLV) error {
	for _, t := range tlvs {
		if t.Type != TypeCRC32C {
			continue
		}
		if len(t.Value) != 4 {
			return headerErr("v2: CRC32C TLV is not 4 bytes")
		}
		want := binary.BigEndian.Uint32(t.Value)
		var saved [4]byte
		copy(saved[:], t.Value)
		clear(t.Value)
		sum := crc32.Update(crc32.Checksum(fixed[:], castagnoli), castagnoli, body)
		copy(t.Value, saved[:])
		if sum != want {
			return headerErr("v2: CRC32C mismatch")
		}
		return nil
	}
	return nil
}

// readErr turns an I/O error met while reading a header into a HeaderError.
func readErr(err error, started bool) error {
	switch {
	case err == io.EOF && !started:
		return &HeaderError{Reason: "connection closed before header", Err: io.EOF}
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return &HeaderError{Reason: "truncated header", Err: io.ErrUnexpectedEOF}
	}
	return &HeaderError{Reason: "reading header", Err: err}
}

// oneByteReader reads single bytes from a reader that is not an
// io.ByteReader, so that a version 1 line is never read past its end.
type oneByteReader struct {
	r   io.Reader
	buf [1]byte
}

// maxEmptyReads bounds consecutive (0, nil) reads, as bufio does.
const maxEmptyReads = 100

func (o *oneByteReader) ReadByte() (byte, error) {
	for range maxEmptyReads {
		n, err := o.r.Read(o.buf[:])
		if n == 1 {
			return o.buf[0], nil
		}
		if err != nil {
			return 0, err
		}
	}
	return 0, io.ErrNoProgress
}
