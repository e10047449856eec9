package sasl_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/smtpkit/smtp/internal/sasl"
)

func ExampleChoose() {
	offered := []string{"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256", "XOAUTH2"}
	fmt.Println(sasl.Choose(offered, sasl.PasswordMechanisms()))
	fmt.Println(sasl.Choose(offered, sasl.TokenMechanisms()))
	fmt.Println(sasl.Choose([]string{"GSSAPI"}, sasl.PasswordMechanisms()) == "")
	// Output:
	// SCRAM-SHA-256
	// XOAUTH2
	// true
}

func ExampleNewPlainServer() {
	srv := sasl.NewPlainServer(func(ctx context.Context, identity, username, password string) error {
		if username != "alice" || password != "secret" {
			return sasl.ErrAuthFailed // 535 5.7.8
		}
		return nil
	})
	// "AUTH PLAIN AGFsaWNlAHdyb25n": the SMTP layer decodes the base64.
	ir, _ := base64.StdEncoding.DecodeString("AGFsaWNlAHdyb25n")
	_, done, err := srv.Next(context.Background(), ir)
	var ae *sasl.AuthError
	fmt.Println(done, errors.As(err, &ae), errors.Is(err, sasl.ErrAuthFailed), ae.Temporary())
	// Output: true true true false
}

// A backend stores SCRAM keys instead of passwords; client and server then
// run the exchange, each message travelling base64-encoded in SMTP.
func ExampleNewScramSHA256Server() {
	stored, err := sasl.NewScramCredentials("pencil", nil, 4096)
	if err != nil {
		panic(err)
	}
	srv := sasl.NewScramSHA256Server(func(ctx context.Context, username string) (sasl.Credentials, error) {
		if username != "user" {
			return sasl.Credentials{}, sasl.ErrAuthFailed
		}
		return stored, nil
	})
	cl := sasl.NewScramSHA256Client("user", "pencil")

	ctx := context.Background()
	msg, err := cl.Start()
	if err != nil {
		panic(err)
	}
	ch, done, err := srv.Next(ctx, msg)
	for steps := 1; !done; steps++ {
		fmt.Println("334 challenge", steps)
		if msg, err = cl.Next(ch); err != nil {
			fmt.Println("client cancels:", err) // SMTP: send "*"
			return
		}
		ch, done, err = srv.Next(ctx, msg)
	}
	fmt.Println("authenticated:", err == nil)
	// Output:
	// 334 challenge 1
	// 334 challenge 2
	// authenticated: true
}
