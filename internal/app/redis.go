package app

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/reactivation/reactivation/internal/config"
)

// openRedis returns the go-redis client (cache, rate limits) and asynq's
// connection (queues) cfg selects: through Redis Sentinel when
// REDIS_SENTINEL_ADDRS is set, so both follow the master through a
// failover, or straight to REDIS_URL's host. where names what was
// dialled, for errors; it never holds a password.
func openRedis(cfg config.Config) (client *redis.Client, conn asynq.RedisConnOpt, where string, err error) {
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, nil, "", fmt.Errorf("REDIS_URL: %w", err)
	}
	password := cmp.Or(cfg.RedisPassword, opt.Password)
	sentinels := cfg.Sentinels()
	if len(sentinels) == 0 {
		opt.Password = password
		return redis.NewClient(opt),
			asynq.RedisClientOpt{Addr: opt.Addr, Username: opt.Username, Password: password, DB: opt.DB, TLSConfig: opt.TLSConfig},
			"redis at " + opt.Addr, nil
	}
	client = redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:       cfg.RedisSentinelMaster,
		SentinelAddrs:    sentinels,
		SentinelPassword: cfg.RedisSentinelPassword,
		Username:         opt.Username,
		Password:         password,
		DB:               opt.DB,
		TLSConfig:        opt.TLSConfig,
	})
	conn = asynq.RedisFailoverClientOpt{
		MasterName:       cfg.RedisSentinelMaster,
		SentinelAddrs:    sentinels,
		SentinelPassword: cfg.RedisSentinelPassword,
		Username:         opt.Username,
		Password:         password,
		DB:               opt.DB,
		TLSConfig:        opt.TLSConfig,
	}
	return client, conn, fmt.Sprintf("redis master %q of sentinels %s", cfg.RedisSentinelMaster, strings.Join(sentinels, ",")), nil
}
