package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/syncrun"
)

// fullSyncWithoutScores times a full sync (plan to alias swap) with scores
// disabled, with a worker of its own that it stops before returning: the
// baseline the full sync with scores is compared with in the same run.
func fullSyncWithoutScores(ctx context.Context, env Env, cfg config.Config) (time.Duration, error) {
	cfg.ScoresEnabled = false
	d, err := app.Open(ctx, cfg, env.Log)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	stop := runWorker(ctx, env, cfg)
	defer stop()
	fmt.Fprintln(env.Out, "full sync without scores ...")
	job, err := d.Sync.Start(ctx, syncrun.ModeFull, jobs.Tenant{Admin: true}, "bench")
	if err != nil {
		return 0, err
	}
	done, err := waitFinal(ctx, d.Jobs, job.ID, fullSyncTimeout)
	if err != nil {
		return 0, err
	}
	if done.State != jobs.Succeeded {
		return 0, fmt.Errorf("full sync without scores %s: %s", done.State, done.Error)
	}
	return done.FinishedAt.Sub(*done.StartedAt), nil
}

// reportScores adds the full sync with scores beside the one without, and
// the BG/NBD fit time of the largest company of the run's generation.
func reportScores(ctx context.Context, env Env, d *app.Deps, jobID string, with, without time.Duration, r *Report) error {
	r.Add("full_sync_without_scores_seconds", without.Seconds(), "s")
	r.Add("full_sync_with_scores_seconds", with.Seconds(), "s")
	r.AtMost("full_sync_with_over_without_scores", with.Seconds()/without.Seconds(), 1.10)
	var company string
	var customers int64
	var fit float64
	err := d.DB.QueryRow(ctx, `SELECT m.company_id, m.customers, m.fit_seconds FROM score_models m
		JOIN sync_runs s ON s.generation = m.generation WHERE s.job_id = $1
		ORDER BY m.customers DESC, m.company_id LIMIT 1`, jobID).Scan(&company, &customers, &fit)
	if err != nil {
		return fmt.Errorf("scores of the largest company: %w", err)
	}
	r.Add("bgnbd_fit_seconds_largest_company", fit, "s")
	r.Add("bgnbd_largest_company_customers", float64(customers), "customers")
	fmt.Fprintf(env.Out, "largest company %s: %d customers, BG/NBD fit %.3fs\n", company, customers, fit)
	return nil
}
