package sasl

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// fuzzMaxCalls bounds the calls a fuzzed exchange may take: no mechanism
// has more than four steps, so one that is not done by then loops.
const fuzzMaxCalls = 6

// driveFuzz feeds msgs to s (missing ones as empty messages) until it is
// done and checks the invariants every server keeps: it ends, never returns
// an error with done false, classifies every error, refuses a message after
// the end, and succeeds only when accepted says the credentials were good.
func driveFuzz(t *testing.T, s Server, msgs [][]byte, accepted func() bool) {
	ctx := context.Background()
	var (
		ch   []byte
		done bool
		err  error
	)
	for i := 0; !done; i++ {
		if i == fuzzMaxCalls {
			t.Fatalf("exchange not done after %d calls", i)
		}
		msg := []byte{}
		if i < len(msgs) {
			msg = msgs[i]
		}
		ch, done, err = s.Next(ctx, msg)
		if err != nil && !done {
			t.Fatalf("error %v with done=false", err)
		}
		if !done && len(ch) > MaxMessageSize {
			t.Fatalf("challenge of %d octets", len(ch))
		}
	}
	var me *MalformedError
	var ae *AuthError
	switch {
	case err == nil:
		if ch != nil {
			t.Fatalf("challenge %q with success", ch)
		}
		if !accepted() {
			t.Fatal("success without good credentials")
		}
	case errors.As(err, &me):
		if me.Mechanism == "" || me.Reason == "" {
			t.Fatalf("incomplete MalformedError %#v", me)
		}
	case errors.As(err, &ae):
		if !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("auth error %v does not wrap ErrAuthFailed", err)
		}
	default:
		t.Fatalf("unclassified error %T %v", err, err)
	}
	if _, d, err := s.Next(ctx, []byte("more")); !d || !errors.As(err, &me) {
		t.Fatalf("Next after the end: done=%v err=%v", d, err)
	}
}

// fuzzMsgs turns the fuzzer's inputs into messages; noIR makes the first
// one nil (AUTH without an initial response).
func fuzzMsgs(noIR bool, parts ...[]byte) [][]byte {
	if noIR {
		return append([][]byte{nil}, parts...)
	}
	return parts
}

func FuzzPlainServer(f *testing.F) {
	f.Add(false, []byte("\x00u\x00p"), []byte(nil))
	f.Add(true, []byte("\x00u\x00p"), []byte(nil))
	f.Add(false, []byte("admin\x00u\x00p"), []byte(nil))
	f.Add(false, []byte("test\x00test\x001234"), []byte(nil))
	f.Add(false, []byte("\x00\x00"), []byte("x"))
	f.Add(false, []byte("\xff\x00u\x00p"), []byte(nil))
	f.Fuzz(func(t *testing.T, noIR bool, a, b []byte) {
		ok := false
		s := NewPlainServer(func(_ context.Context, id, u, p string) error {
			if strings.IndexByte(id+u+p, 0) >= 0 || u == "" || p == "" {
				t.Fatalf("callback got invalid fields %q %q %q", id, u, p)
			}
			ok = u == "u" && p == "p"
			if !ok {
				return ErrAuthFailed
			}
			return nil
		})
		driveFuzz(t, s, fuzzMsgs(noIR, a, b), func() bool { return ok })
	})
}

func FuzzLoginServer(f *testing.F) {
	f.Add(false, []byte("u"), []byte("p"), []byte(nil))
	f.Add(true, []byte("u"), []byte("p"), []byte(nil))
	f.Add(true, []byte(""), []byte("p"), []byte(nil))
	f.Add(false, []byte("u\x00"), []byte("\xff"), []byte("x"))
	f.Fuzz(func(t *testing.T, noIR bool, a, b, c []byte) {
		ok := false
		s := NewLoginServer(func(_ context.Context, u, p string) error {
			ok = u == "u" && p == "p"
			if !ok {
				return ErrAuthFailed
			}
			return nil
		})
		driveFuzz(t, s, fuzzMsgs(noIR, a, b, c), func() bool { return ok })
	})
}

func FuzzCramMD5Server(f *testing.F) {
	f.Add(true, []byte(rfc2195Response))
	f.Add(true, []byte("tim B913A602C7EDA7A495B4E6E7334D3890"))
	f.Add(true, []byte("tim b913a602c7eda7a495b4e6e7334d389"))
	f.Add(true, []byte("a b c 00000000000000000000000000000000"))
	f.Add(false, []byte("tim"))
	f.Fuzz(func(t *testing.T, noIR bool, a []byte) {
		s := newTestCramServer(rfc2195Challenge)
		driveFuzz(t, s, fuzzMsgs(noIR, a), func() bool {
			return strings.EqualFold(string(a), rfc2195Response)
		})
	})
}

