package app

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/reactivation/reactivation/internal/config"
)

// Protocol is the Redis protocol the go-redis clients speak: RESP2. We
// use nothing of RESP3 (its push notifications, client-side caching), and
// go-redis checks for pending push notifications before every reply it
// reads on RESP3, 2.6% of the API's CPU in the search scenario's profile.
const Protocol = 2

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
		opt.Protocol = Protocol
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
		Protocol:         Protocol,
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
