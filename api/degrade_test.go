package api_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/reactivation/reactivation/api"
	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/demo"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/internal/testenv"
	"github.com/reactivation/reactivation/workers"
)

// privateRedis is a redis-server of the test's own on a free loopback
// port, so stopping it touches nobody else's tests.
type privateRedis struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &privateRedis{t: t, port: port}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *privateRedis) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *privateRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	require.NoError(r.t, r.cmd.Start(), "redis-server must be installed (deploy/local/services.sh installs it)")
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port)})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		require.True(r.t, time.Now().Before(deadline), "private redis-server did not start")
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *privateRedis) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

// TestDegradation (below faultSetup) stops a real Redis (a private one) and cuts the real
// search engine (through a loopback proxy): reads that do not need the
// missing service keep answering, the rest answer 503 problems naming it,
// nothing hangs, and readiness stays 200 while PostgreSQL answers.
// faultBundle is an API over a private Redis and a cuttable engine, with
// an index, an export and a snapshot already built.
type faultBundle struct {
	*testBundle
	rdb                 *privateRedis
	engine              *testenv.Proxy
	comp1, admin        string
	exportID, segmentID string
}

func faultSetup(t *testing.T) *faultBundle {
	t.Helper()
	ctx := context.Background()
	rdb := startPrivateRedis(t)
	cfg := testenv.Config(t)
	cfg.RedisURL = rdb.url()
	engine := testenv.NewProxy(t, cfg.ElasticsearchURL)
	cfg.ElasticsearchURL = engine.URL()
	cfg.SyncShardSize = 100
	// One key drives the fault run's 32 clients: rate limits stay out of it.
	cfg.RateLimitPerMinute, cfg.RateLimitBurst = 1_000_000, 100_000
	require.NoError(t, cfg.Validate())
	pool, err := postgres.Open(ctx, cfg.DatabaseURL, 2)
	require.NoError(t, err)
	_, err = postgres.Migrate(ctx, pool)
	require.NoError(t, err)
	require.NoError(t, source.CreateSchema(ctx, pool))
	loc := cfg.Location
	y, m, d := time.Now().In(loc).Date()
	_, err = demo.Seed(ctx, pool, demo.Options{Customers: 300, Seed: 3, AsOf: time.Date(y, m, d, 0, 0, 0, 0, loc)})
	pool.Close()
	require.NoError(t, err)
	deps, err := app.Open(ctx, cfg, zaptest.NewLogger(t))
	require.NoError(t, err)
	t.Cleanup(deps.Close)
	srv := httptest.NewServer(api.New(deps.APIParams()).Handler())
	t.Cleanup(srv.Close)
	b := &testBundle{deps: deps, srv: srv}
	comp1, admin := b.key(t, "COMP001"), b.key(t, "")

	// A worker builds the index, an export and a snapshot, then stops.
	workerCtx, stopWorker := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- workers.New(deps.WorkerParams()).Run(workerCtx) }()
	wait := func(id string) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Minute)
		for {
			j, err := deps.Jobs.GetAny(ctx, id)
			require.NoError(t, err)
			if j.State.Final() {
				require.Equal(t, jobs.Succeeded, j.State, j.Error)
				return
			}
			require.True(t, time.Now().Before(deadline), "job %s still %s", id, j.State)
			time.Sleep(100 * time.Millisecond)
		}
	}
	res, body := b.do(t, "POST", "/api/v1/syncs", admin, map[string]any{"mode": "full"})
	require.Equal(t, 202, res.StatusCode, body)
	wait(body["jobId"].(string))
	res, body = b.do(t, "POST", "/api/v1/exports", comp1, map[string]any{"filter": map[string]any{}})
	require.Equal(t, 202, res.StatusCode, body)
	exportID := body["jobId"].(string)
	res, body = b.do(t, "POST", "/api/v1/segments/searches", comp1, map[string]any{"filter": map[string]any{}})
	require.Equal(t, 202, res.StatusCode, body)
	segmentID := body["jobId"].(string)
	wait(exportID)
	wait(segmentID)
	stopWorker()
	require.NoError(t, <-stopped)

	return &faultBundle{testBundle: b, rdb: rdb, engine: engine, comp1: comp1, admin: admin, exportID: exportID, segmentID: segmentID}
}

