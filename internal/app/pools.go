package app

import "github.com/reactivation/reactivation/internal/config"

// Connections one worker task holds at the same time, at most: a shard's
// enrichment streams customers and lines on two source connections while
// it writes a batch on a third (the PostgreSQL engine) or records its
// progress in the service database; a change pass (incremental sync,
// catch-up) reads what was written on one source connection while a
// second counts the source's buckets in the same snapshot; an export
// streams from the engine while it stores chunks; a snapshot on the
// PostgreSQL engine copies its rows in one transaction while a second
// connection counts its summary.
const (
	sourceConnsPerTask  = 2
	serviceConnsPerTask = 1
	// engineConnsPerTask is the PostgreSQL engine's write (or scan).
	engineConnsPerTask = 1
	// spareConns serves what runs beside the tasks: API handlers, the
	// scheduler's ticks, the reaper, job bookkeeping.
	spareConns = 4
)

// PoolSizes returns the pool sizes a process needs so WORKER_CONCURRENCY
// tasks never wait on each other for a connection: db for the service
// database, source for the customer's. When the source is the service
// database (shared) both are one pool and db is its size. pgx's default
// (max(4, NumCPU)) is too small: four shards each holding two streams
// and waiting for a third connection to write deadlock.
func PoolSizes(cfg config.Config) (db, source int32, shared bool) {
	n := int32(cfg.WorkerConcurrency)
	engine := int32(0)
	if cfg.ElasticsearchURL == "" {
		engine = engineConnsPerTask
	}
	service := n*(serviceConnsPerTask+engine) + spareConns
	src := n*sourceConnsPerTask + spareConns/2
	if cfg.SourceDatabaseURL == cfg.DatabaseURL {
		return service + n*sourceConnsPerTask, 0, true
	}
	return service, src, false
}
