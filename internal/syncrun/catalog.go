package syncrun

import (
	"context"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/metrics"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/tasks"
)

// Catalog re-enrichment: when products change, a background job
// re-enriches their buyers shard by shard in the serving generation.

// startCatalog starts the background job re-enriching the buyers of
// products. It is not a "sync" of the one-running rule: it never blocks
// another sync.
func (s *Service) startCatalog(ctx context.Context, products []string) (string, error) {
	job, err := s.dispatcher.Start(ctx, jobs.New{Type: jobs.TypeSyncCatalog,
		Params: map[string]any{"mode": ModeCatalog, "products": products}, CreatedBy: "change-tracking"},
		func(id string) (*asynq.Task, string, error) {
			return tasks.NewSyncCatalogTask(tasks.SyncCatalogPayload{JobPayload: tasks.JobPayload{JobID: id}, Products: products, Shard: -1})
		}, func(ctx context.Context, j jobs.Job) error {
			return s.runs.InsertRun(ctx, j.ID, ModeCatalog.String())
		})
	if err != nil {
		return "", fmt.Errorf("start catalog re-enrichment: %w", err)
	}
	return job.ID, nil
}

// Catalog runs one task of a catalog re-enrichment job: the plan (shard
// -1) splits customers into key ranges and enqueues one task each; a
// shard re-enriches the products' buyers in its range; the last shard
// done completes the job.
func (s *Service) Catalog(ctx context.Context, p tasks.SyncCatalogPayload) error {
	if p.Shard < 0 {
		return s.planCatalog(ctx, p)
	}
	if done, err := s.runs.ShardIsDone(ctx, p.JobID, p.Shard); err != nil {
		return fmt.Errorf("catalog shard %d: %w", p.Shard, err)
	} else if done {
		return nil
	}
	gen, err := s.engine.Current(ctx)
	if err != nil {
		return err
	}
	enr := source.NewEnricher(s.source)
	n, err := s.inBatches(func(fn func(profile.Profile) error) error { return enr.Buyers(ctx, p.Lo, p.Hi, p.Products, fn) },
		func(batch []profile.Profile) error {
			if err := s.write(ctx, gen, batch); err != nil {
				return fmt.Errorf("catalog shard %d: %w", p.Shard, err)
			}
			metrics.DocumentsIndexed.WithLabelValues(ModeCatalog.String()).Add(float64(len(batch)))
			return nil
		})
	if err != nil {
		return err
	}
	s.notify(func(n Notifier) error { return n.Changed(ctx) })
	c, err := s.runs.ShardDone(ctx, p.JobID, p.Shard, n, Drift{})
	if err != nil {
		return fmt.Errorf("catalog shard %d done: %w", p.Shard, err)
	}
	if !c.Counted {
		return nil // counted by an earlier attempt
	}
	_ = s.jobs.SetProgress(ctx, p.JobID, jobs.Progress{Done: int64(c.Done), Total: int64(c.Total)})
	if c.Done == c.Total {
		_, err = s.jobs.Succeed(ctx, p.JobID, map[string]any{"products": len(p.Products), "shards": c.Total, "documents": c.Documents})
	}
	return err
}

func (s *Service) planCatalog(ctx context.Context, p tasks.SyncCatalogPayload) error {
	bounds, err := source.ShardBounds(ctx, s.source, s.cfg.ShardSize)
	if err != nil {
		return err
	}
	err = s.runs.InsertShards(ctx, p.JobID, bounds)
	if err != nil {
		return fmt.Errorf("plan catalog: %w", err)
	}
	todo, err := s.runs.PendingShards(ctx, p.JobID)
	if err != nil {
		return err
	}
	for _, sh := range todo {
		task, id, err := tasks.NewSyncCatalogTask(tasks.SyncCatalogPayload{JobPayload: p.JobPayload, Products: p.Products,
			Shard: sh.N, Lo: sh.Lo, Hi: sh.Hi})
		if err != nil {
			return err
		}
		if err := s.dispatcher.Follow(ctx, p.JobID, task, id); err != nil {
			return err
		}
	}
	return s.jobs.SetProgress(ctx, p.JobID, jobs.Progress{Done: 0, Total: int64(len(bounds) + 1)})
}
