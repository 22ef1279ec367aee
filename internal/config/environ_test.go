package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/stretchr/testify/require"
)

// TestEnvironRoundTrips checks that a child process loading Environ gets
// the same configuration, for a configuration where every field differs
// from its default, and that Environ names every variable Load reads.
func TestEnvironRoundTrips(t *testing.T) {
	t.Parallel()
	c := Defaults()
	c.DatabaseURL = "postgres://a:b@127.0.0.1:5433/svc?sslmode=disable&search_path=s1"
	c.SourceDatabaseURL = "postgres://a:b@127.0.0.1:5433/src?sslmode=disable"
	c.RedisURL = "redis://127.0.0.1:6390/7"
	c.ElasticsearchURL = "http://127.0.0.1:9201"
	c.SearchFlavor, c.IndexAlias, c.BusinessTimezone = "opensearch", "t_alias", "Europe/Madrid"
	c.APIAddr, c.LogLevel, c.ShutdownTimeout = "127.0.0.1:0", "warn", 5*time.Second
	c.WorkerConcurrency, c.TenantMaxInFlight, c.WorkerMetricsAddr = 2, 1, "127.0.0.1:0"
	c.WorkerQueues, c.SyncShardSize, c.SyncFullCron = "critical:1,sync:1,default:1,export:1", 100, "5 3 * * *"
	c.SyncIncrementalEvery, c.SyncReconcileEvery, c.ReaperInterval = time.Minute, 0, 90*time.Second
	c.SearchCacheTTL, c.ExportRetention, c.SnapshotRetention = time.Second, time.Hour, 2*time.Hour
	c.RateLimitPerMinute, c.RateLimitBurst, c.CORSOrigin = 7, 3, "https://example.test"
	c.ScoresEnabled, c.PrometheusURL, c.SchedulerMetricsAddr = false, "http://prom:9090", "127.0.0.1:0"
	c.IndexReplicas, c.RedisSentinelAddrs, c.RedisSentinelMaster = 0, "127.0.0.1:26379", "mymaster"
	c.RedisSentinelPassword, c.RedisPassword = "sentinel-secret", "redis-secret"
	c.APIKeyCacheTTL, c.WorkerPollInterval = 3*time.Second, 250*time.Millisecond
	c.ScanSlices = 3
	c.IDChunk, c.ProfileDir = 1000, "/tmp/profiles"
	loc, err := time.LoadLocation(c.BusinessTimezone)
	require.NoError(t, err)
	c.Location = loc

	vars := map[string]string{}
	for _, kv := range c.Environ() {
		name, value, ok := strings.Cut(kv, "=")
		require.True(t, ok, kv)
		require.NotContains(t, vars, name, "%s rendered twice", name)
		vars[name] = value
	}
	typ := reflect.TypeOf(Config{})
	for i := range typ.NumField() {
		name := typ.Field(i).Tag.Get("env")
		if name == "" || name == "-" {
			continue
		}
		require.Contains(t, vars, name, "Environ leaves out %s", name)
	}

	var got Config
	require.NoError(t, env.ParseWithOptions(&got, env.Options{Environment: vars}))
	require.NoError(t, got.Validate())
	require.Equal(t, c.Location.String(), got.Location.String())
	got.Location, c.Location = nil, nil
	require.Equal(t, c, got)
}
