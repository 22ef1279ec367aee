package syncrun

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/metrics"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/tasks"
)

// Finalize of a full sync: verify the new generation, promote it, record
// the watermark, adopt it as the tracked generation, catch up and, once
// the job is done, drop the older generations' tracking.

// Finalize verifies the run's generation against what the shards wrote and
// against the source, promotes it, records the watermark and catches up
// on changes made while the run was going. A run that fails verification
// never swaps: the old generation keeps serving.
//
// Every step after the swap is idempotent and runs on every attempt: a
// retry after the alias moved (the old generation's drop timed out, the
// promoted_at write failed) never re-verifies the now-serving generation,
// which upserts may have grown, and always records the sync state.
func (s *Service) Finalize(ctx context.Context, p tasks.SyncFinalizePayload) error {
	run, err := s.runs.FinalizeState(ctx, p.JobID)
	if err != nil {
		return fmt.Errorf("finalize: %w", err)
	}
	indexed, started := run.Indexed, run.Started
	if run.Promoted == nil {
		serving, err := s.engine.Current(ctx)
		if err != nil {
			return fmt.Errorf("finalize: serving generation: %w", err)
		}
		if serving != p.Generation {
			if reason, err := s.verify(ctx, p.JobID, p.Generation, indexed); err != nil {
				return err
			} else if reason != "" {
				return s.abandon(ctx, p, reason)
			}
			if err := s.runs.MarkIndexed(ctx, p.JobID); err != nil {
				return err
			}
		}
		// Promote again even when the alias already moved: it finishes
		// the drop of older generations a failed attempt left behind.
		if err := s.engine.Promote(ctx, p.Generation); err != nil {
			return fmt.Errorf("finalize: promote %s: %w", p.Generation, err)
		}
		if err := s.runs.MarkPromoted(ctx, p.JobID); err != nil {
			return err
		}
		s.log.Info("generation promoted", zap.String("job_id", p.JobID), zap.String("generation", p.Generation), zap.Int64("documents", indexed))
	}
	// A retry keeps a watermark the catch-up already moved past the run's.
	if err := s.runs.RecordFull(ctx, s.cfg.Alias, p.Generation, run.Watermark); err != nil {
		return fmt.Errorf("finalize: record watermark: %w", err)
	}
	if err := s.scores.Prune(ctx, p.Generation); err != nil {
		s.log.Warn("prune scores of older generations", zap.Error(err))
	}
	s.notify(func(n Notifier) error { return n.Promoted(ctx, p.Generation) })
	if err := s.adoptRun(ctx, p.JobID, p.Generation); err != nil {
		return fmt.Errorf("finalize: %w", err)
	}
	caught, err := s.catchUp(ctx, p.JobID)
	if err != nil {
		return fmt.Errorf("finalize: catch up: %w", err)
	}
	metrics.LastSyncTimestamp.WithLabelValues(ModeFull.String()).SetToCurrentTime()
	if _, err := s.jobs.Succeed(ctx, p.JobID, map[string]any{
		"generation": p.Generation, "documents": indexed, "caughtUp": caught.Documents, "caughtUpDeleted": caught.Deleted,
		"durationSeconds": time.Since(started).Seconds(),
		"scores":          s.scoresResult(ctx, p.Generation),
	}); err != nil {
		return err
	}
	// The older generations' tracking is housekeeping once the job is
	// done (half a second for 800k rows): a failure here is retried by
	// the next full sync's finalize.
	if err := s.tracking.DropOthers(ctx, s.cfg.Alias, p.Generation); err != nil {
		s.log.Warn("drop older generations' tracking", zap.String("job_id", p.JobID), zap.Error(err))
	}
	return nil
}

// verify checks a generation not yet serving: its document count against
// what the shards wrote, and against the source's customers give or take
// those written or deleted since the run's plan. A non-empty reason
// fails it.
//
// With P customers at the plan, D deleted and I inserted since, and W
// (>= I) written since, each shard read its range at some moment in
// between, so the generation holds P - D' + I' documents (D' <= D,
// I' <= I) and the source now has P - D + I: the count is at most P + W
// and at least now - W.
func (s *Service) verify(ctx context.Context, jobID, gen string, indexed int64) (reason string, err error) {
	count, err := s.engine.Count(ctx, gen)
	if err != nil {
		return "", fmt.Errorf("finalize: count generation: %w", err)
	}
	if count != indexed {
		return fmt.Sprintf("generation %s holds %d documents but the shards wrote %d", gen, count, indexed), nil
	}
	run, err := s.runs.Plan(ctx, jobID)
	if err != nil {
		return "", fmt.Errorf("finalize: %w", err)
	}
	if run.Snapshot == "" {
		return "", fmt.Errorf("finalize %s: no plan snapshot recorded", jobID)
	}
	since, err := source.ParseSnapshot(run.Snapshot)
	if err != nil {
		return "", err
	}
	now, written, err := source.CountCustomersSince(ctx, s.source, since)
	if err != nil {
		return "", fmt.Errorf("finalize: %w", err)
	}
	plan := now // a run planned before plan_customers was recorded
	if run.Customers != nil {
		plan = *run.Customers
	}
	if count > plan+written || now-count > written {
		return fmt.Sprintf("generation %s holds %d documents but the source had %d customers at the plan and has %d now, %d written since",
			gen, count, plan, now, written), nil
	}
	return "", nil
}

// abandon fails a run without swapping and drops its generation, unless
// that generation is the one serving.
func (s *Service) abandon(ctx context.Context, p tasks.SyncFinalizePayload, reason string) error {
	s.log.Error("full sync abandoned", zap.String("job_id", p.JobID), zap.String("reason", reason))
	if _, err := s.jobs.Fail(ctx, p.JobID, reason); err != nil {
		return err
	}
	if serving, err := s.engine.Current(ctx); err != nil || serving == p.Generation {
		s.log.Error("abandoned generation kept: it serves (or the engine did not say)", zap.String("generation", p.Generation), zap.Error(err))
		return nil
	}
	if err := s.engine.DropGeneration(ctx, p.Generation); err != nil {
		s.log.Warn("drop abandoned generation", zap.Error(err))
	}
	return nil
}

// adoptRun makes a promoted full run's generation the tracked one: its
// plan snapshot and catalog become the alias's (other generations'
// records are dropped once the job is done). Idempotent: a retried finalize adopts again, and
// the catch-up re-reads from the plan snapshot.
func (s *Service) adoptRun(ctx context.Context, jobID, gen string) error {
	run, err := s.runs.Plan(ctx, jobID)
	if err != nil {
		return fmt.Errorf("adopt run: %w", err)
	}
	if run.Snapshot == "" {
		return fmt.Errorf("adopt run %s: no plan snapshot recorded", jobID)
	}
	if err := s.tracking.Adopt(ctx, s.cfg.Alias, gen, run.Snapshot, run.Catalog); err != nil {
		return fmt.Errorf("adopt run: %w", err)
	}
	return nil
}