func FuzzScramServer(f *testing.F) {
	creds := rfc7677Credentials(f)
	f.Add(false, []byte(rfc7677ClientFirst), []byte(rfc7677ClientFinal), []byte(""))
	f.Add(true, []byte(rfc7677ClientFirst), []byte(rfc7677ClientFinal), []byte(""))
	f.Add(false, []byte("y,a=user,n=user,r="+rfc7677ClientNonce+",x=ext"), []byte(rfc7677ClientFinal), []byte("x"))
	f.Add(false, []byte("p=tls-unique,,n=user,r=abc"), []byte(""), []byte(""))
	f.Add(false, []byte("n,,m=x,n=us=2Cer,r=abc"), []byte(""), []byte(""))
	f.Add(false, []byte(rfc7677ClientFirst), []byte("c=biws,r=x,p=AAAA"), []byte(""))
	f.Add(false, []byte("n,,n=nobody,r="+rfc7677ClientNonce), []byte(rfc7677ClientFinal), []byte(""))
	f.Fuzz(func(t *testing.T, noIR bool, a, b, c []byte) {
		// Without and with mock credentials for unknown users.
		mock := newTestScramServer(creds)
		mock.mockKey = []byte("0123456789abcdef0123456789abcdef")
		for _, s := range []*scramServer{newTestScramServer(creds), mock} {
			driveFuzz(t, s, fuzzMsgs(noIR, a, b, c), func() bool {
				// Only the RFC 7677 proof (with any gs2 header
				// the server accepts) can succeed; it needs the
				// nonce, and the user "user".
				return strings.Contains(string(b), rfc7677ClientNonce+rfc7677ServerNonce)
			})
		}
	})
}

func FuzzXOAuth2Server(f *testing.F) {
	f.Add(false, []byte("user=u\x01auth=Bearer good\x01\x01"), []byte(nil))
	f.Add(true, []byte("user=u\x01auth=Bearer bad\x01\x01"), []byte(""))
	f.Add(false, []byte("auth=bearer  good\x01user=u\x01x=y\x01\x01"), []byte(nil))
	f.Add(false, []byte("user=\x01\x01"), []byte(nil))
	f.Fuzz(func(t *testing.T, noIR bool, a, b []byte) {
		var got [2]string
		s := recordOAuth(XOAuth2, &got)
		driveFuzz(t, s, fuzzMsgs(noIR, a, b), func() bool { return got[1] == "good" && got[0] != "" })
	})
}

func FuzzOAuthBearerServer(f *testing.F) {
	f.Add(false, []byte("n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer good\x01\x01"), []byte(nil))
	f.Add(true, []byte("n,,\x01auth=Bearer bad\x01\x01"), []byte("\x01"))
	f.Add(false, []byte("y,a=a=2Cb,\x01auth=Bearer good\x01\x01"), []byte(nil))
	f.Add(false, []byte("p=x,,\x01\x01"), []byte(nil))
	f.Add(false, []byte("\x01"), []byte(nil))
	f.Fuzz(func(t *testing.T, noIR bool, a, b []byte) {
		var got [2]string
		s := recordOAuth(OAuthBearer, &got)
		driveFuzz(t, s, fuzzMsgs(noIR, a, b), func() bool { return got[1] == "good" })
	})
}

// FuzzScramClient feeds hostile server messages to the SCRAM client: it
// must not panic, must classify its errors, and must accept a final
// message only when it carries the right server signature.
func FuzzScramClient(f *testing.F) {
	f.Add([]byte(rfc7677ServerFirst), []byte(rfc7677ServerFinal))
	f.Add([]byte(rfc7677ServerFirst+",x=1"), []byte(rfc7677ServerFinal+",y=2"))
	f.Add([]byte(rfc7677ServerFirst), []byte("e=invalid-proof"))
	f.Add([]byte("m=1,r=rOprNGfwEbeRWgbNEkqOx,s=AA==,i=4096"), []byte(""))
	f.Add([]byte("r=rOprNGfwEbeRWgbNEkqOx,s=AA==,i=1"), []byte(""))
	f.Fuzz(func(t *testing.T, first, final []byte) {
		c := newTestScramClient("user", "pencil")
		if _, err := c.Start(); err != nil {
			t.Fatal(err)
		}
		resp, err := c.Next(first)
		if err == nil {
			if !strings.HasPrefix(string(resp), "c=biws,r="+rfc7677ClientNonce) {
				t.Fatalf("bad client-final %q", resp)
			}
			resp, err = c.Next(final)
			if err == nil {
				if len(resp) != 0 {
					t.Fatalf("non-empty ack %q", resp)
				}
				if string(first) == rfc7677ServerFirst && !strings.HasPrefix(string(final), rfc7677ServerFinal) {
					t.Fatalf("accepted a forged server-final %q", final)
				}
			}
		}
		var me *MalformedError
		if err != nil && !errors.As(err, &me) && !errors.Is(err, ErrAuthFailed) && !errors.Is(err, ErrServerSignature) {
			t.Fatalf("unclassified error %T %v", err, err)
		}
	})
}
