// Package pgtest runs a private PostgreSQL server for tests: initdb into a
// temporary directory, pg_ctl on a free loopback port with its Unix socket
// in that directory, stopped and removed when the test ends. It uses the
// server binaries of Debian's postgresql package (/usr/lib/postgresql/N/bin)
// or those named by $PG_BIN; without them the test is skipped, or fails
// when $CI is true. Run as root, the server runs as the user postgres
// (runuser), as PostgreSQL refuses to run as root.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// StartTimeout bounds initdb and each start or stop of the server.
const StartTimeout = 2 * time.Minute

// Server is a private PostgreSQL server.
type Server struct {
	bin  string // directory of initdb, pg_ctl, postgres
	dir  string // owns data/, the socket and the log
	data string
	Port int
	// runAs is "postgres" when the tests run as root.
	runAs string
	dbs   atomic.Int64
}

// binDir finds the server's binaries.
func binDir() string {
	if d := os.Getenv("PG_BIN"); d != "" {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// Missing says why no PostgreSQL server can run here, "" when one can.
func Missing() string {
	if binDir() == "" {
		return "PostgreSQL server binaries not found (apt-get install postgresql, or set PG_BIN)"
	}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			return "running as root and there is no user postgres to run the server as"
		}
		if _, err := exec.LookPath("runuser"); err != nil {
			return "running as root and runuser is missing"
		}
	}
	return ""
}

// Need skips the test (or fails it under CI=true) when no PostgreSQL
// server can run here.
func Need(t testing.TB) {
	t.Helper()
	why := Missing()
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true and " + why)
	}
	t.Skip(why)
}

// Start initialises and starts a server for the test; it is stopped
// (immediately) and removed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	Need(t)
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("PostgreSQL log (end):\n%s", s.Log())
		}
		s.Close()
	})
	return s
}

// New initialises and starts a server; Close stops and removes it.
func New() (*Server, error) {
	s := &Server{bin: binDir()}
	if why := Missing(); why != "" {
		return nil, errors.New(why)
	}
	if os.Geteuid() == 0 {
		s.runAs = "postgres"
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	s.dir, s.data = dir, filepath.Join(dir, "data")
	if s.runAs != "" {
		u, _ := user.Lookup(s.runAs)
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		// The server's user owns its directory and must reach it.
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if err := s.run("initdb", "-D", s.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-instructions"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if s.Port, err = freePort(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// Close stops the server at once and removes its files.
func (s *Server) Close() {
	s.pgctl("stop", "-m", "immediate")
	os.RemoveAll(s.dir)
}

// Log returns the end of the server's log.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "log"))
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// Start starts the (stopped) server again and waits until it accepts
// connections.
func (s *Server) Start() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200", s.Port, s.dir)
	return s.pgctl("start", "-w", "-t", strconv.Itoa(int(StartTimeout.Seconds())), "-o", opts, "-l", filepath.Join(s.dir, "log"))
}

// Stop stops the server: mode "fast" (a clean shutdown) or "immediate"
// (as a crash: no checkpoint, recovery from the WAL at the next start).
func (s *Server) Stop(mode string) error {
	return s.pgctl("stop", "-w", "-m", mode)
}

func (s *Server) pgctl(args ...string) error {
	return s.run("pg_ctl", append([]string{"-D", s.data}, args...)...)
}

// run runs one of the server's programs as the server's user.
func (s *Server) run(prog string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	path := filepath.Join(s.bin, prog)
	var cmd *exec.Cmd
	if s.runAs != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", s.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = s.dir
	cmd.WaitDelay = time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s\nserver log:\n%s", prog, strings.Join(args, " "), err, out, s.Log())
	}
	return nil
}

// URL returns the URL of database db on the server (TCP on loopback).
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

// NewDatabase creates a fresh database and returns its URL.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("relay%d", s.dbs.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return s.URL(name)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
