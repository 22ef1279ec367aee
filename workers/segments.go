package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/idempotency"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/internal/snapshot"
	"github.com/reactivation/reactivation/tasks"
)

func (w *Worker) registerSegments(mux *asynq.ServeMux) {
	store := snapshot.NewStore(postgres.NewSnapshots(w.deps.DB))
	mux.HandleFunc(tasks.TypeSegmentSearch, func(ctx context.Context, t *asynq.Task) error {
		var p tasks.SegmentSearchPayload
		if err := tasks.Decode(t, &p); err != nil {
			return err
		}
		job, err := w.deps.Jobs.GetAny(ctx, p.JobID)
		if err != nil {
			return err
		}
		var params snapshot.Params
		if err := json.Unmarshal(job.Params, &params); err != nil {
			return fmt.Errorf("segment params: %v: %w", err, asynq.SkipRetry)
		}
		f, err := segment.Decode(params.Filter)
		if err != nil {
			return fmt.Errorf("segment filter: %v: %w", err, asynq.SkipRetry)
		}
		srt, err := segment.ParseSort(params.Sort)
		if err != nil {
			return fmt.Errorf("segment sort: %v: %w", err, asynq.SkipRetry)
		}
		// Pages of 2,500, the export's: the scan is the same one.
		q := search.Query{Filter: f, Sort: srt, Size: 2500, Now: job.CreatedAt, Location: w.deps.Config.Location}
		first, err := w.deps.Engine.Search(ctx, search.Query{Filter: f, Sort: srt, Size: 1, Now: q.Now, Location: q.Location})
		if err != nil {
			return err
		}
		total := first.Total
		sum, err := store.Materialize(ctx, w.deps.Engine, p.JobID, q, w.deps.Config.SnapshotRetention, func(done int64) {
			_ = w.deps.Jobs.SetProgress(ctx, p.JobID, jobs.Progress{Done: done, Total: max(total, done)})
		})
		if err != nil {
			return err
		}
		_, err = w.deps.Jobs.Succeed(ctx, p.JobID, sum)
		return err
	})
	mux.HandleFunc(tasks.TypeCleanup, func(ctx context.Context, t *asynq.Task) error {
		n, err := store.Cleanup(ctx)
		if n > 0 {
			loggerFrom(ctx, w.log).Info("expired segment snapshots", zap.Int64("snapshots", n))
		}
		// Idempotency records past their 24 hours ride on the same tick.
		keys, kerr := idempotency.NewStore(postgres.NewIdempotency(w.deps.DB), idempotency.Config{}).DeleteExpired(ctx)
		if keys > 0 {
			loggerFrom(ctx, w.log).Info("expired idempotency keys", zap.Int64("keys", keys))
		}
		return errors.Join(err, kerr)
	})
}
