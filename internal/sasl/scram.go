package sasl

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SCRAM-SHA-256 limits and defaults.
const (
	// MinScramIterations is the smallest iteration count the client
	// accepts from a server. RFC 7677 4: the count SHOULD be at least
	// 4096; refusing less stops an active attacker from lowering it to
	// make an offline dictionary attack on the captured proof cheap.
	MinScramIterations = 4096

	// MaxScramIterations is the largest iteration count the client
	// accepts from a server and NewScramCredentials accepts, so that a
	// hostile server cannot make the client spin (about a second of CPU at
	// this count).
	MaxScramIterations = 1 << 22

	// DefaultScramIterations is the count NewScramCredentials uses when
	// given 0 (RFC 7677 4 minimum).
	DefaultScramIterations = 4096

	// DefaultScramSaltSize is the length of the random salt
	// NewScramCredentials makes when given none.
	DefaultScramSaltSize = 16
)

// scramGS2Header is the only GS2 header the client sends: no channel
// binding, no authorization identity (RFC 5802 7: gs2-cbind-flag "n").
const scramGS2Header = "n,,"

// Credentials are what a SCRAM-SHA-256 server stores for a user instead of
// the password (RFC 5802 3): the salt and iteration count given to the
// client, and StoredKey = H(ClientKey) and ServerKey, each 32 bytes.
type Credentials struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// NewScramCredentials derives the SCRAM-SHA-256 keys of a password, for a
// backend to store instead of the password. A nil salt is replaced by
// DefaultScramSaltSize random bytes and iterations 0 by
// DefaultScramIterations. SASLprep (RFC 4013) is not applied: the password's
// UTF-8 bytes are used as they are, which equals SASLprep for ASCII
// passwords without control characters.
func NewScramCredentials(password string, salt []byte, iterations int) (Credentials, error) {
	if salt == nil {
		salt = make([]byte, DefaultScramSaltSize)
		rand.Read(salt) // never fails (crypto/rand, Go 1.24+)
	}
	if len(salt) == 0 {
		return Credentials{}, argError(ScramSHA256, "empty salt")
	}
	if iterations == 0 {
		iterations = DefaultScramIterations
	}
	if iterations < 1 || iterations > MaxScramIterations {
		return Credentials{}, argError(ScramSHA256, "iteration count out of range")
	}
	_, storedKey, serverKey, err := scramKeys(password, salt, iterations)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{
		Salt:       append([]byte(nil), salt...),
		Iterations: iterations,
		StoredKey:  storedKey,
		ServerKey:  serverKey,
	}, nil
}

// scramKeys derives ClientKey, StoredKey and ServerKey (RFC 5802 3).
func scramKeys(password string, salt []byte, iterations int) (clientKey, storedKey, serverKey []byte, err error) {
	// RFC 5802 3: SaltedPassword := Hi(Normalize(password), salt, i),
	// where Hi is PBKDF2 with HMAC-SHA-256 (RFC 7677 3).
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("sasl: SCRAM-SHA-256: %w", err)
	}
	clientKey = hmacSHA256(salted, "Client Key")
	sum := sha256.Sum256(clientKey)
	return clientKey, sum[:], hmacSHA256(salted, "Server Key"), nil
}

// hmacSHA256 returns HMAC-SHA-256(key, msg).
func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// scramClient implements SCRAM-SHA-256 (RFC 7677, RFC 5802) for a client.
type scramClient struct {
	username, password string
	nonce              string // client nonce; tests set it, else random
	step               int
	clientFirstBare    string
	serverSignature    []byte
	verified           bool // the server's signature was checked and right
}

// NewScramSHA256Client returns a SCRAM-SHA-256 client (RFC 7677) without
// channel binding (GS2 header "n,,"). It checks the server's signature in
// the final message and fails with ErrServerSignature when it is wrong,
// and its Finish ([Finisher]) fails with ErrNoServerSignature when the
// server reports success without it, so a successful exchange also
// authenticates the server. It refuses iteration
// counts outside [MinScramIterations, MaxScramIterations]. SASLprep
// (RFC 4013) is not applied: a non-ASCII password is used as its UTF-8
// bytes.
func NewScramSHA256Client(username, password string) Client {
	return &scramClient{username: username, password: password}
}

func (c *scramClient) Name() string { return ScramSHA256 }

