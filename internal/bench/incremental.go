package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/syncrun"
)

func init() {
	Register(Scenario{
		Name: "incremental",
		Description: "incremental syncs on the sync scenario's serving index (a full sync first only if none serves): " +
			"one with no change, then one of 1% of the customers, enqueue to searchable",
		Run: runIncremental,
	})
}

// runIncremental measures change tracking alone, without the sync
// scenario's half hour of full syncs and floors at 800k: it shares that
// scenario's service schema, Redis database and alias (so do not run the
// two at once), runs a full sync only when none has completed, then
// times an incremental pass over an unchanged source (the fixed cost of
// finding what changed) and one of 1% of the customers changed.
func runIncremental(ctx context.Context, env Env, r *Report) error {
	env.Scenario = "sync"
	cfg, err := dataConfig(ctx, env)
	if err != nil {
		return err
	}
	r.Engine = EngineElastic
	if env.Engine == EnginePostgres {
		r.Engine = EnginePostgres
		cfg.ElasticsearchURL = ""
		cfg.IndexAlias += "_pg"
	}
	cfg.WorkerConcurrency = 4
	d, closeAll, err := openWithWorker(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer closeAll()

	fmt.Fprintln(env.Out, "incremental of an unchanged source ...")
	unchanged, res, err := runOneIncremental(ctx, d)
	if errs.Is(err, errs.Conflict) {
		fmt.Fprintln(env.Out, "no full sync has completed: full sync ...")
		if _, _, err := timeFullSync(ctx, d, r); err != nil {
			return err
		}
		unchanged, res, err = runOneIncremental(ctx, d)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Out, "  %s in %.2f s\n", res, unchanged.Seconds())
	r.Add("incremental_unchanged_seconds", unchanged.Seconds(), "s")
	return timeIncremental(ctx, env, d, r, func(city string, n int) error {
		return waitSearchableIn(ctx, d.Engine, city, n)
	})
}

// runOneIncremental runs an incremental sync and returns its time
// (enqueue to done) and its result; errs.Conflict when no full sync has
// completed.
func runOneIncremental(ctx context.Context, d *app.App) (time.Duration, string, error) {
	start := time.Now()
	job, err := d.Sync.Start(ctx, syncrun.ModeIncremental, jobs.Tenant{Admin: true}, "bench")
	if err != nil {
		return 0, "", err
	}
	done, err := waitFinal(ctx, d.Jobs, job.ID, 5*time.Minute)
	if err != nil {
		return 0, "", err
	}
	if done.State != jobs.Succeeded {
		return 0, "", fmt.Errorf("incremental sync %s: %s", done.State, done.Error)
	}
	return time.Since(start), string(done.Result), nil
}
