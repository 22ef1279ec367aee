package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/api"
	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/auth"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/internal/testenv"
	"github.com/reactivation/reactivation/tasks"
)

type testBundle struct {
	deps *app.App
	srv  *httptest.Server
}

func setup(t *testing.T) *testBundle { return setupWith(t, nil) }

// setupWith is setup with tune, when not nil, adjusting the configuration.
func setupWith(t *testing.T, tune func(*config.Config)) *testBundle {
	t.Helper()
	ctx := context.Background()
	cfg := testenv.Config(t)
	if tune != nil {
		tune(&cfg)
	}
	deps := testenv.App(t, cfg)
	// A company key's refresh reads the source to keep its own customers.
	require.NoError(t, source.CreateSchema(ctx, deps.Source))
	srv := httptest.NewServer(api.New(deps.APIParams()).Handler())
	t.Cleanup(srv.Close)
	return &testBundle{deps: deps, srv: srv}
}

// key creates a key; company "" makes an admin key.
func (b *testBundle) key(t *testing.T, company string, scopes ...auth.Scope) string {
	t.Helper()
	if len(scopes) == 0 {
		scopes = auth.AllScopes[:3]
	}
	_, secret, err := b.deps.Keys.Create(context.Background(), auth.NewKey{Name: "test", CompanyID: company, Admin: company == "", Scopes: scopes})
	require.NoError(t, err)
	return secret
}

func (b *testBundle) do(t *testing.T, method, path, key string, body any) (*http.Response, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		raw, ok := body.(string)
		if !ok {
			bb, err := json.Marshal(body)
			require.NoError(t, err)
			raw = string(bb)
		}
		r = strings.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.srv.URL+path, r)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var out map[string]any
	if len(bytes.TrimSpace(data)) > 0 && data[0] == '{' {
		require.NoError(t, json.Unmarshal(data, &out), string(data))
	}
	return res, out
}

func TestHealthAndReadiness(t *testing.T) {
	b := setup(t)
	res, _ := b.do(t, "GET", "/healthz", "", nil)
	require.Equal(t, 200, res.StatusCode)
	res, body := b.do(t, "GET", "/readyz", "", nil)
	require.Equal(t, 200, res.StatusCode, body)
	checks := body["checks"].(map[string]any)
	for _, dep := range []string{"postgres", "redis", "search"} {
		require.Equal(t, "up", checks[dep].(map[string]any)["status"], dep)
	}
	index := body["index"].(map[string]any)
	require.Equal(t, false, index["aliasExists"], "a fresh deployment has no index yet, and is ready anyway")
}

func TestReadinessFailsOnlyWithoutPostgres(t *testing.T) {
	b := setup(t)
	// Point the API's Redis client at a port nobody listens on: the real
	// client, failing for real. Redis down is degraded, not unready.
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { dead.Close() })
	b.deps.Redis = dead
	res, body := b.do(t, "GET", "/readyz", "", nil)
	require.Equal(t, 200, res.StatusCode, body)
	require.Equal(t, "degraded", body["status"])
	redisCheck := body["checks"].(map[string]any)["redis"].(map[string]any)
	require.Equal(t, "down", redisCheck["status"])
	require.Nil(t, redisCheck["error"], "no driver error text without an admin key")
	res, body = b.do(t, "GET", "/readyz?strict=1", "", nil)
	require.Equal(t, 503, res.StatusCode, body)
	res, body = b.do(t, "GET", "/readyz", b.key(t, ""), nil)
	require.Equal(t, 200, res.StatusCode, body)
	require.Contains(t, body["checks"].(map[string]any)["redis"].(map[string]any)["error"], "127.0.0.1:1", "an admin key sees the details")
	res, body = b.do(t, "GET", "/readyz", b.key(t, "COMP001"), nil)
	require.Equal(t, 200, res.StatusCode, body)
	require.Nil(t, body["checks"].(map[string]any)["redis"].(map[string]any)["error"], "a company key does not")

	// PostgreSQL down: unready.
	b.deps.DB.Close()
	res, body = b.do(t, "GET", "/readyz", "", nil)
	require.Equal(t, 503, res.StatusCode, body)
	require.Equal(t, "down", body["checks"].(map[string]any)["postgres"].(map[string]any)["status"])
}

