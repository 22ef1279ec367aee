package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/export"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/segment"
)

// freePort is a loopback port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// redisHA is a primary, a replica and three sentinels on private loopback
// ports, started by deploy/local/services.sh sentinel-up.
type redisHA struct {
	primary, replica int
	sentinels        []int
	master           string
	env              []string
}

func startRedisHA(t *testing.T) *redisHA {
	t.Helper()
	ha := &redisHA{primary: freePort(t), replica: freePort(t), master: "e2e-" + strconv.Itoa(os.Getpid())}
	var ports []string
	for range 3 {
		ha.sentinels = append(ha.sentinels, freePort(t))
		ports = append(ports, strconv.Itoa(ha.sentinels[len(ha.sentinels)-1]))
	}
	ha.env = append(os.Environ(),
		"REDIS_HA_DIR="+t.TempDir(),
		fmt.Sprintf("REDIS_HA_PORT=%d", ha.primary),
		fmt.Sprintf("REDIS_HA_REPLICA_PORT=%d", ha.replica),
		"REDIS_HA_SENTINEL_PORTS="+strings.Join(ports, " "),
		"REDIS_HA_MASTER="+ha.master)
	ha.services(t, "sentinel-up")
	t.Cleanup(func() { ha.services(t, "sentinel-down") })
	return ha
}

func (ha *redisHA) services(t *testing.T, verb string) {
	cmd := exec.Command("../../deploy/local/services.sh", verb)
	cmd.Env = ha.env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "services.sh %s: %s", verb, out)
}

// sentinel asks the first sentinel a question with redis-cli.
func (ha *redisHA) sentinel(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("redis-cli", append([]string{"-p", strconv.Itoa(ha.sentinels[0]), "sentinel"}, args...)...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return strings.TrimSpace(string(out))
}

// masterPort is the port the sentinels say the master is on.
func (ha *redisHA) masterPort(t *testing.T) int {
	t.Helper()
	lines := strings.Fields(ha.sentinel(t, "get-master-addr-by-name", ha.master))
	require.Len(t, lines, 2)
	port, err := strconv.Atoi(lines[1])
	require.NoError(t, err)
	return port
}

// configure points cfg at the sentinels: REDIS_URL's host is not used.
func (ha *redisHA) configure(cfg *config.Config) {
	var addrs []string
	for _, p := range ha.sentinels {
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", p))
	}
	cfg.RedisURL = fmt.Sprintf("redis://127.0.0.1:%d/0", ha.primary)
	cfg.RedisSentinelAddrs = strings.Join(addrs, ",")
	cfg.RedisSentinelMaster = ha.master
}

// TestRedisSentinelFailover: with queues, cache and rate limits on a
// primary, a replica and three sentinels, two real worker processes and a
// scheduler (whose reaper ticks every 5 s) run a full sync of 3,000
// customers in 31 shards while an export is created every 200 ms; the
// sentinels promote the replica midway, without pausing anything. asynq
// replicates asynchronously, so the old primary's last writes (tasks,
// acknowledgements) may be lost: the reaper enqueues a vanished task again
// under its id. Every job still ends succeeded, once: each export has one
// audit entry and one complete file (its chunks, rows and checksum agree),
// every shard counted its documents once, and the index holds exactly the
// source's customers.
func TestRedisSentinelFailover(t *testing.T) {
	ha := startRedisHA(t)
	require.Equal(t, ha.primary, ha.masterPort(t))
	t.Setenv("REAPER_INTERVAL", "5s")
	b := setup(t, 3000, func(c *config.Config) {
		ha.configure(c)
		c.SyncShardSize = 100
	})
	start(t, b.cfg, "scheduler")
	for range 2 {
		start(t, b.cfg, "worker")
	}
	ctx := context.Background()
	// A first generation, so exports have an index to read from the start.
	first := waitJob(t, b.deps.Jobs, b.startSync(t, "full"), 4*time.Minute)
	require.Equal(t, jobs.Succeeded, first.State, first.Error)
	syncID := b.startSync(t, "full")

	var (
		mu      sync.Mutex
		exports []string
		refused []error
	)
	stop := make(chan struct{})
	streamDone := make(chan struct{})
	go func() {
		defer close(streamDone)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			f, err := segment.Decode([]byte(fmt.Sprintf(`{"companyId":"COMP00%d"}`, 1+i%3)))
			job := jobs.Job{}
			if err == nil {
				job, err = b.exports().Start(ctx, f, export.Options{Format: export.FormatNDJSON}, "e2e-key")
			}
			mu.Lock()
			if err != nil {
				// Refused while the master moves: the caller hears 503 and
				// no job runs behind its back.
				refused = append(refused, err)
			} else {
				exports = append(exports, job.ID)
			}
			mu.Unlock()
		}
	}()

	waitProgress(t, b.deps.Jobs, syncID, 5, 2*time.Minute)
	require.Equal(t, "OK", ha.sentinel(t, "failover", ha.master))
	deadline := time.Now().Add(30 * time.Second)
	for ha.masterPort(t) != ha.replica {
		require.True(t, time.Now().Before(deadline), "the replica was not promoted")
		time.Sleep(200 * time.Millisecond)
	}
	// Keep exporting for a while on the new master, then stop.
	time.Sleep(5 * time.Second)
	close(stop)
	<-streamDone

	j := waitJob(t, b.deps.Jobs, syncID, 4*time.Minute)
	require.Equal(t, jobs.Succeeded, j.State, j.Error)
	require.Equal(t, j.Progress.Total, j.Progress.Done, "every shard done")
	require.Equal(t, int64(31), j.Progress.Total, "30 shards of 100 and the last one")
	var shards, docs, indexed int64
	require.NoError(t, b.deps.DB.QueryRow(ctx, `SELECT count(*) FILTER (WHERE s.done), coalesce(sum(s.docs), 0), r.docs_indexed
		FROM sync_shards s JOIN sync_runs r USING (job_id) WHERE s.job_id = $1 GROUP BY r.docs_indexed`, syncID).Scan(&shards, &docs, &indexed))
	require.Equal(t, int64(31), shards)
	require.Equal(t, int64(3000), docs, "every customer indexed by exactly one shard")
	require.Equal(t, docs, indexed, "no shard counted twice")
	b.checkIndexMatchesSource(t)

	mu.Lock()
	ids := append([]string(nil), exports...)
	mu.Unlock()
	require.GreaterOrEqual(t, len(ids), 20, "exports before, during and after the failover")
	for _, err := range refused {
		require.True(t, errs.Is(err, errs.Unavailable), "only refused for Redis: %v", err)
	}
	for _, id := range ids {
		b.requireExportedOnce(t, id, 3*time.Minute)
	}
	var requeued int
	require.NoError(t, b.deps.DB.QueryRow(ctx, "SELECT coalesce(sum(requeues), 0) FROM job_tasks").Scan(&requeued))
	t.Logf("%d exports, %d refused while the master moved, %d tasks enqueued again by the reaper", len(ids), len(refused), requeued)
	require.Equal(t, ha.replica, ha.masterPort(t))
}
