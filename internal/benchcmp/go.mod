module github.com/smtpkit/smtp/internal/benchcmp

go 1.26.8

require (
	github.com/emersion/go-smtp v0.25.1
	github.com/smtpkit/smtp v0.0.0-00010101000000-000000000000
)

require (
	github.com/emersion/go-sasl v0.0.0-20241020182733-b788ff22d5a6 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/text v0.43.0 // indirect
)

replace github.com/smtpkit/smtp => ../..
