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

	"github.com/reactivation/reactivation/internal/errs"
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

// Record is a stored claim: the hash of the request that made it and its
// answer, nil while that request runs.
type Record struct {
	RequestHash []byte
	Response    *Response
}

// Repository keeps the records. The postgres adapter implements it.
type Repository interface {
	// Claim records key of apiKeyID for a request whose hash is hash and
	// reports whether it did: a key is free when it was never used, its
	// record is older than ttl, or its request holds it unanswered for
	// longer than abandoned.
	Claim(ctx context.Context, apiKeyID, key string, hash []byte, ttl, abandoned time.Duration) (bool, error)
	// Lookup returns the record of key; errs.NotFound when there is none.
	Lookup(ctx context.Context, apiKeyID, key string) (Record, error)
	// Answer stores the response of the claimed key.
	Answer(ctx context.Context, apiKeyID, key string, r Response) error
	// Unclaim deletes the record of key unless it holds an answer.
	Unclaim(ctx context.Context, apiKeyID, key string) error
	// DeleteExpired deletes the records past their TTL and counts them.
	DeleteExpired(ctx context.Context) (int64, error)
}

// Store keeps idempotency records. Safe for concurrent use.
type Store struct {
	repo Repository
	cfg  Config
}

// NewStore returns a store over repo, defaults filled in.
func NewStore(repo Repository, cfg Config) *Store {
	if cfg.TTL <= 0 {
		cfg.TTL = 24 * time.Hour
	}
	if cfg.Abandoned <= 0 {
		cfg.Abandoned = 2 * time.Minute
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 50 * time.Millisecond
	}
	return &Store{repo: repo, cfg: cfg}
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
		claimed, err := s.repo.Claim(ctx, apiKeyID, key, hash, s.cfg.TTL, s.cfg.Abandoned)
		if err != nil {
			return nil, false, fmt.Errorf("idempotency: claim key: %w", err)
		}
		if claimed {
			return nil, true, nil
		}
		rec, err := s.repo.Lookup(ctx, apiKeyID, key)
		if errs.Is(err, errs.NotFound) {
			continue // released between the two statements: claim again
		}
		if err != nil {
			return nil, false, fmt.Errorf("idempotency: read key: %w", err)
		}
		if !bytes.Equal(rec.RequestHash, hash) {
			return nil, false, ErrMismatch
		}
		if rec.Response != nil {
			return rec.Response, false, nil
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
	if err := s.repo.Answer(ctx, apiKeyID, key, r); err != nil {
		return fmt.Errorf("idempotency: store answer: %w", err)
	}
	return nil
}

// Release forgets a claimed key whose request got no answer worth
// replaying (a transient failure): the client's retry runs afresh.
func (s *Store) Release(ctx context.Context, apiKeyID, key string) error {
	if err := s.repo.Unclaim(ctx, apiKeyID, key); err != nil {
		return fmt.Errorf("idempotency: release key: %w", err)
	}
	return nil
}

// DeleteExpired removes the records past their TTL and reports how many.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	n, err := s.repo.DeleteExpired(ctx)
	if err != nil {
		return 0, fmt.Errorf("idempotency: delete expired: %w", err)
	}
	return n, nil
}
