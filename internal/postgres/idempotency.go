package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/idempotency"
)

// Idempotency keeps the idempotency_keys table (idempotency.Repository).
// Safe for concurrent use.
type Idempotency struct{ db *pgxpool.Pool }

var _ idempotency.Repository = (*Idempotency)(nil)

// NewIdempotency returns the idempotency repository of the service database.
func NewIdempotency(db *pgxpool.Pool) *Idempotency { return &Idempotency{db: db} }

// Claim implements idempotency.Repository in one statement, so two
// replicas racing for a key cannot both win it.
func (r *Idempotency) Claim(ctx context.Context, apiKeyID, key string, hash []byte, ttl, abandoned time.Duration) (bool, error) {
	tag, err := conn(ctx, r.db).Exec(ctx, `INSERT INTO idempotency_keys (api_key_id, key, request_hash, expires_at)
		VALUES ($1, $2, $3, now() + make_interval(secs => $4))
		ON CONFLICT (api_key_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, status = NULL,
			location = NULL, content_type = NULL, body = NULL, created_at = now(), expires_at = EXCLUDED.expires_at
		WHERE idempotency_keys.expires_at <= now()
		   OR (idempotency_keys.status IS NULL AND idempotency_keys.created_at < now() - make_interval(secs => $5))`,
		apiKeyID, key, hash, ttl.Seconds(), abandoned.Seconds())
	if err != nil {
		return false, translate(err, "claim idempotency key")
	}
	return tag.RowsAffected() == 1, nil
}

// Lookup implements idempotency.Repository.
func (r *Idempotency) Lookup(ctx context.Context, apiKeyID, key string) (idempotency.Record, error) {
	var rec idempotency.Record
	var status *int
	var location, contentType *string
	var body []byte
	err := conn(ctx, r.db).QueryRow(ctx, `SELECT request_hash, status, location, content_type, body FROM idempotency_keys
		WHERE api_key_id = $1 AND key = $2`, apiKeyID, key).Scan(&rec.RequestHash, &status, &location, &contentType, &body)
	if err != nil {
		return rec, notFound(err, "read idempotency key", errs.E(errs.NotFound, "no such idempotency key"))
	}
	if status != nil {
		rec.Response = &idempotency.Response{Status: *status, Body: body}
		if location != nil {
			rec.Response.Location = *location
		}
		if contentType != nil {
			rec.Response.ContentType = *contentType
		}
	}
	return rec, nil
}

// Answer implements idempotency.Repository.
func (r *Idempotency) Answer(ctx context.Context, apiKeyID, key string, resp idempotency.Response) error {
	_, err := conn(ctx, r.db).Exec(ctx, `UPDATE idempotency_keys SET status = $3, location = NULLIF($4, ''),
		content_type = NULLIF($5, ''), body = $6 WHERE api_key_id = $1 AND key = $2`,
		apiKeyID, key, resp.Status, resp.Location, resp.ContentType, resp.Body)
	return translate(err, "answer idempotency key")
}

// Unclaim implements idempotency.Repository.
func (r *Idempotency) Unclaim(ctx context.Context, apiKeyID, key string) error {
	_, err := conn(ctx, r.db).Exec(ctx, "DELETE FROM idempotency_keys WHERE api_key_id = $1 AND key = $2 AND status IS NULL", apiKeyID, key)
	return translate(err, "release idempotency key")
}

// DeleteExpired implements idempotency.Repository.
func (r *Idempotency) DeleteExpired(ctx context.Context) (int64, error) {
	tag, err := conn(ctx, r.db).Exec(ctx, "DELETE FROM idempotency_keys WHERE expires_at <= now()")
	if err != nil {
		return 0, translate(err, "delete expired idempotency keys")
	}
	return tag.RowsAffected(), nil
}
