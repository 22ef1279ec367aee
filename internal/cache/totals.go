package cache

import (
	"context"
	"strconv"
)

// Total returns the exact total stored under key by SetTotal. ok is false
// when there is none or Redis fails: the caller then counts.
//
// The key must carry everything a total depends on: the company scope,
// the filter (never its sort, size or cursor, which do not change the
// count), the index version (Version: a promotion or any incremental
// change makes a new one, so no write can leave a total stale) and the
// business date (day-relative filters move at midnight).
func (c *Cache) Total(ctx context.Context, key string) (total int64, ok bool) {
	v, err := c.rdb.Get(ctx, c.prefix+"t:"+key).Result()
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// SetTotal stores the exact total of key for the cache's TTL. A Redis
// failure is ignored: the next search counts again.
func (c *Cache) SetTotal(ctx context.Context, key string, total int64) {
	c.rdb.Set(ctx, c.prefix+"t:"+key, strconv.FormatInt(total, 10), c.ttl)
}
