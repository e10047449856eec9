package cli

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"testing"
)

type testConfig struct{ n int }

func parseTest(args []string, stderr io.Writer) (*testConfig, error) {
	c := &testConfig{}
	fs := flag.NewFlagSet("prog", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.n, "n", 1, "a number")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, errors.New("unexpected argument " + fs.Arg(0))
	}
	return c, nil
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		ok     bool
		status int
		n      int
		stderr string // a part of what is printed, "" for nothing
	}{
		{args: nil, ok: true, n: 1},
		{args: []string{"-n", "7"}, ok: true, n: 7},
		{args: []string{"-h"}, status: StatusOK, stderr: "Usage of prog"},
		{args: []string{"-help"}, status: StatusOK, stderr: "-n int"},
		{args: []string{"-x"}, status: StatusUsage, stderr: "prog: flag provided but not defined: -x"},
		{args: []string{"extra"}, status: StatusUsage, stderr: "prog: unexpected argument extra\n"},
	} {
		var stderr bytes.Buffer
		cfg, status, ok := parseArgs("prog", tc.args, &stderr, parseTest)
		if ok != tc.ok || status != tc.status {
			t.Errorf("%q: ok %v status %d, want %v %d", tc.args, ok, status, tc.ok, tc.status)
		}
		if ok && cfg.n != tc.n {
			t.Errorf("%q: n = %d, want %d", tc.args, cfg.n, tc.n)
		}
		if got := stderr.String(); tc.stderr == "" && got != "" || !bytes.Contains(stderr.Bytes(), []byte(tc.stderr)) {
			t.Errorf("%q: stderr %q, want it to contain %q", tc.args, got, tc.stderr)
		}
	}
}

func TestReport(t *testing.T) {
	var stderr bytes.Buffer
	if s := report("prog", &stderr, nil); s != StatusOK || stderr.Len() != 0 {
		t.Errorf("nil error: status %d, printed %q", s, stderr.String())
	}
	if s := report("prog", &stderr, errors.New("queue locked")); s != StatusError || stderr.String() != "prog: queue locked\n" {
		t.Errorf("error: status %d, printed %q", s, stderr.String())
	}
}
