package server_test

import (
	"encoding/base64"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/smtpkit/smtp/internal/sasl"
	"github.com/smtpkit/smtp/internal/smtptest"
	"github.com/smtpkit/smtp/server"
)

// authShape runs an AUTH exchange driven by cl and returns what the
// client saw, with the parts that differ between any two exchanges
// (nonces, CRAM-MD5's random challenge, a salt's bytes) replaced by their
// shape. With cancel, the client answers the first challenge with "*".
// salt receives SCRAM's salt, if any.
func authShape(t *testing.T, c *smtptest.Conn, cl sasl.Client, cancel bool, salt *string) []string {
	t.Helper()
	ir, err := cl.Start()
	if err != nil {
		t.Fatal(err)
	}
	cmd := "AUTH " + cl.Name()
	if ir != nil {
		cmd += " " + base64.StdEncoding.EncodeToString(ir)
	}
	c.Send(cmd + "\r\n")
	var shape []string
	for {
		r, err := c.ReadReply()
		if err != nil {
			t.Fatalf("AUTH %s: %v (got %q)", cl.Name(), err, r)
		}
		if !strings.HasPrefix(r, "334 ") {
			return append(shape, r)
		}
		ch, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r[4:]))
		if err != nil {
			t.Fatalf("challenge %q: %v", r, err)
		}
		shape = append(shape, "334 "+challengeShape(string(ch), salt))
		resp, err := cl.Next(ch)
		if err != nil || cancel {
			c.Send("*\r\n")
			cancel = false
			continue
		}
		c.Send(base64.StdEncoding.EncodeToString(resp) + "\r\n")
	}
}

var digitsRe = regexp.MustCompile(`[0-9]+`)

// challengeShape replaces the parts of a challenge that are random or
// per user by their form: SCRAM's server-first-message (RFC 5802 7) keeps
// the attribute names, the nonce's length, the salt's length and the
// iteration count; CRAM-MD5's "<random.time@host>" keeps its form.
func challengeShape(ch string, salt *string) string {
	if strings.HasPrefix(ch, "r=") {
		var out []string
		for _, a := range strings.Split(ch, ",") {
			name, v, _ := strings.Cut(a, "=")
			switch name {
			case "r":
				out = append(out, "r=<nonce of "+strconv.Itoa(len(v))+">")
			case "s":
				b, _ := base64.StdEncoding.DecodeString(v)
				*salt = v
				out = append(out, "s=<salt of "+strconv.Itoa(len(b))+" octets>")
			default:
				out = append(out, a)
			}
		}
		return strings.Join(out, ",")
	}
	return digitsRe.ReplaceAllString(ch, "#")
}

// TestAuthUnknownUserLooksLikeWrongPassword: no mechanism tells an unknown
// user from a known one with a wrong secret. SCRAM-SHA-256 answers an
// unknown user with a salt and iteration count of the same form, the same
// for each attempt, and fails at the proof (RFC 5802 5.1, 9); every
// mechanism then gives the same 535, after the same AuthFailureDelay, and
// counts it towards MaxAuthFailures the same way; a client that cancels
// after the first challenge gets the same answer for both.
func TestAuthUnknownUserLooksLikeWrongPassword(t *testing.T) {
	mechs := map[string]func(user string) sasl.Client{
		"PLAIN":         func(u string) sasl.Client { return sasl.NewPlainClient("", u, "wrong") },
		"LOGIN":         func(u string) sasl.Client { return sasl.NewLoginClient(u, "wrong") },
		"CRAM-MD5":      func(u string) sasl.Client { return sasl.NewCramMD5Client(u, "wrong") },
		"SCRAM-SHA-256": func(u string) sasl.Client { return sasl.NewScramSHA256Client(u, "wrong") },
		"XOAUTH2":       func(u string) sasl.Client { return sasl.NewXOAuth2Client(u, "wrong") },
		"OAUTHBEARER":   func(u string) sasl.Client { return sasl.NewOAuthBearerClient(u, "mx.test", 25, "wrong") },
	}
	for name, newClient := range mechs {
		t.Run(name, func(t *testing.T) {
			lb, _ := mechServerWith(t, nil, func(s *server.Server) { s.MaxAuthFailures = 3 })
			// One connection per user: cancel at the first challenge
			// (where there is one), then fail until the third failure
			// ends the connection.
			session := func(user string) (shape []string, salts []string) {
				c := dial(t, lb)
				c.Run("C: EHLO client\n" + ehloMechS)
				for failures, i := 0, 0; failures < 3 && i < 5; i++ {
					var salt string
					out := authShape(t, c, newClient(user), i == 0, &salt)
					shape = append(shape, out...)
					if strings.HasPrefix(out[len(out)-1], "535 ") {
						failures++
						salts = append(salts, salt)
					}
				}
				r, _ := c.ReadReply()
				shape = append(shape, r)
				if r, err := c.ReadReply(); err == nil {
					t.Errorf("%s: the connection goes on after three failures: %q", user, r)
				}
				return shape, salts
			}
			known, knownSalts := session("alice")
			unknown, unknownSalts := session("nobody")
			if strings.Join(known, "") != strings.Join(unknown, "") {
				t.Errorf("known user with a wrong secret:\n%q\nunknown user:\n%q", known, unknown)
			}
			if !strings.Contains(strings.Join(known, ""), "535 5.7.8") {
				t.Errorf("no 535 for a wrong secret: %q", known)
			}
			// A real salt is the same at every attempt: so is the mock's.
			for _, salts := range [][]string{knownSalts, unknownSalts} {
				for _, s := range salts {
					if s != salts[0] {
						t.Errorf("salts differ between attempts: %q", salts)
					}
				}
			}
			if name == "SCRAM-SHA-256" && (unknownSalts[0] == "" || unknownSalts[0] == knownSalts[0]) {
				t.Errorf("unknown user's salt %q, known user's %q", unknownSalts[0], knownSalts[0])
			}
		})
	}
}
