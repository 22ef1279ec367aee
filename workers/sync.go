package workers

import (
	"context"

	"github.com/hibiken/asynq"

	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/syncrun"
	"github.com/reactivation/reactivation/tasks"
)

// StartSync returns the scheduler's way of starting a sync as the system
// (no company, no key).
func StartSync(svc *syncrun.Service) SyncStarter {
	return func(ctx context.Context, mode syncrun.Mode) (string, error) {
		job, err := svc.Start(ctx, mode, jobs.Tenant{Admin: true}, "scheduler")
		return job.ID, err
	}
}

func (w *Worker) registerSync(mux *asynq.ServeMux) {
	svc := w.deps.Sync
	mux.HandleFunc(tasks.TypeSyncPlan, func(ctx context.Context, t *asynq.Task) error {
		var p tasks.SyncPlanPayload
		if err := tasks.Decode(t, &p); err != nil {
			return err
		}
		return svc.Plan(ctx, p.JobID)
	})
	mux.HandleFunc(tasks.TypeSyncShard, func(ctx context.Context, t *asynq.Task) error {
		var p tasks.SyncShardPayload
		if err := tasks.Decode(t, &p); err != nil {
			return err
		}
		return svc.Shard(ctx, p)
	})
	mux.HandleFunc(tasks.TypeSyncFinalize, func(ctx context.Context, t *asynq.Task) error {
		var p tasks.SyncFinalizePayload
		if err := tasks.Decode(t, &p); err != nil {
			return err
		}
		return svc.Finalize(ctx, p)
	})
	mux.HandleFunc(tasks.TypeSyncIncremental, func(ctx context.Context, t *asynq.Task) error {
		var p tasks.SyncIncrementalPayload
		if err := tasks.Decode(t, &p); err != nil {
			return err
		}
		return svc.Incremental(ctx, p.JobID)
	})
	mux.HandleFunc(tasks.TypeSyncReconcile, func(ctx context.Context, t *asynq.Task) error {
		var p tasks.SyncReconcilePayload
		if err := tasks.Decode(t, &p); err != nil {
			return err
		}
		return svc.ReconcilePlan(ctx, p.JobID)
	})
	mux.HandleFunc(tasks.TypeSyncReconcileShard, func(ctx context.Context, t *asynq.Task) error {
		var p tasks.SyncReconcileShardPayload
		if err := tasks.Decode(t, &p); err != nil {
			return err
		}
		return svc.ReconcileShard(ctx, p)
	})
	mux.HandleFunc(tasks.TypeSyncRefresh, func(ctx context.Context, t *asynq.Task) error {
		var p tasks.SyncRefreshPayload
		if err := tasks.Decode(t, &p); err != nil {
			return err
		}
		return svc.Refresh(ctx, p)
	})
	mux.HandleFunc(tasks.TypeSyncCatalog, func(ctx context.Context, t *asynq.Task) error {
		var p tasks.SyncCatalogPayload
		if err := tasks.Decode(t, &p); err != nil {
			return err
		}
		return svc.Catalog(ctx, p)
	})
}
