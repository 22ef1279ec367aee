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
	alias string
	cache *cache.Cache
}

// setup gives the test a Redis database of its own and a cache on it.
func setup(t *testing.T) *testBundle {
	t.Helper()
	rdb := testenv.Redis(t)
	alias := testenv.Name("alias_")
	return &testBundle{rdb: rdb, alias: alias, cache: cache.New(rdb, alias, time.Minute)}
}

func constant(gen string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return gen, nil }
}

// computed answers v, counted as total when counted.
func computed(v string, total int64, counted bool) func(context.Context) (cache.Computed, error) {
	return func(context.Context) (cache.Computed, error) {
		return cache.Computed{Response: []byte(v), Total: total, Counted: counted}, nil
	}
}

func TestVersionMovesWithPromotionsAndChanges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	s := cache.Search{Response: cache.Key("r"), Total: cache.Key("t")}
	e1, err := b.cache.Lookup(ctx, constant("g1"), s, false, nil)
	require.NoError(t, err)
	require.Equal(t, "g1/", e1.Version)
	again, err := b.cache.Lookup(ctx, constant("ignored: the generation is cached"), s, false, nil)
	require.NoError(t, err)
	require.Equal(t, e1.Version, again.Version)
	_, err = b.cache.Fill(ctx, s, e1, computed("answer", 7, true))
	require.NoError(t, err)
	hit, err := b.cache.Lookup(ctx, constant("g1"), s, false, nil)
	require.NoError(t, err)
	require.Equal(t, "answer", string(hit.Response))
	require.False(t, hit.Counted, "a hit reads no total: its response carries one")
	counted, err := b.cache.Lookup(ctx, constant("g1"), s, true, nil)
	require.NoError(t, err)
	require.True(t, counted.Counted, "a fresh lookup reads the total")
	require.Equal(t, int64(7), counted.Total)

	require.NoError(t, b.cache.Changed(ctx))
	e2, err := b.cache.Lookup(ctx, constant("g1"), s, false, nil)
	require.NoError(t, err)
	require.NotEqual(t, e1.Version, e2.Version, "an upsert makes new keys")
	require.Nil(t, e2.Response, "an upsert retires the stored response")
	require.False(t, e2.Counted, "and the stored total")

	require.NoError(t, b.cache.Promoted(ctx, "g2"))
	e3, err := b.cache.Lookup(ctx, constant("g1"), s, false, nil)
	require.NoError(t, err)
	require.NotEqual(t, e2.Version, e3.Version, "a promotion makes new keys")
	require.Contains(t, e3.Version, "g2")
}

func TestFillComputesOnceAndServesHits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var calls atomic.Int32
	compute := func(context.Context) (cache.Computed, error) {
		calls.Add(1)
		time.Sleep(50 * time.Millisecond) // long enough for the callers to meet
		return cache.Computed{Response: []byte("answer")}, nil
	}
	s := cache.Search{Response: cache.Key("tenant", "request"), Total: cache.Key("tenant", "filter")}
	miss, err := b.cache.Lookup(ctx, constant("g1"), s, false, nil)
	require.NoError(t, err)
	require.Nil(t, miss.Response)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			v, err := b.cache.Fill(ctx, s, miss, compute)
			require.NoError(t, err)
			require.Equal(t, "answer", string(v))
		})
	}
	wg.Wait()
	require.Equal(t, int32(1), calls.Load(), "identical misses in one process are computed once")

	hit, err := b.cache.Lookup(ctx, constant("g1"), s, false, nil)
	require.NoError(t, err)
	require.Equal(t, "answer", string(hit.Response))
	uncounted, err := b.cache.Lookup(ctx, constant("g1"), s, true, nil)
	require.NoError(t, err)
	require.False(t, uncounted.Counted, "an uncounted fill stores no total")

	fresh, err := b.cache.Lookup(ctx, constant("g1"), s, true, nil)
	require.NoError(t, err)
	require.Nil(t, fresh.Response, "fresh skips the stored value")
	_, err = b.cache.Fill(ctx, s, fresh, computed("fresh", 3, true))
	require.NoError(t, err)
	hit, err = b.cache.Lookup(ctx, constant("g1"), s, false, nil)
	require.NoError(t, err)
	require.Equal(t, "fresh", string(hit.Response), "and replaces it")

	// Another request of the same filter (another page) finds the total.
	page2 := cache.Search{Response: cache.Key("tenant", "request page 2"), Total: s.Total}
	other, err := b.cache.Lookup(ctx, constant("g1"), page2, false, nil)
	require.NoError(t, err)
	require.Nil(t, other.Response)
	require.True(t, other.Counted)
	require.Equal(t, int64(3), other.Total)
}

