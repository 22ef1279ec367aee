package workers

import (
	"context"
	"errors"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/tasks"
)

func (w *Worker) registerSegments(mux *asynq.ServeMux) {
	svc := w.deps.Segments
	mux.HandleFunc(tasks.TypeSegmentSearch, func(ctx context.Context, t *asynq.Task) error {
		var p tasks.SegmentSearchPayload
		if err := tasks.Decode(t, &p); err != nil {
			return err
		}
		return svc.Run(ctx, p.JobID)
	})
	cleanup := func(ctx context.Context, t *asynq.Task) error {
		n, err := svc.Cleanup(ctx)
		if n > 0 {
			loggerFrom(ctx, w.log).Info("expired segment snapshots", zap.Int64("snapshots", n))
		}
		// Idempotency records past their 24 hours ride on the same tick.
		keys, kerr := w.deps.Idempotency.DeleteExpired(ctx)
		if keys > 0 {
			loggerFrom(ctx, w.log).Info("expired idempotency keys", zap.Int64("keys", keys))
		}
		return errors.Join(err, kerr)
	}
	mux.HandleFunc(tasks.TypeSnapshotsCleanup, cleanup)
	// Tasks enqueued under the old name by a scheduler of the previous
	// release (see tasks.TypeCleanupLegacy).
	mux.HandleFunc(tasks.TypeCleanupLegacy, cleanup)
}
