package proxyproto

import (
	"encoding/binary"
	"hash/crc32"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Format encodes h in the version given by h.Version (1 or 2).
func (h *Header) Format() ([]byte, error) {
	switch h.Version {
	case 1:
		return h.AppendV1(nil)
	case 2:
		return h.AppendV2(nil)
	}
	return nil, headerErr("cannot encode version " + strconv.Itoa(h.Version))
}

// AppendV1 appends h as a version 1 line, CRLF included (spec 2.1), whatever
// h.Version says. Source and Destination must be *net.TCPAddr; if one is
// IPv4 and the other IPv6, both are written as IPv6 ("TCP6" with an
// IPv4-mapped address). A Local header, or one without addresses, is written
// "PROXY UNKNOWN\r\n". Version 1 cannot carry TLVs, UDP or UNIX addresses:
// those are errors.
func (h *Header) AppendV1(dst []byte) ([]byte, error) {
	if len(h.TLVs) > 0 {
		return dst, headerErr("v1 cannot carry TLVs")
	}
	if h.Command == Local || (h.Source == nil && h.Destination == nil) {
		return append(dst, "PROXY UNKNOWN\r\n"...), nil
	}
	if h.Command != Proxy {
		return dst, headerErr("cannot encode " + h.Command.String())
	}
	src, sok := h.Source.(*net.TCPAddr)
	dsta, dok := h.Destination.(*net.TCPAddr)
	if !sok || !dok || src == nil || dsta == nil {
		return dst, headerErr("v1 needs two *net.TCPAddr")
	}
	s, d, v4, err := ipPair(src.IP, src.Port, dsta.IP, dsta.Port)
	if err != nil {
		return dst, err
	}
	if v4 {
		dst = append(dst, "PROXY TCP4 "...)
	} else {
		dst = append(dst, "PROXY TCP6 "...)
	}
	dst = s.Addr().AppendTo(dst)
	dst = append(dst, ' ')
	dst = d.Addr().AppendTo(dst)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(s.Port()), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(d.Port()), 10)
	return append(dst, '\r', '\n'), nil
}

// ipPair validates two IP endpoints and brings them to one family: IPv4 if
// both are IPv4, else IPv6 with IPv4 addresses mapped.
func ipPair(sip net.IP, sport int, dip net.IP, dport int) (s, d netip.AddrPort, v4 bool, err error) {
	sa, ok1 := netip.AddrFromSlice(sip)
	da, ok2 := netip.AddrFromSlice(dip)
	if !ok1 || !ok2 {
		return s, d, false, headerErr("invalid IP address")
	}
	if sport < 0 || sport > 0xFFFF || dport < 0 || dport > 0xFFFF {
		return s, d, false, headerErr("port out of range")
	}
	sa, da = sa.Unmap(), da.Unmap()
	v4 = sa.Is4() && da.Is4()
	if !v4 {
		sa, da = netip.AddrFrom16(sa.As16()), netip.AddrFrom16(da.As16())
	}
	return netip.AddrPortFrom(sa, uint16(sport)), netip.AddrPortFrom(da, uint16(dport)), v4, nil
}