func (c *scramClient) Start() ([]byte, error) {
	switch {
	case c.username == "":
		return nil, argError(ScramSHA256, "username is empty")
	case !utf8.ValidString(c.username) || strings.IndexByte(c.username, 0) >= 0:
		return nil, argError(ScramSHA256, "username is not valid UTF-8 text")
	case !utf8.ValidString(c.password):
		return nil, argError(ScramSHA256, "password is not valid UTF-8")
	}
	if c.nonce == "" {
		// RFC 5802 5.1: the nonce is printable and unpredictable;
		// base32 text is both.
		c.nonce = rand.Text()
	}
	// RFC 5802 7: client-first-message-bare = username "," nonce
	c.clientFirstBare = "n=" + encodeSaslname(c.username) + ",r=" + c.nonce
	c.step = 1
	return []byte(scramGS2Header + c.clientFirstBare), nil
}

func (c *scramClient) Next(challenge []byte) ([]byte, error) {
	if err := tooLong(ScramSHA256, challenge); err != nil {
		return nil, err
	}
	switch c.step {
	case 1:
		c.step = 2
		return c.clientFinal(string(challenge))
	case 2:
		c.step = 3
		return c.verifyServerFinal(string(challenge))
	}
	return nil, errAfterEnd(ScramSHA256)
}

// Finish implements [Finisher]: success is accepted only after the
// server's signature was verified (RFC 5802 5), which makes the exchange
// authenticate the server too.
func (c *scramClient) Finish() error {
	if !c.verified {
		return ErrNoServerSignature
	}
	return nil
}

// clientFinal parses server-first-message and builds client-final-message.
func (c *scramClient) clientFinal(serverFirst string) ([]byte, error) {
	// RFC 5802 7: server-first-message = [reserved-mext ","] nonce ","
	//   salt "," iteration-count ["," extensions]
	a := scramAttrs{s: serverFirst}
	if a.peek() == 'm' {
		// RFC 5802 5.1: an unknown mandatory extension fails the
		// exchange.
		return nil, malformed(ScramSHA256, "server sent a mandatory extension")
	}
	nonce, ok := a.next('r')
	if !ok || !validNonce(nonce) {
		return nil, malformed(ScramSHA256, "bad nonce in server-first-message")
	}
	// RFC 5802 5.1: the server's nonce starts with the client's and adds
	// its own part.
	if len(nonce) <= len(c.nonce) || !strings.HasPrefix(nonce, c.nonce) {
		return nil, malformed(ScramSHA256, "server nonce does not extend the client nonce")
	}
	saltB64, ok := a.next('s')
	if !ok {
		return nil, malformed(ScramSHA256, "missing salt")
	}
	salt, err := decodeB64(saltB64)
	if err != nil || len(salt) == 0 {
		return nil, malformed(ScramSHA256, "bad salt")
	}
	iterStr, ok := a.next('i')
	if !ok {
		return nil, malformed(ScramSHA256, "missing iteration count")
	}
	iterations, ok := parsePositive(iterStr)
	if !ok {
		return nil, malformed(ScramSHA256, "bad iteration count")
	}
	if err := a.extensions(); err != nil {
		return nil, err
	}
	if iterations < MinScramIterations || iterations > MaxScramIterations {
		return nil, malformed(ScramSHA256, "iteration count "+strconv.Itoa(iterations)+" out of the accepted range")
	}
	clientKey, storedKey, serverKey, err := scramKeys(c.password, salt, iterations)
	if err != nil {
		return nil, err
	}
	// RFC 5802 7: channel-binding "c=" is base64 of the GS2 header.
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(scramGS2Header)) + ",r=" + nonce
	// RFC 5802 3: AuthMessage := client-first-message-bare + "," +
	//   server-first-message + "," + client-final-message-without-proof
	authMessage := c.clientFirstBare + "," + serverFirst + "," + withoutProof
	proof := hmacSHA256(storedKey, authMessage) // ClientSignature
	for i := range proof {
		proof[i] ^= clientKey[i] // ClientProof := ClientKey XOR ClientSignature
	}
	c.serverSignature = hmacSHA256(serverKey, authMessage)
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

// verifyServerFinal checks server-final-message (RFC 5802 7) and returns
// the empty response that ends the SMTP exchange.
func (c *scramClient) verifyServerFinal(serverFinal string) ([]byte, error) {
	a := scramAttrs{s: serverFinal}
	if a.peek() == 'e' {
		// RFC 5802 7: server-error = "e=" server-error-value
		msg, _ := a.next('e')
		return nil, fmt.Errorf("sasl: SCRAM-SHA-256: server error %q: %w", msg, ErrAuthFailed)
	}
	v, ok := a.next('v')
	if !ok {
		return nil, malformed(ScramSHA256, "missing verifier in server-final-message")
	}
	sig, err := decodeB64(v)
	if err != nil {
		return nil, malformed(ScramSHA256, "bad verifier")
	}
	if err := a.extensions(); err != nil {
		return nil, err
	}
	// RFC 5802 9: the client must check ServerSignature to authenticate
	// the server.
	if !hmac.Equal(sig, c.serverSignature) {
		return nil, ErrServerSignature
	}
	c.verified = true
	// RFC 4954 4 / RFC 4422 4: the additional data came in a 334
	// challenge; it is acknowledged with an empty response.
	return []byte{}, nil
}

