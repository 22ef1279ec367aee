package workers

import (
	"context"

	"github.com/hibiken/asynq"

	"github.com/reactivation/reactivation/tasks"
)

func (w *Worker) registerScores(mux *asynq.ServeMux) {
	svc := w.deps.Sync
	mux.HandleFunc(tasks.TypeScoresFit, func(ctx context.Context, t *asynq.Task) error {
		var p tasks.ScoresFitPayload
		if err := tasks.Decode(t, &p); err != nil {
			return err
		}
		return svc.FitScores(ctx, p)
	})
}
