package sasl

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// kvsep separates the key/value pairs of XOAUTH2 and OAUTHBEARER
// (RFC 7628 3.1: kvsep = %x01).
const kvsep = "\x01"

// The error challenges sent when the token is refused. RFC 7628 3.2.2: a
// JSON object whose "status" member is required; XOAUTH2 uses the HTTP
// status and the auth schemes, as Google's servers do.
const (
	oauthBearerErrorChallenge = `{"status":"invalid_token"}`
	xoauth2ErrorChallenge     = `{"status":"401","schemes":"bearer"}`
)

// xoauth2Client implements Google's XOAUTH2 for a client.
type xoauth2Client struct {
	username, token string
	step            int
}

// NewXOAuth2Client returns an XOAUTH2 client (Google's pre-standard form of
// OAUTHBEARER). token is an OAuth 2.0 bearer token (RFC 6750). When the
// server refuses the token it sends a JSON error as a challenge; the client
// answers with an empty response and the server's final reply says 535.
func NewXOAuth2Client(username, token string) Client {
	return &xoauth2Client{username: username, token: token}
}

func (c *xoauth2Client) Name() string { return XOAuth2 }

func (c *xoauth2Client) Start() ([]byte, error) {
	if c.username == "" || !kvValue(c.username) {
		return nil, argError(XOAuth2, "username is empty or has control characters")
	}
	if !isB64Token(c.token) {
		return nil, argError(XOAuth2, "token is not an RFC 6750 b64token")
	}
	c.step = 1
	// Google's format: "user=" user ^A "auth=Bearer " token ^A ^A
	return []byte("user=" + c.username + kvsep + "auth=Bearer " + c.token + kvsep + kvsep), nil
}

func (c *xoauth2Client) Next(challenge []byte) ([]byte, error) {
	if err := tooLong(XOAuth2, challenge); err != nil {
		return nil, err
	}
	if c.step != 1 {
		return nil, errAfterEnd(XOAuth2)
	}
	c.step = 2
	// The only challenge is the JSON error; an empty response makes the
	// server finish with its failure reply.
	return []byte{}, nil
}

// Finish implements [Finisher]: a success after the error challenge
// contradicts the server's refusal of the token.
func (c *xoauth2Client) Finish() error {
	if c.step == 2 {
		return ErrSuccessAfterFailure
	}
	return nil
}

// oauthBearerClient implements OAUTHBEARER (RFC 7628) for a client.
type oauthBearerClient struct {
	username, host, token string
	port                  int
	step                  int
}

// NewOAuthBearerClient returns an OAUTHBEARER client (RFC 7628). username
// is sent as the GS2 authorization identity and may be empty; host and port
// name the server the client connected to and are left out when empty or
// zero. When the server refuses the token it sends a JSON error as a
// challenge; the client answers with the dummy response %x01 (RFC 7628
// 3.2.3) and the server's final reply says 535.
func NewOAuthBearerClient(username, host string, port int, token string) Client {
	return &oauthBearerClient{username: username, host: host, port: port, token: token}
}

func (c *oauthBearerClient) Name() string { return OAuthBearer }

func (c *oauthBearerClient) Start() ([]byte, error) {
	if !utf8.ValidString(c.username) || strings.IndexByte(c.username, 0) >= 0 {
		return nil, argError(OAuthBearer, "username is not valid UTF-8 text")
	}
	if !kvValue(c.host) {
		return nil, argError(OAuthBearer, "host has control characters")
	}
	if c.port < 0 || c.port > 65535 {
		return nil, argError(OAuthBearer, "port out of range")
	}
	if !isB64Token(c.token) {
		return nil, argError(OAuthBearer, "token is not an RFC 6750 b64token")
	}
	c.step = 1
	// RFC 7628 3.1: client-resp = gs2-header kvsep *kvpair kvsep, with
	// gs2-header = "n," ["a=" saslname] "," (RFC 5801 4, no channel
	// binding).
	b := make([]byte, 0, 64+len(c.username)+len(c.host)+len(c.token))
	b = append(b, "n,"...)
	if c.username != "" {
		b = append(b, "a="...)
		b = append(b, encodeSaslname(c.username)...)
	}
	b = append(b, ","+kvsep...)
	if c.host != "" {
		b = append(b, "host="...)
		b = append(b, c.host...)
		b = append(b, kvsep...)
	}
	if c.port != 0 {
		b = append(b, "port="...)
		b = strconv.AppendInt(b, int64(c.port), 10)
		b = append(b, kvsep...)
	}
	b = append(b, "auth=Bearer "...)
	b = append(b, c.token...)
	b = append(b, kvsep+kvsep...)
	return b, nil
}

