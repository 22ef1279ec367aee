package api

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/auth"
	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/metrics"
)

const (
	ctxLogger = "reactivation.logger"
	ctxKey    = "reactivation.key"
)

// requestID takes X-Request-ID from the client when it is sane, or makes
// one, echoes it and tags the request's logger with it.
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-ID")
	if len(id) == 0 || len(id) > 64 || strings.ContainsFunc(id, func(r rune) bool { return r < '!' || r > '~' }) {
		// An id, not a secret: math/rand's generator costs no system call.
		id = fmt.Sprintf("%016x", rand.Uint64())
	}
	c.Header("X-Request-ID", id)
	c.Set(ctxLogger, &requestLogger{base: s.log, id: id})
	c.Next()
}

// requestLogger is the request's logger, tagged with its id when first
// asked for: most requests log nothing but their access line, which
// takes the id as a field of its own.
type requestLogger struct {
	base *zap.Logger
	id   string
	once sync.Once
	l    *zap.Logger
}

func (r *requestLogger) get() *zap.Logger {
	r.once.Do(func() { r.l = r.base.With(zap.String("request_id", r.id)) })
	return r.l
}

func loggerOf(c *gin.Context) *zap.Logger {
	if l, ok := c.Get(ctxLogger); ok {
		return l.(*requestLogger).get()
	}
	return zap.NewNop()
}

// recovery turns a panic into a logged 500 problem.
func recovery(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			loggerOf(c).Error("panic", zap.Any("panic", r), zap.Stack("stack"))
			writeProblem(c, problem(http.StatusInternalServerError, "internal error"))
		}
	}()
	c.Next()
}

// accessLog writes one line per request: no bodies, no query strings (they
// may hold PII), no keys.
func accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	v, ok := c.Get(ctxLogger)
	if !ok {
		return
	}
	rl := v.(*requestLogger)
	ce := rl.base.Check(zap.InfoLevel, "request")
	if ce == nil {
		return // the level is above info: no fields to build
	}
	fields := []zap.Field{
		zap.String("request_id", rl.id),
		zap.String("method", c.Request.Method),
		zap.String("route", routeOf(c)),
		zap.Int("status", c.Writer.Status()),
		zap.Duration("duration", time.Since(start)),
		zap.Int("bytes", c.Writer.Size()),
	}
	if k, ok := keyOf(c); ok {
		fields = append(fields, zap.String("key_id", k.ID))
	}
	ce.Write(fields...)
}

// observe records the seed's http_request_duration_seconds histogram.
func observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	metrics.HTTPDuration.WithLabelValues(c.Request.Method, routeOf(c), strconv.Itoa(c.Writer.Status())).
		Observe(time.Since(start).Seconds())
}

// routeOf is the route template, never the raw path (ids would explode the
// label set).
func routeOf(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "unmatched"
}

// authenticate requires a valid key in X-API-Key or Authorization: Bearer.
func (s *Server) authenticate(c *gin.Context) {
	secret := secretOf(c)
	if secret == "" {
		c.Header("WWW-Authenticate", `Bearer realm="reactivation"`)
		writeProblem(c, problem(http.StatusUnauthorized, "send an API key in X-API-Key or Authorization: Bearer"))
		return
	}
	k, err := s.deps.Keys.Authenticate(c.Request.Context(), secret)
	if err != nil {
		if errs.Is(err, errs.Unauthorized) {
			c.Header("WWW-Authenticate", `Bearer realm="reactivation"`)
		}
		fail(c, err)
		return
	}
	c.Set(ctxKey, k)
	c.Next()
}

// require lets only keys with scope through.
func require(scope auth.Scope) gin.HandlerFunc {
	return func(c *gin.Context) {
		k, _ := keyOf(c)
		if !k.Has(scope) {
			writeProblem(c, problem(http.StatusForbidden, fmt.Sprintf("this key lacks the %q scope", scope)))
			return
		}
		c.Next()
	}
}

// secretOf is the key the request sends in X-API-Key or Authorization:
// Bearer, or "".
func secretOf(c *gin.Context) string {
	secret := c.GetHeader("X-API-Key")
	if secret == "" {
		if v, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer "); ok {
			secret = strings.TrimSpace(v)
		}
	}
	return secret
}

func keyOf(c *gin.Context) (auth.Key, bool) {
	v, ok := c.Get(ctxKey)
	if !ok {
		return auth.Key{}, false
	}
	return v.(auth.Key), true
}

// tenantOf is what the request's key may see.
func tenantOf(c *gin.Context) jobs.Tenant {
	k, _ := keyOf(c)
	return jobs.Tenant{CompanyID: k.CompanyID, Admin: k.Admin}
}
