package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/search/elastic"
	"github.com/reactivation/reactivation/internal/search/pgsearch"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/internal/snapshot"
)

func init() {
	Register(Scenario{
		Name: "search",
		Description: "synchronous search p50/p95/p99 and requests/s at 8, 32 and 128 clients: the API uncached and cached " +
			"against the engine's own requests sent straight to the cluster (--engine postgres: its own SQL straight through pgx) and against a bare gin handler doing one Redis GET " +
			"(a process of its own, as the API is; the same handler inside the bench process is printed beside it); " +
			"the cached path and the bare handler in an open loop at 200 req/s; then a large-segment search of the largest company through the API",
		Run: runSearch,
	})
}

// searchCell is how long each (path, concurrency) cell runs;
// BENCH_SEARCH_SECONDS overrides it for a quick check.
const searchCell = 10 * time.Second

// searchCellCalls bounds the requests of one cell.
const searchCellCalls = 2_000_000

// largeSegmentCustomers is the size at which the large segment must reach
// largeSegmentRows.
const (
	largeSegmentCustomers = 800_000
	largeSegmentRows      = 300_000
)

// openLoopRate is the fixed arrival rate of the open-loop cells, in
// requests a second.
const openLoopRate = 200

// searchConcurrency are the client counts measured; BENCH_SEARCH_CLIENTS
// ("1,8") overrides them for a diagnosis.
var searchConcurrency = []int{8, 32, 128}

// searchPath is one way of answering the mix.
type searchPath struct {
	name string
	call func(ctx context.Context, s mixSearch) error
}

func runSearch(ctx context.Context, env Env, r *Report) error {
	cell, err := seconds("BENCH_SEARCH_SECONDS", searchCell)
	if err != nil {
		return err
	}
	concurrency, err := clientCounts("BENCH_SEARCH_CLIENTS", searchConcurrency)
	if err != nil {
		return err
	}
	h, err := startAPI(ctx, env, func(c *config.Config) {
		// The limiter still runs (its Redis round trip is the API's) but never refuses.
		c.RateLimitPerMinute, c.RateLimitBurst = 1<<30, 1<<30
	})
	if err != nil {
		return err
	}
	defer h.close()
	keys, err := h.companyKeys(ctx, 1)
	if err != nil {
		return err
	}
	key := keys[0]
	mix, err := h.searchMix(ctx)
	if err != nil {
		return err
	}
	for _, s := range mix {
		if err := sameTotal(ctx, h, key, s); err != nil {
			return err
		}
	}
	r.Engine = env.Engine
	engine, queries, err := engineBaseline(h)
	if err != nil {
		return err
	}
	var misses atomic.Int64
	viaAPI := func(fresh bool) func(context.Context, mixSearch) error {
		header := []string{}
		if fresh {
			header = []string{"Cache-Control", "no-cache"}
		}
		return func(ctx context.Context, s mixSearch) error {
			res, err := h.send(ctx, http.MethodPost, "/api/v1/customers/search", key, s.body, header...)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(io.LimitReader(res.Body, 200))
				return fmt.Errorf("%s: %s: %s", s.name, res.Status, b)
			}
			if !fresh && res.Header.Get("X-Cache") != "HIT" {
				misses.Add(1)
			}
			_, err = io.Copy(io.Discard, res.Body)
			return err
		}
	}
	paths := []searchPath{
		engine,
		// engine_go: the engine's Search in-process, decoding included: where the API's time beyond the engine goes.
		{"engine_go", func(ctx context.Context, s mixSearch) error { _, err := h.deps.Engine.Search(ctx, s.query); return err }},
		{"uncached", viaAPI(true)},
		{"cached", viaAPI(false)},
	}
	// bare: the stack's ceiling for a cached answer, one Redis GET of the API's own cached bytes (ceiling.go).
	answers := make([][]byte, len(mix))
	index := make(map[string]int, len(mix))
	for i, s := range mix {
		res, b, err := h.call(ctx, http.MethodPost, "/api/v1/customers/search", key, s.body)
		if err != nil {
			return err
		}
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s: %.200s", s.name, res.Status, b)
		}
		answers[i], index[s.name] = b, i
	}
	if err := storeAnswers(ctx, h.deps.Redis, answers); err != nil {
		return err
	}
	defer dropAnswers(h.deps.Redis, len(answers))
	bare, err := startBareProcess(ctx, h.cfg.RedisURL)
	if err != nil {
		return err
	}
	defer bare.close()
	inProcess := startBareInProcess(h.deps.Redis)
	defer inProcess.close()
	for _, b := range []struct {
		name    string
		handler *bareHandler
	}{{"bare", bare}, {"bare_inprocess", inProcess}} {
		paths = append(paths, searchPath{b.name, func(ctx context.Context, s mixSearch) error {
			return b.handler.call(ctx, index[s.name], bytes.NewReader(s.body))
		}})
	}

	fmt.Fprintf(env.Out, "search: %d searches in the mix, %s a cell, warming up ...\n", len(mix), cell)
	for _, p := range paths {
		for _, s := range mix {
			if err := p.call(ctx, s); err != nil {
				return fmt.Errorf("warm-up %s: %w", p.name, err)
			}
		}
		if m := runPath(ctx, p, mix, 8, 2*time.Second); m.errors > 0 {
			return fmt.Errorf("warm-up %s: %w", p.name, m.firstErr)
		}
	}

	var errCount int64
	for _, c := range concurrency {
		suffix := fmt.Sprintf("_c%d", c)
		p99 := map[string]float64{}
		perCall := map[string]float64{}
		rps := map[string]float64{}
		for _, p := range paths {
			fmt.Fprintf(env.Out, "%s at %d clients ...\n", p.name, c)
			misses.Store(0)
			before, err := queries(ctx)
			if err != nil {
				return err
			}
			m := runPath(ctx, p, mix, c, cell)
			after, err := queries(ctx)
			if err != nil {
				return err
			}
			if m.errors > 0 {
				fmt.Fprintf(env.Out, "  %d errors, the first: %v\n", m.errors, m.firstErr)
			}
			errCount += m.errors
			ok := m.latencies[http.StatusOK]
			p99[p.name] = addLatencies(r, p.name, suffix, ok)
			rps[p.name] = float64(len(ok)) / m.elapsed.Seconds()
			r.Add(p.name+"_rps"+suffix, rps[p.name], "req/s")
			perCall[p.name] = float64(after-before) / float64(max(m.calls, 1))
			if p.name == "cached" {
				r.Add("cached_misses"+suffix, float64(misses.Load()), "requests")
			}
		}
		if perCall["engine"] > 0 {
			// Below 1, identical searches in flight together were answered once (the cache's singleflight).
			r.Add("uncached_cluster_searches_per_request"+suffix, perCall["uncached"]/perCall["engine"], "ratio")
		}
		overEngine, overBare := p99["uncached"]/p99["engine"], rps["cached"]/rps["bare"]
		r.Add("cached_throughput_over_bare_inprocess"+suffix, rps["cached"]/rps["bare_inprocess"], "ratio")
		if c == 8 { // issue 15's targets are at 8 clients; the others are printed
			r.AtMost("uncached_p99_over_engine_p99"+suffix, overEngine, 1.10)
			r.AtLeast("cached_throughput_over_bare"+suffix, overBare, 0.7)
		} else {
			r.Add("uncached_p99_over_engine_p99"+suffix, overEngine, "ratio")
			r.Add("cached_throughput_over_bare"+suffix, overBare, "ratio")
		}
	}
	// Latency of the cached path at a fixed arrival rate (open loop), beside the bare handler's.
	for _, p := range []struct {
		name string
		call func(context.Context, mixSearch) error
	}{{"cached", viaAPI(false)}, {"bare", pathNamed(paths, "bare").call}} {
		fmt.Fprintf(env.Out, "%s, open loop at %d req/s ...\n", p.name, openLoopRate)
		ok, failed, firstErr := openLoop(ctx, openLoopRate, cell, func(ctx context.Context, n int) error { return p.call(ctx, mix[n%len(mix)]) })
		if failed > 0 {
			fmt.Fprintf(env.Out, "  %d errors, the first: %v\n", failed, firstErr)
		}
		errCount += failed
		name := p.name + "_open"
		p99 := addLatencies(r, name, "", ok)
		r.Add(name+"_rps", float64(len(ok))/cell.Seconds(), "req/s")
		if p.name == "cached" {
			r.AtMost("cached_open_p99_ms", p99, 5)
		}
	}
	r.Add("errors", float64(errCount), "requests")
	return largeSegment(ctx, env, h, key, r)
}

