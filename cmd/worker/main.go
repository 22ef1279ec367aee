// Command worker processes asynq tasks; run as many replicas as needed.
package main

import (
	"context"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/workers"
)

func main() {
	app.Main("worker", "processes asynq tasks (syncs, exports, segment searches); run as many replicas as needed", func(ctx context.Context, d *app.App) error {
		app.TuneWorkerGC(d.Log)
		return workers.New(d.WorkerParams()).RunWithMetrics(ctx, d.Config.WorkerMetricsAddr)
	})
}
