package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the request header that carries the signature:
//
//	X-Smtpkit-Signature: t=1767225600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd
//
// t is the time of signing in Unix seconds; each v1 is the lower-case hex
// HMAC-SHA256, under one of the secrets, of the ASCII decimal t, a period
// and the request body exactly as sent: HMAC(secret, "1767225600." + body).
// Signing the time with the body lets a receiver refuse a request replayed
// later (Verify, with a tolerance); every attempt of a delivery is signed
// afresh, so a retry is not mistaken for a replay.
const SignatureHeader = "X-Smtpkit-Signature"

// Other headers of a delivery.
const (
	// IDHeader carries the queue ID of the message, for the receiver's
	// logs. It is not signed, and the requests of a message for several
	// domains share it: a receiver drops repeated deliveries by the
	// payload's delivery_id, in the signed body.
	IDHeader = "X-Smtpkit-Id"
	// AttemptHeader carries the attempt number, 1 for the first.
	AttemptHeader = "X-Smtpkit-Attempt"
)

// DefaultTolerance is how far from the receiver's clock a signature's
// time may be, either way, for Verify to accept it: long enough for clock
// skew and a slow network, short enough that a captured request is soon
// useless.
const DefaultTolerance = 5 * time.Minute

// MinSecretLength is the shortest secret ParseSecrets accepts. A secret
// should be random: 32 hexadecimal digits are 128 bits; 16 are the least
// accepted, against a secret a person would type.
const MinSecretLength = 16

// ParseSecrets reads the secrets of a secret file: one a line, blank lines
// and lines starting with '#' ignored, surrounding white space removed.
// The first signs; all of them sign, so that a receiver can move to a new
// secret before the old one is removed (list the new one first).
func ParseSecrets(data []byte) ([][]byte, error) {
	var out [][]byte
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if len(line) < MinSecretLength {
			// The error names the line, never the secret.
			return nil, fmt.Errorf("line %d: a secret of %d characters is too short; use at least %d random ones (openssl rand -hex 32)",
				i+1, len(line), MinSecretLength)
		}
		out = append(out, []byte(line))
	}
	if len(out) == 0 {
		return nil, errors.New("no secret in the file")
	}
	return out, nil
}

// mac returns the hex HMAC-SHA256 of "t.body" under secret.
func mac(secret []byte, t int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(strconv.AppendInt(nil, t, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Sign returns the value of the SignatureHeader for body signed at time t
// with each secret.
func Sign(secrets [][]byte, t time.Time, body []byte) string {
	ts := t.Unix()
	var b strings.Builder
	b.WriteString("t=")
	b.WriteString(strconv.FormatInt(ts, 10))
	for _, s := range secrets {
		b.WriteString(",v1=")
		b.WriteString(mac(s, ts, body))
	}
	return b.String()
}

// Errors of Verify.
var (
	// ErrNoSignature: the header is missing or has no v1 signature.
	ErrNoSignature = errors.New("webhook: no signature")
	// ErrMalformed: the header does not have the t=...,v1=... form.
	ErrMalformed = errors.New("webhook: malformed signature header")
	// ErrTimestamp: the signature's time is outside the tolerance: a
	// replayed request, or clocks far apart.
	ErrTimestamp = errors.New("webhook: signature time outside the tolerance")
	// ErrMismatch: no signature matches the body under any secret.
	ErrMismatch = errors.New("webhook: signature does not match")
)

// Verify checks a SignatureHeader value against the body received: the
// time must be within tolerance of now (DefaultTolerance when zero), and
// one v1 signature must be the HMAC of "t.body" under one of secrets,
// compared in constant time. A receiver that must also refuse a replay
// within the tolerance remembers the payload's delivery_id values (in the
// signed body) it has accepted for that long.
func Verify(header string, body []byte, secrets [][]byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if header == "" {
		return ErrNoSignature
	}
	var ts int64 = -1
	var sigs [][]byte
	for item := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return ErrMalformed
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || ts >= 0 {
				return ErrMalformed
			}
			ts = n
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return ErrMalformed
			}
			sigs = append(sigs, sig)
		}
		// Other schemes are ignored: a later version can add its own
		// next to v1.
	}
	if ts < 0 {
		return ErrMalformed
	}
	if len(sigs) == 0 {
		return ErrNoSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrTimestamp
	}
	for _, secret := range secrets {
		want, _ := hex.DecodeString(mac(secret, ts, body))
		for _, sig := range sigs {
			if hmac.Equal(sig, want) {
				return nil
			}
		}
	}
	return ErrMismatch
}
