// Package workers holds the asynq handlers, one file per task family, the
// middleware every task runs through, and the scheduler that enqueues
// periodic work.
package workers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/campaign"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/export"
	"github.com/reactivation/reactivation/internal/idempotency"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/metrics"
	"github.com/reactivation/reactivation/internal/segsearch"
	"github.com/reactivation/reactivation/internal/syncrun"
	"github.com/reactivation/reactivation/tasks"
)

// Params are exactly what a worker uses; cmd (through internal/app) fills
// them with the process's services, each built once.
type Params struct {
	// Config gives the concurrency, the queue weights and the shutdown
	// timeout.
	Config config.Config
	Log    *zap.Logger
	// Redis is the connection asynq's server takes tasks over.
	Redis       *redis.Client
	Jobs        *jobs.Store
	Dispatcher  *jobs.Dispatcher
	Reaper      *jobs.Reaper
	Sync        *syncrun.Service
	Exports     *export.Service
	Segments    *segsearch.Service
	Campaigns   *campaign.Service
	Idempotency *idempotency.Store
}

// Worker processes tasks from the queues with the configured concurrency.
type Worker struct {
	deps Params
	log  *zap.Logger
	// admit wakes the fair-queue loop when a per-company job finishes.
	admit chan struct{}
}

// New returns a worker over p.
func New(p Params) *Worker {
	return &Worker{deps: p, log: p.Log, admit: make(chan struct{}, 1)}
}

// Mux registers every handler behind the middleware.
func (w *Worker) Mux() *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.Use(w.observe, w.trackJob, permanent)
	mux.HandleFunc(tasks.TypeJobsReap, w.reap)
	w.registerSync(mux)
	w.registerExport(mux)
	w.registerSegments(mux)
	w.registerCampaigns(mux)
	w.registerScores(mux)
	return mux
}

// Run processes tasks until ctx ends. On shutdown, in-flight tasks get
// SHUTDOWN_TIMEOUT to finish; those that do not are handed back to Redis
// and run again elsewhere.
func (w *Worker) Run(ctx context.Context) error {
	return w.run(ctx, newHealth())
}

// run is Run reporting to h: Redis health from asynq's health check, ready
// while tasks are taken.
func (w *Worker) run(ctx context.Context, h *health) error {
	cfg := w.deps.Config
	queues, err := cfg.Queues()
	if err != nil {
		return err
	}
	srv := asynq.NewServerFromRedisClient(w.deps.Redis, asynq.Config{
		Concurrency:       cfg.WorkerConcurrency,
		TaskCheckInterval: cfg.WorkerPollInterval,
		Queues:            queues,
		ShutdownTimeout:   cfg.ShutdownTimeout,
		Logger:            asynqLogger{w.log.Sugar()},
		LogLevel:          asynq.WarnLevel,
		BaseContext:       func() context.Context { return context.WithoutCancel(ctx) },
		RetryDelayFunc:    retryDelay,
		IsFailure:         func(err error) bool { return !errors.Is(err, errRequeue) },
		// Drives /healthz and /readyz on WORKER_METRICS_ADDR.
		HealthCheckFunc:     h.record,
		HealthCheckInterval: healthCheckInterval,
	})
	if err := srv.Start(w.Mux()); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	h.setReady(true)
	w.log.Info("worker started", zap.Int("concurrency", cfg.WorkerConcurrency), zap.Any("queues", queues))
	admitDone := make(chan struct{})
	go func() { defer close(admitDone); w.admitLoop(ctx) }()
	<-ctx.Done()
	h.setReady(false)
	<-admitDone
	srv.Shutdown()
	w.log.Info("worker stopped")
	return nil
}

// RunWithMetrics is Run plus, on addr (none when addr is ""), /metrics,
// /healthz (200 while asynq's health check reaches Redis) and /readyz (200
// while tasks are taken and Redis answers), for a worker process of its own.
func (w *Worker) RunWithMetrics(ctx context.Context, addr string) error {
	h := newHealth()
	if addr == "" {
		return w.run(ctx, h)
	}
	stop, err := serveOps(ctx, w.log, "worker", "WORKER_METRICS_ADDR", addr,
		map[string]http.HandlerFunc{"/healthz": h.healthz, "/readyz": h.readyz})
	if err != nil {
		return err
	}
	defer stop()
	return w.run(ctx, h)
}

// errRequeue marks an error that is not a failure (the task will simply run
// again), such as waiting for the search engine to come back.
var errRequeue = errors.New("requeue")