func TestAuthentication(t *testing.T) {
	b := setup(t)
	res, body := b.do(t, "GET", "/api/v1/jobs/nope", "", nil)
	require.Equal(t, 401, res.StatusCode)
	require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	require.Equal(t, float64(401), body["status"])

	res, _ = b.do(t, "GET", "/api/v1/jobs/nope", "rk_bogus_secret", nil)
	require.Equal(t, 401, res.StatusCode)

	key := b.key(t, "COMP001")
	res, _ = b.do(t, "GET", "/api/v1/jobs/nope", key, nil)
	require.Equal(t, 404, res.StatusCode)

	// Bearer works too.
	req, _ := http.NewRequest("GET", b.srv.URL+"/api/v1/jobs/nope", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	r, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	r.Body.Close()
	require.Equal(t, 404, r.StatusCode)

	prefix := strings.Split(key, "_")[1]
	_, err = b.deps.Keys.Revoke(context.Background(), prefix)
	require.NoError(t, err)
	res, body = b.do(t, "GET", "/api/v1/jobs/nope", key, nil)
	require.Equal(t, 401, res.StatusCode)
	require.Contains(t, body["detail"], "revoked")
}

func TestScopes(t *testing.T) {
	b := setup(t)
	searchOnly := b.key(t, "COMP001", auth.ScopeSearch)
	res, body := b.do(t, "POST", "/api/v1/syncs", searchOnly, map[string]any{"mode": "full"})
	require.Equal(t, 403, res.StatusCode, body)
	require.Contains(t, body["detail"], "sync")
}

// startJob enqueues a full sync job (key must be an admin key) without any
// worker running, so it stays queued.
func startJob(t *testing.T, b *testBundle, key string) string {
	t.Helper()
	res, body := b.do(t, "POST", "/api/v1/syncs", key, map[string]any{"mode": "full"})
	require.Equal(t, 202, res.StatusCode, body)
	require.Equal(t, "/api/v1/syncs/"+body["jobId"].(string), res.Header.Get("Location"))
	return body["jobId"].(string)
}

// refreshJob enqueues a refresh job for the key's company; it stays queued.
func refreshJob(t *testing.T, b *testBundle, key string) string {
	t.Helper()
	res, body := b.do(t, "POST", "/api/v1/customers/refresh", key, map[string]any{"customerIds": []string{"C1"}})
	require.Equal(t, 202, res.StatusCode, body)
	require.Equal(t, "/api/v1/jobs/"+body["jobId"].(string), res.Header.Get("Location"))
	return body["jobId"].(string)
}

func TestJobsAreVisibleOnlyToTheirCompany(t *testing.T) {
	b := setup(t)
	comp1, comp2, admin := b.key(t, "COMP001"), b.key(t, "COMP002"), b.key(t, "")
	id := refreshJob(t, b, comp1)

	res, body := b.do(t, "GET", "/api/v1/jobs/"+id, comp1, nil)
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "queued", body["state"])
	require.Equal(t, "COMP001", body["companyId"])

	for _, path := range []string{"/api/v1/jobs/" + id, "/api/v1/syncs/" + id} {
		res, body = b.do(t, "GET", path, comp2, nil)
		require.Equal(t, 404, res.StatusCode, "another company's job must be 404, not 403: %v", body)
	}
	res, _ = b.do(t, "GET", "/api/v1/jobs/"+id, admin, nil)
	require.Equal(t, 200, res.StatusCode)
}