// scramServer implements SCRAM-SHA-256 (RFC 7677, RFC 5802) for a server.
type scramServer struct {
	lookup   func(ctx context.Context, username string) (Credentials, error)
	newNonce func() string // server nonce part; replaced by tests
	mockKey  []byte        // nil: an unknown user fails at once
	unknown  error         // the lookup's error for a user answered with mock credentials

	step            int // 0: client-first, 1: client-final, 2: empty ack
	askedFirst      bool
	done            bool
	gs2Header       string
	username        string
	clientFirstBare string
	serverFirst     string
	nonce           string // client nonce + server nonce
	creds           Credentials
}

// NewScramSHA256Server returns a SCRAM-SHA-256 server (RFC 7677) without
// channel binding: a client asking for it ("p=") is malformed; "y" is
// accepted since the server offers no -PLUS variant (RFC 5802 6). lookup
// returns the user's stored [Credentials] (see [NewScramCredentials]); it
// returns ErrAuthFailed (or an error wrapping it) for an unknown user and
// any other error for a backend failure. An authorization identity other
// than the user name is refused with ErrAuthFailed: this package does not
// implement proxy authorization for SCRAM. An unknown user fails at the
// first step, so the exchange reveals whether a user exists
// ([NewScramSHA256ServerWithMock] does not). SASLprep is not applied to
// the user name.
//
// On a valid proof the server signature is returned as a challenge (done
// false); the client's empty reply then ends the exchange successfully.
func NewScramSHA256Server(lookup func(ctx context.Context, username string) (Credentials, error)) Server {
	return &scramServer{lookup: lookup, newNonce: rand.Text}
}

// NewScramSHA256ServerWithMock is [NewScramSHA256Server] that does not
// tell whether a user exists: a user for whom lookup returns
// ErrAuthFailed is answered as RFC 5802 5.1 and 9 suggest, with a mock
// server-first-message whose salt and keys are derived from mockKey (a
// secret of the server, kept for its life) and the user name, so that
// each attempt for the same name sees the same salt, as for a real user;
// its iteration count is DefaultScramIterations and its salt
// DefaultScramSaltSize octets, what NewScramCredentials makes by default.
// The exchange then fails at the proof with the lookup's error, as a
// wrong password does, after the same work. mockKey should be at least 32
// random octets.
func NewScramSHA256ServerWithMock(lookup func(ctx context.Context, username string) (Credentials, error), mockKey []byte) Server {
	return &scramServer{lookup: lookup, newNonce: rand.Text, mockKey: mockKey}
}

// mockCredentials returns the credentials a mock user is answered with:
// HMAC-SHA-256 of the server's key and the user name, one for each part,
// so that they are the same at every attempt and unknown to the client.
func mockCredentials(key []byte, username string) Credentials {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(label))
		m.Write([]byte{0})
		m.Write([]byte(username))
		return m.Sum(nil)
	}
	return Credentials{
		Salt:       derive("salt")[:DefaultScramSaltSize],
		Iterations: DefaultScramIterations,
		StoredKey:  derive("stored key"),
		ServerKey:  derive("server key"),
	}
}

func (s *scramServer) Next(ctx context.Context, resp []byte) ([]byte, bool, error) {
	if s.done {
		return nil, true, errAfterEnd(ScramSHA256)
	}
	if err := tooLong(ScramSHA256, resp); err != nil {
		s.done = true
		return nil, true, err
	}
	switch s.step {
	case 0:
		if resp == nil && !s.askedFirst {
			// RFC 4954 4: no initial response; ask for
			// client-first-message with an empty challenge.
			s.askedFirst = true
			return []byte{}, false, nil
		}
		ch, err := s.serverFirstMessage(ctx, string(resp))
		if err != nil {
			s.done = true
			return nil, true, err
		}
		s.step = 1
		return ch, false, nil
	case 1:
		ch, err := s.serverFinalMessage(string(resp))
		if err != nil {
			s.done = true
			return nil, true, err
		}
		s.step = 2
		return ch, false, nil
	}
	s.done = true
	if len(resp) != 0 {
		return nil, true, malformed(ScramSHA256, "non-empty reply to server-final-message")
	}
	return nil, true, nil
}

