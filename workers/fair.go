package workers

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// Fair-queue loop timing: admission runs when a per-company job finishes
// and at least every admitEvery (a job canceled, a worker added, a slot
// freed by another process); the gauges refresh every observeEvery.
const (
	admitEvery   = time.Second
	observeEvery = 5 * time.Second
)

// admitLoop hands held per-company tasks to asynq in fair order until ctx
// ends. Every worker process runs one; admissions of all of them are
// serialised in PostgreSQL, so more replicas only mean more wake-ups.
func (w *Worker) admitLoop(ctx context.Context) {
	admit := time.NewTicker(admitEvery)
	defer admit.Stop()
	observe := time.NewTicker(observeEvery)
	defer observe.Stop()
	fair := w.deps.Dispatcher.Fair()
	for {
		select {
		case <-ctx.Done():
			return
		case <-observe.C:
			if err := fair.Observe(ctx); err != nil && ctx.Err() == nil {
				w.log.Warn("fair queue metrics", zap.Error(err))
			}
			continue
		case <-admit.C:
		case <-w.admit:
		}
		if _, err := fair.Admit(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("fair queue admission", zap.Error(err))
		}
	}
}

// kickAdmission wakes the admission loop without blocking.
func (w *Worker) kickAdmission() {
	select {
	case w.admit <- struct{}{}:
	default:
	}
}
