package mta

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/smtpkit/smtp/examples/internal/durable"
	"github.com/smtpkit/smtp/examples/internal/queue"
)

// ControlTimeout is how long a control command waits for the relay that
// owns a disk queue to answer.
const ControlTimeout = 10 * time.Second

// maxRequestSize bounds a request or answer file read.
const maxRequestSize = 64 << 10

// controlRequest is an operator's command to the owner of a disk queue.
type controlRequest struct {
	Op Op     `json:"op"`
	ID string `json:"id"`
}

// controlResult is the owner's answer.
type controlResult struct {
	N        int    `json:"n"`
	Err      string `json:"err,omitempty"`
	NotFound bool   `json:"not_found,omitempty"`
}

// diskAdmin runs the operator's commands on a disk queue, whether a relay
// owns it or not: List reads the files without a lock; Control asks the
// owner (whose PID is in DIR/lock) through DIR/control, or, when no relay
// runs, takes the lock and changes the files itself.
type diskAdmin struct {
	dir string
	log *MailLog
	// timeout is how long to wait for the owner's answer; zero means
	// ControlTimeout.
	timeout time.Duration
}

func (a *diskAdmin) List(context.Context) ([]*queue.Message, error) { return queue.List(a.dir) }

func (a *diskAdmin) Close() error { return nil }

func (a *diskAdmin) Control(ctx context.Context, op Op, id string) (int, error) {
	if _, err := os.Stat(filepath.Join(a.dir, "state")); err != nil {
		return 0, fmt.Errorf("no queue in %s: %w", a.dir, err)
	}
	// Only the queue's owner changes it, running relay or not: files
	// another user (root) wrote would be unreadable to the relay.
	if err := queue.CheckPrivateDir(a.dir); err != nil {
		return 0, err
	}
	pid, owned, err := queue.Owner(a.dir)
	if err != nil {
		return 0, err
	}
	if !owned {
		q, err := queue.Open(a.dir)
		if err == nil {
			defer q.Close()
			d := &diskQueue{q: q, mlog: a.log, now: time.Now, claims: map[string]Op{}}
			d.log = discardLog()
			return d.control(op, id)
		}
		if !errors.Is(err, queue.ErrLocked) {
			return 0, err
		}
		pid, _, _ = queue.Owner(a.dir) // a relay started meanwhile
	}
	return a.ask(ctx, pid, controlRequest{Op: op, ID: id})
}

// ask hands req to the running relay and waits for its answer.
func (a *diskAdmin) ask(ctx context.Context, pid int, req controlRequest) (int, error) {
	dir := filepath.Join(a.dir, controlDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	var nonce [8]byte
	rand.Read(nonce[:])
	name := time.Now().UTC().Format("20060102T150405") + "." + hex.EncodeToString(nonce[:])
	if err := writeJSONFile(dir, name+".req", req); err != nil {
		return 0, err
	}
	resPath := filepath.Join(dir, name+".res")
	timeout := a.timeout
	if timeout <= 0 {
		timeout = ControlTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(ControlPollInterval / 4)
	defer tick.Stop()
	for {
		b, err := readLimited(resPath)
		if err == nil {
			os.Remove(resPath)
			var res controlResult
			if err := json.Unmarshal(b, &res); err != nil {
				return 0, fmt.Errorf("answer of the relay: %v", err)
			}
			switch {
			case res.NotFound:
				return res.N, fmt.Errorf("%s: %w", req.ID, ErrNotFound)
			case res.Err != "":
				return res.N, errors.New(res.Err)
			}
			return res.N, nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			// Take the request back, unless the relay took it already.
			if os.Remove(filepath.Join(dir, name+".req")) == nil {
				return 0, fmt.Errorf("the relay owning %s (pid %d) did not answer within %v; nothing was done", a.dir, pid, timeout)
			}
			return 0, fmt.Errorf("the relay owning %s (pid %d) took the request but did not answer within %v", a.dir, pid, timeout)
		}
	}
}

func readRequest(path string) (controlRequest, error) {
	var req controlRequest
	b, err := readLimited(path)
	if err != nil {
		return req, err
	}
	if err := json.Unmarshal(b, &req); err != nil {
		return req, fmt.Errorf("bad request %s: %v", filepath.Base(path), err)
	}
	return req, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxRequestSize))
}

// writeJSONFile writes v as dir/name with durable.WriteFile (a temporary
// file renamed into place), so the reader never sees a partial file.
func writeJSONFile(dir, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var disk durable.Disk
	return disk.WriteFile(filepath.Join(dir, "."+name+".tmp"), filepath.Join(dir, name), b)
}