// serverFirstMessage parses client-first-message, looks the user up and
// builds server-first-message.
func (s *scramServer) serverFirstMessage(ctx context.Context, msg string) ([]byte, error) {
	// RFC 5802 7: gs2-header = gs2-cbind-flag "," [ authzid ] ","
	var rest string
	switch {
	case strings.HasPrefix(msg, "n,"), strings.HasPrefix(msg, "y,"):
		rest = msg[2:]
	case strings.HasPrefix(msg, "p="):
		// RFC 5802 6: channel binding needs SCRAM-SHA-256-PLUS, which
		// is not offered.
		return nil, malformed(ScramSHA256, "channel binding not supported")
	default:
		return nil, malformed(ScramSHA256, "bad gs2-cbind-flag")
	}
	comma := strings.IndexByte(rest, ',')
	if comma < 0 {
		return nil, malformed(ScramSHA256, "unterminated gs2-header")
	}
	var authzid string
	if az := rest[:comma]; az != "" {
		if !strings.HasPrefix(az, "a=") {
			return nil, malformed(ScramSHA256, "bad authzid")
		}
		var ok bool
		if authzid, ok = decodeSaslname(az[2:]); !ok || authzid == "" {
			return nil, malformed(ScramSHA256, "bad authzid")
		}
	}
	s.gs2Header = msg[:len(msg)-len(rest)+comma+1]
	s.clientFirstBare = rest[comma+1:]

	// RFC 5802 7: client-first-message-bare = [reserved-mext ","]
	//   username "," nonce ["," extensions]
	a := scramAttrs{s: s.clientFirstBare}
	if a.peek() == 'm' {
		// RFC 5802 5.1: the server MUST fail on "m".
		return nil, malformed(ScramSHA256, "mandatory extension not supported")
	}
	name, ok := a.next('n')
	if !ok {
		return nil, malformed(ScramSHA256, "missing username")
	}
	username, ok := decodeSaslname(name)
	if !ok || username == "" {
		return nil, malformed(ScramSHA256, "bad username")
	}
	cnonce, ok := a.next('r')
	if !ok || !validNonce(cnonce) {
		return nil, malformed(ScramSHA256, "bad client nonce")
	}
	if err := a.extensions(); err != nil {
		return nil, err
	}
	s.username = username
	if authzid != "" && authzid != username {
		return nil, &AuthError{Mechanism: ScramSHA256, Username: username,
			Err: fmt.Errorf("authorization identity %q is not the user name: %w", authzid, ErrAuthFailed)}
	}
	creds, err := s.lookup(ctx, username)
	switch {
	case err != nil && s.mockKey != nil && errors.Is(err, ErrAuthFailed):
		// RFC 5802 5.1, 9: no such user. Go on as for a real one and
		// fail at the proof, so that the exchange does not tell.
		creds, s.unknown = mockCredentials(s.mockKey, username), err
	case err != nil:
		return nil, &AuthError{Mechanism: ScramSHA256, Username: username, Err: err}
	}
	if creds.Iterations < 1 || creds.Iterations > MaxScramIterations || len(creds.Salt) == 0 ||
		len(creds.StoredKey) != sha256.Size || len(creds.ServerKey) != sha256.Size {
		return nil, &AuthError{Mechanism: ScramSHA256, Username: username,
			Err: errors.New("sasl: SCRAM-SHA-256: invalid stored credentials")}
	}
	s.creds = creds
	s.nonce = cnonce + s.newNonce()
	s.serverFirst = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(creds.Salt) +
		",i=" + strconv.Itoa(creds.Iterations)
	return []byte(s.serverFirst), nil
}

