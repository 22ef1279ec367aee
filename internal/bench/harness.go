package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/auth"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/search/elastic"
	"github.com/reactivation/reactivation/internal/search/pgsearch"
	"github.com/reactivation/reactivation/internal/segment"
)

// benchCompany is the company every API scenario's keys belong to, the
// demo data's largest.
const benchCompany = "COMP001"

// apiHarness is the API binary serving the benchmark data on loopback,
// with a client sized for the scenarios' concurrency.
type apiHarness struct {
	env    Env
	cfg    config.Config
	deps   *app.App
	base   string
	client *http.Client
	keyIDs []string
	stops  []func()
}

// startAPI opens the benchmark data (synced first when the index does not
// serve every customer), lets tune adjust the API's configuration, and
// starts the API binary on a free loopback port. close stops everything
// it started.
func startAPI(ctx context.Context, env Env, tune func(*config.Config)) (_ *apiHarness, err error) {
	if env.Engine != EnginePostgres && env.Config.ElasticsearchURL == "" {
		return nil, errors.New("this scenario measures the search engine: set ELASTICSEARCH_URL")
	}
	cfg, err := dataConfig(ctx, env)
	if err != nil {
		return nil, err
	}
	if env.Engine == EnginePostgres {
		cfg.ElasticsearchURL = ""
		cfg.IndexAlias += "_pg" // its own sync state and view beside the Elasticsearch run's
	}
	pool, err := postgres.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return nil, err
	}
	_, err = postgres.Migrate(ctx, pool)
	pool.Close()
	if err != nil {
		return nil, err
	}
	d, err := app.Open(ctx, cfg, env.Log)
	if err != nil {
		return nil, err
	}
	h := &apiHarness{env: env, cfg: cfg, deps: d, stops: []func(){d.Close}}
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	if _, err := d.Jobs.CancelActive(ctx); err != nil {
		return nil, err
	}
	if err := ensureIndexed(ctx, env, cfg, d); err != nil {
		return nil, err
	}

	if tune != nil {
		tune(&h.cfg)
	}
	api, err := startBinary(ctx, "api", h.cfg)
	if err != nil {
		return nil, err
	}
	h.base = api.URL()
	h.stops = append(h.stops, api.Stop)
	h.client = &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 512, DisableCompression: true}}
	return h, nil
}

// startWorker starts a worker process over the API's configuration until
// close.
func (h *apiHarness) startWorker(ctx context.Context) error {
	stop, err := runWorker(ctx, h.cfg)
	if err != nil {
		return err
	}
	h.stops = append(h.stops, stop)
	return nil
}

// close stops what startAPI and startWorker started, newest first, and
// deletes the keys made.
func (h *apiHarness) close() {
	if len(h.keyIDs) > 0 {
		_ = h.deps.Keys.Delete(context.Background(), h.keyIDs)
	}
	if h.client != nil {
		h.client.CloseIdleConnections()
	}
	for i := len(h.stops) - 1; i >= 0; i-- {
		h.stops[i]()
	}
}

// companyKeys creates n search keys of benchCompany and returns their
// secrets.
func (h *apiHarness) companyKeys(ctx context.Context, n int) ([]string, error) {
	var out []string
	for i := range n {
		k, secret, err := h.deps.Keys.Create(ctx, auth.NewKey{Name: fmt.Sprintf("bench %d", i),
			CompanyID: benchCompany, Scopes: []auth.Scope{auth.ScopeSearch}})
		if err != nil {
			return nil, err
		}
		h.keyIDs = append(h.keyIDs, k.ID)
		out = append(out, secret)
	}
	return out, nil
}

// call sends one API request with key and returns the response, its body
// read and closed.
func (h *apiHarness) call(ctx context.Context, method, path, key string, body []byte, header ...string) (*http.Response, []byte, error) {
	res, err := h.send(ctx, method, path, key, body, header...)
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	return res, b, err
}

// send sends a request as call does and returns the response unread, for
// a caller that reads the answer as the bare handler's clients do
// (io.Copy to io.Discard: a search cell's client must not cost the
// machine more for one path than for another).
func (h *apiHarness) send(ctx context.Context, method, path, key string, body []byte, header ...string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, h.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-API-Key", key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return h.client.Do(req)
}

// mixSearch is one search of the mix: the API body (no companyId: the key
// pins it), the query the API makes of the engine for it, and the exact
// request the engine sends the search cluster.
type mixSearch struct {
	name    string
	body    []byte
	query   search.Query
	cluster clusterRequest
	// statements are what the PostgreSQL engine runs for query.
	statements []pgsearch.Statement
	total      int64
}