// pathNamed is the path of paths called name.
func pathNamed(paths []searchPath, name string) searchPath {
	for _, p := range paths {
		if p.name == name {
			return p
		}
	}
	panic("bench: no search path " + name)
}

// engineBaseline is the search path that runs each search of the mix
// straight against the engine, and a counter of the engine's queries
// (constant 0 where the engine keeps none). Elasticsearch: the engine's
// captured request replayed with the same client settings, the answer
// read, not decoded; the shard queries the alias's indexes ran.
// PostgreSQL: the engine's own statements (the total, then the page) run
// straight through pgx on the engine's pool in one read-only
// repeatable-read transaction, as the engine runs them, rows read as raw
// bytes: what psql would run.
func engineBaseline(h *apiHarness) (searchPath, func(context.Context) (int64, error), error) {
	if h.cfg.ElasticsearchURL == "" {
		none := func(context.Context) (int64, error) { return 0, nil }
		return searchPath{"engine", func(ctx context.Context, s mixSearch) error {
			return pgsearch.RunStatements(ctx, h.deps.DB, s.statements)
		}}, none, nil
	}
	cluster, err := elastic.NewClient(h.cfg.ElasticsearchURL, h.cfg.SearchFlavor)
	if err != nil {
		return searchPath{}, nil, err
	}
	return searchPath{"engine", func(ctx context.Context, s mixSearch) error { return s.cluster.send(ctx, cluster) }},
		func(ctx context.Context) (int64, error) { return clusterQueries(ctx, cluster, h.cfg.IndexAlias) }, nil
}

