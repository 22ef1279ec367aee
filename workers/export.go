package workers

import (
	"context"
	"errors"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/export"
	"github.com/reactivation/reactivation/tasks"
)

// registerExport registers the export run and the retention cleanup.
func (w *Worker) registerExport(mux *asynq.ServeMux) {
	svc := w.deps.Exports
	mux.HandleFunc(tasks.TypeExport, func(ctx context.Context, t *asynq.Task) error {
		var p tasks.ExportPayload
		if err := tasks.Decode(t, &p); err != nil {
			return err
		}
		err := svc.Run(ctx, p.JobID)
		// The last attempt fails the export here, not in trackJob, so its
		// chunks go and the audit log records the failure with the reason.
		if err != nil && (isFinal(ctx, err) || errs.Is(err, errs.Invalid)) {
			if ferr := svc.Fail(context.WithoutCancel(ctx), p.JobID, err.Error()); ferr != nil {
				return errors.Join(err, ferr)
			}
		}
		return err
	})
	mux.HandleFunc(tasks.TypeExportCleanup, func(ctx context.Context, t *asynq.Task) error {
		st, err := svc.Cleanup(ctx)
		if st != (export.CleanupStats{}) {
			loggerFrom(ctx, w.log).Info("export cleanup", zap.Int64("expired", st.Expired),
				zap.Int64("orphan_chunks", st.Orphans), zap.Int64("audited", st.Audited))
		}
		return err
	})
}
