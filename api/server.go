// Package api is the HTTP API: a gin router whose handlers speak in domain
// terms, with problem+json errors, API-key auth and Prometheus metrics.
package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"
	asynqmetrics "github.com/hibiken/asynq/x/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/auth"
	"github.com/reactivation/reactivation/internal/cache"
	"github.com/reactivation/reactivation/internal/campaign"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/export"
	"github.com/reactivation/reactivation/internal/idempotency"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/ratelimit"
	"github.com/reactivation/reactivation/internal/scores"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segsearch"
	"github.com/reactivation/reactivation/internal/syncrun"
)

// Params are exactly what the API uses; cmd (through internal/app) fills
// them with the process's services, each built once.
type Params struct {
	Config config.Config
	Log    *zap.Logger
	// Check pings each dependency by name for /readyz; nil errors mean
	// healthy.
	Check func(ctx context.Context) map[string]error
	// Redis backs the rate limits; RedisConn the monitoring UI; Inspector
	// the queue metrics of /metrics.
	Redis     *redis.Client
	RedisConn asynq.RedisConnOpt
	Inspector *asynq.Inspector
	// Engine serves searches; nil answers them 503 (degraded).
	Engine      search.Engine
	Cache       *cache.Cache
	Keys        Authenticator
	Jobs        *jobs.Store
	Dispatcher  *jobs.Dispatcher
	Sync        *syncrun.Service
	Exports     *export.Service
	Segments    *segsearch.Service
	Campaigns   *campaign.Service
	Scores      *scores.Store
	Idempotency *idempotency.Store
}

// Authenticator resolves an API key's secret to the key.
type Authenticator interface {
	Authenticate(ctx context.Context, secret string) (auth.Key, error)
}

// Server holds the API's dependencies. Its Handler is safe for concurrent use.
type Server struct {
	deps   Params
	log    *zap.Logger
	router *gin.Engine
	// redisDown pauses optional Redis use (cache, rate limits) after a failure.
	redisDown breaker
	// limiter is every key's rate limit (rateLimit; the search pipelines it).
	limiter *ratelimit.Limiter
	// searches remembers recent search bodies decoded.
	searches searchMemo
}

// New builds the router over p.
func New(p Params) *Server {
	gin.SetMode(gin.ReleaseMode)
	s := &Server{deps: p, log: p.Log, router: gin.New()}
	s.routes()
	return s
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.router }

// routes registers every route. Middleware runs in this order: request id,
// recovery, access log, metrics, security headers, CORS, then per group
// auth, rate limit and scope.
func (s *Server) routes() {
	r := s.router
	r.HandleMethodNotAllowed = true
	r.Use(s.requestID, recovery, accessLog, observe, securityHeaders, s.cors)
	r.NoRoute(func(c *gin.Context) { writeProblem(c, problem(http.StatusNotFound, "no such route")) })
	r.NoMethod(func(c *gin.Context) {
		writeProblem(c, problem(http.StatusMethodNotAllowed, "method not allowed on this route"))
	})

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", gin.WrapH(s.metricsHandler()))
	s.monitoring(r)
	s.docsRoutes(r)

	// Every API route: auth, then the key's rate limit, then the body cap.
	authed := []gin.HandlerFunc{s.authenticate, s.rateLimit(), limitBody}
	v1 := r.Group("/api/v1", authed...)
	v1.GET("/jobs", s.listJobs)
	v1.GET("/jobs/:id", s.getJob)
	v1.DELETE("/jobs/:id", s.cancelJob)
	v1.POST("/customers/search", require(auth.ScopeSearch), s.searchCustomers)
	// The seed's path, for its existing clients.
	r.Group("/api", authed...).POST("/customers/search", require(auth.ScopeSearch), s.searchCustomers)

	s.segmentRoutes(v1.Group("", require(auth.ScopeSearch)))
	s.syncRoutes(v1.Group("", require(auth.ScopeSync)))
	s.exportRoutes(v1.Group("", require(auth.ScopeExport)))
	s.campaignRoutes(v1)
	s.campaignPage(r)
	s.scoresRoutes(v1.Group("", require(auth.ScopeSearch)))
}

// metricsHandler serves the process's metrics plus asynq's queue metrics,
// read from Redis at scrape time through this server's inspector.
func (s *Server) metricsHandler() http.Handler {
	queues := prometheus.NewRegistry()
	queues.MustRegister(asynqmetrics.NewQueueMetricsCollector(s.deps.Inspector))
	return promhttp.HandlerFor(prometheus.Gatherers{prometheus.DefaultGatherer, queues}, promhttp.HandlerOpts{})
}

// Run serves on addr until ctx ends, then shuts down gracefully within
// timeout. ready, if not nil, is called with the bound address (useful with
// port 0).
func (s *Server) Run(ctx context.Context, addr string, timeout time.Duration, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s.router, ReadHeaderTimeout: 10 * time.Second}
	if ready != nil {
		ready(ln.Addr())
	}
	s.log.Info("api listening", zap.String("addr", ln.Addr().String()))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	s.log.Info("api stopped")
	return err
}
