package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-redis/redis_rate/v10"
	"go.uber.org/zap"
)

// rateLimit allows each key RATE_LIMIT_PER_MINUTE requests a minute with
// bursts of RATE_LIMIT_BURST, counted in Redis so every API replica shares
// the budget (GCRA, go-redis/redis_rate). Over budget: 429 with
// Retry-After. The RateLimit-* headers tell clients where they stand.
func (s *Server) rateLimit() gin.HandlerFunc {
	limiter := redis_rate.NewLimiter(s.deps.Redis)
	limit := redis_rate.Limit{Rate: s.deps.Config.RateLimitPerMinute, Burst: s.deps.Config.RateLimitBurst, Period: time.Minute}
	return func(c *gin.Context) {
		if s.redisDown.open() {
			c.Next()
			return
		}
		k, _ := keyOf(c)
		res, err := limiter.Allow(c.Request.Context(), "reactivation:rate:"+k.ID, limit)
		if err != nil {
			// Redis down: serve rather than refuse; readiness reports Redis.
			s.redisDown.trip()
			loggerOf(c).Warn("rate limiter unavailable", zap.Error(err))
			c.Next()
			return
		}
		h := c.Writer.Header()
		h.Set("RateLimit-Limit", strconv.Itoa(limit.Burst))
		h.Set("RateLimit-Remaining", strconv.Itoa(res.Remaining))
		h.Set("RateLimit-Reset", strconv.Itoa(int(math.Ceil(res.ResetAfter.Seconds()))))
		if res.Allowed == 0 {
			retry := int(math.Max(1, math.Ceil(res.RetryAfter.Seconds())))
			h.Set("Retry-After", strconv.Itoa(retry))
			writeProblem(c, problem(http.StatusTooManyRequests, fmt.Sprintf("rate limit of %d requests a minute exceeded; retry in %d s", limit.Rate, retry)))
			return
		}
		c.Next()
	}
}

// limitBody caps every request body; handlers see an error past the cap
// and answer 413.
func limitBody(c *gin.Context) {
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBody)
	}
	c.Next()
}

// securityHeaders sets headers every response carries.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	c.Next()
}

// cors answers browsers from CORS_ORIGIN only; without it no cross-origin
// access is granted.
func (s *Server) cors(c *gin.Context) {
	origin := c.GetHeader("Origin")
	allowed := s.deps.Config.CORSOrigin
	if origin == "" || allowed == "" || (allowed != "*" && origin != allowed) {
		if c.Request.Method == http.MethodOptions && origin != "" {
			c.AbortWithStatus(http.StatusForbidden)
			return
		}
		c.Next()
		return
	}
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", "X-Request-ID, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, X-Cache, Location, ETag, Content-Disposition, Idempotent-Replayed")
	if c.Request.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "X-API-Key, Authorization, Content-Type, X-Request-ID, If-None-Match, Idempotency-Key")
		h.Set("Access-Control-Max-Age", "600")
		c.AbortWithStatus(http.StatusNoContent)
		return
	}
	c.Next()
}