// searchMix builds the fixed mix both scenarios send: realistic filters of
// a marketing team, each with its own sort, page size 20, each as a first
// page and as the page after it. It runs each search once through a
// recording client to capture the engine's request and the next cursor.
func (h *apiHarness) searchMix(ctx context.Context) ([]mixSearch, error) {
	products, err := firstNames(ctx, h.deps, "SELECT name FROM products ORDER BY product_id LIMIT 2")
	if err != nil {
		return nil, err
	}
	ingredients, err := firstNames(ctx, h.deps, "SELECT name FROM ingredients ORDER BY ingredient_id LIMIT 1")
	if err != nil {
		return nil, err
	}
	type f = map[string]any
	filters := []struct {
		name, sort string
		filter     f
	}{
		{"seed", "", f{"gender": "mujer", "city": "San José", "minDaysSinceLastPurchase": 90}},
		{"inactive_30d", "totalSpent:desc", f{"minDaysSinceLastPurchase": 30}},
		{"inactive_60d", "lastPurchaseAt:asc", f{"minDaysSinceLastPurchase": 60}},
		{"inactive_180d", "totalPurchases", f{"minDaysSinceLastPurchase": 180}},
		{"inactive_365d", "name", f{"minDaysSinceLastPurchase": 365}},
		{"spend_50k_200k", "averageTicket", f{"minTotalSpent": 50000, "maxTotalSpent": 200000}},
		{"spend_250k_lapsed", "totalSpent", f{"minTotalSpent": 250000, "minDaysSinceLastPurchase": 60}},
		{"favourite_products", "", f{"favoriteProducts": products, "minDaysSinceLastPurchase": 45}},
		{"favourite_ingredient_email", "totalSpent", f{"favoriteIngredients": ingredients, "hasEmail": true}},
		{"combined", "averageTicket", f{"gender": "hombre", "city": []string{"Heredia", "Alajuela"}, "minTotalPurchases": 3,
			"hasEmail": true, "minDaysSinceLastPurchase": 30, "maxDaysSinceLastPurchase": 365}},
		{"name_q", "name", f{"q": "maria"}},
	}
	// Elasticsearch: the engine's request is recorded as the client sends
	// it; PostgreSQL: the engine says which statements it runs.
	var engine search.Searcher = h.deps.Engine
	var rec *searchRecorder
	if h.cfg.ElasticsearchURL != "" {
		client, r, err := recordingClient(h.cfg)
		if err != nil {
			return nil, err
		}
		engine, rec = elastic.New(client, h.cfg.IndexAlias), r
	}
	pg, _ := h.deps.Engine.(*pgsearch.Engine)
	now := time.Now()
	var out []mixSearch
	for _, fl := range filters {
		cursor := ""
		for page := 1; page <= 2; page++ {
			body := f{"size": 20}
			for k, v := range fl.filter {
				body[k] = v
			}
			if fl.sort != "" {
				body["sort"] = fl.sort
			}
			if cursor != "" {
				body["cursor"] = cursor
			}
			b, _ := json.Marshal(body)
			req, err := segment.DecodeSearchRequest(b)
			if err != nil {
				return nil, fmt.Errorf("mix %s: %w", fl.name, err)
			}
			req.Filter.PinCompany(benchCompany)
			// As the API asks: the customers as JSON.
			q := search.Query{Filter: req.Filter, Sort: req.Sort, Size: req.Size, Cursor: req.Cursor, Now: now, Location: h.cfg.Location, JSON: true}
			res, err := engine.Search(ctx, q)
			if err != nil {
				return nil, fmt.Errorf("mix %s: %w", fl.name, err)
			}
			if res.Total == 0 {
				return nil, fmt.Errorf("mix %s matches no customer of %s", fl.name, benchCompany)
			}
			m := mixSearch{name: fmt.Sprintf("%s_p%d", fl.name, page), body: b, query: q, total: res.Total}
			if rec != nil {
				m.cluster = rec.last
			} else if pg != nil {
				if m.statements, err = pg.Statements(q); err != nil {
					return nil, fmt.Errorf("mix %s: %w", fl.name, err)
				}
			}
			out = append(out, m)
			if cursor = res.NextCursor; cursor == "" {
				break
			}
		}
	}
	return out, nil
}

func firstNames(ctx context.Context, d *app.App, sql string) ([]string, error) {
	rows, err := d.Source.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the demo catalogue is empty (%s)", sql)
	}
	return out, rows.Err()
}

// clusterRequest is a search request as the engine sent it.
type clusterRequest struct {
	method, path, rawQuery string
	header                 http.Header
	body                   []byte
}

// send replays r through client and reads the whole answer.
func (r clusterRequest) send(ctx context.Context, client *elasticsearch.Client) error {
	req, err := http.NewRequestWithContext(ctx, r.method, r.path+"?"+r.rawQuery, bytes.NewReader(r.body))
	if err != nil {
		return err
	}
	req.Header = r.header.Clone()
	res, err := client.Perform(req)
	return drain(res, err, "search cluster")
}

