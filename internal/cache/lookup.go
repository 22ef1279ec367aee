package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// lookup reads the version, then the response and total entries at that
// version, in one round trip. The keys are built inside the script from
// the version it reads (a single Redis or a Sentinel master, not Redis
// Cluster). It answers false when no generation is recorded yet.
var lookup = redis.NewScript(`
local gen = redis.call('GET', KEYS[1])
if not gen then return false end
local version = gen .. '/' .. (redis.call('GET', KEYS[2]) or '')
local response = false
if ARGV[3] == '0' then response = redis.call('GET', ARGV[1] .. version) end
return {version, response, redis.call('GET', ARGV[2] .. version)}
`)

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

// lookup runs the script, in one pipeline with also's commands when
// also is not nil; a Redis that lost the script (a restart, SCRIPT FLUSH)
// costs one more round trip that loads it.
func (c *Cache) lookup(ctx context.Context, s Search, fresh bool, also func(redis.Pipeliner)) (Entry, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	keys := []string{c.prefix + "generation", c.prefix + "epoch"}
	args := []any{c.responseKey(s, ""), c.totalKey(s, ""), skip(fresh)}
	var cmd *redis.Cmd
	if also == nil {
		cmd = lookup.Run(ctx, c.rdb, keys, args...)
	} else {
		// Each command's own error counts, not the pipeline's first.
		_, _ = c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			also(p)
			cmd = lookup.EvalSha(ctx, p, keys, args...)
			return nil
		})
		if err := cmd.Err(); err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			cmd = lookup.Run(ctx, c.rdb, keys, args...)
		}
	}
	res, err := cmd.Slice()
	if errors.Is(err, redis.Nil) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, err
	}
	if len(res) != 3 {
		return Entry{}, false, fmt.Errorf("lookup script answered %d values", len(res))
	}
	e := Entry{}
	e.Version, _ = res[0].(string)
	if v, ok := res[1].(string); ok {
		e.Response = []byte(v)
	}
	if v, ok := res[2].(string); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		e.Total, e.Counted = n, err == nil
	}
	return e, true, nil
}

// skip is the script's ARGV[3]: "1" skips the response.
func skip(fresh bool) string {
	if fresh {
		return "1"
	}
	return "0"
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
