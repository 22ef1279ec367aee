// Package idempotency remembers the first answer to a request sent with an
// Idempotency-Key, in PostgreSQL, so a client's retry (after a timeout, on
// any API replica) gets that answer again instead of a second creation.
package idempotency

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Config tunes a Store.
type Config struct {
	// TTL is how long an answer is replayed (default 24 hours).
	TTL time.Duration
	// Abandoned is how long a request may hold a key without answering
	// before another takes the key over: its process died (default 2 minutes).
	Abandoned time.Duration
	// Poll is how often a duplicate checks whether the first request has
	// answered (default 50 ms).
	Poll time.Duration
}

// Store keeps idempotency records. Safe for concurrent use.
type Store struct {
	db  *pgxpool.Pool
	cfg Config
}

// NewStore returns a store over the service database, defaults filled in.
func NewStore(db *pgxpool.Pool, cfg Config) *Store {
	if cfg.TTL <= 0 {
		cfg.TTL = 24 * time.Hour
	}
	if cfg.Abandoned <= 0 {
		cfg.Abandoned = 2 * time.Minute
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 50 * time.Millisecond
	}
	return &Store{db: db, cfg: cfg}
}

// Response is a stored answer.
type Response struct {
	Status      int
	Location    string
	ContentType string
	Body        []byte
}

// Errors of Begin.
var (
	// ErrMismatch: the key was used with another request (method, route or
	// body); it is never replayed for this one.
	ErrMismatch = errors.New("idempotency key reused with a different request")
	// ErrInFlight: the first request with the key is still being answered.
	ErrInFlight = errors.New("a request with this idempotency key is still being answered")
)

// Begin claims key of apiKeyID for a request whose hash is hash. It
// returns claimed true when the caller is first (it must then Complete or
// Release the key), or the stored response of the first request. A
// duplicate of a request still running waits up to wait for its answer,
// then fails with ErrInFlight; another request under the same key fails
// with ErrMismatch. Expired records and keys abandoned by a dead process
// are taken over.
func (s *Store) Begin(ctx context.Context, apiKeyID, key string, hash []byte, wait time.Duration) (resp *Response, claimed bool, err error) {
	deadline := time.Now().Add(wait)
	for {
		tag, err := s.db.Exec(ctx, `INSERT INTO idempotency_keys (api_key_id, key, request_hash, expires_at)
			VALUES ($1, $2, $3, now() + make_interval(secs => $4))
			ON CONFLICT (api_key_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, status = NULL,
				location = NULL, content_type = NULL, body = NULL, created_at = now(), expires_at = EXCLUDED.expires_at
			WHERE idempotency_keys.expires_at <= now()
			   OR (idempotency_keys.status IS NULL AND idempotency_keys.created_at < now() - make_interval(secs => $5))`,
			apiKeyID, key, hash, s.cfg.TTL.Seconds(), s.cfg.Abandoned.Seconds())
		if err != nil {
			return nil, false, fmt.Errorf("idempotency: claim key: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return nil, true, nil
		}
		var stored []byte
		var status *int
		var location, contentType *string
		var body []byte
		err = s.db.QueryRow(ctx, `SELECT request_hash, status, location, content_type, body FROM idempotency_keys
			WHERE api_key_id = $1 AND key = $2`, apiKeyID, key).Scan(&stored, &status, &location, &contentType, &body)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // released between the two statements: claim again
		}
		if err != nil {
			return nil, false, fmt.Errorf("idempotency: read key: %w", err)
		}
		if !bytes.Equal(stored, hash) {
			return nil, false, ErrMismatch
		}
		if status != nil {
			r := &Response{Status: *status, Body: body}
			if location != nil {
				r.Location = *location
			}
			if contentType != nil {
				r.ContentType = *contentType
			}
			return r, false, nil
		}
		if time.Now().After(deadline) {
			return nil, false, ErrInFlight
		}
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-time.After(s.cfg.Poll):
		}
	}
}

// Complete stores the answer to the request that claimed key.
func (s *Store) Complete(ctx context.Context, apiKeyID, key string, r Response) error {
	_, err := s.db.Exec(ctx, `UPDATE idempotency_keys SET status = $3, location = NULLIF($4, ''),
		content_type = NULLIF($5, ''), body = $6 WHERE api_key_id = $1 AND key = $2`,
		apiKeyID, key, r.Status, r.Location, r.ContentType, r.Body)
	if err != nil {
		return fmt.Errorf("idempotency: store answer: %w", err)
	}
	return nil
}

// Release forgets a claimed key whose request got no answer worth
// replaying (a transient failure): the client's retry runs afresh.
func (s *Store) Release(ctx context.Context, apiKeyID, key string) error {
	_, err := s.db.Exec(ctx, "DELETE FROM idempotency_keys WHERE api_key_id = $1 AND key = $2 AND status IS NULL", apiKeyID, key)
	if err != nil {
		return fmt.Errorf("idempotency: release key: %w", err)
	}
	return nil
}

// DeleteExpired removes the records past their TTL and reports how many.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	tag, err := s.db.Exec(ctx, "DELETE FROM idempotency_keys WHERE expires_at <= now()")
	if err != nil {
		return 0, fmt.Errorf("idempotency: delete expired: %w", err)
	}
	return tag.RowsAffected(), nil
}
