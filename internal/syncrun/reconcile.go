package syncrun

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/metrics"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/tasks"
)

// A reconcile pass (anti-entropy) proves the serving index equals the
// source and repairs where it does not, without re-reading the index's
// documents: every document carries profile.Fingerprint of its content,
// written by the engine; a shard reads back only (customer id,
// fingerprint) for its key range, recomputes the fingerprints from the
// source with the same enrichment the full sync uses, and writes only the
// differences. See docs/reconcile.md.

// Drift is what a reconcile shard or pass found out of step.
type Drift struct {
	// Missing customers are in the source but have no document.
	Missing int64 `json:"missing"`
	// Extra documents have no customer in the source.
	Extra int64 `json:"extra"`
	// Stale documents differ from the profile the source gives now.
	Stale int64 `json:"stale"`
	// Repaired counts the documents written or deleted to fix the above.
	Repaired int64 `json:"repaired"`
	// Checked counts the customers and documents compared.
	Checked int64 `json:"checked"`
}

// ReconcilePlan splits the customers into the full sync's key ranges and
// enqueues one reconcile shard task each. Re-running it re-enqueues the
// shards not done.
func (s *Service) ReconcilePlan(ctx context.Context, jobID string) error {
	run, err := s.runs.RunStatus(ctx, jobID)
	if err != nil {
		return fmt.Errorf("reconcile plan %s: %w", jobID, err)
	}
	if run.ShardsTotal == 0 {
		bounds, err := source.ShardBounds(ctx, s.source, s.cfg.ShardSize)
		if err != nil {
			return err
		}
		if err := s.runs.InsertShards(ctx, jobID, bounds); err != nil {
			return fmt.Errorf("reconcile plan: shards: %w", err)
		}
		if err := s.jobs.SetProgress(ctx, jobID, jobs.Progress{Done: 0, Total: int64(len(bounds) + 1)}); err != nil {
			return err
		}
	}
	todo, err := s.runs.PendingShards(ctx, jobID)
	if err != nil {
		return err
	}
	for _, sh := range todo {
		task, id, err := tasks.NewSyncReconcileShardTask(tasks.SyncReconcileShardPayload{JobPayload: tasks.JobPayload{JobID: jobID},
			Shard: sh.N, Lo: sh.Lo, Hi: sh.Hi})
		if err != nil {
			return err
		}
		if err := s.dispatcher.Follow(ctx, jobID, task, id); err != nil {
			return err
		}
	}
	if len(todo) == 0 {
		return s.reconcileDone(ctx, jobID)
	}
	return nil
}

// ReconcileShard compares one key range of the source with the serving
// index and repairs every difference: missing and stale customers are
// upserted (versioned, so a newer incremental result is never undone),
// extra documents deleted. The index is read first, so a customer that
// changes in between is compared by its newer source state and repaired
// towards it. Re-running a shard finds what is still out of step.
func (s *Service) ReconcileShard(ctx context.Context, p tasks.SyncReconcileShardPayload) error {
	drift, err := s.reconcileRange(ctx, p.Lo, p.Hi)
	if err != nil {
		return fmt.Errorf("reconcile shard %d: %w", p.Shard, err)
	}
	c, err := s.runs.ShardDone(ctx, p.JobID, p.Shard, drift.Repaired, drift)
	if err != nil {
		return fmt.Errorf("reconcile shard %d done: %w", p.Shard, err)
	}
	_ = s.jobs.SetProgress(ctx, p.JobID, jobs.Progress{Done: int64(c.Done), Total: int64(c.Total)})
	if drift.Repaired > 0 {
		s.notify(func(n Notifier) error { return n.Changed(ctx) })
	}
	if c.Done == c.Total {
		return s.reconcileDone(ctx, p.JobID)
	}
	return nil
}

// reconcileDone sums the shards' drift into the job's result and the
// drift gauge. Whichever shard finishes last gets here; a second arrival
// finds the job final and changes nothing.
func (s *Service) reconcileDone(ctx context.Context, jobID string) error {
	d, started, err := s.runs.ReconcileTotals(ctx, jobID)
	if err != nil {
		return fmt.Errorf("reconcile result: %w", err)
	}
	ok, err := s.jobs.Succeed(ctx, jobID, map[string]any{
		"missing": d.Missing, "extra": d.Extra, "stale": d.Stale, "repaired": d.Repaired, "checked": d.Checked,
		"durationSeconds": time.Since(started).Seconds(),
	})
	if err != nil || !ok {
		return err
	}
	metrics.IndexDrift.WithLabelValues(metrics.DriftMissing).Set(float64(d.Missing))
	metrics.IndexDrift.WithLabelValues(metrics.DriftExtra).Set(float64(d.Extra))
	metrics.IndexDrift.WithLabelValues(metrics.DriftStale).Set(float64(d.Stale))
	metrics.LastSyncTimestamp.WithLabelValues(ModeReconcile.String()).SetToCurrentTime()
	s.log.Info("reconcile done", zap.String("job_id", jobID), zap.Int64("missing", d.Missing), zap.Int64("extra", d.Extra),
		zap.Int64("stale", d.Stale), zap.Int64("repaired", d.Repaired), zap.Int64("checked", d.Checked))
	return nil
}

