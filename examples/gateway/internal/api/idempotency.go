package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/smtpkit/smtp/examples/gateway/internal/records"
)

// States of an idempotency record. A record is written pending, with the
// queue ID, before the message is committed, and marked committed after:
// so a crash in between leaves a pending record whose message the queue
// either has (it was committed: the key must not queue it again) or has
// not (it was not: the key is free).
const (
	statePending   = "pending"
	stateCommitted = "committed"
)

// idemRecord is what is kept of a request with an Idempotency-Key.
type idemRecord struct {
	ID          string    `json:"id"`
	MessageID   string    `json:"message_id"`
	Fingerprint string    `json:"fingerprint"`
	State       string    `json:"state"`
	Created     time.Time `json:"created"`
}

// idemRequest is a request with an Idempotency-Key being handled.
type idemRequest struct {
	// name is the record's name: the SHA-256 of the caller's token hash
	// and the key, so that two callers' keys never meet, and no key is
	// written to disk.
	name string
	rec  idemRecord
}

// idemName is the record name of a caller's key.
func idemName(caller tokenKey, key string) string {
	sum := sha256.Sum256(append(caller[:], key...))
	return hex.EncodeToString(sum[:])
}

// validKey reports whether an Idempotency-Key is usable: 1 to
// MaxIdempotencyKey printable ASCII characters (UUIDs, ULIDs and the like).
func validKey(k string) bool {
	if k == "" || len(k) > MaxIdempotencyKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < ' ' || k[i] > '~' {
			return false
		}
	}
	return true
}

// beginIdempotent looks the key up. done is true when it has answered the
// request: the key's earlier answer given again (202, with
// Idempotent-Replayed), 422 for a key used with another request, 409 for
// a key whose first request is still being handled (the IETF draft's
// codes). Otherwise the request goes on, holding the key until
// endIdempotent.
func (h *Handler) beginIdempotent(w http.ResponseWriter, ctx context.Context, caller tokenKey, key, fp string) (ir *idemRequest, done bool) {
	ir = &idemRequest{name: idemName(caller, key)}
	h.mu.Lock()
	busy := h.inflight[ir.name]
	if !busy {
		h.inflight[ir.name] = true
	}
	h.mu.Unlock()
	if busy {
		writeError(w, http.StatusConflict, "Idempotency-Key", "a request with this key is being handled; try again")
		return nil, true
	}
	defer func() {
		if done {
			h.endIdempotent(ir)
		}
	}()
	var rec idemRecord
	err := h.cfg.Idempotency.Get(ir.name, &rec)
	switch {
	case errors.Is(err, records.ErrNotFound):
		return ir, false
	case err != nil:
		h.cfg.Log.Error("cannot read an idempotency record", "err", err)
		writeError(w, http.StatusInternalServerError, "", "cannot read the idempotency record")
		return ir, true
	case h.cfg.Now().Sub(rec.Created) > h.cfg.IdempotencyTTL:
		// Expired, and not pruned yet.
		return ir, false
	case rec.Fingerprint != fp:
		writeError(w, http.StatusUnprocessableEntity, "Idempotency-Key", "this key was used for another request")
		return ir, true
	case rec.State == statePending:
		ok, err := h.resolvePending(ctx, ir.name, &rec)
		if err != nil {
			h.cfg.Log.Error("cannot resolve an idempotency record", "err", err)
			writeError(w, http.StatusInternalServerError, "", "cannot read the queue")
			return ir, true
		}
		if !ok {
			return ir, false
		}
	}
	w.Header().Set("Idempotent-Replayed", "true")
	w.Header().Set("Location", "/v1/messages/"+rec.ID)
	writeJSON(w, http.StatusAccepted, Accepted{ID: rec.ID, MessageID: rec.MessageID})
	return ir, true
}

// resolvePending settles a record left pending by a request that stopped
// before it ended: committed when the queue knows the message (it was
// committed), deleted when not (it never was). ok reports a committed
// message.
func (h *Handler) resolvePending(ctx context.Context, name string, rec *idemRecord) (ok bool, err error) {
	_, err = h.cfg.Queue.Status(ctx, rec.ID)
	if errors.Is(err, ErrNotFound) {
		return false, h.cfg.Idempotency.Delete(name)
	}
	if err != nil {
		return false, err
	}
	rec.State = stateCommitted
	return true, h.cfg.Idempotency.Put(name, rec)
}

func (h *Handler) endIdempotent(ir *idemRequest) {
	h.mu.Lock()
	delete(h.inflight, ir.name)
	h.mu.Unlock()
}

// Recover settles the idempotency records a crash left pending; the
// gateway calls it at start. It returns how many it found.
func (h *Handler) Recover(ctx context.Context) (int, error) {
	names, err := h.cfg.Idempotency.Names()
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, name := range names {
		var rec idemRecord
		if err := h.cfg.Idempotency.Get(name, &rec); err != nil {
			errs = append(errs, err)
			continue
		}
		if rec.State != statePending {
			continue
		}
		n++
		if _, err := h.resolvePending(ctx, name, &rec); err != nil {
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// Prune forgets the idempotency keys older than the TTL.
func (h *Handler) Prune() (int, error) {
	return h.cfg.Idempotency.Prune(h.cfg.Now().Add(-h.cfg.IdempotencyTTL))
}
