package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/scores"
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
	stop, err := runWorker(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer stop()
	fmt.Fprintln(env.Out, "full sync without scores ...")
	_, took, err := fullSyncOnce(ctx, d)
	if err != nil {
		return 0, fmt.Errorf("without scores: %w", err)
	}
	return took, nil
}

// syncsWithoutAndWith times a full sync with scores off, on a worker of
// its own, then one with scores on a worker of scored's configuration,
// and returns the second's job id and both times.
func syncsWithoutAndWith(ctx context.Context, env Env, d *app.App, cfg, scored config.Config) (jobID string, without, with time.Duration, err error) {
	if without, err = fullSyncWithoutScores(ctx, env, cfg); err != nil {
		return "", 0, 0, err
	}
	stop, err := runWorker(ctx, scored)
	if err != nil {
		return "", 0, 0, err
	}
	defer stop()
	fmt.Fprintln(env.Out, "full sync ...")
	jobID, with, err = fullSyncOnce(ctx, d)
	return jobID, without, with, err
}

// reportScores adds the full sync with scores beside the one without, and
// the BG/NBD fit time of the largest company of the run's generation.
func reportScores(ctx context.Context, env Env, d *app.App, jobID string, with, without time.Duration, r *Report) error {
	r.Add("full_sync_without_scores_seconds", without.Seconds(), "s")
	r.Add("full_sync_with_scores_seconds", with.Seconds(), "s")
	r.AtMost("full_sync_with_over_without_scores", with.Seconds()/without.Seconds(), 1.10)
	return reportFit(ctx, env, d, jobID, r)
}

// reportFit adds the BG/NBD fit time of the largest company of full sync
// jobID's generation.
func reportFit(ctx context.Context, env Env, d *app.App, jobID string, r *Report) error {
	run, err := d.Sync.Get(ctx, jobs.Tenant{Admin: true}, jobID)
	if err != nil {
		return fmt.Errorf("scores of the largest company: %w", err)
	}
	set, err := scores.NewStore(postgres.NewScores(d.DB)).Load(ctx, run.Generation, d.Config.Location)
	if err != nil {
		return fmt.Errorf("scores of the largest company: %w", err)
	}
	var largest *scores.Model
	for _, m := range set.Models {
		if largest == nil || m.Customers > largest.Customers || m.Customers == largest.Customers && m.CompanyID < largest.CompanyID {
			largest = m
		}
	}
	if largest == nil {
		return fmt.Errorf("scores of the largest company: generation %s has no models", run.Generation)
	}
	company, customers, fit := largest.CompanyID, largest.Customers, largest.FitSeconds
	r.Add("bgnbd_fit_seconds_largest_company", fit, "s")
	r.Add("bgnbd_largest_company_customers", float64(customers), "customers")
	fmt.Fprintf(env.Out, "largest company %s: %d customers, BG/NBD fit %.3fs\n", company, customers, fit)
	return nil
}
