// Package syncrun keeps the search index in step with the source database:
// a full sync builds a new generation shard by shard and swaps it in; an
// incremental sync and a refresh upsert changed customers into the serving
// generation.
package syncrun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/metrics"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/scores"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/tasks"
)

// Config tunes a Service.
type Config struct {
	// Alias names the serving index; sync state is kept per alias.
	Alias string
	// ShardSize is the number of customers per full-sync shard (default 20000).
	ShardSize int
	// BatchSize is the number of profiles per write to the engine (default
	// 5000: one bulk request each, measured faster than 2000 and as fast
	// as 10000 in docs/index-mapping.md).
	BatchSize int
	// Overlap is subtracted from the watermark so transactions that commit
	// late are not missed (default 2 minutes).
	Overlap time.Duration
	// Scores enables customer scores (internal/scores): a full sync fits
	// them between plan and shards; every write scores its customers with
	// the generation's. False writes documents without scores.
	Scores bool
	// Location is the business time zone scores count days in (default UTC).
	Location *time.Location
	// Fit tunes the BG/NBD fit.
	Fit scores.FitConfig
}

// Notifier hears of index changes; the search cache uses them to stop
// serving answers computed before.
type Notifier interface {
	Promoted(ctx context.Context, generation string) error
	Changed(ctx context.Context) error
}

// Params are a Service's dependencies.
type Params struct {
	// Runs keeps the runs, their shards and the sync state.
	Runs Store
	// Tracking keeps what the index's documents were computed from.
	Tracking Tracking
	// Scores keeps the fitted score models per generation.
	Scores     scores.Repository
	Source     *pgxpool.Pool
	Engine     search.Engine
	Dispatcher *jobs.Dispatcher
	Log        *zap.Logger
	Config     Config
	// Notifier, if not nil, is told of promotions and upserts.
	Notifier Notifier
}

// Service runs syncs. Safe for concurrent use.
type Service struct {
	runs       Store
	tracking   Tracking
	source     *pgxpool.Pool
	engine     search.Engine
	dispatcher *jobs.Dispatcher
	jobs       *jobs.Store
	log        *zap.Logger
	cfg        Config
	notifier   Notifier

	scores    *scores.Store
	scoresMu  sync.Mutex
	scoreSets map[string]*scores.Set
}

