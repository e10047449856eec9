package envelope

import (
	"strconv"
	"strings"
)

// BodyType is the value of the BODY parameter of MAIL.
type BodyType uint8

// Body types.
const (
	// BodyUnspecified means no BODY parameter was given; the body is then
	// taken as 7BIT (RFC 6152 3).
	BodyUnspecified BodyType = iota
	// Body7Bit is BODY=7BIT (RFC 6152 2).
	Body7Bit
	// Body8BitMIME is BODY=8BITMIME (RFC 6152 2).
	Body8BitMIME
	// BodyBinaryMIME is BODY=BINARYMIME (RFC 3030 3), sent with BDAT only.
	BodyBinaryMIME
)

// String returns the parameter value ("7BIT", "8BITMIME", "BINARYMIME"),
// or "" for BodyUnspecified.
func (b BodyType) String() string {
	switch b {
	case Body7Bit:
		return "7BIT"
	case Body8BitMIME:
		return "8BITMIME"
	case BodyBinaryMIME:
		return "BINARYMIME"
	}
	return ""
}

// Ret is the value of the RET parameter of MAIL (RFC 3461 4.3): how much of
// the message a failure notification returns.
type Ret uint8

// RET values.
const (
	// RetUnspecified means no RET parameter: the server decides.
	RetUnspecified Ret = iota
	// RetFull is RET=FULL: return the whole message.
	RetFull
	// RetHdrs is RET=HDRS: return the headers only.
	RetHdrs
)

// String returns "FULL", "HDRS" or "".
func (r Ret) String() string {
	switch r {
	case RetFull:
		return "FULL"
	case RetHdrs:
		return "HDRS"
	}
	return ""
}

// Notify is the value of the NOTIFY parameter of RCPT (RFC 3461 4.1), a set
// of conditions. The zero value means no NOTIFY parameter. NotifyNever
// never comes with another flag.
type Notify uint8

// NOTIFY conditions.
const (
	// NotifyNever asks for no notification at all.
	NotifyNever Notify = 1 << iota
	// NotifySuccess asks for a notification on successful delivery.
	NotifySuccess
	// NotifyFailure asks for a notification on failure.
	NotifyFailure
	// NotifyDelay asks for a notification on delay.
	NotifyDelay
)

// String returns the parameter value, such as "SUCCESS,FAILURE", or "" for
// the zero value.
func (n Notify) String() string {
	return string(n.appendTo(nil))
}

func (n Notify) appendTo(dst []byte) []byte {
	first := true
	add := func(flag Notify, name string) {
		if n&flag == 0 {
			return
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, name...)
	}
	add(NotifyNever, "NEVER")
	add(NotifySuccess, "SUCCESS")
	add(NotifyFailure, "FAILURE")
	add(NotifyDelay, "DELAY")
	return dst
}

// Param is a MAIL or RCPT parameter this package does not interpret
// (RFC 5321 4.1.2 esmtp-param). Value is empty when the parameter has no
// value (esmtp-value is never empty).
type Param struct {
	// Keyword is the esmtp-keyword as received; compare it with
	// strings.EqualFold (keywords are case-insensitive).
	Keyword string
	// Value is the esmtp-value as received, not decoded.
	Value string
}

// ORcpt is the value of the ORCPT parameter of RCPT (RFC 3461 4.2): the
// original recipient address, for delivery status notifications.
type ORcpt struct {
	// AddrType is the address type, normally "rfc822" or, for
	// internationalised addresses, "utf-8" (RFC 6533 3). Compare it with
	// strings.EqualFold.
	AddrType string
	// Addr is the decoded address: xtext decoded (RFC 3461 4), or for
	// "utf-8" the utf-8-addr-xtext / unitext decoded (RFC 6533 3). It
	// holds no control character: one is refused (RFC 3461 4.2 asks for
	// printable text), so it can be copied into a DSN as it is.
	Addr string
}

// MailParams holds the parameters of a MAIL command.
type MailParams struct {
	// Size is the SIZE declared by the client (RFC 1870), 0 if none.
	// A value too large for an int64 saturates at math.MaxInt64, which
	// every server limit rejects with 552 5.3.4.
	Size int64
	// Body is the BODY parameter (RFC 6152, RFC 3030).
	Body BodyType
	// SMTPUTF8 is set when the SMTPUTF8 parameter is present
	// (RFC 6531 3.4).
	SMTPUTF8 bool
	// Ret is the RET parameter (RFC 3461 4.3).
	Ret Ret
	// EnvID is the decoded ENVID parameter (RFC 3461 4.4), "" if none.
	// It holds no control character: one is refused (RFC 3461 4.4 asks
	// for printable text), so it can be copied into a DSN as it is.
	EnvID string
	// Auth is the decoded AUTH parameter (RFC 4954 5): the identity that
	// submitted the message, "<>" when unknown, "" when absent. It holds
	// no control character.
	Auth string
	// RequireTLS is set when the REQUIRETLS parameter is present
	// (RFC 8689 4).
	RequireTLS bool
	// Extra holds the parameters this package does not interpret, in the
	// order received (only when ParseOptions.Allowed has ParamOther).
	Extra []Param
}