// drain reads and closes the whole answer of a request that err did not
// fail, and fails unless it is a 200 (what names the server).
func drain(res *http.Response, err error, what string) error {
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", what, res.Status)
	}
	return nil
}

// searchRecorder passes requests on and keeps the last _search one.
type searchRecorder struct {
	next http.RoundTripper
	last clusterRequest
}

func (s *searchRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/_search") && req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
		s.last = clusterRequest{method: req.Method, path: req.URL.Path, rawQuery: req.URL.RawQuery, header: req.Header.Clone(), body: b}
	}
	res, err := s.next.RoundTrip(req)
	// OpenSearch does not name itself; the v8 client insists (as elastic.NewClient's transport does).
	if res != nil && res.Header.Get("X-Elastic-Product") == "" {
		res.Header.Set("X-Elastic-Product", "Elasticsearch")
	}
	return res, err
}

func recordingClient(cfg config.Config) (*elasticsearch.Client, *searchRecorder, error) {
	rec := &searchRecorder{next: http.DefaultTransport}
	c, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{cfg.ElasticsearchURL}, Transport: rec, DisableMetaHeader: true})
	return c, rec, err
}

// outcome is what one call of a measured loop reports.
type outcome struct {
	// class files the call's latency (an HTTP status, say).
	class int
	// pause is how long the client waits before its next call.
	pause time.Duration
	// err counts the call as an error; its latency is filed under classError.
	err error
}

const classError = -1

// measured is what drive measured.
type measured struct {
	latencies map[int][]time.Duration
	calls     int64
	errors    int64
	firstErr  error
	elapsed   time.Duration
}

// drive runs clients concurrent loops of call for d or until maxCalls calls
// have started, whichever comes first, timing each call. Calls in flight
// at the end are let finish (and counted): cutting them would only make the
// server log cancellations.
func drive(ctx context.Context, clients int, d time.Duration, maxCalls int64, call func(ctx context.Context, client int) outcome) measured {
	end := time.Now().Add(d)
	var started atomic.Int64
	var lock sync.Mutex
	m := measured{latencies: map[int][]time.Duration{}}
	var wg sync.WaitGroup
	begin := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := map[int][]time.Duration{}
			var errs int64
			var firstErr error
			for ctx.Err() == nil && time.Now().Before(end) && started.Add(1) <= maxCalls {
				t := time.Now()
				o := call(ctx, c)
				took := time.Since(t)
				if o.err != nil {
					errs++
					firstErr = cmpErr(firstErr, o.err)
					o.class = classError
				}
				mine[o.class] = append(mine[o.class], took)
				if wait := min(o.pause, time.Until(end)); wait > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(wait):
					}
				}
			}
			lock.Lock()
			defer lock.Unlock()
			for k, v := range mine {
				m.latencies[k] = append(m.latencies[k], v...)
			}
			m.errors += errs
			m.firstErr = cmpErr(m.firstErr, firstErr)
		}()
	}
	wg.Wait()
	m.elapsed = time.Since(begin)
	for _, v := range m.latencies {
		m.calls += int64(len(v))
	}
	return m
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// percentiles returns the nearest-rank percentiles qs (0..1) of ds, in ms.
func percentiles(ds []time.Duration, qs ...float64) []float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	out := make([]float64, len(qs))
	for i, q := range qs {
		if len(s) == 0 {
			out[i] = math.NaN()
			continue
		}
		k := max(int(math.Ceil(q*float64(len(s))))-1, 0)
		out[i] = float64(s[k]) / float64(time.Millisecond)
	}
	return out
}

// addLatencies records the p50, p95 and p99 of ds as prefix_p50_ms... and
// returns the p99.
func addLatencies(r *Report, prefix, suffix string, ds []time.Duration) float64 {
	p := percentiles(ds, 0.50, 0.95, 0.99)
	r.Add(prefix+"_p50_ms"+suffix, p[0], "ms")
	r.Add(prefix+"_p95_ms"+suffix, p[1], "ms")
	r.Add(prefix+"_p99_ms"+suffix, p[2], "ms")
	return p[2]
}

// seconds is the duration env names in whole seconds, or def.
func seconds(name string, def time.Duration) (time.Duration, error) {
	n, err := positive(name, int(def/time.Second), "seconds")
	return time.Duration(n) * time.Second, err
}

// positive is the environment variable name as a positive number of what,
// def when it is unset.
func positive(name string, def int, what string) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s: want a positive number of %s, got %q", name, what, v)
	}
	return n, nil
}
