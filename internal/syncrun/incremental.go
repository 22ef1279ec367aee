package syncrun

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/metrics"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/tasks"
)

// Incremental sync and refresh: both upsert customers into the serving
// generation (upsert), deleting those the source no longer has.

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

// write upserts docs into the serving generation gen and records them.
// The engine first: a record of a write that failed would hide the
// change from the next pass; a write whose record failed is only read
// again.
func (s *Service) write(ctx context.Context, gen string, docs []profile.Profile) error {
	if err := s.engine.Upsert(ctx, docs); err != nil {
		return fmt.Errorf("upsert: %w", err)
	}
	return s.track(ctx, gen, docs)
}

// remove deletes ids, absent from the source as of version, from the
// serving generation gen and forgets them.
func (s *Service) remove(ctx context.Context, gen string, ids []string, companyID string, version int64) error {
	if len(ids) == 0 {
		return nil
	}
	tombs, err := s.tombstones(ctx, gen, ids, companyID, version)
	if err != nil {
		return err
	}
	if err := s.engine.Delete(ctx, tombs); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return s.untrack(ctx, gen, tombs)
}
