// Package ratelimit counts each API key's requests in Redis with the
// generic cell rate algorithm (GCRA), so every API replica shares one
// budget per key. One script call decides a request; it can ride in a
// caller's pipeline (Queue), so a cached search pays one Redis round trip
// for its rate limit and its cache lookup together.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limit allows Rate requests a Period, with bursts of Burst.
type Limit struct {
	Rate   int
	Burst  int
	Period time.Duration
}

// Result is one decision.
type Result struct {
	Allowed bool
	// Remaining is how many more requests the key may send at once.
	Remaining int
	// RetryAfter is when a refused request may be sent again; 0 when
	// allowed.
	RetryAfter time.Duration
	// ResetAfter is when the key's whole burst is available again.
	ResetAfter time.Duration
}

// gcra decides one request of key KEYS[1]: ARGV[1] is the emission
// interval (Period/Rate) and ARGV[2] the burst, the key holds the
// theoretical arrival time in microseconds of Redis's clock. It answers
// {allowed, remaining, retry after µs, reset after µs}.
var gcra = redis.NewScript(`
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local diff = now - (new_tat - interval * burst)
if diff < 0 then
  return {0, 0, -diff, tat - now}
end
local reset = new_tat - now
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil(reset / 1000))
return {1, math.floor(diff / interval), 0, reset}
`)

// Limiter decides requests against one Limit. Safe for concurrent use.
type Limiter struct {
	rdb    *redis.Client
	limit  Limit
	prefix string
}

// New returns a limiter of limit whose counters are prefix+key.
func New(rdb *redis.Client, prefix string, limit Limit) *Limiter {
	return &Limiter{rdb: rdb, limit: limit, prefix: prefix}
}

// Limit is the limiter's limit.
func (l *Limiter) Limit() Limit { return l.limit }

// Allow decides one request of key in its own round trip.
func (l *Limiter) Allow(ctx context.Context, key string) (Result, error) {
	cmd := gcra.Run(ctx, l.rdb, []string{l.prefix + key}, l.args()...)
	return decode(cmd)
}

// Pending is a decision queued in a pipeline; read it after Exec.
type Pending struct{ cmd *redis.Cmd }

// Queue adds the decision of one request of key to p, by the script's
// SHA: the caller runs the pipeline (Exec) and, should it fail with
// NoScript, calls Load and runs it again.
func (l *Limiter) Queue(ctx context.Context, p redis.Pipeliner, key string) Pending {
	return Pending{cmd: gcra.EvalSha(ctx, p, []string{l.prefix + key}, l.args()...)}
}

// Result is the queued decision, once the pipeline ran.
func (p Pending) Result() (Result, error) {
	if p.cmd == nil {
		return Result{}, errors.New("rate limit: the decision was never queued")
	}
	return decode(p.cmd)
}

// Load loads the script into Redis (after a restart or SCRIPT FLUSH).
func Load(ctx context.Context, rdb *redis.Client) error {
	return gcra.Load(ctx, rdb).Err()
}

// NoScript reports whether err is Redis's answer to the SHA of a script
// it does not hold.
func NoScript(err error) bool {
	return err != nil && strings.Contains(err.Error(), "NOSCRIPT")
}

func (l *Limiter) args() []any {
	interval := l.limit.Period.Microseconds() / int64(max(l.limit.Rate, 1))
	return []any{max(interval, 1), max(l.limit.Burst, 1)}
}

func decode(cmd *redis.Cmd) (Result, error) {
	v, err := cmd.Int64Slice()
	if err != nil {
		return Result{}, fmt.Errorf("rate limit: %w", err)
	}
	if len(v) != 4 {
		return Result{}, fmt.Errorf("rate limit: the script answered %d values", len(v))
	}
	return Result{Allowed: v[0] == 1, Remaining: int(v[1]),
		RetryAfter: time.Duration(v[2]) * time.Microsecond, ResetAfter: time.Duration(v[3]) * time.Microsecond}, nil
}
