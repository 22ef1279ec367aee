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
	// Total is the filter's exact total when Counted.
	Total   int64
	Counted bool
}

// Lookup returns the serving version and, at that version, the stored
// response (unless fresh: a client's Cache-Control: no-cache) and the
// filter's exact total, in one Redis round trip. current is the engine's
// serving generation, asked only before any is recorded. Redis failures
// are ErrUnavailable: a caller may then answer uncached.
//
// also, when not nil, adds the caller's own commands to the same pipeline
// (the rate limit's decision): it is called once, and the caller reads its
// commands' results after Lookup returns, whatever Lookup answers.
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

// lookup reads the version and, at the version this process saw last, the
// response and total entries, in one MULTI/EXEC (one round trip, one
// atomic read, with also's commands when also is not nil). When the
// version read is not the one guessed (the first lookup of this process,
// or the first after a promotion or a change) the entries are read again
// at the version read, in a second round trip. It answers false when no
// generation is recorded yet.
//
// It was a Lua script building the keys from the version it read: Redis
// spent 44 us a call copying a 24 kB response through Lua, against 0.8 us
// for a GET of it (redis-benchmark, this machine).
func (c *Cache) lookup(ctx context.Context, s Search, fresh bool, also func(redis.Pipeliner)) (Entry, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	guess, _ := c.seen.Load().(string)
	var gen, epoch, response, total *redis.StringCmd
	_, _ = c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if also != nil {
			also(p)
		}
		gen, epoch = p.Get(ctx, c.prefix+"generation"), p.Get(ctx, c.prefix+"epoch")
		if guess != "" {
			response, total = c.queueEntries(ctx, p, s, guess, fresh)
		}
		return nil
	})
	g, err := gen.Result()
	if errors.Is(err, redis.Nil) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, err
	}
	ep, err := epoch.Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return Entry{}, false, err
	}
	version := g + "/" + ep
	if version != guess {
		c.seen.Store(version)
		_, _ = c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			response, total = c.queueEntries(ctx, p, s, version, fresh)
			return nil
		})
	}
	e := Entry{Version: version}
	if response != nil {
		b, err := response.Bytes()
		if err != nil && !errors.Is(err, redis.Nil) {
			return Entry{}, false, err
		}
		e.Response = b
	}
	if v, err := total.Result(); err == nil {
		n, perr := strconv.ParseInt(v, 10, 64)
		e.Total, e.Counted = n, perr == nil
	} else if !errors.Is(err, redis.Nil) {
		return Entry{}, false, err
	}
	return e, true, nil
}

// queueEntries queues the reads of the response (none when fresh) and the
// total of s at version.
func (c *Cache) queueEntries(ctx context.Context, p redis.Pipeliner, s Search, version string, fresh bool) (response, total *redis.StringCmd) {
	if !fresh {
		response = p.Get(ctx, c.responseKey(s, version))
	}
	return response, p.Get(ctx, c.totalKey(s, version))
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