func (c *oauthBearerClient) Next(challenge []byte) ([]byte, error) {
	if err := tooLong(OAuthBearer, challenge); err != nil {
		return nil, err
	}
	if c.step != 1 {
		return nil, errAfterEnd(OAuthBearer)
	}
	c.step = 2
	// RFC 7628 3.2.3: the client answers the error challenge with a
	// single %x01 and the server fails the exchange.
	return []byte(kvsep), nil
}

// Finish implements [Finisher]: RFC 7628 3.2.3: after the error
// challenge the server must fail the exchange.
func (c *oauthBearerClient) Finish() error {
	if c.step == 2 {
		return ErrSuccessAfterFailure
	}
	return nil
}

// oauthServer implements both XOAUTH2 and OAUTHBEARER for a server; they
// differ only in the framing of the first message and the error challenge.
type oauthServer struct {
	mech       string
	check      func(ctx context.Context, username, token string) error
	step       int // 0: first message, 1: reply to the error challenge
	askedFirst bool
	done       bool
	username   string
	failure    error // the check's error, reported after the error challenge
}

// NewXOAuth2Server returns an XOAUTH2 server. check receives the user name
// and the bearer token; it returns nil to accept, ErrAuthFailed (or an
// error wrapping it) to refuse the token, and any other error for a backend
// failure. A refused token gets a JSON error challenge; the exchange then
// fails with an *AuthError wrapping check's error when the client answers.
// A backend failure ends the exchange at once.
func NewXOAuth2Server(check func(ctx context.Context, username, token string) error) Server {
	return &oauthServer{mech: XOAuth2, check: check}
}

// NewOAuthBearerServer returns an OAUTHBEARER server (RFC 7628). check
// receives the GS2 authorization identity (possibly empty: the token then
// names the user) and the bearer token, with the meaning of its errors as
// for [NewXOAuth2Server]. A refused token gets the RFC 7628 3.2.2 JSON error
// challenge, and the client's dummy reply ends the exchange with an
// *AuthError wrapping check's error. host and port pairs are ignored;
// channel binding ("p=") is malformed.
func NewOAuthBearerServer(check func(ctx context.Context, username, token string) error) Server {
	return &oauthServer{mech: OAuthBearer, check: check}
}

func (s *oauthServer) Next(ctx context.Context, resp []byte) ([]byte, bool, error) {
	if s.done {
		return nil, true, errAfterEnd(s.mech)
	}
	if err := tooLong(s.mech, resp); err != nil {
		s.done = true
		return nil, true, err
	}
	if s.step == 1 {
		// RFC 7628 3.2.3: whatever the client answers to the error
		// challenge (it should be %x01, or empty for XOAUTH2), the
		// exchange has failed.
		s.done = true
		return nil, true, &AuthError{Mechanism: s.mech, Username: s.username, Err: s.failure}
	}
	if resp == nil && !s.askedFirst {
		// RFC 4954 4: no initial response; ask for it.
		s.askedFirst = true
		return []byte{}, false, nil
	}
	var (
		username, token string
		err             error
	)
	if s.mech == XOAuth2 {
		username, token, err = parseXOAuth2(string(resp))
	} else {
		username, token, err = parseOAuthBearer(string(resp))
	}
	if err != nil {
		s.done = true
		return nil, true, err
	}
	s.username = username
	if err := s.check(ctx, username, token); err != nil {
		if !errors.Is(err, ErrAuthFailed) {
			s.done = true
			return nil, true, &AuthError{Mechanism: s.mech, Username: username, Err: err}
		}
		// RFC 7628 3.2.2: a refused token gets an error challenge.
		s.failure = err
		s.step = 1
		if s.mech == XOAuth2 {
			return []byte(xoauth2ErrorChallenge), false, nil
		}
		return []byte(oauthBearerErrorChallenge), false, nil
	}
	s.done = true
	return nil, true, nil
}

// parseXOAuth2 parses "user=" user ^A "auth=Bearer " token ^A ^A.
func parseXOAuth2(msg string) (username, token string, err error) {
	user, auth, hasUser, err := parseKVPairs(XOAuth2, msg)
	if err != nil {
		return "", "", err
	}
	if !hasUser || user == "" {
		return "", "", malformed(XOAuth2, "missing user")
	}
	if !utf8.ValidString(user) {
		return "", "", malformed(XOAuth2, "user is not valid UTF-8")
	}
	token, err = bearerToken(XOAuth2, auth)
	return user, token, err
}

