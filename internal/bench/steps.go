package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/internal/syncrun"
)

// openScenario opens cfg's dependencies and cancels the jobs an earlier
// run of the scenario left queued or running, so its syncs may start.
func openScenario(ctx context.Context, env Env, cfg config.Config) (*app.App, error) {
	d, err := app.Open(ctx, cfg, env.Log)
	if err != nil {
		return nil, err
	}
	if _, err := d.Jobs.CancelActive(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// openWithWorker opens cfg's dependencies (openScenario) and starts a
// worker process on cfg; closeAll stops the worker, then closes them.
func openWithWorker(ctx context.Context, env Env, cfg config.Config) (d *app.App, closeAll func(), err error) {
	if d, err = openScenario(ctx, env, cfg); err != nil {
		return nil, nil, err
	}
	stop, err := runWorker(ctx, cfg)
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	return d, func() { stop(); d.Close() }, nil
}

// fullSyncTimeout bounds the wait for a full sync: an 800k run on a busy
// 2-core machine has taken over 30 minutes.
const fullSyncTimeout = 2 * time.Hour

// timeFullSync runs a full sync on d's workers, records its time (plan
// to alias swap, as the job row records it) and rate in r, and returns
// the job's id and the time.
func timeFullSync(ctx context.Context, d *app.App, r *Report) (string, time.Duration, error) {
	id, full, err := fullSyncOnce(ctx, d)
	if err != nil {
		return "", 0, err
	}
	docs, err := syncedDocuments(ctx, d, id)
	if err != nil {
		return "", 0, err
	}
	r.Add("full_sync_seconds", full.Seconds(), "s")
	r.Add("full_sync_documents_per_second", float64(docs)/full.Seconds(), "docs/s")
	return id, full, nil
}

// fullSyncOnce runs a full sync on d's workers and returns its job id and
// time, plan to alias swap, as the job row records it.
func fullSyncOnce(ctx context.Context, d *app.App) (string, time.Duration, error) {
	job, err := d.Sync.Start(ctx, syncrun.ModeFull, jobs.Tenant{Admin: true}, "bench")
	if err != nil {
		return "", 0, err
	}
	done, err := waitFinal(ctx, d.Jobs, job.ID, fullSyncTimeout)
	if err != nil {
		return "", 0, err
	}
	if done.State != jobs.Succeeded {
		return "", 0, fmt.Errorf("full sync %s: %s", done.State, done.Error)
	}
	return job.ID, done.FinishedAt.Sub(*done.StartedAt), nil
}

// syncedDocuments is how many documents full sync jobID wrote.
func syncedDocuments(ctx context.Context, d *app.App, jobID string) (int64, error) {
	run, err := d.Sync.Get(ctx, jobs.Tenant{Admin: true}, jobID)
	if err != nil {
		return 0, err
	}
	return run.Documents, nil
}

// openSyncData opens the scenario's data and dependencies for full syncs
// with WORKER_CONCURRENCY=4 (openScenario); the caller starts workers.
func openSyncData(ctx context.Context, env Env) (config.Config, *app.App, error) {
	cfg, err := dataConfig(ctx, env)
	if err != nil {
		return cfg, nil, err
	}
	cfg.WorkerConcurrency = 4
	d, err := openScenario(ctx, env, cfg)
	return cfg, d, err
}

// timeIncremental changes 1% of the customers (changeCities), runs an
// incremental sync and waits until searchable says every changed customer
// is found by the new city; it records the time from enqueue to
// searchable in r, with its 10 s target.
func timeIncremental(ctx context.Context, env Env, d *app.App, r *Report, searchable func(city string, n int) error) error {
	changed, city, err := changeCities(ctx, env, d)
	if err != nil {
		return err
	}
	start := time.Now()
	inc, err := d.Sync.Start(ctx, syncrun.ModeIncremental, jobs.Tenant{Admin: true}, "bench")
	if err != nil {
		return err
	}
	done, err := waitFinal(ctx, d.Jobs, inc.ID, 5*time.Minute)
	if err != nil {
		return err
	}
	if done.State != jobs.Succeeded {
		return fmt.Errorf("incremental sync %s: %s", done.State, done.Error)
	}
	if err := searchable(city, changed); err != nil {
		return err
	}
	incremental := time.Since(start)
	r.Add("incremental_changed_customers", float64(changed), "customers")
	r.Add("incremental_enqueue_to_searchable_seconds", incremental.Seconds(), "s")
	r.AtMost("incremental_enqueue_to_searchable_seconds", incremental.Seconds(), 10)
	return nil
}

// waitSearchableIn polls engine until n documents show city, through the
// engine's own search (either engine).
func waitSearchableIn(ctx context.Context, engine search.Engine, city string, n int) error {
	body, _ := json.Marshal(map[string]any{"city": city, "size": 1})
	req, err := segment.DecodeSearchRequest(body)
	if err != nil {
		return err
	}
	q := search.Query{Filter: req.Filter, Sort: req.Sort, Size: 1, Now: time.Now(), Location: time.UTC}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		page, err := engine.Search(ctx, q)
		if err != nil {
			return err
		}
		if page.Total >= int64(n) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("changed customers not searchable after 2 minutes")
}
