// Package segsearch is the large-segment search service: a job that
// freezes every customer a filter matches into a snapshot (internal/snapshot)
// with its summary, then pages of that snapshot. The API starts and reads
// searches; a worker runs them.
package segsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/internal/snapshot"
)

// scanPage is the size of the engine pages a run reads: the export's, since
// the scan is the same one.
const scanPage = 2500

// Config tunes a Service.
type Config struct {
	// Retention is how long a snapshot is kept (default 24 hours).
	Retention time.Duration
	// Location is the business time zone filters count days in (default UTC).
	Location *time.Location
}

// Params are a Service's dependencies.
type Params struct {
	Jobs       *jobs.Store
	Dispatcher *jobs.Dispatcher
	Snapshots  *snapshot.Store
	// Engine is what runs read; a service that only starts and reads
	// searches (the API) needs none.
	Engine search.Searcher
	Log    *zap.Logger
	Config Config
}

// Service starts, runs, reads and expires large-segment searches. Safe for
// concurrent use.
type Service struct {
	jobs       *jobs.Store
	dispatcher *jobs.Dispatcher
	snapshots  *snapshot.Store
	engine     search.Searcher
	log        *zap.Logger
	cfg        Config
}

// New returns a Service over p, with p.Config's defaults filled.
func New(p Params) *Service {
	cfg := p.Config
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 24 * time.Hour
	}
	return &Service{jobs: p.Jobs, dispatcher: p.Dispatcher, snapshots: p.Snapshots, engine: p.Engine, log: p.Log, cfg: cfg}
}

// Start queues a search of f (which must name its company) in sort s.
func (s *Service) Start(ctx context.Context, f segment.Filter, srt segment.Sort, createdBy string) (jobs.Job, error) {
	return snapshot.Start(ctx, s.dispatcher, f, srt, createdBy)
}

// Get returns the search job id of t's tenant; a job of another type is
// not found.
func (s *Service) Get(ctx context.Context, t jobs.Tenant, id string) (jobs.Job, error) {
	job, err := s.jobs.Get(ctx, t, id)
	if err == nil && job.Type != jobs.TypeSegmentSearch {
		return jobs.Job{}, jobs.NotFound(id)
	}
	return job, err
}

// Results returns the page of search id after cursor ("" for the first);
// a search that has not succeeded is a Conflict.
func (s *Service) Results(ctx context.Context, t jobs.Tenant, id, cursor string, size int) (snapshot.Page, error) {
	job, err := s.Get(ctx, t, id)
	if err != nil {
		return snapshot.Page{}, err
	}
	if job.State != jobs.Succeeded {
		return snapshot.Page{}, errs.E(errs.Conflict, "the segment search is %s, not succeeded", job.State)
	}
	return s.snapshots.Read(ctx, job.ID, cursor, size)
}

// Run materialises the snapshot of search jobID and marks the job
// succeeded with its summary. Params that cannot be decoded are wrapped
// with asynq.SkipRetry: running again cannot fix them.
func (s *Service) Run(ctx context.Context, jobID string) error {
	job, err := s.jobs.GetAny(ctx, jobID)
	if err != nil {
		return err
	}
	var params snapshot.Params
	if err := json.Unmarshal(job.Params, &params); err != nil {
		return fmt.Errorf("segment params: %v: %w", err, asynq.SkipRetry)
	}
	f, err := segment.Decode(params.Filter)
	if err != nil {
		return fmt.Errorf("segment filter: %v: %w", err, asynq.SkipRetry)
	}
	srt, err := segment.ParseSort(params.Sort)
	if err != nil {
		return fmt.Errorf("segment sort: %v: %w", err, asynq.SkipRetry)
	}
	q := search.Query{Filter: f, Sort: srt, Size: scanPage, Now: job.CreatedAt, Location: s.cfg.Location}
	first, err := s.engine.Search(ctx, search.Query{Filter: f, Sort: srt, Size: 1, Now: q.Now, Location: q.Location})
	if err != nil {
		return err
	}
	total := first.Total
	sum, err := s.snapshots.Materialize(ctx, s.engine, jobID, q, s.cfg.Retention, func(done int64) {
		_ = s.jobs.SetProgress(ctx, jobID, jobs.Progress{Done: done, Total: max(total, done)})
	})
	if err != nil {
		return err
	}
	_, err = s.jobs.Succeed(ctx, jobID, sum)
	return err
}

// Drop deletes the snapshot of search jobID now rather than at expiry.
func (s *Service) Drop(ctx context.Context, jobID string) error { return s.snapshots.Drop(ctx, jobID) }

// Cleanup deletes expired snapshots and returns how many.
func (s *Service) Cleanup(ctx context.Context) (int64, error) { return s.snapshots.Cleanup(ctx) }