// RcptParams holds the parameters of a RCPT command.
type RcptParams struct {
	// Notify is the NOTIFY parameter (RFC 3461 4.1), 0 if none.
	Notify Notify
	// ORcpt is the ORCPT parameter (RFC 3461 4.2), nil if none.
	ORcpt *ORcpt
	// Extra holds the parameters this package does not interpret, in the
	// order received (only when ParseOptions.Allowed has ParamOther).
	Extra []Param
}

// AppendTo appends the parameters to dst, each preceded by a space, in the
// form MAIL takes them (" SIZE=123 BODY=8BITMIME"), and returns the
// extended slice. Values are encoded as needed (xtext for ENVID and AUTH)
// but not validated; AppendMailCommand validates.
func (m MailParams) AppendTo(dst []byte) []byte {
	if m.Size > 0 {
		dst = append(dst, " SIZE="...)
		dst = strconv.AppendInt(dst, m.Size, 10)
	}
	if m.Body != BodyUnspecified {
		dst = append(dst, " BODY="...)
		dst = append(dst, m.Body.String()...)
	}
	if m.SMTPUTF8 {
		dst = append(dst, " SMTPUTF8"...)
	}
	if m.Ret != RetUnspecified {
		dst = append(dst, " RET="...)
		dst = append(dst, m.Ret.String()...)
	}
	if m.EnvID != "" {
		dst = append(dst, " ENVID="...)
		dst = AppendXtext(dst, m.EnvID)
	}
	if m.Auth != "" {
		// RFC 4954 5: AUTH=<> is written as is; "<" and ">" are xchars,
		// so xtext leaves it unchanged anyway.
		dst = append(dst, " AUTH="...)
		dst = AppendXtext(dst, m.Auth)
	}
	if m.RequireTLS {
		dst = append(dst, " REQUIRETLS"...)
	}
	return appendExtra(dst, m.Extra)
}

// String returns the parameters as AppendTo writes them, without the
// leading space.
func (m MailParams) String() string {
	return trimSpace1(m.AppendTo(nil))
}

// AppendTo appends the parameters to dst, each preceded by a space, in the
// form RCPT takes them (" NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b"), and
// returns the extended slice. ORCPT is encoded (xtext, or the pure-ASCII
// utf-8-addr-xtext for the "utf-8" type) but nothing is validated;
// AppendRcptCommand validates.
func (r RcptParams) AppendTo(dst []byte) []byte {
	return r.appendTo(dst, false)
}

// appendTo formats the parameters; smtputf8 selects utf-8-addr-unitext
// for a "utf-8" ORCPT (RFC 6533 3: raw UTF-8 when SMTPUTF8 is in use).
func (r RcptParams) appendTo(dst []byte, smtputf8 bool) []byte {
	if r.Notify != 0 {
		dst = append(dst, " NOTIFY="...)
		dst = r.Notify.appendTo(dst)
	}
	if r.ORcpt != nil {
		dst = append(dst, " ORCPT="...)
		dst = append(dst, r.ORcpt.AddrType...)
		dst = append(dst, ';')
		if strings.EqualFold(r.ORcpt.AddrType, "utf-8") {
			dst = appendUTF8AddrXtext(dst, r.ORcpt.Addr, smtputf8)
		} else {
			dst = AppendXtext(dst, r.ORcpt.Addr)
		}
	}
	return appendExtra(dst, r.Extra)
}

// String returns the parameters as AppendTo writes them, without the
// leading space.
func (r RcptParams) String() string {
	return trimSpace1(r.AppendTo(nil))
}

func appendExtra(dst []byte, extra []Param) []byte {
	for _, p := range extra {
		dst = append(dst, ' ')
		dst = append(dst, p.Keyword...)
		if p.Value != "" {
			dst = append(dst, '=')
			dst = append(dst, p.Value...)
		}
	}
	return dst
}

func trimSpace1(b []byte) string {
	if len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	return string(b)
}