// reconcileRange compares and repairs lo < customer_id <= hi.
//
// The index side is read in byte order and the source side in the source
// column's collation; where the two disagree a customer may fall in
// another shard's range on one side. So neither side's leftovers are
// trusted alone: a customer missing from this range of the index is
// looked up by id before it counts as missing, and a document without its
// customer in this range of the source is looked up in the source before
// it counts as extra.
func (s *Service) reconcileRange(ctx context.Context, lo, hi string) (Drift, error) {
	var d Drift
	indexed := map[string]search.Fingerprint{}
	err := s.engine.Fingerprints(ctx, lo, hi, func(page []search.Fingerprint) error {
		for _, f := range page {
			indexed[f.CustomerID] = f
		}
		return nil
	})
	if err != nil {
		return d, err
	}
	d.Checked = int64(len(indexed))
	enr, err := s.enricher(ctx)
	if err != nil {
		return d, err
	}
	var stale, absent []profile.Profile
	err = enr.Range(ctx, lo, hi, func(p profile.Profile) error {
		f, ok := indexed[p.CustomerID]
		switch {
		case !ok:
			absent = append(absent, p)
			d.Checked++
		case f.Fingerprint != profile.Fingerprint(p):
			stale = append(stale, p)
		}
		delete(indexed, p.CustomerID)
		return nil
	})
	if err != nil {
		return d, err
	}
	missing, moreStale, err := s.locate(ctx, absent)
	if err != nil {
		return d, err
	}
	stale = append(stale, moreStale...)
	extra, err := s.orphans(ctx, indexed)
	if err != nil {
		return d, err
	}
	d.Missing, d.Stale, d.Extra = int64(len(missing)), int64(len(stale)), int64(len(extra))
	if len(missing)+len(stale)+len(extra) == 0 {
		return d, nil
	}
	n, err := s.repair(ctx, append(missing, stale...), extra)
	d.Repaired = n
	return d, err
}

// repair writes profiles and deletes extra documents in the serving
// generation as the incremental sync does: profiles scored with the
// generation's scores and tracked, deleted documents forgotten, so the
// next change-tracking pass sees them like any other. It returns how many
// documents it wrote or deleted.
func (s *Service) repair(ctx context.Context, profiles []profile.Profile, extra []search.Tombstone) (int64, error) {
	gen, err := s.engine.Current(ctx)
	if err != nil {
		return 0, fmt.Errorf("repair: %w", err)
	}
	score, err := s.upsertScorer(ctx, gen)
	if err != nil {
		return 0, fmt.Errorf("repair: %w", err)
	}
	var n int64
	for start := 0; start < len(profiles); start += s.cfg.BatchSize {
		chunk := profiles[start:min(start+s.cfg.BatchSize, len(profiles))]
		for i := range chunk {
			score(&chunk[i])
		}
		if err := s.write(ctx, gen, chunk); err != nil {
			return n, fmt.Errorf("repair: %w", err)
		}
		metrics.DocumentsIndexed.WithLabelValues(ModeReconcile.String()).Add(float64(len(chunk)))
		n += int64(len(chunk))
	}
	if len(extra) > 0 {
		if err := s.engine.Delete(ctx, extra); err != nil {
			return n, fmt.Errorf("repair: delete extra documents: %w", err)
		}
		byVersion := map[int64][]search.Tombstone{}
		for _, t := range extra {
			byVersion[t.Version] = append(byVersion[t.Version], t)
		}
		for _, tombs := range byVersion {
			if err := s.untrack(ctx, gen, tombs); err != nil {
				return n, fmt.Errorf("repair: %w", err)
			}
		}
		n += int64(len(extra))
	}
	return n, nil
}

// locate looks up by id the customers this range of the index lacks:
// those with no document anywhere are missing, those whose document
// another range holds are compared here.
func (s *Service) locate(ctx context.Context, absent []profile.Profile) (missing, stale []profile.Profile, err error) {
	if len(absent) == 0 {
		return nil, nil, nil
	}
	ids := make([]string, len(absent))
	for i, p := range absent {
		ids[i] = p.CustomerID
	}
	found, err := s.engine.FingerprintsOf(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	elsewhere := make(map[string]string, len(found))
	for _, f := range found {
		elsewhere[f.CustomerID] = f.Fingerprint
	}
	for _, p := range absent {
		fp, ok := elsewhere[p.CustomerID]
		switch {
		case !ok:
			missing = append(missing, p)
		case fp != profile.Fingerprint(p):
			stale = append(stale, p)
		}
	}
	return missing, stale, nil
}

// orphans returns deletes for the documents whose customer the source does
// not have. Each delete carries the document's own version, so it applies
// and a write computed before it cannot bring the document back.
func (s *Service) orphans(ctx context.Context, docs map[string]search.Fingerprint) ([]search.Tombstone, error) {
	if len(docs) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(docs))
	for id := range docs {
		ids = append(ids, id)
	}
	present, err := source.Existing(ctx, s.source, ids)
	if err != nil {
		return nil, err
	}
	var out []search.Tombstone
	for id, f := range docs {
		if !present[id] {
			out = append(out, search.Tombstone{CustomerID: id, CompanyID: f.CompanyID, Version: f.Version})
		}
	}
	return out, nil
}