// parseOAuthBearer parses an OAUTHBEARER initial client response
// (RFC 7628 3.1).
func parseOAuthBearer(msg string) (username, token string, err error) {
	// RFC 5801 4: gs2-header = gs2-cb-flag "," [gs2-authzid] ","
	var rest string
	switch {
	case strings.HasPrefix(msg, "n,"), strings.HasPrefix(msg, "y,"):
		rest = msg[2:]
	case strings.HasPrefix(msg, "p="):
		return "", "", malformed(OAuthBearer, "channel binding not supported")
	default:
		return "", "", malformed(OAuthBearer, "bad gs2-header")
	}
	comma := strings.IndexByte(rest, ',')
	if comma < 0 {
		return "", "", malformed(OAuthBearer, "unterminated gs2-header")
	}
	if az := rest[:comma]; az != "" {
		if !strings.HasPrefix(az, "a=") {
			return "", "", malformed(OAuthBearer, "bad authzid")
		}
		var ok bool
		if username, ok = decodeSaslname(az[2:]); !ok || username == "" {
			return "", "", malformed(OAuthBearer, "bad authzid")
		}
	}
	rest = rest[comma+1:]
	// RFC 7628 3.1: gs2-header kvsep *kvpair kvsep
	if !strings.HasPrefix(rest, kvsep) {
		return "", "", malformed(OAuthBearer, "missing separator after gs2-header")
	}
	_, auth, _, err := parseKVPairs(OAuthBearer, rest[1:])
	if err != nil {
		return "", "", err
	}
	token, err = bearerToken(OAuthBearer, auth)
	return username, token, err
}

// parseKVPairs parses *kvpair kvsep (RFC 7628 3.1) and returns the "auth"
// value, which is required, and the "user" value (XOAUTH2). Other keys are
// checked for syntax and ignored; a repeated key is malformed.
func parseKVPairs(mech, s string) (user, auth string, hasUser bool, err error) {
	hasAuth := false
	for {
		if s == kvsep {
			break
		}
		end := strings.Index(s, kvsep)
		if end < 0 {
			return "", "", false, malformed(mech, "missing final separator")
		}
		pair := s[:end]
		s = s[end+1:]
		eq := strings.IndexByte(pair, '=')
		if eq <= 0 {
			return "", "", false, malformed(mech, "bad key/value pair")
		}
		key, value := pair[:eq], pair[eq+1:]
		// RFC 7628 3.1: key = 1*(ALPHA)
		for i := 0; i < len(key); i++ {
			if c := key[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				return "", "", false, malformed(mech, "bad key")
			}
		}
		if !kvValueRFC(value) {
			return "", "", false, malformed(mech, "bad value of "+strconv.Quote(key))
		}
		switch key {
		case "auth":
			if hasAuth {
				return "", "", false, malformed(mech, "repeated auth")
			}
			auth, hasAuth = value, true
		case "user":
			if hasUser {
				return "", "", false, malformed(mech, "repeated user")
			}
			user, hasUser = value, true
		}
	}
	if !hasAuth {
		return "", "", false, malformed(mech, "missing auth")
	}
	return user, auth, hasUser, nil
}

// bearerToken extracts the token of auth-value = "Bearer" 1*SP b64token
// (RFC 7628 3.1, RFC 6750 2.1); the scheme is case-insensitive (RFC 7235
// 2.1).
func bearerToken(mech, auth string) (string, error) {
	const scheme = "Bearer"
	if len(auth) <= len(scheme) || !strings.EqualFold(auth[:len(scheme)], scheme) || auth[len(scheme)] != ' ' {
		return "", malformed(mech, "auth is not a Bearer token")
	}
	token := strings.TrimLeft(auth[len(scheme):], " ")
	if !isB64Token(token) {
		return "", malformed(mech, "bad bearer token")
	}
	return token, nil
}

// isB64Token reports whether s is an RFC 6750 2.1 b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// kvValueRFC reports whether s is a valid RFC 7628 3.1 value:
// *(VCHAR / SP / HTAB / CR / LF). Bytes >= 0x80 are allowed as UTF-8 so a
// non-ASCII XOAUTH2 user name passes.
func kvValueRFC(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\t' && c != '\r' && c != '\n' || c == 0x7f {
			return false
		}
	}
	return true
}

// kvValue reports whether a client-supplied value can be sent in a
// key/value pair: no control characters at all, valid UTF-8.
func kvValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return utf8.ValidString(s)
}