// retryDelay backs off exponentially from 2 s up to a minute, so a search
// engine outage of a minute or two costs a few retries, not the run.
func retryDelay(n int, err error, t *asynq.Task) time.Duration {
	d := 2 * time.Second << min(n, 5)
	return min(d, time.Minute)
}

// observe logs and times every task.
func (w *Worker) observe(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		start := time.Now()
		id, _ := asynq.GetTaskID(ctx)
		retry, _ := asynq.GetRetryCount(ctx)
		log := w.log.With(zap.String("task_type", t.Type()), zap.String("task_id", id), zap.Int("retry", retry))
		if jobID := tasks.JobIDOf(t.Payload()); jobID != "" {
			log = log.With(zap.String("job_id", jobID))
		}
		err := next.ProcessTask(withLogger(ctx, log), t)
		outcome := "succeeded"
		if err != nil {
			outcome = "failed"
			if !isFinal(ctx, err) {
				outcome = "retried"
			}
			log.Warn("task failed", zap.Error(err), zap.String("outcome", outcome), zap.Duration("duration", time.Since(start)))
		} else {
			log.Info("task done", zap.Duration("duration", time.Since(start)))
		}
		metrics.TaskDuration.WithLabelValues(t.Type(), outcome).Observe(time.Since(start).Seconds())
		return err
	})
}

// trackJob keeps the job row in step with its tasks: running when one
// starts, the task marked done when it succeeds, the job failed with the
// reason when a task fails for the last time. Tasks of a job that is
// already final (canceled) are dropped.
func (w *Worker) trackJob(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		jobID := tasks.JobIDOf(t.Payload())
		if jobID == "" {
			return next.ProcessTask(ctx, t)
		}
		taskID, _ := asynq.GetTaskID(ctx)
		job, err := w.deps.Jobs.Start(ctx, jobID)
		if err != nil {
			if jobs.IsNotFound(err) {
				return fmt.Errorf("job %s no longer exists: %w", jobID, asynq.SkipRetry)
			}
			return err
		}
		if job.State.Final() {
			loggerFrom(ctx, w.log).Info("job already final; task dropped", zap.String("state", string(job.State)))
			return w.deps.Dispatcher.TaskDone(ctx, taskID)
		}
		err = next.ProcessTask(ctx, t)
		if tasks.Fair(t.Type()) && (err == nil || isFinal(ctx, err)) {
			defer w.kickAdmission() // a slot of the job's company is free
		}
		if err == nil {
			return w.deps.Dispatcher.TaskDone(ctx, taskID)
		}
		if isFinal(ctx, err) {
			if _, ferr := w.deps.Jobs.Fail(context.WithoutCancel(ctx), jobID, err.Error()); ferr != nil {
				return errors.Join(err, ferr)
			}
		}
		return err
	})
}

// permanent stops retries of errors that retrying cannot fix: invalid
// input, such as a document the search engine rejects.
func permanent(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		err := next.ProcessTask(ctx, t)
		if errs.Is(err, errs.Invalid) && !errors.Is(err, asynq.SkipRetry) {
			return fmt.Errorf("%w (%w)", err, asynq.SkipRetry)
		}
		return err
	})
}

// isFinal reports whether asynq will not retry after err.
func isFinal(ctx context.Context, err error) bool {
	if errors.Is(err, asynq.SkipRetry) {
		return true
	}
	if errors.Is(err, errRequeue) {
		return false
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	return retried >= maxRetry
}

func (w *Worker) reap(ctx context.Context, t *asynq.Task) error {
	failed, err := w.deps.Reaper.Reap(ctx)
	if len(failed) > 0 {
		loggerFrom(ctx, w.log).Warn("reaped jobs", zap.Strings("job_ids", failed))
	}
	return err
}

type loggerKey struct{}

func withLogger(ctx context.Context, l *zap.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

func loggerFrom(ctx context.Context, fallback *zap.Logger) *zap.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*zap.Logger); ok {
		return l
	}
	return fallback
}

// asynqLogger routes asynq's own messages through zap.
type asynqLogger struct{ s *zap.SugaredLogger }

func (l asynqLogger) Debug(args ...any) { l.s.Debug(args...) }
func (l asynqLogger) Info(args ...any)  { l.s.Info(args...) }
func (l asynqLogger) Warn(args ...any)  { l.s.Warn(args...) }
func (l asynqLogger) Error(args ...any) { l.s.Error(args...) }
func (l asynqLogger) Fatal(args ...any) { l.s.Fatal(args...) }

func isDuplicate(err error) bool {
	return errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask)
}
