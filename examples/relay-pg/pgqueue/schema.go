package pgqueue

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// schemaLock is the key of the advisory lock (pg_advisory_xact_lock) held
// while the schema is created or migrated, so that relays starting at the
// same moment do it one after the other: the first creates, the others
// find it done. ("smtpkit" in ASCII.)
const schemaLock = 0x736d74706b6974

// migrations are the schema versions in order: migrations[i] takes the
// database from version i to i+1. The version is in smtpkit_relay_schema.
var migrations = []string{
	// 1: messages, their bytes in chunks, claims with leases.
	`CREATE SEQUENCE smtpkit_relay_claim;
	CREATE TABLE smtpkit_relay_queue (
		id           text PRIMARY KEY,
		-- the envelope and per-recipient delivery state (queue.Message);
		-- next_attempt and held below are authoritative over its copies
		state        jsonb NOT NULL,
		size         bigint NOT NULL,
		created      timestamptz NOT NULL,
		next_attempt timestamptz NOT NULL,
		held         boolean NOT NULL DEFAULT false,
		-- the claim: a token from smtpkit_relay_claim, the relay holding
		-- it, and when it expires unless renewed; NULL when unclaimed
		claim        bigint,
		claimed_by   text,
		lease_until  timestamptz,
		-- an operator's command that came during a claim, applied when
		-- the claim ends: '', 'flush' or 'requeue'
		op           text NOT NULL DEFAULT ''
	);
	CREATE INDEX smtpkit_relay_queue_due ON smtpkit_relay_queue (next_attempt) WHERE NOT held;
	CREATE TABLE smtpkit_relay_data (
		id    text NOT NULL REFERENCES smtpkit_relay_queue (id) ON DELETE CASCADE,
		seq   integer NOT NULL,
		chunk bytea NOT NULL,
		PRIMARY KEY (id, seq)
	);`,
	// 2: the state may hold "requiretls" (RFC 8689) and "prefix" (the
	// DKIM-Signature fields made at intake). No column changes, but a
	// relay that does not know them would send a REQUIRETLS message over
	// any path, and a signed one unsigned: with the version raised, such
	// a relay refuses to start on this queue ("upgrade the relay").
	`COMMENT ON COLUMN smtpkit_relay_queue.state IS
		'queue.Message as JSON: envelope (requiretls: RFC 8689), DKIM-Signature prefix, per-recipient state';`,
}

// SchemaVersion is the schema version this relay writes.
var SchemaVersion = len(migrations)

// migrate creates the schema or brings it to SchemaVersion, under the
// advisory lock, in one transaction: a relay that fails half-way leaves
// the previous version.
func migrate(ctx context.Context, pool *pgxpool.Pool) (from int, err error) {
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(schemaLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS smtpkit_relay_schema (version integer NOT NULL)"); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*), coalesce(max(version), 0) FROM smtpkit_relay_schema").Scan(&n, &from); err != nil {
			return err
		}
		if from > SchemaVersion {
			return fmt.Errorf("the queue's schema is version %d, newer than this relay's %d: upgrade the relay", from, SchemaVersion)
		}
		for v := from; v < SchemaVersion; v++ {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return fmt.Errorf("schema version %d: %w", v+1, err)
			}
		}
		if n == 0 {
			_, err = tx.Exec(ctx, "INSERT INTO smtpkit_relay_schema (version) VALUES ($1)", SchemaVersion)
		} else {
			_, err = tx.Exec(ctx, "UPDATE smtpkit_relay_schema SET version = $1", SchemaVersion)
		}
		return err
	})
	return from, err
}