func TestSecondSyncOfTheSameModeConflicts(t *testing.T) {
	b := setup(t)
	key := b.key(t, "")
	res, body := b.do(t, "POST", "/api/v1/syncs", key, map[string]any{"mode": "incremental"})
	require.Equal(t, 409, res.StatusCode, body)
	require.Contains(t, body["detail"], "no full sync has completed yet")

	first := startJob(t, b, key)
	res, body = b.do(t, "POST", "/api/v1/syncs", key, map[string]any{"mode": "full"})
	require.Equal(t, 409, res.StatusCode, body)
	require.Contains(t, body["detail"], first)
	require.Equal(t, first, body["extra"].(map[string]any)["runningJobId"])
}

func TestBadInputIsAProblemNamingTheField(t *testing.T) {
	b := setup(t)
	key := b.key(t, "")
	cases := []struct {
		body  string
		field string
	}{
		{`{"mode":"sometimes"}`, "mode"},
		{`{"mode":3}`, "mode"},
		{`{"mode":"full","extra":1}`, "extra"},
		{`{`, "body"},
	}
	for _, c := range cases {
		res, body := b.do(t, "POST", "/api/v1/syncs", key, c.body)
		require.Equal(t, 400, res.StatusCode, c.body)
		require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
		errs := body["errors"].([]any)
		require.Equal(t, c.field, errs[0].(map[string]any)["field"], c.body)
	}
}

// TestReaperRequeuesAJobWhoseTaskVanished: Redis restarts empty under an
// admin's full sync and a company's refresh. The reaper enqueues both
// tasks again under their ids (they are rebuilt from the job rows), so both
// jobs wait on; only a task lost more often than MaxRequeues fails its
// job, with the reason.
func TestReaperRequeuesAJobWhoseTaskVanished(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	res, body := b.do(t, "POST", "/api/v1/syncs", b.key(t, ""), map[string]any{"mode": "full"})
	require.Equal(t, 202, res.StatusCode, body)
	id := body["jobId"].(string)
	refresh := refreshJob(t, b, b.key(t, "COMP001"))
	reaper := jobs.NewReaper(b.deps.Dispatcher, b.deps.Log)
	reaper.Grace = 0

	// The task is in Redis: the job stays queued.
	failed, err := reaper.Reap(ctx)
	require.NoError(t, err)
	require.Empty(t, failed)

	for range reaper.MaxRequeues {
		// Redis restarts empty.
		require.NoError(t, b.deps.Redis.FlushDB(ctx).Err())
		time.Sleep(10 * time.Millisecond)
		failed, err = reaper.Reap(ctx)
		require.NoError(t, err)
		require.Empty(t, failed)
		n, err := b.deps.Redis.Exists(ctx, "asynq:{"+tasks.QueueSync+"}:t:"+id+":plan").Result()
		require.NoError(t, err)
		require.Equal(t, int64(1), n, "the sync's plan task is back in Redis")
		for _, job := range []string{id, refresh} {
			j, err := b.deps.Jobs.GetAny(ctx, job)
			require.NoError(t, err)
			require.Equal(t, jobs.Queued, j.State)
		}
	}
	require.NoError(t, b.deps.Redis.FlushDB(ctx).Err())
	time.Sleep(10 * time.Millisecond)
	failed, err = reaper.Reap(ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{id, refresh}, failed)
	j, err := b.deps.Jobs.GetAny(ctx, id)
	require.NoError(t, err)
	require.Equal(t, jobs.Failed, j.State)
	require.True(t, strings.HasPrefix(j.Error, jobs.RequeuedTooOftenReason), j.Error)
	require.NotNil(t, j.FinishedAt)

	// A final job is never reaped twice.
	failed, err = reaper.Reap(ctx)
	require.NoError(t, err)
	require.Empty(t, failed)
}

func TestUnknownRouteAndMethod(t *testing.T) {
	b := setup(t)
	res, body := b.do(t, "GET", "/nope", "", nil)
	require.Equal(t, 404, res.StatusCode)
	require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"), body)
	res, _ = b.do(t, "DELETE", "/healthz", "", nil)
	require.Equal(t, 405, res.StatusCode)
}
