// Package webhook posts inbound mail to HTTP receivers for the gateway:
// the JSON payload, its HMAC-SHA256 signature with a timestamp (Sign,
// Verify), and a client that classifies each answer as delivered, to
// retry, or refused.
//
// The client follows no redirect, reads a bounded part of a response, and
// bounds each attempt in time. Its classification: a 2xx is delivered;
// 408, 429, any 5xx, a 3xx and no response at all (a network error, a
// timeout) are transient, to be retried; any other 4xx is a refusal, for
// which the sender gets a bounce.
package webhook
