package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/api"
	"github.com/reactivation/reactivation/internal/idempotency"
	"github.com/reactivation/reactivation/internal/postgres"
)

// post sends body to path with an Idempotency-Key and returns the raw answer.
func (b *testBundle) post(t *testing.T, base, path, apiKey, idemKey, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("POST", base+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("X-API-Key", apiKey)
	req.Header.Set("Content-Type", "application/json")
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(data)
}

func (b *testBundle) countJobs(t *testing.T, typ string) int {
	t.Helper()
	var n int
	require.NoError(t, b.deps.DB.QueryRow(context.Background(), "SELECT count(*) FROM jobs WHERE type = $1", typ).Scan(&n))
	return n
}

// TestIdempotencyKeyReplaysTheFirstAnswer on every creating POST: the
// retry gets the first status, body and Location, on another replica too,
// and creates nothing; another body under the key is 422; another API key
// has keys of its own.
func TestIdempotencyKeyReplaysTheFirstAnswer(t *testing.T) {
	b := setup(t)
	comp1, comp2, admin := b.key(t, "COMP001"), b.key(t, "COMP002"), b.key(t, "")
	replica := httptest.NewServer(api.New(b.deps.APIParams()).Handler())
	t.Cleanup(replica.Close)

	routes := []struct{ path, key, body, other, jobType string }{
		{"/api/v1/exports", comp1, `{"filter":{"city":"Cartago"},"format":"csv"}`, `{"filter":{"city":"Heredia"}}`, "export"},
		{"/api/v1/segments/searches", comp1, `{"filter":{"gender":"mujer"}}`, `{"filter":{"gender":"hombre"}}`, "segment.search"},
		{"/api/v1/customers/refresh", comp1, `{"customerIds":["C1"]}`, `{"customerIds":["C2"]}`, "sync.refresh"},
		{"/api/v1/syncs", admin, `{"mode":"full"}`, `{"mode":"incremental"}`, "sync.full"},
	}
	for _, r := range routes {
		idem := "key-1"
		if r.path != "/api/v1/exports" {
			idem = "key" + r.path // a key names one request: one per route
		}
		first, firstBody := b.post(t, b.srv.URL, r.path, r.key, idem, r.body)
		require.Equal(t, 202, first.StatusCode, "%s: %s", r.path, firstBody)
		require.Empty(t, first.Header.Get("Idempotent-Replayed"))
		require.Equal(t, 1, b.countJobs(t, r.jobType), r.path)

		for _, base := range []string{b.srv.URL, replica.URL} {
			again, againBody := b.post(t, base, r.path, r.key, idem, r.body)
			require.Equal(t, 202, again.StatusCode, r.path)
			require.Equal(t, firstBody, againBody, "%s: the first answer, byte for byte", r.path)
			require.Equal(t, first.Header.Get("Location"), again.Header.Get("Location"), r.path)
			require.Equal(t, first.Header.Get("Content-Type"), again.Header.Get("Content-Type"), r.path)
			require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"), r.path)
		}
		require.Equal(t, 1, b.countJobs(t, r.jobType), "%s: a retry creates nothing", r.path)

		res, body := b.post(t, b.srv.URL, r.path, r.key, idem, r.other)
		require.Equal(t, 422, res.StatusCode, "%s: %s", r.path, body)
		require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
		require.Contains(t, body, "idempotency-key-reused")
		require.Equal(t, 1, b.countJobs(t, r.jobType), r.path)
	}

	// Keys belong to an API key: the same key from another company is new.
	res, body := b.post(t, b.srv.URL, "/api/v1/exports", comp2, "key-1", routes[0].body)
	require.Equal(t, 202, res.StatusCode, body)
	require.Empty(t, res.Header.Get("Idempotent-Replayed"))
	require.Equal(t, 2, b.countJobs(t, "export"))

	// The same key on another route is another request: 422, not a replay.
	res, body = b.post(t, b.srv.URL, "/api/v1/segments/searches", comp2, "key-1", routes[0].body)
	require.Equal(t, 422, res.StatusCode, body)

	// A client error is an answer too: replayed, not recomputed.
	res, first := b.post(t, b.srv.URL, "/api/v1/exports", comp1, "key-bad", `{"format":"xlsx"}`)
	require.Equal(t, 400, res.StatusCode)
	res, again := b.post(t, b.srv.URL, "/api/v1/exports", comp1, "key-bad", `{"format":"xlsx"}`)
	require.Equal(t, 400, res.StatusCode)
	require.Equal(t, first, again)
	require.Equal(t, "true", res.Header.Get("Idempotent-Replayed"))

	// A malformed key names the header.
	res, body = b.post(t, b.srv.URL, "/api/v1/exports", comp1, strings.Repeat("k", 256), routes[0].body)
	require.Equal(t, 400, res.StatusCode, body)
	require.Contains(t, body, `"field":"Idempotency-Key"`)

	// Without the header nothing changes: each POST creates.
	for range 2 {
		res, _ = b.post(t, b.srv.URL, "/api/v1/exports", comp1, "", routes[0].body)
		require.Equal(t, 202, res.StatusCode)
	}
	require.Equal(t, 4, b.countJobs(t, "export"))
}

// TestConcurrentDuplicatesCreateOnce: 8 identical requests at once, half
// on each of two replicas, create one export and all get its answer.
func TestConcurrentDuplicatesCreateOnce(t *testing.T) {
	b := setup(t)
	comp1 := b.key(t, "COMP001")
	replica := httptest.NewServer(api.New(b.deps.APIParams()).Handler())
	t.Cleanup(replica.Close)
	body := `{"filter":{"city":"Cartago"}}`
	var wg sync.WaitGroup
	answers := make([]string, 8)
	statuses := make([]int, 8)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base := b.srv.URL
			if i%2 == 1 {
				base = replica.URL
			}
			res, data := b.post(t, base, "/api/v1/exports", comp1, "same", body)
			statuses[i], answers[i] = res.StatusCode, data
		}()
	}
	wg.Wait()
	for i := range answers {
		require.Equal(t, 202, statuses[i], answers[i])
		require.Equal(t, answers[0], answers[i])
	}
	require.Equal(t, 1, b.countJobs(t, "export"))
}

// TestExpiredIdempotencyKeysAreForgotten: past 24 hours the key is new
// again, and the cleanup deletes expired records.
func TestExpiredIdempotencyKeysAreForgotten(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	comp1 := b.key(t, "COMP001")
	body := `{"filter":{}}`
	res, _ := b.post(t, b.srv.URL, "/api/v1/exports", comp1, "old", body)
	require.Equal(t, 202, res.StatusCode)
	var hours float64
	require.NoError(t, b.deps.DB.QueryRow(ctx, "SELECT extract(epoch FROM expires_at - created_at) / 3600 FROM idempotency_keys").Scan(&hours))
	require.InDelta(t, 24, hours, 0.01)

	_, err := b.deps.DB.Exec(ctx, "UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")
	require.NoError(t, err)
	res, _ = b.post(t, b.srv.URL, "/api/v1/exports", comp1, "old", body)
	require.Equal(t, 202, res.StatusCode)
	require.Empty(t, res.Header.Get("Idempotent-Replayed"), "an expired key is taken over")
	require.Equal(t, 2, b.countJobs(t, "export"))

	_, err = b.deps.DB.Exec(ctx, "UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")
	require.NoError(t, err)
	n, err := idempotency.NewStore(postgres.NewIdempotency(b.deps.DB), idempotency.Config{}).DeleteExpired(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}