// serverFinalMessage parses client-final-message, checks the proof and
// builds server-final-message.
func (s *scramServer) serverFinalMessage(msg string) ([]byte, error) {
	// RFC 5802 7: client-final-message = client-final-message-without-proof
	//   "," proof; the proof is the last attribute and base64 has no comma.
	p := strings.LastIndex(msg, ",p=")
	if p < 0 {
		return nil, malformed(ScramSHA256, "missing proof")
	}
	withoutProof := msg[:p]
	proof, err := decodeB64(msg[p+3:])
	if err != nil || len(proof) != sha256.Size {
		return nil, malformed(ScramSHA256, "bad proof")
	}
	a := scramAttrs{s: withoutProof}
	cb, ok := a.next('c')
	if !ok {
		return nil, malformed(ScramSHA256, "missing channel binding")
	}
	// RFC 5802 7: without channel binding, c= is the base64 GS2 header
	// the client sent first.
	cbData, err := decodeB64(cb)
	if err != nil || string(cbData) != s.gs2Header {
		return nil, malformed(ScramSHA256, "channel binding does not match the gs2-header")
	}
	nonce, ok := a.next('r')
	if !ok || nonce != s.nonce {
		return nil, malformed(ScramSHA256, "nonce does not match")
	}
	if err := a.extensions(); err != nil {
		return nil, err
	}
	authMessage := s.clientFirstBare + "," + s.serverFirst + "," + withoutProof
	// RFC 5802 3: ClientKey := ClientProof XOR ClientSignature; the proof
	// holds when H(ClientKey) equals StoredKey.
	key := hmacSHA256(s.creds.StoredKey, authMessage)
	for i := range key {
		key[i] ^= proof[i]
	}
	sum := sha256.Sum256(key)
	if ok := hmac.Equal(sum[:], s.creds.StoredKey); !ok || s.unknown != nil {
		err := s.unknown // a mock user's proof never holds
		if err == nil {
			err = ErrAuthFailed
		}
		return nil, &AuthError{Mechanism: ScramSHA256, Username: s.username, Err: err}
	}
	return []byte("v=" + base64.StdEncoding.EncodeToString(hmacSHA256(s.creds.ServerKey, authMessage))), nil
}

// scramAttrs walks the comma-separated attribute=value list of a SCRAM
// message in order (RFC 5802 7).
type scramAttrs struct {
	s   string
	pos int
}

// peek returns the name of the next attribute, or 0 at the end.
func (a *scramAttrs) peek() byte {
	if a.pos < len(a.s) {
		return a.s[a.pos]
	}
	return 0
}

// next consumes the next attribute if its name is name and returns its
// value; ok is false otherwise.
func (a *scramAttrs) next(name byte) (value string, ok bool) {
	rest := a.s[a.pos:]
	if len(rest) < 2 || rest[0] != name || rest[1] != '=' {
		return "", false
	}
	end := strings.IndexByte(rest, ',')
	if end < 0 {
		end = len(rest)
	}
	value = rest[2:end]
	a.pos += end
	if a.pos < len(a.s) {
		a.pos++ // the comma
		if a.pos == len(a.s) {
			return "", false // trailing comma
		}
	}
	return value, true
}

// extensions consumes optional extension attributes up to the end: RFC
// 5802 7: attr-val = ALPHA "=" value, value = 1*value-char (UTF-8 except
// NUL and ","). Their content is ignored.
func (a *scramAttrs) extensions() error {
	for a.pos < len(a.s) {
		c := a.peek()
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return malformed(ScramSHA256, "bad attribute")
		}
		v, ok := a.next(c)
		if !ok || v == "" || strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v) {
			return malformed(ScramSHA256, "bad extension attribute")
		}
	}
	return nil
}

// validNonce reports whether s is a non-empty SCRAM nonce: RFC 5802 7:
// printable = %x21-2B / %x2D-7E.
func validNonce(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

// maxPositiveDigits bounds the digits parsePositive accepts, so that the
// value cannot overflow an int on any platform (999,999,999 < 2^31); it is
// far above MaxScramIterations.
const maxPositiveDigits = 9

// parsePositive parses RFC 5802 7 posit-number = %x31-39 *DIGIT.
func parsePositive(s string) (int, bool) {
	if s == "" || s[0] == '0' || len(s) > maxPositiveDigits {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// decodeB64 decodes padded standard base64 (RFC 4648 4), refusing the CR
// and LF that encoding/base64 would silently skip.
func decodeB64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, base64.CorruptInputError(strings.IndexAny(s, "\r\n"))
	}
	return base64.StdEncoding.Strict().DecodeString(s)
}

// encodeSaslname escapes a user name for SCRAM and the GS2 header: RFC
// 5802 5.1: "," becomes "=2C" and "=" becomes "=3D".
func encodeSaslname(name string) string {
	if !strings.ContainsAny(name, ",=") {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case ',':
			b.WriteString("=2C")
		case '=':
			b.WriteString("=3D")
		default:
			b.WriteByte(name[i])
		}
	}
	return b.String()
}

// decodeSaslname reverses encodeSaslname. RFC 5802 5.1: "=" not followed
// by "2C" or "3D" is an error; saslname is UTF-8 without NUL or ",".
func decodeSaslname(s string) (string, bool) {
	if !utf8.ValidString(s) || strings.ContainsAny(s, "\x00,") {
		return "", false
	}
	if strings.IndexByte(s, '=') < 0 {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", false
		}
		i += 2
	}
	return b.String(), true
}
