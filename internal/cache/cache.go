// Package cache keeps search responses in Redis. Keys carry the serving
// index generation and a change counter, so a finished sync never serves a
// stale answer, and identical misses in one process are computed once.
package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/reactivation/reactivation/internal/metrics"
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
}

// New returns a cache of entries living ttl, namespaced by alias.
func New(rdb *redis.Client, alias string, ttl time.Duration) *Cache {
	return &Cache{rdb: rdb, ttl: ttl, prefix: "reactivation:search:" + alias + ":"}
}

// Version is what the index serves now: its generation and how many
// incremental changes it has taken. Any change makes new keys.
func (c *Cache) Version(ctx context.Context, current func(context.Context) (string, error)) (string, error) {
	vals, err := c.rdb.MGet(ctx, c.prefix+"generation", c.prefix+"epoch").Result()
	if err != nil {
		return "", fmt.Errorf("cache version: %w: %w", ErrUnavailable, err)
	}
	gen, _ := vals[0].(string)
	epoch, _ := vals[1].(string)
	if gen == "" {
		if gen, err = current(ctx); err != nil {
			return "", err
		}
		c.rdb.SetNX(ctx, c.prefix+"generation", gen, 0)
	}
	return gen + "/" + epoch, nil
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

// Do returns the cached value of key, or computes, stores and returns it.
// hit reports whether it came from Redis. A Redis failure is not an error:
// the value is computed (the cache is an optimisation).
//
// With fresh, the stored value is not read (a client's Cache-Control:
// no-cache) but the computed one still replaces it.
func (c *Cache) Do(ctx context.Context, key string, fresh bool, compute func(context.Context) ([]byte, error)) (value []byte, hit bool, err error) {
	full := c.prefix + "r:" + key
	if !fresh {
		b, err := c.rdb.Get(ctx, full).Bytes()
		if err == nil {
			metrics.CacheRequests.WithLabelValues("hit").Inc()
			return b, true, nil
		}
		if !errors.Is(err, redis.Nil) && ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
	}
	metrics.CacheRequests.WithLabelValues("miss").Inc()
	v, err, _ := c.group.Do(full, func() (any, error) {
		b, err := compute(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
		c.rdb.Set(context.WithoutCancel(ctx), full, b, c.ttl)
		return b, nil
	})
	if err != nil {
		return nil, false, err
	}
	return v.([]byte), false, nil
}