// New returns a Service with defaults filled in. Params.Runs,
// Params.Tracking and Params.Scores are required.
func New(p Params) *Service {
	if p.Runs == nil || p.Tracking == nil || p.Scores == nil {
		panic("syncrun: New needs Params.Runs, Params.Tracking and Params.Scores (postgres.NewSyncRuns, postgres.NewTracking, postgres.NewScores)")
	}
	cfg := p.Config
	if cfg.ShardSize <= 0 {
		cfg.ShardSize = 20000
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 5000
	}
	if cfg.Overlap <= 0 {
		cfg.Overlap = 2 * time.Minute
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	return &Service{runs: p.Runs, tracking: p.Tracking, source: p.Source, engine: p.Engine, dispatcher: p.Dispatcher,
		jobs: p.Dispatcher.Store(), log: p.Log, cfg: cfg, notifier: p.Notifier,
		scores: scores.NewStore(p.Scores), scoreSets: map[string]*scores.Set{}}
}

// Start creates a full, incremental or reconcile sync job and enqueues its
// first task.
// A second sync of the same mode while one runs is a Conflict naming the
// running job.
func (s *Service) Start(ctx context.Context, mode Mode, t jobs.Tenant, createdBy string) (jobs.Job, error) {
	spec, ok := SpecOf(mode)
	if !ok || !spec.Startable {
		return jobs.Job{}, errs.E(errs.Invalid, "mode must be one of %s, got %q", modeList(), mode)
	}
	if spec.NeedsWatermark {
		if err := s.requireWatermark(ctx); err != nil {
			return jobs.Job{}, err
		}
	}
	typ := spec.JobType
	job, err := s.dispatcher.Start(ctx, jobs.New{CompanyID: t.CompanyID, Type: typ, Params: map[string]string{"mode": mode.String()}, CreatedBy: createdBy},
		spec.first, func(ctx context.Context, j jobs.Job) error {
			return s.runs.InsertRun(ctx, j.ID, mode.String())
		})
	var running *jobs.AlreadyRunning
	if errors.As(err, &running) {
		return jobs.Job{}, &errs.Error{Code: errs.Conflict, Message: fmt.Sprintf("a %s sync is already running: job %s", mode, running.JobID),
			Detail: map[string]any{"runningJobId": running.JobID}, Err: err}
	}
	return job, err
}

// StartRefresh creates a job that re-indexes the listed customers now.
// Company keys refresh only their own company's customers: ids the source
// knows under another company are dropped before the task is enqueued and
// counted as "ignored" in the job's params and result.
func (s *Service) StartRefresh(ctx context.Context, ids []string, t jobs.Tenant, createdBy string) (jobs.Job, error) {
	if len(ids) == 0 || len(ids) > 10000 {
		return jobs.Job{}, errs.E(errs.Invalid, "customerIds must list 1 to 10000 ids")
	}
	ids, ignored, err := s.ownIDs(ctx, ids, t)
	if err != nil {
		return jobs.Job{}, err
	}
	return s.dispatcher.Start(ctx, jobs.New{CompanyID: t.CompanyID, Type: jobs.TypeSyncRefresh,
		Params: map[string]any{"mode": ModeRefresh, "customers": len(ids), "ignored": ignored}, CreatedBy: createdBy},
		func(id string) (*asynq.Task, string, error) {
			return tasks.NewSyncRefreshTask(tasks.SyncRefreshPayload{JobPayload: tasks.JobPayload{JobID: id}, CustomerIDs: ids})
		}, func(ctx context.Context, j jobs.Job) error {
			return s.runs.InsertRun(ctx, j.ID, ModeRefresh.String())
		})
}

// requireWatermark is a Conflict until a full sync has completed: an
// incremental sync has nothing to start from.
func (s *Service) requireWatermark(ctx context.Context) error {
	ok, err := s.runs.HasWatermark(ctx, s.cfg.Alias)
	if err != nil {
		return fmt.Errorf("sync state: %w", err)
	}
	if !ok {
		return errs.E(errs.Conflict, "no full sync has completed yet: run a full sync first")
	}
	return nil
}

// Plan opens a full run: a new generation with load settings, key-range
// shards, one task per shard. Re-running it after a crash re-enqueues the
// shards it already planned.
func (s *Service) Plan(ctx context.Context, jobID string) error {
	run, err := s.runs.RunStatus(ctx, jobID)
	if err != nil {
		return fmt.Errorf("plan %s: %w", jobID, err)
	}
	if run.Generation != "" && run.ShardsTotal > 0 {
		return s.afterPlan(ctx, jobID, run.Generation)
	}
	wm, err := source.Now(ctx, s.source)
	if err != nil {
		return fmt.Errorf("plan: source clock: %w", err)
	}
	g := NewGeneration(wm)
	if run.Generation != "" {
		g = run.Generation // the crashed attempt's generation: reuse it
	} else if err := s.runs.SetGeneration(ctx, jobID, g, wm); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	if err := s.recordPlan(ctx, jobID); err != nil {
		return err
	}
	if err := s.engine.CreateGeneration(ctx, g); err != nil && !errs.Is(err, errs.Conflict) {
		return fmt.Errorf("plan: create generation %s: %w", g, err)
	}
	bounds, err := source.ShardBounds(ctx, s.source, s.cfg.ShardSize)
	if err != nil {
		return err
	}
	if err := s.runs.InsertShards(ctx, jobID, bounds); err != nil {
		return fmt.Errorf("plan: shards: %w", err)
	}
	if err := s.jobs.SetProgress(ctx, jobID, jobs.Progress{Done: 0, Total: int64(len(bounds) + 1)}); err != nil {
		return err
	}
	s.log.Info("full sync planned", zap.String("job_id", jobID), zap.String("generation", g), zap.Int("shards", len(bounds)+1))
	return s.afterPlan(ctx, jobID, g)
}

func (s *Service) enqueueShards(ctx context.Context, jobID, gen string) error {
	todo, err := s.runs.PendingShards(ctx, jobID)
	if err != nil {
		return err
	}
	for _, sh := range todo {
		task, id, err := tasks.NewSyncShardTask(tasks.SyncShardPayload{JobPayload: tasks.JobPayload{JobID: jobID},
			Shard: sh.N, Generation: gen, Lo: sh.Lo, Hi: sh.Hi})
		if err != nil {
			return err
		}
		if err := s.dispatcher.Follow(ctx, jobID, task, id); err != nil {
			return err
		}
	}
	if len(todo) == 0 {
		return s.maybeFinalize(ctx, jobID, gen)
	}
	return nil
}

// Shard enriches one key range and writes it into the run's generation.
// Re-running a shard overwrites the same documents. The task that
// completes the last shard enqueues finalize.
func (s *Service) Shard(ctx context.Context, p tasks.SyncShardPayload) error {
	enr, err := s.enricher(ctx)
	if err != nil {
		return err
	}
	score, err := s.shardScorer(ctx, p.Generation)
	if err != nil {
		return err
	}
	n, err := s.inBatches(func(fn func(profile.Profile) error) error {
		return enr.Range(ctx, p.Lo, p.Hi, func(pr profile.Profile) error { score(&pr); return fn(pr) })
	},
		func(batch []profile.Profile) error {
			if err := s.engine.Index(ctx, p.Generation, batch); err != nil {
				return fmt.Errorf("index shard %d: %w", p.Shard, err)
			}
			if err := s.track(ctx, p.Generation, batch); err != nil {
				return fmt.Errorf("index shard %d: %w", p.Shard, err)
			}
			metrics.DocumentsIndexed.WithLabelValues(ModeFull.String()).Add(float64(len(batch)))
			return nil
		})
	if err != nil {
		return err
	}
	c, err := s.runs.ShardDone(ctx, p.JobID, p.Shard, n, Drift{})
	if err != nil {
		return fmt.Errorf("shard %d done: %w", p.Shard, err)
	}
	_ = s.jobs.SetProgress(ctx, p.JobID, jobs.Progress{Done: int64(c.Done), Total: int64(c.Total)})
	if c.Done == c.Total {
		return s.maybeFinalize(ctx, p.JobID, p.Generation)
	}
	return nil
}

// maybeFinalize enqueues finalize once every shard is done. The counter's
// last increment gets here; a shard retried after a crash between its
// commit and this call gets here too, and the fixed task id makes the
// second enqueue a no-op.
func (s *Service) maybeFinalize(ctx context.Context, jobID, gen string) error {
	task, id, err := tasks.NewSyncFinalizeTask(tasks.SyncFinalizePayload{JobPayload: tasks.JobPayload{JobID: jobID}, Generation: gen})
	if err != nil {
		return err
	}
	return s.dispatcher.Follow(ctx, jobID, task, id)
}

// Finalize verifies the run's generation against what the shards wrote and
// against the source, promotes it, records the watermark and catches up
// on changes made while the run was going. A run that fails verification
// never swaps: the old generation keeps serving.
//
// Every step after the swap is idempotent and runs on every attempt: a
// retry after the alias moved (the old generation's drop timed out, the
// promoted_at write failed) never re-verifies the now-serving generation,
// which upserts may have grown, and always records the sync state.
func (s *Service) Finalize(ctx context.Context, p tasks.SyncFinalizePayload) error {
	run, err := s.runs.FinalizeState(ctx, p.JobID)
	if err != nil {
		return fmt.Errorf("finalize: %w", err)
	}
	indexed, started := run.Indexed, run.Started
	if run.Promoted == nil {
		serving, err := s.engine.Current(ctx)
		if err != nil {
			return fmt.Errorf("finalize: serving generation: %w", err)
		}
		if serving != p.Generation {
			if reason, err := s.verify(ctx, p.JobID, p.Generation, indexed); err != nil {
				return err
			} else if reason != "" {
				return s.abandon(ctx, p, reason)
			}
			if err := s.runs.MarkIndexed(ctx, p.JobID); err != nil {
				return err
			}
		}
		// Promote again even when the alias already moved: it finishes
		// the drop of older generations a failed attempt left behind.
		if err := s.engine.Promote(ctx, p.Generation); err != nil {
			return fmt.Errorf("finalize: promote %s: %w", p.Generation, err)
		}
		if err := s.runs.MarkPromoted(ctx, p.JobID); err != nil {
			return err
		}
		s.log.Info("generation promoted", zap.String("job_id", p.JobID), zap.String("generation", p.Generation), zap.Int64("documents", indexed))
	}
	// A retry keeps a watermark the catch-up already moved past the run's.
	if err := s.runs.RecordFull(ctx, s.cfg.Alias, p.Generation, run.Watermark); err != nil {
		return fmt.Errorf("finalize: record watermark: %w", err)
	}
	if err := s.scores.Prune(ctx, p.Generation); err != nil {
		s.log.Warn("prune scores of older generations", zap.Error(err))
	}
	s.notify(func(n Notifier) error { return n.Promoted(ctx, p.Generation) })
	if err := s.adoptRun(ctx, p.JobID, p.Generation); err != nil {
		return fmt.Errorf("finalize: %w", err)
	}
	caught, err := s.catchUp(ctx, p.JobID)
	if err != nil {
		return fmt.Errorf("finalize: catch up: %w", err)
	}
	metrics.LastSyncTimestamp.WithLabelValues(ModeFull.String()).SetToCurrentTime()
	_, err = s.jobs.Succeed(ctx, p.JobID, map[string]any{
		"generation": p.Generation, "documents": indexed, "caughtUp": caught.Documents, "caughtUpDeleted": caught.Deleted,
		"durationSeconds": time.Since(started).Seconds(),
		"scores":          s.scoresResult(ctx, p.Generation),
	})
	return err
}

// verify checks a generation not yet serving: its document count against
// what the shards wrote, and against the source's customers give or take
// those written or deleted since the run's plan. A non-empty reason
// fails it.
//
// With P customers at the plan, D deleted and I inserted since, and W
// (>= I) written since, each shard read its range at some moment in
// between, so the generation holds P - D' + I' documents (D' <= D,
// I' <= I) and the source now has P - D + I: the count is at most P + W
// and at least now - W.
func (s *Service) verify(ctx context.Context, jobID, gen string, indexed int64) (reason string, err error) {
	count, err := s.engine.Count(ctx, gen)
	if err != nil {
		return "", fmt.Errorf("finalize: count generation: %w", err)
	}
	if count != indexed {
		return fmt.Sprintf("generation %s holds %d documents but the shards wrote %d", gen, count, indexed), nil
	}
	run, err := s.runs.Plan(ctx, jobID)
	if err != nil {
		return "", fmt.Errorf("finalize: %w", err)
	}
	if run.Snapshot == "" {
		return "", fmt.Errorf("finalize %s: no plan snapshot recorded", jobID)
	}
	since, err := source.ParseSnapshot(run.Snapshot)
	if err != nil {
		return "", err
	}
	now, written, err := source.CountCustomersSince(ctx, s.source, since)
	if err != nil {
		return "", fmt.Errorf("finalize: %w", err)
	}
	plan := now // a run planned before plan_customers was recorded
	if run.Customers != nil {
		plan = *run.Customers
	}
	if count > plan+written || now-count > written {
		return fmt.Sprintf("generation %s holds %d documents but the source had %d customers at the plan and has %d now, %d written since",
			gen, count, plan, now, written), nil
	}
	return "", nil
}

// abandon fails a run without swapping and drops its generation, unless
// that generation is the one serving.
func (s *Service) abandon(ctx context.Context, p tasks.SyncFinalizePayload, reason string) error {
	s.log.Error("full sync abandoned", zap.String("job_id", p.JobID), zap.String("reason", reason))
	if _, err := s.jobs.Fail(ctx, p.JobID, reason); err != nil {
		return err
	}
	if serving, err := s.engine.Current(ctx); err != nil || serving == p.Generation {
		s.log.Error("abandoned generation kept: it serves (or the engine did not say)", zap.String("generation", p.Generation), zap.Error(err))
		return nil
	}
	if err := s.engine.DropGeneration(ctx, p.Generation); err != nil {
		s.log.Warn("drop abandoned generation", zap.Error(err))
	}
	return nil
}

// Incremental upserts the customers changed since the watermark into the
// serving generation and advances the watermark.
func (s *Service) Incremental(ctx context.Context, jobID string) error {
	res, err := s.catchUp(ctx, jobID)
	if err != nil {
		return err
	}
	metrics.LastSyncTimestamp.WithLabelValues(ModeIncremental.String()).SetToCurrentTime()
	_, err = s.jobs.Succeed(ctx, jobID, res)
	return err
}

// catchUp tracks the changes since the serving generation's snapshot
// (see trackChanges) and records the source clock as the watermark shown
// to operators (change detection does not use it).
func (s *Service) catchUp(ctx context.Context, jobID string) (Changed, error) {
	now, err := source.Now(ctx, s.source)
	if err != nil {
		return Changed{}, err
	}
	res, err := s.trackChanges(ctx, jobID)
	if err != nil {
		return res, err
	}
	return res, s.runs.RecordIncremental(ctx, s.cfg.Alias, now)
}

// Refresh re-indexes the listed customers of the job's company.
func (s *Service) Refresh(ctx context.Context, p tasks.SyncRefreshPayload) error {
	job, err := s.jobs.GetAny(ctx, p.JobID)
	if err != nil {
		return err
	}
	n, gone, err := s.upsert(ctx, p.JobID, p.CustomerIDs, job.CompanyID, ModeRefresh)
	if err != nil {
		return err
	}
	if gone == nil {
		gone = []string{}
	}
	var params struct {
		Ignored int `json:"ignored"`
	}
	_ = json.Unmarshal(job.Params, &params)
	_, err = s.jobs.Succeed(ctx, p.JobID, map[string]any{"requested": len(p.CustomerIDs), "documents": n, "ignored": params.Ignored,
		"deleted": len(gone), "deletedIds": gone})
	return err
}

// upsert enriches ids in batches and writes them to the serving
// generation; the ids the source no longer has (companyID: under that
// company) are deleted from it, versioned by the snapshot that found them
// absent, and returned.
func (s *Service) upsert(ctx context.Context, jobID string, ids []string, companyID string, mode Mode) (int64, []string, error) {
	if len(ids) == 0 {
		return 0, nil, nil
	}
	gen, err := s.engine.Current(ctx)
	if err != nil {
		return 0, nil, err
	} else if gen == "" {
		return 0, nil, errs.E(errs.Conflict, "no index is serving yet: run a full sync first")
	}
	enr, err := s.enricher(ctx)
	if err != nil {
		return 0, nil, err
	}
	score, err := s.upsertScorer(ctx, gen)
	if err != nil {
		return 0, nil, err
	}
	var n int64
	var gone []string
	total := int64(len(ids))
	for start := 0; start < len(ids); start += s.cfg.BatchSize {
		chunk := ids[start:min(start+s.cfg.BatchSize, len(ids))]
		batch := make([]profile.Profile, 0, len(chunk))
		found := make(map[string]bool, len(chunk))
		version, err := enr.Lookup(ctx, chunk, companyID, func(p profile.Profile) error {
			score(&p)
			batch = append(batch, p)
			found[p.CustomerID] = true
			return nil
		})
		if err != nil {
			return n, gone, err
		}
		if err := s.write(ctx, gen, batch); err != nil {
			return n, gone, err
		}
		var absent []string
		for _, id := range chunk {
			if !found[id] {
				absent = append(absent, id)
			}
		}
		if err := s.remove(ctx, gen, absent, companyID, version); err != nil {
			return n, gone, err
		}
		gone = append(gone, absent...)
		metrics.DocumentsIndexed.WithLabelValues(mode.String()).Add(float64(len(batch)))
		n += int64(len(batch))
		_ = s.jobs.SetProgress(ctx, jobID, jobs.Progress{Done: int64(start + len(chunk)), Total: total})
	}
	s.notify(func(n Notifier) error { return n.Changed(ctx) })
	// Added, not set: a full run's catch-up adds to what its shards wrote.
	return n, gone, s.runs.AddDocuments(ctx, jobID, n)
}

// notify tells the notifier, if any; a failure only costs stale cache
// entries until their TTL, so it is logged, not returned.
func (s *Service) notify(f func(Notifier) error) {
	if s.notifier == nil {
		return
	}
	if err := f(s.notifier); err != nil {
		s.log.Warn("notify index change", zap.Error(err))
	}
}

// enricher returns an enricher over the source; each of its reads loads
// the catalog in its own snapshot.
func (s *Service) enricher(context.Context) (*source.Enricher, error) {
	return source.NewEnricher(s.source), nil
}

// NewGeneration names a generation after the source time it started from,
// plus a random suffix: lowercase, sortable, valid as an index or table name.
func NewGeneration(t time.Time) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return strings.ToLower(t.UTC().Format("20060102t150405")) + "_" + hex.EncodeToString(b)
}