// AppendV2 appends h as a version 2 binary header (spec 2.2), whatever
// h.Version says. A Local header carries no address (family UNSPEC). For
// Proxy, Source and Destination are both nil (family UNSPEC) or both of the
// same type: *net.TCPAddr, *net.UDPAddr (IPv4 and IPv6 mixed are written as
// IPv6) or *net.UnixAddr (Net "unixgram" for datagram, names of at most 108
// bytes, "@name" for an abstract socket). The TLVs follow in order; the
// value of a [TypeCRC32C] TLV is replaced by the header's checksum (spec
// 2.2.3).
func (h *Header) AppendV2(dst []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, v2Signature...)
	dst = append(dst, 0x20|byte(h.Command), 0, 0, 0) // ver_cmd, fam, len
	switch h.Command {
	case Local:
	case Proxy:
		var err error
		if dst, err = appendV2Addrs(dst, start, h.Source, h.Destination); err != nil {
			return dst[:start], err
		}
	default:
		return dst[:start], headerErr("cannot encode " + h.Command.String())
	}
	crcAt := -1
	for _, t := range h.TLVs {
		v := t.Value
		if t.Type == TypeCRC32C {
			v = []byte{0, 0, 0, 0}
			if crcAt < 0 {
				crcAt = len(dst) + 3
			}
		}
		if len(v) > 0xFFFF {
			return dst[:start], headerErr("TLV value too long")
		}
		dst = append(dst, byte(t.Type), byte(len(v)>>8), byte(len(v)))
		dst = append(dst, v...)
	}
	n := len(dst) - start - v2FixedLength
	if n > 0xFFFF {
		return dst[:start], headerErr("v2 header too long")
	}
	binary.BigEndian.PutUint16(dst[start+14:], uint16(n))
	if crcAt >= 0 {
		binary.BigEndian.PutUint32(dst[crcAt:], crc32.Checksum(dst[start:], castagnoli))
	}
	return dst, nil
}

// appendV2Addrs writes the family byte at dst[start+13] and appends the
// address block.
func appendV2Addrs(dst []byte, start int, src, dsta net.Addr) ([]byte, error) {
	if src == nil && dsta == nil {
		return dst, nil // UNSPEC
	}
	var fam byte
	switch s := src.(type) {
	case *net.TCPAddr:
		d, ok := dsta.(*net.TCPAddr)
		if !ok || s == nil || d == nil {
			break
		}
		return appendV2IP(dst, start, 0x01, s.IP, s.Port, d.IP, d.Port)
	case *net.UDPAddr:
		d, ok := dsta.(*net.UDPAddr)
		if !ok || s == nil || d == nil {
			break
		}
		return appendV2IP(dst, start, 0x02, s.IP, s.Port, d.IP, d.Port)
	case *net.UnixAddr:
		d, ok := dsta.(*net.UnixAddr)
		if !ok || s == nil || d == nil || s.Net != d.Net {
			break
		}
		switch s.Net {
		case "", "unix":
			fam = 0x31
		case "unixgram":
			fam = 0x32
		default:
			return dst, headerErr("cannot encode network " + s.Net)
		}
		var err error
		for _, name := range []string{s.Name, d.Name} {
			if dst, err = appendUnixPath(dst, name); err != nil {
				return dst, err
			}
		}
		dst[start+13] = fam
		return dst, nil
	}
	return dst, headerErr("source and destination must be two addresses of the same type")
}

func appendV2IP(dst []byte, start int, proto byte, sip net.IP, sport int, dip net.IP, dport int) ([]byte, error) {
	s, d, v4, err := ipPair(sip, sport, dip, dport)
	if err != nil {
		return dst, err
	}
	fam := byte(0x20) | proto
	if v4 {
		fam = 0x10 | proto
		a, b := s.Addr().As4(), d.Addr().As4()
		dst = append(append(dst, a[:]...), b[:]...)
	} else {
		a, b := s.Addr().As16(), d.Addr().As16()
		dst = append(append(dst, a[:]...), b[:]...)
	}
	dst = binary.BigEndian.AppendUint16(dst, s.Port())
	dst = binary.BigEndian.AppendUint16(dst, d.Port())
	dst[start+13] = fam
	return dst, nil
}

// appendUnixPath writes name as a NUL-padded sun_path. "@name" is a Linux
// abstract socket, written with a leading NUL, as package net does; "@"
// alone is the file of that name, as unixName reads it (an abstract
// socket without a name would be all NULs: no address at all).
func appendUnixPath(dst []byte, name string) ([]byte, error) {
	if abstract, ok := strings.CutPrefix(name, "@"); ok && abstract != "" {
		name = "\x00" + abstract
	}
	if len(name) > unixPathLength {
		return dst, headerErr("UNIX socket path too long")
	}
	dst = append(dst, name...)
	for range unixPathLength - len(name) {
		dst = append(dst, 0)
	}
	return dst, nil
}
