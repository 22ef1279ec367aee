package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSentinelSettings(t *testing.T) {
	c := Defaults()
	require.Empty(t, c.Sentinels())

	c.RedisSentinelAddrs = " 127.0.0.1:26379, 127.0.0.1:26380 ,"
	c.RedisSentinelMaster = "queues"
	c.RedisSentinelPassword = "s3cr3t"
	require.NoError(t, c.Validate())
	require.Equal(t, []string{"127.0.0.1:26379", "127.0.0.1:26380"}, c.Sentinels())

	for _, bad := range []struct {
		addrs, master, names string
	}{
		{"127.0.0.1:26379", "", "REDIS_SENTINEL_MASTER"},
		{"", "queues", "REDIS_SENTINEL_MASTER"},
		{",", "queues", "REDIS_SENTINEL_ADDRS"},
		{"127.0.0.1", "queues", "REDIS_SENTINEL_ADDRS"},
		{":26379", "queues", "REDIS_SENTINEL_ADDRS"},
		{"host:port", "queues", "REDIS_SENTINEL_ADDRS"},
	} {
		c := Defaults()
		c.RedisSentinelAddrs, c.RedisSentinelMaster, c.RedisSentinelPassword = bad.addrs, bad.master, "s3cr3t"
		err := c.Validate()
		require.Error(t, err, bad)
		require.Contains(t, err.Error(), bad.names, bad)
		require.NotContains(t, err.Error(), "s3cr3t")
	}
}
