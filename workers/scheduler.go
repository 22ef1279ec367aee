package workers

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/robfig/cron/v3"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/syncrun"
	"github.com/reactivation/reactivation/tasks"
)

// SyncStarter starts a sync job; the scheduler calls it on its ticks.
type SyncStarter func(ctx context.Context, mode syncrun.Mode) (jobID string, err error)

// TickClaimer records a scheduler tick once across replicas.
type TickClaimer interface {
	// Claim reports whether this caller is the first to claim (name, slot).
	Claim(ctx context.Context, name string, slot time.Time) (bool, error)
}

// Enqueuer enqueues a task (an *asynq.Client).
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// SchedulerParams are exactly what the scheduler uses.
type SchedulerParams struct {
	// Config gives the schedules (SYNC_FULL_CRON, SYNC_INCREMENTAL_EVERY,
	// SYNC_RECONCILE_EVERY, REAPER_INTERVAL) and the business time zone.
	Config config.Config
	Log    *zap.Logger
	Ticks  TickClaimer
	// Enqueuer takes the maintenance tasks (reaper, cleanups).
	Enqueuer Enqueuer
	// StartSync starts syncs of the modes of syncrun.Modes.
	StartSync SyncStarter
}

// Scheduler enqueues the nightly full sync, the incremental sync, the
// reconcile pass (SYNC_RECONCILE_EVERY) and the reaper on their schedules.
// Two replicas may run: every tick is claimed in PostgreSQL first, so each
// is acted on once.
type Scheduler struct {
	deps SchedulerParams
	log  *zap.Logger
	full cron.Schedule
	// lastTick is the Unix time of the last tick, for /healthz.
	lastTick atomic.Int64
}

// NewScheduler returns a scheduler over p; a SYNC_FULL_CRON that does not
// parse is an error.
func NewScheduler(p SchedulerParams) (*Scheduler, error) {
	sched, err := cron.ParseStandard(p.Config.SyncFullCron)
	if err != nil {
		return nil, fmt.Errorf("SYNC_FULL_CRON: %w", err)
	}
	return &Scheduler{deps: p, log: p.Log, full: sched}, nil
}

// Run ticks until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	cfg := s.deps.Config
	s.log.Info("scheduler started", zap.String("full_cron", cfg.SyncFullCron),
		zap.String("timezone", cfg.BusinessTimezone), zap.Duration("incremental_every", cfg.SyncIncrementalEvery))
	nextFull := s.full.Next(time.Now().In(cfg.Location))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastInc, lastReap, lastClean, lastReconcile time.Time
	for {
		select {
		case <-ctx.Done():
			s.log.Info("scheduler stopped")
			return nil
		case now := <-tick.C:
			s.lastTick.Store(now.Unix())
			if !now.Before(nextFull) {
				s.fire(ctx, syncrun.ModeFull, nextFull)
				nextFull = s.full.Next(now.In(cfg.Location))
			}
			if slot := now.Truncate(cfg.SyncIncrementalEvery); slot.After(lastInc) {
				if !lastInc.IsZero() {
					s.fire(ctx, syncrun.ModeIncremental, slot)
				}
				lastInc = slot
			}
			if every := cfg.SyncReconcileEvery; every > 0 {
				if slot := now.Truncate(every); slot.After(lastReconcile) {
					if !lastReconcile.IsZero() {
						s.fire(ctx, syncrun.ModeReconcile, slot)
					}
					lastReconcile = slot
				}
			}
			if slot := now.Truncate(cfg.ReaperInterval); slot.After(lastReap) {
				lastReap = slot
				s.enqueue(ctx, func() (*asynq.Task, string, error) { return tasks.NewReapTask(tasks.ReapPayload{Slot: slot.Unix()}) })
			}
			if slot := now.Truncate(time.Hour); slot.After(lastClean) {
				lastClean = slot
				s.enqueue(ctx, func() (*asynq.Task, string, error) {
					return tasks.NewSnapshotsCleanupTask(tasks.SnapshotsCleanupPayload{Slot: slot.Unix()})
				})
				s.enqueue(ctx, func() (*asynq.Task, string, error) { return tasks.NewExportCleanupTask(slot.Unix()) })
			}
		}
	}
}

// fire claims the tick of mode's slot and starts a sync of mode if this
// replica won it. Ticks are named after the mode's job type ("sync.full"),
// as schedule_ticks has always recorded them.
func (s *Scheduler) fire(ctx context.Context, mode syncrun.Mode, slot time.Time) {
	spec, _ := syncrun.SpecOf(mode)
	name := spec.JobType
	won, err := s.deps.Ticks.Claim(ctx, name, slot)
	if err != nil {
		s.log.Error("claim tick", zap.String("schedule", name), zap.Error(err))
		return
	}
	if !won {
		return
	}
	if err := s.sync(ctx, mode); err != nil {
		s.log.Warn("scheduled run not started", zap.String("schedule", name), zap.Error(err))
	}
}

func (s *Scheduler) sync(ctx context.Context, mode syncrun.Mode) error {
	id, err := s.deps.StartSync(ctx, mode)
	if errs.Is(err, errs.Conflict) {
		s.log.Info("scheduled sync skipped: one is running", zap.Stringer("mode", mode))
		return nil
	}
	if err == nil {
		s.log.Info("scheduled sync enqueued", zap.Stringer("mode", mode), zap.String("job_id", id))
	}
	return err
}

// enqueue enqueues a periodic maintenance task; replicas enqueuing the
// same slot collide on its task id, so it runs once.
func (s *Scheduler) enqueue(ctx context.Context, build func() (*asynq.Task, string, error)) {
	task, _, err := build()
	if err == nil {
		_, err = s.deps.Enqueuer.EnqueueContext(ctx, task)
	}
	if err != nil && !isDuplicate(err) {
		s.log.Warn("enqueue maintenance task", zap.Error(err))
	}
}
