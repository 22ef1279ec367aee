package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search/elastic"
	"github.com/reactivation/reactivation/internal/syncrun"
	"github.com/reactivation/reactivation/internal/testenv"
)

const demoCustomers = 20000

func (b *testBundle) syncService() *syncrun.Service { return b.deps.Sync }

func (b *testBundle) startSync(t *testing.T, mode syncrun.Mode) string {
	t.Helper()
	job, err := b.syncService().Start(context.Background(), mode, jobs.Tenant{Admin: true}, "test")
	require.NoError(t, err)
	return job.ID
}

// aliasIndexes lists the physical indexes behind the alias.
func (b *testBundle) aliasIndexes(t *testing.T) []string {
	t.Helper()
	gen, err := b.deps.Engine.Current(context.Background())
	require.NoError(t, err)
	if gen == "" {
		return nil
	}
	return []string{b.cfg.IndexAlias + "_" + gen}
}

func (b *testBundle) checkIndexMatchesSource(t *testing.T) {
	t.Helper()
	es, err := elastic.NewClient(testenv.ElasticsearchURL(), testenv.SearchFlavor())
	require.NoError(t, err)
	requireSameProfiles(t, expected(t, b.deps.Source), indexed(t, es, b.cfg.IndexAlias))
}

// TestFullSyncWithTwoWorkers: two worker processes share the shards; the
// index ends up holding exactly the source's customers, every field equal
// to what SQL over the source computes; then an incremental sync after
// changing 1% of the customers makes exactly those documents current.
func TestFullAndIncrementalSyncWithTwoWorkers(t *testing.T) {
	b := setup(t, demoCustomers, nil)
	w1 := start(t, b.cfg, "worker")
	w2 := start(t, b.cfg, "worker")

	id := b.startSync(t, "full")
	j := waitJob(t, b.deps.Jobs, id, 5*time.Minute)
	require.Equal(t, jobs.Succeeded, j.State, j.Error)
	run, err := b.syncService().Get(context.Background(), jobs.Tenant{Admin: true}, id)
	require.NoError(t, err)
	require.Equal(t, run.ShardsTotal, run.ShardsDone)
	require.Equal(t, int64(demoCustomers), run.Documents)
	require.Greater(t, run.ShardsTotal, 10)
	b.checkIndexMatchesSource(t)

	// Both processes did shards.
	for _, w := range []*process{w1, w2} {
		w.waitLog(t, `"task_type":"sync:shard"`, time.Second)
	}

	// Change 1% of the customers: a new invoice for some, a new city for others.
	ctx := context.Background()
	src := b.deps.Source
	_, err = src.Exec(ctx, `
		INSERT INTO invoices (invoice_id, customer_id, invoice_date, total_amount, created_at, updated_at)
		SELECT 'NEW-' || customer_id, customer_id, now() - interval '1 hour', 12345.67, now(), now()
		FROM customers WHERE customer_id IN (SELECT customer_id FROM customers ORDER BY md5(customer_id) LIMIT 100)`)
	require.NoError(t, err)
	_, err = src.Exec(ctx, `
		INSERT INTO invoice_products (invoice_id, product_id, quantity)
		SELECT 'NEW-' || customer_id, (SELECT min(product_id) FROM products), 2
		FROM customers WHERE customer_id IN (SELECT customer_id FROM customers ORDER BY md5(customer_id) LIMIT 100)`)
	require.NoError(t, err)
	_, err = src.Exec(ctx, `
		UPDATE customers SET city = 'Nicoya', updated_at = now()
		WHERE customer_id IN (SELECT customer_id FROM customers ORDER BY md5(customer_id) DESC LIMIT 100)`)
	require.NoError(t, err)

	inc := b.startSync(t, "incremental")
	j = waitJob(t, b.deps.Jobs, inc, time.Minute)
	require.Equal(t, jobs.Succeeded, j.State, j.Error)
	require.JSONEq(t, `{"documents":200,"deleted":0,"buckets":65536}`, string(j.Result), "exactly the changed customers are re-indexed")
	refresh(t, b)
	b.checkIndexMatchesSource(t)
}

func refresh(t *testing.T, b *testBundle) {
	t.Helper()
	es, err := elastic.NewClient(testenv.ElasticsearchURL(), testenv.SearchFlavor())
	require.NoError(t, err)
	res, err := es.Indices.Refresh(es.Indices.Refresh.WithIndex(b.cfg.IndexAlias))
	require.NoError(t, err)
	res.Body.Close()
}

// TestSyncSurvivesAWorkerKilledMidRun: one of two workers is SIGKILLed
// while it holds shards. asynq hands its tasks back once their lease
// expires (30 s) and the recoverer next runs (up to a minute later); the
// run completes with exact counts and the alias swapped once.
func TestSyncSurvivesAWorkerKilledMidRun(t *testing.T) {
	b := setup(t, demoCustomers, nil)
	victim := start(t, b.cfg, "worker")

	id := b.startSync(t, "full")
	victim.waitLog(t, `"task_type":"sync:shard"`, time.Minute)
	waitProgress(t, b.deps.Jobs, id, 2, time.Minute)
	require.NoError(t, victim.Kill())
	<-victim.Done()

	start(t, b.cfg, "worker")
	j := waitJob(t, b.deps.Jobs, id, 4*time.Minute)
	require.Equal(t, jobs.Succeeded, j.State, j.Error)
	require.Len(t, b.aliasIndexes(t), 1)
	var swaps int
	require.NoError(t, b.deps.DB.QueryRow(context.Background(),
		"SELECT count(*) FROM sync_runs WHERE job_id = $1 AND promoted_at IS NOT NULL", id).Scan(&swaps))
	require.Equal(t, 1, swaps)
	b.checkIndexMatchesSource(t)
}

