package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/reactivation/reactivation/internal/auth"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
)

func init() {
	Register(Scenario{
		Name: "fairness",
		Description: "company A enqueues 200 exports through the API, then company B one, with two worker processes: " +
			"B's time against B alone, A's 200 against A's 200 alone, and a per-company cap checked from the job rows",
		Run: runFairness,
	})
}

// fairnessFloods is how many exports company A enqueues at once.
const fairnessFloods = 200

// fairnessBench is one API and its worker processes, with an export key
// for the largest company (A) and one for the smallest (B).
type fairnessBench struct {
	h       *apiHarness
	workers []*workerProcess
	a, b    string // company ids
	keys    map[string]string
}

func startFairness(ctx context.Context, env Env, maxInFlight int) (*fairnessBench, error) {
	tune := func(c *config.Config) {
		c.TenantMaxInFlight = maxInFlight
		// A flood of 200 POSTs is the point here, not the rate limit.
		c.RateLimitPerMinute, c.RateLimitBurst = 100000, 10000
	}
	h, err := startAPI(ctx, env, tune)
	if err != nil {
		return nil, err
	}
	f := &fairnessBench{h: h, keys: map[string]string{}}
	companies, err := companiesBySize(ctx, h.deps)
	if err != nil || len(companies) < 2 {
		f.close()
		return nil, fmt.Errorf("fairness needs two companies (have %v): %v", companies, err)
	}
	f.a, f.b = companies[0], companies[len(companies)-1]
	for _, c := range []string{f.a, f.b} {
		k, secret, err := h.deps.Keys.Create(ctx, auth.NewKey{Name: "bench fairness " + c, CompanyID: c, Scopes: []auth.Scope{auth.ScopeExport}})
		if err != nil {
			f.close()
			return nil, err
		}
		h.keyIDs = append(h.keyIDs, k.ID)
		f.keys[c] = secret
	}
	for range 2 {
		w, err := startWorkerProcess(ctx, h.cfg, "WORKER_CONCURRENCY=2", "TENANT_MAX_IN_FLIGHT="+strconv.Itoa(maxInFlight))
		if err != nil {
			f.close()
			return nil, err
		}
		f.workers = append(f.workers, w)
	}
	return f, nil
}

func (f *fairnessBench) close() {
	for _, w := range f.workers {
		w.Stop()
	}
	f.h.close()
}

// post starts one export of company's customers inactive for 30+ days and
// returns its job id.
func (f *fairnessBench) post(ctx context.Context, company string) (string, error) {
	body := []byte(`{"filter":{"minDaysSinceLastPurchase":30},"format":"csv"}`)
	res, b, err := f.h.call(ctx, http.MethodPost, "/api/v1/exports", f.keys[company], body)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("POST /api/v1/exports: %s: %s", res.Status, b)
	}
	var out struct {
		JobID string `json:"jobId"`
	}
	return out.JobID, json.Unmarshal(b, &out)
}

