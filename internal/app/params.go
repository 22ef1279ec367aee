package app

import (
	"github.com/reactivation/reactivation/api"
	"github.com/reactivation/reactivation/workers"
)

// APIParams are the services and values the API uses, from d.
func (d *App) APIParams() api.Params {
	return api.Params{Config: d.Config, Log: d.Log, Check: d.Check,
		Redis: d.Redis, RedisConn: d.RedisConn, Inspector: d.Inspector,
		Engine: d.Engine, Cache: d.Cache, Keys: d.Keys, Jobs: d.Jobs, Dispatcher: d.Dispatcher,
		Sync: d.Sync, Exports: d.Exports, Segments: d.Segments, Campaigns: d.Campaigns,
		Scores: d.Scores, Idempotency: d.Idempotency}
}

// WorkerParams are the services and values a worker uses, from d.
func (d *App) WorkerParams() workers.Params {
	return workers.Params{Config: d.Config, Log: d.Log, Redis: d.Redis,
		Jobs: d.Jobs, Dispatcher: d.Dispatcher, Reaper: d.Reaper, Sync: d.Sync, Exports: d.Exports,
		Segments: d.Segments, Campaigns: d.Campaigns, Idempotency: d.Idempotency}
}

// SchedulerParams are the services and values the scheduler uses, from d:
// it starts syncs as the system (no company, no key).
func (d *App) SchedulerParams() workers.SchedulerParams {
	return workers.SchedulerParams{Config: d.Config, Log: d.Log, Ticks: d.Ticks, Enqueuer: d.Asynq,
		StartSync: workers.StartSync(d.Sync)}
}