// TestSyncSurvivesASearchEngineOutage: the workers reach the engine through
// a loopback proxy that refuses every connection for 30 s mid-run; shards
// fail, back off and retry, and the run completes after it returns.
func TestSyncSurvivesASearchEngineOutage(t *testing.T) {
	proxy := testenv.NewProxy(t, testenv.ElasticsearchURL())
	b := setup(t, demoCustomers, func(c *config.Config) { c.ElasticsearchURL = proxy.URL() })
	w := start(t, b.cfg, "worker")

	id := b.startSync(t, "full")
	waitProgress(t, b.deps.Jobs, id, 2, time.Minute)
	proxy.Cut()
	time.Sleep(30 * time.Second)
	w.waitLog(t, `"outcome":"retried"`, time.Second)
	proxy.Restore()

	j := waitJob(t, b.deps.Jobs, id, 4*time.Minute)
	require.Equal(t, jobs.Succeeded, j.State, j.Error)
	b.checkIndexMatchesSource(t)
}

// TestFailedRunNeverSwaps: a document the engine rejects fails its shard
// at once, with the customer id and the engine's reason in the job error,
// and the serving generation stays in place. Oversized values no longer
// make the engine refuse a document (keywords ignore_above), so the
// rejection is injected between the worker and the real engine: the bulk
// item of one customer is answered 400 mapper_parsing_exception.
func TestFailedRunNeverSwaps(t *testing.T) {
	b := setup(t, 3000, nil)
	w := start(t, b.cfg, "worker")
	first := b.startSync(t, "full")
	require.Equal(t, jobs.Succeeded, waitJob(t, b.deps.Jobs, first, 2*time.Minute).State)
	before := b.aliasIndexes(t)
	require.Len(t, before, 1)
	require.NoError(t, w.Signal(syscall.SIGTERM))
	<-w.Done()

	ctx := context.Background()
	var victim string
	require.NoError(t, b.deps.Source.QueryRow(ctx, "SELECT min(customer_id) FROM customers").Scan(&victim))
	rejecting := b.cfg
	rejecting.ElasticsearchURL = rejectingEngine(t, b.cfg.ElasticsearchURL, victim)
	start(t, rejecting, "worker")
	second := b.startSync(t, "full")
	j := waitJob(t, b.deps.Jobs, second, 2*time.Minute)
	require.Equal(t, jobs.Failed, j.State)
	require.Contains(t, j.Error, "customer "+victim+" rejected by the search engine: mapper_parsing_exception")
	require.Equal(t, before, b.aliasIndexes(t), "a failed run never swaps")
}

// rejectingEngine proxies the engine at target and answers the bulk item
// of document id with a 400, as the engine does for a document its
// mapping refuses.
func rejectingEngine(t *testing.T, target, id string) string {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		r.Out.Header.Del("Accept-Encoding") // answers the test can read
	}}
	rp.ModifyResponse = func(res *http.Response) error {
		if !strings.HasSuffix(res.Request.URL.Path, "/_bulk") || res.StatusCode != http.StatusOK {
			return nil
		}
		raw, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return err
		}
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			return err
		}
		items, _ := body["items"].([]any)
		for _, it := range items {
			for _, v := range it.(map[string]any) {
				item := v.(map[string]any)
				if item["_id"] == id {
					item["status"] = 400
					item["error"] = map[string]any{"type": "mapper_parsing_exception", "reason": "injected by the test"}
					body["errors"] = true
				}
			}
		}
		raw, err = json.Marshal(body)
		if err != nil {
			return err
		}
		res.Body = io.NopCloser(bytes.NewReader(raw))
		res.ContentLength = int64(len(raw))
		res.Header.Set("Content-Length", strconv.Itoa(len(raw)))
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestFullSyncIntoThePostgresEngine: without ELASTICSEARCH_URL the same
// sync fills customer_profiles in PostgreSQL, with the same documents.
func TestFullSyncIntoThePostgresEngine(t *testing.T) {
	b := setup(t, 5000, func(c *config.Config) { c.ElasticsearchURL = "" })
	require.Equal(t, "postgres", b.deps.Engine.Name())
	start(t, b.cfg, "worker")
	id := b.startSync(t, "full")
	j := waitJob(t, b.deps.Jobs, id, 3*time.Minute)
	require.Equal(t, jobs.Succeeded, j.State, j.Error)

	rows, err := b.deps.DB.Query(context.Background(), "SELECT doc FROM "+b.cfg.IndexAlias+"_profiles")
	require.NoError(t, err)
	got := map[string]profile.Profile{}
	for rows.Next() {
		var p profile.Profile
		require.NoError(t, rows.Scan(&p))
		got[p.CustomerID] = p
	}
	require.NoError(t, rows.Err())
	requireSameProfiles(t, expected(t, b.deps.Source), got)

	// A second run swaps the view and drops the first generation's table.
	first, err := b.deps.Engine.Current(context.Background())
	require.NoError(t, err)
	second := b.startSync(t, "full")
	require.Equal(t, jobs.Succeeded, waitJob(t, b.deps.Jobs, second, 3*time.Minute).State)
	now, err := b.deps.Engine.Current(context.Background())
	require.NoError(t, err)
	require.NotEqual(t, first, now)
	var left int
	require.NoError(t, b.deps.DB.QueryRow(context.Background(),
		"SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE $1", b.cfg.IndexAlias+"_profiles_%").Scan(&left))
	require.Equal(t, 1, left)
}
