// Command scheduler enqueues the periodic syncs and the job reaper. Two
// replicas are safe: each tick is claimed once.
package main

import (
	"context"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/workers"
)

func main() {
	app.Main("scheduler", "enqueues the nightly full sync, the incremental syncs and the job reaper; two replicas are safe", func(ctx context.Context, d *app.App) error {
		s, err := workers.NewScheduler(d.SchedulerParams())
		if err != nil {
			return err
		}
		return s.RunWithMetrics(ctx, d.Config.SchedulerMetricsAddr)
	})
}
