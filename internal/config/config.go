// Package config reads the one configuration struct every binary uses from
// the environment and validates it before anything starts.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/robfig/cron/v3"

	"github.com/reactivation/reactivation/internal/redact"
)

// Config is the whole configuration of the API, worker, scheduler and CLI.
// Every field is documented in the README's configuration table.
type Config struct {
	// DatabaseURL is the service's own PostgreSQL (jobs, keys, exports).
	DatabaseURL string `env:"DATABASE_URL" envDefault:"postgres://reactivation:reactivation@127.0.0.1:5432/reactivation?sslmode=disable"`
	// SourceDatabaseURL is the customer's database (a read replica in
	// production). Empty means DatabaseURL.
	SourceDatabaseURL string `env:"SOURCE_DATABASE_URL"`
	RedisURL          string `env:"REDIS_URL" envDefault:"redis://127.0.0.1:6379/0"`
	// ElasticsearchURL empty selects the PostgreSQL search engine.
	ElasticsearchURL string `env:"ELASTICSEARCH_URL"`
	// SearchFlavor "opensearch" only lets the v8 client talk to OpenSearch.
	SearchFlavor     string        `env:"SEARCH_FLAVOR" envDefault:"elasticsearch"`
	IndexAlias       string        `env:"INDEX_ALIAS" envDefault:"customers"`
	BusinessTimezone string        `env:"BUSINESS_TIMEZONE" envDefault:"America/Costa_Rica"`
	APIAddr          string        `env:"API_ADDR" envDefault:":8080"`
	LogLevel         string        `env:"LOG_LEVEL" envDefault:"info"`
	ShutdownTimeout  time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"25s"`

	WorkerConcurrency int `env:"WORKER_CONCURRENCY" envDefault:"4"`
	// WorkerPollInterval is how long a worker whose queues are empty waits
	// before it looks again (asynq's TaskCheckInterval, which sleeps half
	// to one and a half of it). asynq's own 1s put about a second between
	// every step of a job that another step enqueues (a full sync's plan,
	// scores, shards and finalize); each look is one Redis script call.
	WorkerPollInterval time.Duration `env:"WORKER_POLL_INTERVAL" envDefault:"100ms"`
	// TenantMaxInFlight caps how many of one company's exports, segment
	// searches, refreshes and campaign jobs run at once across all workers.
	// 0 (the default) means the workers' whole capacity: a company alone
	// still uses every worker, and companies share fairly when several wait.
	TenantMaxInFlight int `env:"TENANT_MAX_IN_FLIGHT" envDefault:"0"`
	// WorkerMetricsAddr is where a worker process serves /metrics; empty
	// serves none.
	WorkerMetricsAddr string `env:"WORKER_METRICS_ADDR" envDefault:":9091"`
	// WorkerQueues weighs the asynq queues, "name:weight,...".
	WorkerQueues string `env:"WORKER_QUEUES" envDefault:"critical:6,sync:3,default:2,export:2"`
	// SyncShardSize is the number of customers per full-sync shard.
	SyncShardSize int `env:"SYNC_SHARD_SIZE" envDefault:"20000"`
	// SyncFullCron is a five-field cron in BUSINESS_TIMEZONE.
	SyncFullCron         string        `env:"SYNC_FULL_CRON" envDefault:"0 2 * * *"`
	SyncIncrementalEvery time.Duration `env:"SYNC_INCREMENTAL_EVERY" envDefault:"15m"`
	// SyncReconcileEvery is how often a reconcile pass compares the index
	// with the source and repairs it; 0 disables the schedule.
	SyncReconcileEvery time.Duration `env:"SYNC_RECONCILE_EVERY" envDefault:"1h"`
	// ReaperInterval is how often the reaper enqueues again the tasks Redis
	// lost and fails the jobs whose tasks will not run again.
	ReaperInterval time.Duration `env:"REAPER_INTERVAL" envDefault:"1m"`

	SearchCacheTTL     time.Duration `env:"SEARCH_CACHE_TTL" envDefault:"10m"`
	ExportRetention    time.Duration `env:"EXPORT_RETENTION" envDefault:"168h"`
	SnapshotRetention  time.Duration `env:"SNAPSHOT_RETENTION" envDefault:"24h"`
	RateLimitPerMinute int           `env:"RATE_LIMIT_PER_MINUTE" envDefault:"600"`
	RateLimitBurst     int           `env:"RATE_LIMIT_BURST" envDefault:"100"`
	CORSOrigin         string        `env:"CORS_ORIGIN"`
	// ScoresEnabled computes customer scores (RFM, BG/NBD) at each full
	// sync and on every write; false indexes documents without them.
	ScoresEnabled bool `env:"SCORES_ENABLED" envDefault:"true"`
	// APIKeyCacheTTL is how long an API process trusts a key it read from
	// PostgreSQL (auth.NewCachedStore): the bound on how long a key
	// revoked elsewhere (another replica, the CLI) keeps working; 0 reads
	// PostgreSQL on every request.
	APIKeyCacheTTL time.Duration `env:"API_KEY_CACHE_TTL" envDefault:"1s"`

	// PrometheusURL, when set, is the Prometheus server Asynqmon queries
	// for its queue charts (http://prometheus:9090); empty shows none.
	PrometheusURL string `env:"PROMETHEUS_URL"`
	// SchedulerMetricsAddr is where a scheduler process serves /metrics and
	// /healthz; empty serves none.
	SchedulerMetricsAddr string `env:"SCHEDULER_METRICS_ADDR" envDefault:":9092"`

	// IndexReplicas is the serving index's number_of_replicas on
	// Elasticsearch, set when a generation is promoted. -1 (the default)
	// asks the cluster at each promotion: 1 when it has more than one
	// data node, 0 on a single node, where a replica could never be
	// assigned. A full sync always loads without replicas.
	IndexReplicas int `env:"INDEX_REPLICAS" envDefault:"-1"`

	// ScanSlices is how many slices a campaign's freeze reads the
	// audience's ids in, in parallel, from one point in time of the
	// index (OpenSearch; Elasticsearch reads one scroll). 1 reads one
	// scroll. Default 2.
	ScanSlices int `env:"SCAN_SLICES" envDefault:"2"`

	// IDChunk is how many ids one request of a campaign's freeze returns
	// when OpenSearch gathers the audience's ids in an aggregation instead
	// of fetching hits; 0 reads them with the sliced scan (SCAN_SLICES).
	// Default 50000.
	IDChunk int `env:"ID_CHUNK" envDefault:"50000"`

	// ProfileDir, when set, is a directory every server process (api,
	// worker, scheduler) writes a CPU profile of its whole run into, and
	// an allocation profile at exit: <process>-<pid>.cpu.prof and
	// .heap.prof. For measuring (the bench's profiles); off by default.
	ProfileDir string `env:"PROFILE_DIR"`

	// RedisSentinelAddrs, comma-separated host:port, selects Redis
	// Sentinel: queues, cache and rate limits follow the master named
	// RedisSentinelMaster through failovers, and REDIS_URL only gives the
	// master's username, password and DB. Empty uses REDIS_URL's host.
	RedisSentinelAddrs  string `env:"REDIS_SENTINEL_ADDRS"`
	RedisSentinelMaster string `env:"REDIS_SENTINEL_MASTER"`
	// RedisSentinelPassword authenticates to the sentinels; empty: none.
	RedisSentinelPassword string `env:"REDIS_SENTINEL_PASSWORD"`
	// RedisPassword, when set, replaces REDIS_URL's password.
	RedisPassword string `env:"REDIS_PASSWORD"`

	// Location is BusinessTimezone, loaded.
	Location *time.Location `env:"-"`
}

// Load reads the environment and validates it. The error names the variable.
func Load() (Config, error) {
	var c Config
	if err := env.Parse(&c); err != nil {
		var agg env.AggregateError
		if errors.As(err, &agg) && len(agg.Errors) > 0 {
			err = agg.Errors[0]
		}
		var perr env.ParseError
		if errors.As(err, &perr) {
			if f, ok := reflect.TypeOf(c).FieldByName(perr.Name); ok {
				return c, fmt.Errorf("config: %s: %v", f.Tag.Get("env"), perr.Err)
			}
		}
		return c, fmt.Errorf("config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// Validate checks every value and fills the derived fields.
func (c *Config) Validate() error {
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("config: %s: %s", name, fmt.Sprintf(format, args...))
	}
	if c.SourceDatabaseURL == "" {
		c.SourceDatabaseURL = c.DatabaseURL
	}
	for _, v := range []struct{ name, value string }{{"DATABASE_URL", c.DatabaseURL}, {"SOURCE_DATABASE_URL", c.SourceDatabaseURL}} {
		if err := checkURL(v.value, "postgres", "postgresql"); err != nil {
			return bad(v.name, "%v", err)
		}
	}
	if err := checkURL(c.RedisURL, "redis", "rediss"); err != nil {
		return bad("REDIS_URL", "%v", err)
	}
	if c.ElasticsearchURL != "" {
		if err := checkURL(c.ElasticsearchURL, "http", "https"); err != nil {
			return bad("ELASTICSEARCH_URL", "%v", err)
		}
	}
	if c.SearchFlavor != "elasticsearch" && c.SearchFlavor != "opensearch" {
		return bad("SEARCH_FLAVOR", "must be elasticsearch or opensearch, got %q", c.SearchFlavor)
	}
	if c.IndexAlias == "" || strings.ToLower(c.IndexAlias) != c.IndexAlias || strings.ContainsAny(c.IndexAlias, ` "*\,/<>?|#:`) {
		return bad("INDEX_ALIAS", "must be a lowercase index name, got %q", c.IndexAlias)
	}
	loc, err := time.LoadLocation(c.BusinessTimezone)
	if err != nil || c.BusinessTimezone == "" {
		return bad("BUSINESS_TIMEZONE", "unknown time zone %q", c.BusinessTimezone)
	}
	c.Location = loc
	if _, _, err := splitHostPort(c.APIAddr); err != nil {
		return bad("API_ADDR", "%v", err)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return bad("LOG_LEVEL", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	if c.WorkerMetricsAddr != "" {
		if _, _, err := splitHostPort(c.WorkerMetricsAddr); err != nil {
			return bad("WORKER_METRICS_ADDR", "%v", err)
		}
	}
	if c.WorkerConcurrency < 1 {
		return bad("WORKER_CONCURRENCY", "must be at least 1, got %d", c.WorkerConcurrency)
	}
	if c.TenantMaxInFlight < 0 {
		return bad("TENANT_MAX_IN_FLIGHT", "must be 0 (the workers' capacity) or more, got %d", c.TenantMaxInFlight)
	}
	if _, err := c.Queues(); err != nil {
		return bad("WORKER_QUEUES", "%v", err)
	}
	if c.SyncShardSize < 100 {
		return bad("SYNC_SHARD_SIZE", "must be at least 100, got %d", c.SyncShardSize)
	}
	if _, err := cron.ParseStandard(c.SyncFullCron); err != nil {
		return bad("SYNC_FULL_CRON", "%v", err)
	}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{
		{"SYNC_INCREMENTAL_EVERY", c.SyncIncrementalEvery}, {"REAPER_INTERVAL", c.ReaperInterval},
		{"SEARCH_CACHE_TTL", c.SearchCacheTTL}, {"EXPORT_RETENTION", c.ExportRetention},
		{"SNAPSHOT_RETENTION", c.SnapshotRetention}, {"SHUTDOWN_TIMEOUT", c.ShutdownTimeout},
		{"WORKER_POLL_INTERVAL", c.WorkerPollInterval},
	} {
		if d.value <= 0 {
			return bad(d.name, "must be a positive duration, got %s", d.value)
		}
	}
	if c.SyncReconcileEvery < 0 {
		return bad("SYNC_RECONCILE_EVERY", "must be a duration, 0 to disable, got %s", c.SyncReconcileEvery)
	}
	if c.APIKeyCacheTTL < 0 {
		return bad("API_KEY_CACHE_TTL", "must be a duration, 0 to disable, got %s", c.APIKeyCacheTTL)
	}
	if c.RateLimitPerMinute < 1 {
		return bad("RATE_LIMIT_PER_MINUTE", "must be at least 1, got %d", c.RateLimitPerMinute)
	}
	if c.RateLimitBurst < 1 {
		return bad("RATE_LIMIT_BURST", "must be at least 1, got %d", c.RateLimitBurst)
	}
	if c.ScanSlices < 1 || c.ScanSlices > 16 {
		return bad("SCAN_SLICES", "must be between 1 and 16, got %d", c.ScanSlices)
	}
	if c.IDChunk < 0 || c.IDChunk > 1000000 {
		return bad("ID_CHUNK", "must be between 0 and 1000000, got %d", c.IDChunk)
	}
	if c.IndexReplicas < -1 {
		return bad("INDEX_REPLICAS", "must be -1 (decided by the cluster's data nodes) or at least 0, got %d", c.IndexReplicas)
	}
	if err := c.validateSentinel(); err != nil {
		return err
	}
	return c.validateOps()
}

// Queues parses WorkerQueues into asynq's queue weights.
func (c *Config) Queues() (map[string]int, error) {
	out := map[string]int{}
	for _, part := range strings.Split(c.WorkerQueues, ",") {
		name, weight, ok := strings.Cut(strings.TrimSpace(part), ":")
		var w int
		if _, err := fmt.Sscanf(weight, "%d", &w); !ok || name == "" || err != nil || w < 1 {
			return nil, fmt.Errorf("want name:weight pairs separated by commas, got %q", part)
		}
		out[name] = w
	}
	for _, q := range []string{"critical", "sync", "default", "export"} {
		if _, ok := out[q]; !ok {
			return nil, fmt.Errorf("queue %q is missing", q)
		}
	}
	return out, nil
}

// checkURL wants raw to be a URL with a host and one of schemes. Its error
// shows the value with any password masked: configuration errors are
// printed and logged.
func checkURL(raw string, schemes ...string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %q", redact.URL(raw))
	}
	for _, s := range schemes {
		if u.Scheme == s && u.Host != "" {
			return nil
		}
	}
	return fmt.Errorf("want a %s:// URL with a host, got %q", schemes[0], redact.URL(raw))
}

func splitHostPort(addr string) (string, string, error) {
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		return "", "", fmt.Errorf("want host:port or :port, got %q", addr)
	}
	port := addr[i+1:]
	var p int
	if _, err := fmt.Sscanf(port, "%d", &p); err != nil || p < 0 || p > 65535 {
		return "", "", fmt.Errorf("bad port in %q", addr)
	}
	return addr[:i], port, nil
}

// Defaults returns the configuration with every default and no
// environment, validated; tests override fields and call Validate again.
func Defaults() Config {
	var c Config
	if err := env.ParseWithOptions(&c, env.Options{Environment: map[string]string{}}); err != nil {
		panic(err)
	}
	if err := c.Validate(); err != nil {
		panic(err)
	}
	return c
}