func TestComputeErrorsAreNotCached(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	s := cache.Search{Response: cache.Key("k"), Total: cache.Key("t")}
	e, err := b.cache.Lookup(ctx, constant("g1"), s, false, nil)
	require.NoError(t, err)
	boom := errors.New("engine down")
	_, err = b.cache.Fill(ctx, s, e, func(context.Context) (cache.Computed, error) { return cache.Computed{}, boom })
	require.ErrorIs(t, err, boom)
	e, err = b.cache.Lookup(ctx, constant("g1"), s, false, nil)
	require.NoError(t, err)
	require.Nil(t, e.Response)
	require.False(t, e.Counted)
}

func TestRedisDownIsUnavailable(t *testing.T) {
	t.Parallel()
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { dead.Close() })
	c := cache.New(dead, "alias", time.Minute)
	ctx := context.Background()
	s := cache.Search{Response: cache.Key("k"), Total: cache.Key("t")}
	_, err := c.Lookup(ctx, constant("g1"), s, false, nil)
	require.ErrorIs(t, err, cache.ErrUnavailable)
	v, err := c.Fill(ctx, s, cache.Entry{}, computed("computed", 1, true))
	require.NoError(t, err, "storing is an optimisation")
	require.Equal(t, "computed", string(v))
}

func TestKeyIsStableAndSeparatesParts(t *testing.T) {
	t.Parallel()
	require.Equal(t, cache.Key("a", "b"), cache.Key("a", "b"))
	require.NotEqual(t, cache.Key("ab", ""), cache.Key("a", "b"))
	require.Len(t, cache.Key("x"), 32)
}

// TestAnotherReplicasChangeIsSeen: a process guesses its entries are at
// the version it read last; when another process promoted or changed
// meanwhile, the entries still stored at the old version are not served:
// the lookup reads them again at the version it found.
func TestAnotherReplicasChangeIsSeen(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	other := cache.New(b.rdb, b.alias, time.Minute) // another replica's cache of the same alias
	s := cache.Search{Response: cache.Key("r"), Total: cache.Key("t")}
	e1, err := b.cache.Lookup(ctx, constant("g1"), s, false, nil)
	require.NoError(t, err)
	_, err = b.cache.Fill(ctx, s, e1, computed("old answer", 7, true))
	require.NoError(t, err)
	hit, err := b.cache.Lookup(ctx, constant("g1"), s, false, nil)
	require.NoError(t, err)
	require.Equal(t, "old answer", string(hit.Response), "this process guesses the version it read")

	require.NoError(t, other.Changed(ctx))
	after, err := b.cache.Lookup(ctx, constant("g1"), s, false, nil)
	require.NoError(t, err)
	require.Equal(t, "g1/1", after.Version)
	require.Nil(t, after.Response, "the old version's entry, still in Redis, is not served")
	require.False(t, after.Counted)
	_, err = other.Fill(ctx, s, after, computed("new answer", 8, true))
	require.NoError(t, err)

	require.NoError(t, other.Promoted(ctx, "g2"))
	promoted, err := b.cache.Lookup(ctx, constant("g2"), s, false, nil)
	require.NoError(t, err)
	require.Equal(t, "g2/1", promoted.Version)
	require.Nil(t, promoted.Response)
	again, err := b.cache.Lookup(ctx, constant("g2"), s, true, nil)
	require.NoError(t, err)
	require.Nil(t, again.Response, "a fresh lookup reads no response")
}
