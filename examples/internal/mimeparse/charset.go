package mimeparse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// windows1252 maps the bytes 0x80-0x9F of Windows-1252 to their characters;
// the five undefined ones stay the C1 control of the same number, as
// ISO-8859-1 has it. The rest of the charset is ISO-8859-1.
var windows1252 = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
}

// latin9 holds the eight bytes where ISO-8859-15 differs from ISO-8859-1.
var latin9 = map[byte]rune{
	0xA4: 0x20AC, 0xA6: 0x0160, 0xA8: 0x0161, 0xB4: 0x017D,
	0xB8: 0x017E, 0xBC: 0x0152, 0xBD: 0x0153, 0xBE: 0x0178,
}

// charsetKind names the decoders this package has.
type charsetKind uint8

const (
	csUnknown charsetKind = iota
	csUTF8
	csLatin1
	csWindows1252
	csLatin9
)

// lookupCharset returns the decoder for a charset name (IANA names and
// their common aliases, case-insensitive).
func lookupCharset(name string) charsetKind {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "646":
		// US-ASCII is a subset of UTF-8; so is an absent charset's
		// default (RFC 2045 5.2) as far as valid bytes go.
		return csUTF8
	case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "l1", "iso-ir-100", "cp819", "ibm819":
		return csLatin1
	case "windows-1252", "cp1252", "x-cp1252", "ms-ansi":
		return csWindows1252
	case "iso-8859-15", "iso8859-15", "iso_8859-15", "latin-9", "latin9":
		return csLatin9
	}
	return csUnknown
}

// errCharset is what the word decoder reports for a charset it lacks.
var errCharset = errors.New("unsupported charset")

// decodeCharset converts b from charset to UTF-8. ok is false when the
// charset is unknown (b is then read as UTF-8 if valid, else as
// Windows-1252) or when b is not valid in it (invalid UTF-8 bytes are read
// as Windows-1252, the usual mistake of a mislabelled message).
func decodeCharset(charset string, b []byte) (s string, ok bool) {
	switch lookupCharset(charset) {
	case csUTF8:
		if utf8.Valid(b) {
			return string(b), true
		}
		return decodeSingleByte(b, csWindows1252), false
	case csUnknown:
		if utf8.Valid(b) {
			return string(b), false
		}
		return decodeSingleByte(b, csWindows1252), false
	case csLatin1:
		return decodeSingleByte(b, csLatin1), true
	case csWindows1252:
		return decodeSingleByte(b, csWindows1252), true
	default:
		return decodeSingleByte(b, csLatin9), true
	}
}

// decodeSingleByte converts b, one character a byte, to UTF-8.
func decodeSingleByte(b []byte, kind charsetKind) string {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/8)
	for _, c := range b {
		r := rune(c)
		switch {
		case c < 0x80:
		case kind == csWindows1252 && c < 0xA0:
			r = windows1252[c-0x80]
		case kind == csLatin9:
			if l, ok := latin9[c]; ok {
				r = l
			}
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// toUTF8 returns raw header bytes as UTF-8: as they are when they are valid
// UTF-8 (RFC 6532 3.2 allows it), else read as Windows-1252.
func toUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return decodeSingleByte(b, csWindows1252)
}

// charsetReader is mime.WordDecoder.CharsetReader for the charsets the
// standard library does not decode itself.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	kind := lookupCharset(charset)
	if kind == csUnknown {
		return nil, errCharset
	}
	b, err := io.ReadAll(input)
	if err != nil {
		return nil, err
	}
	s, _ := decodeCharset(charset, b)
	return bytes.NewReader([]byte(s)), nil
}
