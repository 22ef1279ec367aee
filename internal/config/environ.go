package config

import (
	"strconv"
	"time"
)

// Environ renders c as the environment of a child process, NAME=value, one
// entry for every variable Load reads, so that Load in the child returns c
// (the Location is BusinessTimezone's). The test and bench process harness
// (internal/procs) starts the real binaries with it.
func (c Config) Environ() []string {
	d := func(v time.Duration) string { return v.String() }
	i := strconv.Itoa
	vars := [][2]string{
		{"DATABASE_URL", c.DatabaseURL},
		{"SOURCE_DATABASE_URL", c.SourceDatabaseURL},
		{"REDIS_URL", c.RedisURL},
		{"ELASTICSEARCH_URL", c.ElasticsearchURL},
		{"SEARCH_FLAVOR", c.SearchFlavor},
		{"INDEX_ALIAS", c.IndexAlias},
		{"BUSINESS_TIMEZONE", c.BusinessTimezone},
		{"API_ADDR", c.APIAddr},
		{"LOG_LEVEL", c.LogLevel},
		{"SHUTDOWN_TIMEOUT", d(c.ShutdownTimeout)},
		{"WORKER_CONCURRENCY", i(c.WorkerConcurrency)},
		{"WORKER_POLL_INTERVAL", d(c.WorkerPollInterval)},
		{"TENANT_MAX_IN_FLIGHT", i(c.TenantMaxInFlight)},
		{"WORKER_METRICS_ADDR", c.WorkerMetricsAddr},
		{"WORKER_QUEUES", c.WorkerQueues},
		{"SYNC_SHARD_SIZE", i(c.SyncShardSize)},
		{"SYNC_FULL_CRON", c.SyncFullCron},
		{"SYNC_INCREMENTAL_EVERY", d(c.SyncIncrementalEvery)},
		{"SYNC_RECONCILE_EVERY", d(c.SyncReconcileEvery)},
		{"REAPER_INTERVAL", d(c.ReaperInterval)},
		{"SEARCH_CACHE_TTL", d(c.SearchCacheTTL)},
		{"EXPORT_RETENTION", d(c.ExportRetention)},
		{"SNAPSHOT_RETENTION", d(c.SnapshotRetention)},
		{"RATE_LIMIT_PER_MINUTE", i(c.RateLimitPerMinute)},
		{"RATE_LIMIT_BURST", i(c.RateLimitBurst)},
		{"CORS_ORIGIN", c.CORSOrigin},
		{"SCORES_ENABLED", strconv.FormatBool(c.ScoresEnabled)},
		{"PROMETHEUS_URL", c.PrometheusURL},
		{"SCHEDULER_METRICS_ADDR", c.SchedulerMetricsAddr},
		{"INDEX_REPLICAS", i(c.IndexReplicas)},
		{"SCAN_SLICES", i(c.ScanSlices)},
		{"ID_CHUNK", i(c.IDChunk)},
		{"PROFILE_DIR", c.ProfileDir},
		{"REDIS_SENTINEL_ADDRS", c.RedisSentinelAddrs},
		{"REDIS_SENTINEL_MASTER", c.RedisSentinelMaster},
		{"REDIS_SENTINEL_PASSWORD", c.RedisSentinelPassword},
		{"REDIS_PASSWORD", c.RedisPassword},
		{"API_KEY_CACHE_TTL", d(c.APIKeyCacheTTL)},
	}
	out := make([]string, len(vars))
	for n, v := range vars {
		out[n] = v[0] + "=" + v[1]
	}
	return out
}