// flood posts n exports of company from four clients and returns their ids.
func (f *fairnessBench) flood(ctx context.Context, company string, n int) ([]string, error) {
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Go(func() {
			for i := c; i < n; i += 4 {
				ids[i], errs[i] = f.post(ctx, company)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// one posts an export of company and waits for it, returning the time from
// POST to succeeded.
func (f *fairnessBench) one(ctx context.Context, company string) (time.Duration, error) {
	start := time.Now()
	id, err := f.post(ctx, company)
	if err != nil {
		return 0, err
	}
	if err := f.wait(ctx, []string{id}); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// wait polls until every job succeeded.
func (f *fairnessBench) wait(ctx context.Context, ids []string) error {
	for _, id := range ids {
		j, err := pollFinal(ctx, f.h.deps.Jobs, id, 30*time.Minute, 20*time.Millisecond)
		if err != nil {
			return err
		}
		if j.State != jobs.Succeeded {
			return fmt.Errorf("export %s %s: %s", id, j.State, j.Error)
		}
	}
	return nil
}

// maxRunning is the most jobs of ids that ran at once, from their rows'
// started and finished times.
func (f *fairnessBench) maxRunning(ctx context.Context, ids []string) (int, error) {
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, id := range ids {
		j, err := f.h.deps.Jobs.GetAny(ctx, id)
		if err != nil {
			return 0, err
		}
		if j.StartedAt == nil || j.FinishedAt == nil {
			return 0, fmt.Errorf("job %s has not run to its end", id)
		}
		edges = append(edges, edge{*j.StartedAt, 1}, edge{*j.FinishedAt, -1})
	}
	slices.SortFunc(edges, func(x, y edge) int {
		if c := x.at.Compare(y.at); c != 0 {
			return c
		}
		return x.delta - y.delta // a finish and a start at the same instant do not overlap
	})
	running, most := 0, 0
	for _, e := range edges {
		running += e.delta
		most = max(most, running)
	}
	return most, nil
}

func runFairness(ctx context.Context, env Env, r *Report) error {
	f, err := startFairness(ctx, env, 0)
	if err != nil {
		return err
	}
	if _, err := f.one(ctx, f.b); err != nil { // warm-up
		f.close()
		return err
	}
	var alone []time.Duration
	for range 3 {
		d, err := f.one(ctx, f.b)
		if err != nil {
			f.close()
			return err
		}
		alone = append(alone, d)
	}
	slices.Sort(alone)
	bAlone := alone[1]
	r.Add("b_alone_s", bAlone.Seconds(), "s")

	start := time.Now()
	ids, err := f.flood(ctx, f.a, fairnessFloods)
	if err == nil {
		err = f.wait(ctx, ids)
	}
	if err != nil {
		f.close()
		return err
	}
	aAlone := time.Since(start)
	r.Add("a_200_alone_s", aAlone.Seconds(), "s")

	start = time.Now()
	ids, err = f.flood(ctx, f.a, fairnessFloods)
	if err != nil {
		f.close()
		return err
	}
	bBehind, err := f.one(ctx, f.b)
	if err == nil {
		err = f.wait(ctx, ids)
	}
	if err != nil {
		f.close()
		return err
	}
	aWithB := time.Since(start)
	r.Add("b_behind_200_s", bBehind.Seconds(), "s")
	r.Add("a_200_with_b_s", aWithB.Seconds(), "s")
	r.AtMost("b_behind_vs_alone", bBehind.Seconds()/bAlone.Seconds(), 2)
	r.AtMost("a_with_b_vs_alone", aWithB.Seconds()/aAlone.Seconds(), 1.1)
	f.close()

	// The cap across processes: two workers of two slots each, A capped at 2.
	const capped = 2
	f, err = startFairness(ctx, env, capped)
	if err != nil {
		return err
	}
	defer f.close()
	ids, err = f.flood(ctx, f.a, 40)
	if err != nil {
		return err
	}
	if _, err := f.one(ctx, f.b); err != nil {
		return err
	}
	if err := f.wait(ctx, ids); err != nil {
		return err
	}
	most, err := f.maxRunning(ctx, ids)
	if err != nil {
		return err
	}
	var files int
	exports := postgres.NewExports(f.h.deps.DB)
	for _, id := range ids {
		_, ok, err := exports.Chunk(ctx, id, 0)
		if err != nil {
			return err
		}
		if ok {
			files++
		}
	}
	if files != len(ids) {
		return fmt.Errorf("%d of %d capped exports have a file", files, len(ids))
	}
	r.Add("cap", capped, "jobs")
	r.AtMost("a_max_running_with_cap", float64(most), capped)
	return nil
}

// pollFinal waits for job id to be final, polling every interval.
func pollFinal(ctx context.Context, store *jobs.Store, id string, timeout, interval time.Duration) (jobs.Job, error) {
	deadline := time.Now().Add(timeout)
	for {
		j, err := store.GetAny(ctx, id)
		if err != nil || j.State.Final() {
			return j, err
		}
		if time.Now().After(deadline) {
			return j, fmt.Errorf("job %s still %s after %s", id, j.State, timeout)
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-time.After(interval):
		}
	}
}
