// Package cache keeps search responses and exact totals in Redis. Keys
// carry the serving index generation and a change counter, so a finished
// sync or any write never serves a stale answer or total, and identical
// misses in one process are computed once.
package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// ErrUnavailable marks errors of Redis itself, as opposed to the search
// engine's: a caller may serve without the cache.
var ErrUnavailable = errors.New("the search cache (Redis) is unavailable")

// Cache is a Redis-backed response cache. Safe for concurrent use.
type Cache struct {
	rdb    *redis.Client
	ttl    time.Duration
	prefix string
	group  singleflight.Group
	// seen is the version ("gen/epoch") this process read last, the one
	// a lookup guesses its entries are at.
	seen atomic.Value
}

// New returns a cache of entries living ttl, namespaced by alias.
func New(rdb *redis.Client, alias string, ttl time.Duration) *Cache {
	return &Cache{rdb: rdb, ttl: ttl, prefix: "reactivation:search:" + alias + ":"}
}

// Promoted records a new serving generation; every older entry is dead.
func (c *Cache) Promoted(ctx context.Context, generation string) error {
	return c.rdb.Set(ctx, c.prefix+"generation", generation, 0).Err()
}

// Changed records that documents of the serving generation changed.
func (c *Cache) Changed(ctx context.Context) error {
	return c.rdb.Incr(ctx, c.prefix+"epoch").Err()
}

// Key hashes the parts of a request into a cache key.
func Key(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:16])
}
