package auth

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// DefaultKeyCacheTTL is API_KEY_CACHE_TTL's default: a key read from the
// repository is trusted for one second, so a revocation or a key deleted
// by another replica or the CLI refuses the key everywhere within a second.
const DefaultKeyCacheTTL = time.Second

// keyCache remembers keys read from the repository, by prefix, for ttl:
// the request path then costs no database round trip for a key in use.
// Only what the repository answered is kept (never an unknown prefix), and
// a secret is still checked against the stored hash on every request, so
// a cached entry never lets another secret through. Safe for concurrent
// use.
type keyCache struct {
	ttl   time.Duration
	mu    sync.RWMutex
	keys  map[string]cachedKey
	group singleflight.Group
}

type cachedKey struct {
	key     StoredKey
	expires time.Time
}

// get returns the key of prefix, from memory while it is younger than
// ttl, else read once (concurrent misses of a prefix share one read).
func (c *keyCache) get(ctx context.Context, prefix string, read func(context.Context, string) (StoredKey, error)) (StoredKey, error) {
	now := time.Now()
	c.mu.RLock()
	e, ok := c.keys[prefix]
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.key, nil
	}
	v, err, _ := c.group.Do(prefix, func() (any, error) {
		sk, err := read(context.WithoutCancel(ctx), prefix)
		if err != nil {
			c.forget(prefix)
			return StoredKey{}, err
		}
		c.mu.Lock()
		c.keys[prefix] = cachedKey{key: sk, expires: time.Now().Add(c.ttl)}
		c.mu.Unlock()
		return sk, nil
	})
	if err != nil {
		return StoredKey{}, err
	}
	return v.(StoredKey), nil
}

// touched records in the cached entry of prefix that its key was used at
// t, so the next requests within ttl do not record it again.
func (c *keyCache) touched(prefix string, t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.keys[prefix]; ok {
		e.key.LastUsedAt = &t
		c.keys[prefix] = e
	}
}

// forget drops prefix: this process refuses a key it revoked or deleted
// at once, not ttl later.
func (c *keyCache) forget(prefix string) {
	c.mu.Lock()
	delete(c.keys, prefix)
	c.mu.Unlock()
}

// forgetAll drops every entry.
func (c *keyCache) forgetAll() {
	c.mu.Lock()
	clear(c.keys)
	c.mu.Unlock()
}
