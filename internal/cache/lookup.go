package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reactivation/reactivation/internal/metrics"
)

// Search names the two entries of one search, each a Key without the
// index version (Lookup adds it):
//   - Response: the tenant, the whole normalised request, the business
//     date;
//   - Total: the tenant, the filter alone (never its sort, size or cursor,
//     which do not change the count), the business date (day-relative
//     filters move at midnight).
type Search struct {
	Response string
	Total    string
}

// Entry is what Redis holds for one search at the serving version.
type Entry struct {
	// Version is the serving generation and change counter, "gen/epoch".
	Version string
	// Response is the stored response; nil when there is none, or when
	// the lookup was fresh.
	Response []byte
	// Total is the filter's exact total when Counted. It is read only
	// when Response is nil: a stored response carries its own total.
	Total   int64
	Counted bool
}

// Lookup returns the serving version and, at that version, the stored
// response (unless fresh: a client's Cache-Control: no-cache) or, when
// there is none, the filter's exact total. A hit costs one Redis round
// trip. current is the engine's serving generation, asked only before any
// is recorded. Redis failures are ErrUnavailable: a caller may then
// answer uncached.
//
// also, when not nil, adds the caller's own commands to the first round
// trip (the rate limit's decision): it is called once, and the caller
// reads its commands' results after Lookup returns, whatever Lookup
// answers.
func (c *Cache) Lookup(ctx context.Context, current func(context.Context) (string, error), s Search, fresh bool, also func(redis.Pipeliner)) (Entry, error) {
	e, ok, err := c.lookup(ctx, s, fresh, also)
	if err == nil && !ok {
		gen, gerr := current(ctx)
		if gerr != nil {
			return Entry{}, gerr
		}
		if err = c.rdb.SetNX(ctx, c.prefix+"generation", gen, 0).Err(); err == nil {
			e, _, err = c.lookup(ctx, s, fresh, nil)
		}
	}
	if err != nil {
		return Entry{}, fmt.Errorf("cache lookup: %w: %w", ErrUnavailable, err)
	}
	if !fresh {
		result := "miss"
		if e.Response != nil {
			result = "hit"
		}
		metrics.CacheRequests.WithLabelValues(result).Inc()
	}
	return e, nil
}

// lookupTimeout bounds a lookup: a Redis that has not answered by then is
// unavailable, and the search answers uncached at once instead of after
// the client's retries (a refused connection retried with backoff takes
// seconds, a pipeline twice as long).
const lookupTimeout = time.Second

// lookup reads, in one pipeline (with also's commands when also is not
// nil), the version (one MGET of generation and change counter) and the
// response stored at the version this process saw last (or, when fresh,
// the total there). An entry is keyed by its version and never changes,
// so what is read at the guessed version is right whenever the version
// read is the guess: no transaction is needed. A second round trip reads
// at the version read when it is not the guess (the first lookup of this
// process, or the first after a promotion or a change), and reads the
// total when the response is missing. It answers false when no generation
// is recorded yet.
//
// It was a Lua script building the keys from the version it read: Redis
// spent 44 us a call copying a 24 kB response through Lua, against 0.8 us
// for a GET of it (redis-benchmark, this machine). It was then a
// MULTI/EXEC that also read the total on every hit.
func (c *Cache) lookup(ctx context.Context, s Search, fresh bool, also func(redis.Pipeliner)) (Entry, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	guess, _ := c.seen.Load().(string)
	var version *redis.SliceCmd
	var response, total *redis.StringCmd
	_, _ = c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if also != nil {
			also(p)
		}
		version = p.MGet(ctx, c.prefix+"generation", c.prefix+"epoch")
		if guess != "" {
			if fresh {
				total = p.Get(ctx, c.totalKey(s, guess))
			} else {
				response = p.Get(ctx, c.responseKey(s, guess))
			}
		}
		return nil
	})
	v, err := version.Result()
	if err != nil {
		return Entry{}, false, err
	}
	if len(v) != 2 {
		return Entry{}, false, fmt.Errorf("the version's MGET answered %d values", len(v))
	}
	g, ok := v[0].(string)
	if !ok {
		return Entry{}, false, nil
	}
	ep, _ := v[1].(string)
	e := Entry{Version: g + "/" + ep}
	if e.Version != guess {
		c.seen.Store(e.Version)
		response, total = c.readEntries(ctx, s, e.Version, fresh)
	}
	if response != nil {
		if e.Response, err = response.Bytes(); err != nil && !errors.Is(err, redis.Nil) {
			return Entry{}, false, err
		}
		if e.Response != nil {
			return e, true, nil
		}
	}
	if total == nil {
		total = c.rdb.Get(ctx, c.totalKey(s, e.Version))
	}
	if n, err := total.Result(); err == nil {
		e.Total, err = strconv.ParseInt(n, 10, 64)
		e.Counted = err == nil
	} else if !errors.Is(err, redis.Nil) {
		return Entry{}, false, err
	}
	return e, true, nil
}

// readEntries reads the response (none when fresh) and the total of s at
// version, in one round trip.
func (c *Cache) readEntries(ctx context.Context, s Search, version string, fresh bool) (response, total *redis.StringCmd) {
	_, _ = c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if !fresh {
			response = p.Get(ctx, c.responseKey(s, version))
		}
		total = p.Get(ctx, c.totalKey(s, version))
		return nil
	})
	return response, total
}

func (c *Cache) responseKey(s Search, version string) string {
	return c.prefix + "r:" + s.Response + ":" + version
}

func (c *Cache) totalKey(s Search, version string) string {
	return c.prefix + "t:" + s.Total + ":" + version
}

// Computed is what a search computed on a miss: the response and, when
// the engine counted, the filter's exact total.
type Computed struct {
	Response []byte
	Total    int64
	Counted  bool
}

// Fill computes the response of a search whose Lookup e found none (or
// was fresh), once for identical misses in flight in this process, and
// stores it, and its total when counted, at e's version for the cache's
// TTL in one round trip. A Redis failure there is ignored (the next
// search computes again); a compute error is returned and nothing stored.
func (c *Cache) Fill(ctx context.Context, s Search, e Entry, compute func(context.Context) (Computed, error)) ([]byte, error) {
	key := c.responseKey(s, e.Version)
	v, err, _ := c.group.Do(key, func() (any, error) {
		ctx := context.WithoutCancel(ctx)
		out, err := compute(ctx)
		if err != nil {
			return nil, err
		}
		_, _ = c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, key, out.Response, c.ttl)
			if out.Counted {
				p.Set(ctx, c.totalKey(s, e.Version), out.Total, c.ttl)
			}
			return nil
		})
		return out.Response, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}
