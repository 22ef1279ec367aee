package ratelimit_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/ratelimit"
	"github.com/reactivation/reactivation/internal/testenv"
)

// TestBurstThenRefusedThenRefilled: a key gets its burst at once, then a
// refusal with the wait until one request refills; another key has its
// own budget; the decision queued in a pipeline is the same decision.
func TestBurstThenRefusedThenRefilled(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	ctx := context.Background()
	l := ratelimit.New(rdb, testenv.Name("rl_")+":", ratelimit.Limit{Rate: 60, Burst: 3, Period: 6 * time.Second}) // one every 100 ms
	for i := range 3 {
		res, err := l.Allow(ctx, "k1")
		require.NoError(t, err)
		require.True(t, res.Allowed, "request %d of the burst", i+1)
		require.Equal(t, 2-i, res.Remaining)
		require.Positive(t, res.ResetAfter)
	}
	res, err := l.Allow(ctx, "k1")
	require.NoError(t, err)
	require.False(t, res.Allowed, "over the burst")
	require.Greater(t, res.RetryAfter, 50*time.Millisecond)
	require.LessOrEqual(t, res.RetryAfter, 100*time.Millisecond)

	other, err := l.Allow(ctx, "k2")
	require.NoError(t, err)
	require.True(t, other.Allowed, "another key's budget is its own")

	time.Sleep(res.RetryAfter + 10*time.Millisecond)
	var pending ratelimit.Pending
	_, err = rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		pending = l.Queue(ctx, p, "k1")
		return nil
	})
	require.NoError(t, err)
	res, err = pending.Result()
	require.NoError(t, err)
	require.True(t, res.Allowed, "one request refilled")
	require.Equal(t, 0, res.Remaining)
}

// TestQueuedOnARedisWithoutTheScript: a pipelined decision on a Redis
// that does not hold the script (restarted; here a private redis-server,
// so the shared one's scripts stay) says so (NoScript); Allow loads it,
// and the next pipelined decision works.
func TestQueuedOnARedisWithoutTheScript(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	srv := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	require.NoError(t, srv.Start(), "redis-server must be installed (deploy/local/services.sh installs it)")
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	for deadline := time.Now().Add(10 * time.Second); rdb.Ping(ctx).Err() != nil; time.Sleep(50 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "private redis-server did not start")
	}
	l := ratelimit.New(rdb, "rl:", ratelimit.Limit{Rate: 10, Burst: 10, Period: time.Minute})
	queued := func() (ratelimit.Result, error) {
		var pending ratelimit.Pending
		_, _ = rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			pending = l.Queue(ctx, p, "k")
			return nil
		})
		return pending.Result()
	}
	_, err = queued()
	require.True(t, ratelimit.NoScript(err), "%v", err)
	res, err := l.Allow(ctx, "k")
	require.NoError(t, err)
	require.True(t, res.Allowed)
	res, err = queued()
	require.NoError(t, err)
	require.True(t, res.Allowed)
	require.Equal(t, 8, res.Remaining)
}