func TestDegradation(t *testing.T) {
	f := faultSetup(t)
	b, rdb, engine, comp1, admin, exportID, segmentID := f.testBundle, f.rdb, f.engine, f.comp1, f.admin, f.exportID, f.segmentID
	var res *http.Response
	var body map[string]any
	search := map[string]any{"city": "San José"}
	timed := func(method, path string, body any) (int, map[string]any, string, time.Duration) {
		t.Helper()
		start := time.Now()
		res, out := b.do(t, method, path, comp1, body)
		return res.StatusCode, out, res.Header.Get("X-Cache"), time.Since(start)
	}
	status, _, xcache, _ := timed("POST", "/api/v1/customers/search", search)
	require.Equal(t, 200, status)
	require.Equal(t, "MISS", xcache)
	downloads := func() {
		t.Helper()
		res, data := b.raw(t, "GET", "/api/v1/exports/"+exportID+"/download", comp1)
		require.Equal(t, 200, res.StatusCode, string(data))
		status, page, _, _ := timed("GET", "/api/v1/segments/searches/"+segmentID+"/results", nil)
		require.Equal(t, 200, status, page)
		status, job, _, _ := timed("GET", "/api/v1/jobs/"+exportID, nil)
		require.Equal(t, 200, status, job)
	}

	// Redis stops.
	rdb.stop()
	for range 5 {
		status, out, xcache, took := timed("POST", "/api/v1/customers/search", search)
		require.Equal(t, 200, status, out)
		require.Equal(t, "bypass", xcache)
		require.Less(t, took, 3*time.Second)
	}
	downloads()
	status, problem, _, took := timed("POST", "/api/v1/exports", map[string]any{"filter": map[string]any{}})
	require.Equal(t, 503, status, problem)
	require.Contains(t, problem["detail"], "Redis")
	require.Less(t, took, 10*time.Second)
	res, body = b.do(t, "GET", "/readyz", "", nil)
	require.Equal(t, 200, res.StatusCode, body)
	require.Equal(t, "degraded", body["status"])
	require.NotContains(t, fmt.Sprint(body), "127.0.0.1", "no addresses without an admin key")
	res, _ = b.do(t, "GET", "/readyz?strict=1", "", nil)
	require.Equal(t, 503, res.StatusCode)

	// Redis is back: cached again once the pause is over.
	rdb.start()
	require.Eventually(t, func() bool {
		_, _, xcache, _ := timed("POST", "/api/v1/customers/search", search)
		return xcache == "HIT" || xcache == "MISS"
	}, 10*time.Second, 200*time.Millisecond)
	res, body = b.do(t, "GET", "/readyz?strict=1", "", nil)
	require.Equal(t, 200, res.StatusCode, body)

	// The search engine is cut: search is a 503 naming it, PostgreSQL
	// routes still answer.
	engine.Cut()
	res, data := b.post(t, b.srv.URL, "/api/v1/customers/search", comp1, "", `{"city":"Heredia"}`)
	require.Equal(t, 503, res.StatusCode, data)
	require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	require.Contains(t, data, "search engine")
	require.NotContains(t, data, "127.0.0.1")
	downloads()
	res, body = b.do(t, "GET", "/readyz", "", nil)
	require.Equal(t, 200, res.StatusCode, body)
	require.Equal(t, "down", body["checks"].(map[string]any)["search"].(map[string]any)["status"])
	require.Nil(t, body["checks"].(map[string]any)["search"].(map[string]any)["error"], "no driver error without a key")
	require.NotContains(t, fmt.Sprint(body), "127.0.0.1")
	res, body = b.do(t, "GET", "/readyz", admin, nil)
	require.Equal(t, 200, res.StatusCode, body)
	require.NotEmpty(t, body["checks"].(map[string]any)["search"].(map[string]any)["error"], "an admin key sees the driver error")
	engine.Restore()
	require.Eventually(t, func() bool {
		res, _ := b.post(t, b.srv.URL, "/api/v1/customers/search", comp1, "", `{"city":"Heredia"}`)
		return res.StatusCode == 200
	}, 5*time.Second, 100*time.Millisecond, "full recovery within 5 s")
}
