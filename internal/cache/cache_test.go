package cache_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/cache"
	"github.com/reactivation/reactivation/internal/testenv"
)

type testBundle struct {
	rdb   *redis.Client
	cache *cache.Cache
}

// setup gives the test a Redis database of its own and a cache on it.
func setup(t *testing.T) *testBundle {
	t.Helper()
	rdb := testenv.Redis(t)
	return &testBundle{rdb: rdb, cache: cache.New(rdb, testenv.Name("alias_"), time.Minute)}
}

func constant(gen string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return gen, nil }
}

func TestVersionMovesWithPromotionsAndChanges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	v1, err := b.cache.Version(ctx, constant("g1"))
	require.NoError(t, err)
	again, err := b.cache.Version(ctx, constant("ignored: the generation is cached"))
	require.NoError(t, err)
	require.Equal(t, v1, again)

	require.NoError(t, b.cache.Changed(ctx))
	v2, err := b.cache.Version(ctx, constant("g1"))
	require.NoError(t, err)
	require.NotEqual(t, v1, v2, "an upsert makes new keys")

	require.NoError(t, b.cache.Promoted(ctx, "g2"))
	v3, err := b.cache.Version(ctx, constant("g1"))
	require.NoError(t, err)
	require.NotEqual(t, v2, v3, "a promotion makes new keys")
	require.Contains(t, v3, "g2")
}

func TestDoComputesOnceAndServesHits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var calls atomic.Int32
	compute := func(context.Context) ([]byte, error) {
		calls.Add(1)
		time.Sleep(50 * time.Millisecond) // long enough for the callers to meet
		return []byte("answer"), nil
	}
	key := cache.Key("tenant", "filter")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			v, hit, err := b.cache.Do(ctx, key, false, compute)
			require.NoError(t, err)
			require.False(t, hit)
			require.Equal(t, "answer", string(v))
		})
	}
	wg.Wait()
	require.Equal(t, int32(1), calls.Load(), "identical misses in one process are computed once")

	v, hit, err := b.cache.Do(ctx, key, false, compute)
	require.NoError(t, err)
	require.True(t, hit)
	require.Equal(t, "answer", string(v))

	_, hit, err = b.cache.Do(ctx, key, true, func(context.Context) ([]byte, error) { return []byte("fresh"), nil })
	require.NoError(t, err)
	require.False(t, hit, "fresh skips the stored value")
	v, hit, err = b.cache.Do(ctx, key, false, compute)
	require.NoError(t, err)
	require.True(t, hit)
	require.Equal(t, "fresh", string(v), "and replaces it")
}

func TestComputeErrorsAreNotCached(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	key := cache.Key("k")
	boom := errors.New("engine down")
	_, _, err := b.cache.Do(ctx, key, false, func(context.Context) ([]byte, error) { return nil, boom })
	require.ErrorIs(t, err, boom)
	v, hit, err := b.cache.Do(ctx, key, false, func(context.Context) ([]byte, error) { return []byte("ok"), nil })
	require.NoError(t, err)
	require.False(t, hit)
	require.Equal(t, "ok", string(v))
}

func TestRedisDownIsUnavailableForVersionButNotForDo(t *testing.T) {
	t.Parallel()
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { dead.Close() })
	c := cache.New(dead, "alias", time.Minute)
	ctx := context.Background()
	_, err := c.Version(ctx, constant("g1"))
	require.ErrorIs(t, err, cache.ErrUnavailable)
	v, hit, err := c.Do(ctx, cache.Key("k"), false, func(context.Context) ([]byte, error) { return []byte("computed"), nil })
	require.NoError(t, err, "the cache is an optimisation")
	require.False(t, hit)
	require.Equal(t, "computed", string(v))
}

func TestKeyIsStableAndSeparatesParts(t *testing.T) {
	t.Parallel()
	require.Equal(t, cache.Key("a", "b"), cache.Key("a", "b"))
	require.NotEqual(t, cache.Key("ab", ""), cache.Key("a", "b"))
	require.Len(t, cache.Key("x"), 32)
}
