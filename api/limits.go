package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/ratelimit"
)

// rateLimit allows each key RATE_LIMIT_PER_MINUTE requests a minute with
// bursts of RATE_LIMIT_BURST, counted in Redis so every API replica shares
// the budget (GCRA, internal/ratelimit). Over budget: 429 with
// Retry-After. The RateLimit-* headers tell clients where they stand. The
// synchronous search decides its rate limit itself, in the same Redis
// round trip as its cache lookup (searchCustomers), so this middleware
// lets it through.
func (s *Server) rateLimit() gin.HandlerFunc {
	s.limiter = ratelimit.New(s.deps.Redis, "reactivation:ratelimit:", ratelimit.Limit{
		Rate: s.deps.Config.RateLimitPerMinute, Burst: s.deps.Config.RateLimitBurst, Period: time.Minute})
	return func(c *gin.Context) {
		if s.redisDown.open() || pipelinedRateLimit[c.FullPath()] {
			c.Next()
			return
		}
		k, _ := keyOf(c)
		res, err := s.limiter.Allow(c.Request.Context(), k.ID)
		if err != nil {
			s.rateLimitUnavailable(c, err)
			c.Next()
			return
		}
		if s.admit(c, res) {
			c.Next()
		}
	}
}

// pipelinedRateLimit are the routes whose handler decides the rate limit.
var pipelinedRateLimit = map[string]bool{"/api/v1/customers/search": true, "/api/customers/search": true}

// rateLimitUnavailable records that Redis failed a rate-limit decision:
// the request is served rather than refused; readiness reports Redis.
func (s *Server) rateLimitUnavailable(c *gin.Context, err error) {
	s.redisDown.trip()
	loggerOf(c).Warn("rate limiter unavailable", zap.Error(err))
}

// admit sets the RateLimit-* headers of res and, over budget, answers 429
// with Retry-After and reports false.
func (s *Server) admit(c *gin.Context, res ratelimit.Result) bool {
	limit := s.limiter.Limit()
	h := c.Writer.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(limit.Burst))
	h.Set("RateLimit-Remaining", strconv.Itoa(res.Remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(int(math.Ceil(res.ResetAfter.Seconds()))))
	if !res.Allowed {
		retry := int(math.Max(1, math.Ceil(res.RetryAfter.Seconds())))
		h.Set("Retry-After", strconv.Itoa(retry))
		writeProblem(c, problem(http.StatusTooManyRequests, fmt.Sprintf("rate limit of %d requests a minute exceeded; retry in %d s", limit.Rate, retry)))
		return false
	}
	return true
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
