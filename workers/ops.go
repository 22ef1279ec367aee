package workers

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// healthCheckInterval is how often asynq pings Redis on behalf of a
// worker's /healthz; a check older than three intervals counts as failed
// (the process is wedged).
const healthCheckInterval = 5 * time.Second

// health is the state behind a worker's /healthz and /readyz. asynq's
// health check (Config.HealthCheckFunc) records each Redis ping; Run marks
// the worker ready once it takes tasks and not ready as soon as it drains.
type health struct {
	mu      sync.Mutex
	err     error
	checked time.Time
	ready   bool
}

func newHealth() *health { return &health{checked: time.Now()} }

// record is asynq's HealthCheckFunc: err is the result of a Redis ping.
func (h *health) record(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.err, h.checked = err, time.Now()
}

func (h *health) setReady(ready bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ready = ready
}

// state reports whether the last health check passed and is fresh, and
// whether the worker takes tasks. problem is a short word for the caller,
// never the driver's error text (which names hosts).
func (h *health) state() (healthy, ready bool, problem string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.err != nil:
		problem = "redis unreachable"
	case time.Since(h.checked) > 3*healthCheckInterval:
		problem = "health check stalled"
	}
	healthy = problem == ""
	return healthy, healthy && h.ready, problem
}

// healthz answers 200 while asynq's last Redis ping succeeded.
func (h *health) healthz(w http.ResponseWriter, _ *http.Request) {
	healthy, _, problem := h.state()
	writeProbe(w, healthy, problem)
}

// readyz answers 200 while the worker takes tasks and Redis answers; 503
// before the server started and from the moment it drains.
func (h *health) readyz(w http.ResponseWriter, _ *http.Request) {
	healthy, ready, problem := h.state()
	if healthy && !ready {
		problem = "not taking tasks"
	}
	writeProbe(w, ready, problem)
}

func writeProbe(w http.ResponseWriter, ok bool, problem string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	body := map[string]string{"status": "ok"}
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		body = map[string]string{"status": "unavailable", "reason": problem}
	}
	_ = json.NewEncoder(w).Encode(body)
}

// serveOps serves, for process ("worker", "scheduler"), /metrics (the default registry) and the given probe
// handlers on addr until ctx ends. It returns once the listener is bound,
// so a bad address fails the process at start; the log line carries the
// bound address (useful with port 0).
func serveOps(ctx context.Context, log *zap.Logger, process, variable, addr string, probes map[string]http.HandlerFunc) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", variable, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.Handler())
	for path, h := range probes {
		mux.HandleFunc(path, h)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown in stop
	log.Info(process+" metrics listening", zap.String("addr", ln.Addr().String()))
	return func() {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}, nil
}

// RunWithMetrics is Run plus, on addr (none when addr is ""), /metrics and
// /healthz, which answers 200 while the scheduler's loop ticks (it ticks
// every second; 30 s without a tick is a wedged process).
func (s *Scheduler) RunWithMetrics(ctx context.Context, addr string) error {
	if addr == "" {
		return s.Run(ctx)
	}
	s.lastTick.Store(time.Now().Unix())
	alive := func(w http.ResponseWriter, _ *http.Request) {
		ok := time.Since(time.Unix(s.lastTick.Load(), 0)) < 30*time.Second
		writeProbe(w, ok, "scheduler loop stalled")
	}
	stop, err := serveOps(ctx, s.log, "scheduler", "SCHEDULER_METRICS_ADDR", addr,
		map[string]http.HandlerFunc{"/healthz": alive, "/readyz": alive})
	if err != nil {
		return err
	}
	defer stop()
	return s.Run(ctx)
}
