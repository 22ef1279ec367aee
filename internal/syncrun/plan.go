package syncrun

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/metrics"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/tasks"
)

// A full sync's plan and shards: the plan fixes the generation, the
// source snapshot and the key ranges; each shard task writes one range
// into the new generation; the last shard done enqueues finalize.

// Plan opens a full run: a new generation with load settings, key-range
// shards, one task per shard. Re-running it after a crash re-enqueues the
// shards it already planned.
func (s *Service) Plan(ctx context.Context, jobID string) error {
	run, err := s.runs.RunStatus(ctx, jobID)
	if err != nil {
		return fmt.Errorf("plan %s: %w", jobID, err)
	}
	if run.Generation != "" && run.ShardsTotal > 0 {
		return s.afterPlan(ctx, jobID, run.Generation)
	}
	wm, err := source.Now(ctx, s.source)
	if err != nil {
		return fmt.Errorf("plan: source clock: %w", err)
	}
	g := NewGeneration(wm)
	if run.Generation != "" {
		g = run.Generation // the crashed attempt's generation: reuse it
	} else if err := s.runs.SetGeneration(ctx, jobID, g, wm); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	if err := s.recordPlan(ctx, jobID); err != nil {
		return err
	}
	if err := s.engine.CreateGeneration(ctx, g); err != nil && !errs.Is(err, errs.Conflict) {
		return fmt.Errorf("plan: create generation %s: %w", g, err)
	}
	bounds, err := source.ShardBounds(ctx, s.source, s.cfg.ShardSize)
	if err != nil {
		return err
	}
	if err := s.runs.InsertShards(ctx, jobID, bounds); err != nil {
		return fmt.Errorf("plan: shards: %w", err)
	}
	if err := s.jobs.SetProgress(ctx, jobID, jobs.Progress{Done: 0, Total: int64(len(bounds) + 1)}); err != nil {
		return err
	}
	s.log.Info("full sync planned", zap.String("job_id", jobID), zap.String("generation", g), zap.Int("shards", len(bounds)+1))
	return s.afterPlan(ctx, jobID, g)
}

// recordPlan keeps a full run's starting point: the source snapshot and
// its customer count, then the catalog (read after it, before any shard
// reads).
func (s *Service) recordPlan(ctx context.Context, jobID string) error {
	snap, customers, err := source.PlanSnapshot(ctx, s.source)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	catalog, err := source.LoadCatalog(ctx, s.source)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	err = s.runs.RecordPlan(ctx, jobID, RunPlan{Snapshot: snap.Text, Catalog: catalog.Fingerprints(), Customers: &customers})
	if err != nil {
		return fmt.Errorf("plan: record snapshot: %w", err)
	}
	return nil
}

func (s *Service) enqueueShards(ctx context.Context, jobID, gen string) error {
	todo, err := s.runs.PendingShards(ctx, jobID)
	if err != nil {
		return err
	}
	for _, sh := range todo {
		task, id, err := tasks.NewSyncShardTask(tasks.SyncShardPayload{JobPayload: tasks.JobPayload{JobID: jobID},
			Shard: sh.N, Generation: gen, Lo: sh.Lo, Hi: sh.Hi})
		if err != nil {
			return err
		}
		if err := s.dispatcher.Follow(ctx, jobID, task, id); err != nil {
			return err
		}
	}
	if len(todo) == 0 {
		return s.maybeFinalize(ctx, jobID, gen)
	}
	return nil
}

// Shard enriches one key range and writes it into the run's generation.
// Re-running a shard overwrites the same documents. The task that
// completes the last shard enqueues finalize.
func (s *Service) Shard(ctx context.Context, p tasks.SyncShardPayload) error {
	enr, err := s.enricher(ctx)
	if err != nil {
		return err
	}
	score, err := s.shardScorer(ctx, p.Generation)
	if err != nil {
		return err
	}
	n, err := s.inBatches(func(fn func(profile.Profile) error) error {
		return enr.Range(ctx, p.Lo, p.Hi, func(pr profile.Profile) error { score(&pr); return fn(pr) })
	},
		func(batch []profile.Profile) error {
			if err := s.engine.Index(ctx, p.Generation, batch); err != nil {
				return fmt.Errorf("index shard %d: %w", p.Shard, err)
			}
			if err := s.tracking.TrackNew(ctx, s.cfg.Alias, p.Generation, batch); err != nil {
				return fmt.Errorf("index shard %d: %w", p.Shard, err)
			}
			metrics.DocumentsIndexed.WithLabelValues(ModeFull.String()).Add(float64(len(batch)))
			return nil
		})
	if err != nil {
		return err
	}
	c, err := s.runs.ShardDone(ctx, p.JobID, p.Shard, n, Drift{})
	if err != nil {
		return fmt.Errorf("shard %d done: %w", p.Shard, err)
	}
	_ = s.jobs.SetProgress(ctx, p.JobID, jobs.Progress{Done: int64(c.Done), Total: int64(c.Total)})
	if c.Done == c.Total {
		return s.maybeFinalize(ctx, p.JobID, p.Generation)
	}
	return nil
}

// maybeFinalize enqueues finalize once every shard is done. The counter's
// last increment gets here; a shard retried after a crash between its
// commit and this call gets here too, and the fixed task id makes the
// second enqueue a no-op.
func (s *Service) maybeFinalize(ctx context.Context, jobID, gen string) error {
	task, id, err := tasks.NewSyncFinalizeTask(tasks.SyncFinalizePayload{JobPayload: tasks.JobPayload{JobID: jobID}, Generation: gen})
	if err != nil {
		return err
	}
	return s.dispatcher.Follow(ctx, jobID, task, id)
}