// clientCounts is the comma-separated list of client counts env names, or
// def.
func clientCounts(name string, def []int) ([]int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	var out []int
	for _, part := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s: want client counts like \"1,8\", got %q", name, v)
		}
		out = append(out, n)
	}
	return out, nil
}

// runPath sends the mix round robin through p from clients clients for d.
func runPath(ctx context.Context, p searchPath, mix []mixSearch, clients int, d time.Duration) measured {
	var next atomic.Int64
	return drive(ctx, clients, d, searchCellCalls, func(ctx context.Context, _ int) outcome {
		s := mix[int(next.Add(1))%len(mix)]
		return outcome{class: http.StatusOK, err: p.call(ctx, s)}
	})
}

// sameTotal checks that the API counts what the engine counted for s: the
// baseline answers the same question.
func sameTotal(ctx context.Context, h *apiHarness, key string, s mixSearch) error {
	res, b, err := h.call(ctx, http.MethodPost, "/api/v1/customers/search", key, s.body, "Cache-Control", "no-cache")
	if err != nil {
		return err
	}
	var page search.Page
	if res.StatusCode != http.StatusOK || json.Unmarshal(b, &page) != nil {
		return fmt.Errorf("%s: %s: %.300s", s.name, res.Status, b)
	}
	if page.Total != s.total {
		return fmt.Errorf("%s: the API counts %d customers, the engine %d", s.name, page.Total, s.total)
	}
	return nil
}

// clusterQueries is the number of shard queries the alias's indexes have
// run.
func clusterQueries(ctx context.Context, client *elasticsearch.Client, alias string) (int64, error) {
	st := client.Indices.Stats
	res, err := st(st.WithContext(ctx), st.WithIndex(alias), st.WithMetric("search"))
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	var out struct {
		All struct {
			Primaries struct {
				Search struct {
					QueryTotal int64 `json:"query_total"`
				} `json:"search"`
			} `json:"primaries"`
		} `json:"_all"`
	}
	if res.IsError() {
		return 0, fmt.Errorf("index stats: %s", res.Status())
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return 0, fmt.Errorf("index stats: %w", err)
	}
	return out.All.Primaries.Search.QueryTotal, nil
}

// largeSegment runs a large-segment search of all of benchCompany through
// the API with a worker process and times it from the request to the
// job's end as a client polling every 100 ms sees it.
func largeSegment(ctx context.Context, env Env, h *apiHarness, key string, r *Report) error {
	if err := h.startWorker(ctx); err != nil {
		return err
	}
	var company segment.Filter
	company.PinCompany(benchCompany)
	expected, err := h.deps.Engine.Search(ctx, search.Query{Filter: company, Size: 1, Now: time.Now(), Location: h.cfg.Location})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Out, "large-segment search of %s (%d customers) ...\n", benchCompany, expected.Total)
	start := time.Now()
	res, b, err := h.call(ctx, http.MethodPost, "/api/v1/segments/searches", key, []byte(`{"filter":{}}`))
	if err != nil {
		return err
	}
	var acc struct {
		JobID     string `json:"jobId"`
		StatusURL string `json:"statusUrl"`
	}
	if res.StatusCode != http.StatusAccepted || json.Unmarshal(b, &acc) != nil {
		return fmt.Errorf("segment search: %s: %.300s", res.Status, b)
	}
	defer func() {
		if err := snapshot.NewStore(postgres.NewSnapshots(h.deps.DB)).Drop(context.WithoutCancel(ctx), acc.JobID); err != nil {
			env.Log.Warn("drop the bench snapshot", zap.String("job", acc.JobID), zap.Error(err))
		}
	}()
	var status struct {
		Job     jobs.Job `json:"job"`
		Summary struct {
			Count int64 `json:"count"`
		} `json:"summary"`
	}
	deadline := time.Now().Add(30 * time.Minute)
	for !status.Job.State.Final() {
		if time.Now().After(deadline) {
			return fmt.Errorf("segment search %s still %s after 30 minutes", acc.JobID, status.Job.State)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		res, b, err := h.call(ctx, http.MethodGet, acc.StatusURL, key, nil)
		if err != nil {
			return err
		}
		if res.StatusCode != http.StatusOK || json.Unmarshal(b, &status) != nil {
			return fmt.Errorf("segment search status: %s: %.300s", res.Status, b)
		}
	}
	took := time.Since(start)
	if status.Job.State != jobs.Succeeded {
		return fmt.Errorf("segment search %s: %s", status.Job.State, status.Job.Error)
	}
	n := status.Summary.Count
	if n != expected.Total {
		return fmt.Errorf("segment search counted %d customers, the engine %d", n, expected.Total)
	}
	fmt.Fprintf(env.Out, "large-segment search: %d customers in %.1f s\n", n, took.Seconds())
	r.Add("large_segment_rows", float64(n), "rows")
	r.Add("large_segment_seconds", took.Seconds(), "s")
	r.Add("large_segment_rows_per_second", float64(n)/took.Seconds(), "rows/s")
	if env.Customers >= largeSegmentCustomers {
		r.AtLeast("large_segment_rows", float64(n), largeSegmentRows)
	}
	return nil
}
