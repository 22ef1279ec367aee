package syncrun

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/metrics"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/tasks"
)

// Change tracking (docs/change-tracking.md). The service database keeps,
// per generation, what each customer's document was computed from
// (tracked_customers) and, per alias, the source snapshot the serving
// generation is current with and the catalog it reflects. A pass reads
// in one source snapshot the customers written since, the catalog, and
// per bucket of customer ids the customers and invoices of those not
// written (lower than tracked: something was deleted or moved away),
// comparing customer by customer only the buckets that differ.

// Changed is what one change-tracking pass did.
type Changed struct {
	// Documents counts the documents written.
	Documents int64 `json:"documents"`
	// Deleted counts the customers gone from the source, removed from the index.
	Deleted int64 `json:"deleted"`
	// CatalogJobID is the background job re-enriching the buyers of
	// changed products, when any changed.
	CatalogJobID string `json:"catalogJobId,omitempty"`
	// Buckets counts the buckets of customers whose totals the pass
	// compared, BucketsDiffered those it then compared customer by
	// customer (a delete or a move away in them).
	Buckets         int `json:"buckets,omitempty"`
	BucketsDiffered int `json:"bucketsDiffered,omitempty"`
}

// trackedState is the alias's serving generation and its snapshot.
func (s *Service) trackedState(ctx context.Context) (gen string, since source.Snapshot, err error) {
	gen, snap, err := s.tracking.TrackedState(ctx, s.cfg.Alias)
	if err != nil {
		return "", source.Snapshot{}, err
	}
	if gen == "" {
		return "", source.Snapshot{}, errs.E(errs.Conflict, "no full sync has completed yet (or none since change tracking began): run a full sync first")
	}
	since, err = source.ParseSnapshot(snap)
	return gen, since, err
}

// track records what docs were computed from, for generation gen; an
// older record never replaces a newer one.
func (s *Service) track(ctx context.Context, gen string, docs []profile.Profile) error {
	if len(docs) == 0 {
		return nil
	}
	if err := s.tracking.Track(ctx, s.cfg.Alias, gen, docs); err != nil {
		return fmt.Errorf("track documents: %w", err)
	}
	return nil
}

// tombstones returns versioned deletes of ids, routed by the company
// tracked for each (companyID when none is).
func (s *Service) tombstones(ctx context.Context, gen string, ids []string, companyID string, version int64) ([]search.Tombstone, error) {
	company, err := s.tracking.TrackedCompanies(ctx, s.cfg.Alias, gen, ids)
	if err != nil {
		return nil, err
	}
	out := make([]search.Tombstone, len(ids))
	for i, id := range ids {
		c, ok := company[id]
		if !ok {
			c = companyID
		}
		out[i] = search.Tombstone{CustomerID: id, CompanyID: c, Version: version}
	}
	return out, nil
}

// untrack forgets deleted customers, unless tracked at a newer version.
func (s *Service) untrack(ctx context.Context, gen string, tombs []search.Tombstone) error {
	if len(tombs) == 0 {
		return nil
	}
	ids := make([]string, len(tombs))
	for i, t := range tombs {
		ids[i] = t.CustomerID
	}
	return s.tracking.Untrack(ctx, s.cfg.Alias, gen, ids, tombs[0].Version)
}

// changes reads the source since the snapshot and compares it with
// generation gen's tracked documents (source.ReadChanges): it returns the
// customers to re-enrich (written since, counts that differ, untracked,
// or gone: the enrichment finds the gone ones absent and deletes them)
// and what the source pass read.
func (s *Service) changes(ctx context.Context, gen string, since source.Snapshot) ([]string, source.Changes, error) {
	ch, err := source.ReadChanges(ctx, s.source, since, s.tracking.Tracked(s.cfg.Alias, gen))
	if err != nil {
		return nil, source.Changes{}, err
	}
	ids := append(append([]string(nil), ch.Written...), ch.Differ...)
	slices.Sort(ids)
	return slices.Compact(ids), ch, nil
}

// changedProducts compares the catalog with the one the alias reflects
// and returns the products added, removed or changed, sorted.
func (s *Service) changedProducts(ctx context.Context, now map[string]string) ([]string, error) {
	before, err := s.tracking.TrackedProducts(ctx, s.cfg.Alias)
	if err != nil {
		return nil, err
	}
	var changed []string
	for id, fp := range now {
		if before[id] != fp {
			changed = append(changed, id)
		}
	}
	for id := range before {
		if _, ok := now[id]; !ok {
			changed = append(changed, id)
		}
	}
	sort.Strings(changed)
	return changed, nil
}

// adoptRun makes a promoted full run's generation the tracked one: its
// plan snapshot and catalog become the alias's, and other generations'
// records are dropped. Idempotent: a retried finalize adopts again, and
// the catch-up re-reads from the plan snapshot.
func (s *Service) adoptRun(ctx context.Context, jobID, gen string) error {
	run, err := s.runs.Plan(ctx, jobID)
	if err != nil {
		return fmt.Errorf("adopt run: %w", err)
	}
	if run.Snapshot == "" {
		return fmt.Errorf("adopt run %s: no plan snapshot recorded", jobID)
	}
	if err := s.tracking.Adopt(ctx, s.cfg.Alias, gen, run.Snapshot, run.Catalog); err != nil {
		return fmt.Errorf("adopt run: %w", err)
	}
	return nil
}

// recordPlan keeps a full run's starting point: the source snapshot and
// its customer count, then the catalog (read after it, before any shard
// reads).
func (s *Service) recordPlan(ctx context.Context, jobID string) error {
	snap, customers, err := source.PlanSnapshot(ctx, s.source)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	catalog, err := source.LoadCatalog(ctx, s.source)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	err = s.runs.RecordPlan(ctx, jobID, RunPlan{Snapshot: snap.Text, Catalog: catalog.Fingerprints(), Customers: &customers})
	if err != nil {
		return fmt.Errorf("plan: record snapshot: %w", err)
	}
	return nil
}

// track catches the serving generation up with every change since its
// snapshot: re-enriches what changed, deletes what is gone, starts the
// background re-enrichment of changed products' buyers, and moves the
// snapshot forward (only if the generation is still the one it read).
func (s *Service) trackChanges(ctx context.Context, jobID string) (Changed, error) {
	gen, since, err := s.trackedState(ctx)
	if err != nil {
		return Changed{}, err
	}
	ids, ch, err := s.changes(ctx, gen, since)
	if err != nil {
		return Changed{}, err
	}
	res := Changed{Buckets: ch.Buckets, BucketsDiffered: ch.Drilled}
	products, err := s.changedProducts(ctx, ch.Products)
	if err != nil {
		return Changed{}, err
	}
	if len(products) > 0 {
		if res.CatalogJobID, err = s.startCatalog(ctx, products); err != nil {
			return Changed{}, err
		}
		if err := s.tracking.SaveCatalog(ctx, s.cfg.Alias, ch.Products); err != nil {
			return Changed{}, err
		}
	}
	var gone []string
	res.Documents, gone, err = s.upsert(ctx, jobID, ids, "", ModeIncremental)
	if err != nil {
		return res, err
	}
	res.Deleted = int64(len(gone))
	if err := s.tracking.AdvanceSnapshot(ctx, s.cfg.Alias, gen, ch.Snapshot.Text); err != nil {
		return res, fmt.Errorf("advance snapshot: %w", err)
	}
	s.log.Info("changes tracked", zap.String("job_id", jobID), zap.Int("customers", len(ids)),
		zap.Int64("deleted", res.Deleted), zap.Int("products", len(products)),
		zap.Int("buckets", res.Buckets), zap.Int("buckets_differed", res.BucketsDiffered))
	return res, nil
}

// startCatalog starts the background job re-enriching the buyers of
// products. It is not a "sync" of the one-running rule: it never blocks
// another sync.
func (s *Service) startCatalog(ctx context.Context, products []string) (string, error) {
	job, err := s.dispatcher.Start(ctx, jobs.New{Type: jobs.TypeSyncCatalog,
		Params: map[string]any{"mode": ModeCatalog, "products": products}, CreatedBy: "change-tracking"},
		func(id string) (*asynq.Task, string, error) {
			return tasks.NewSyncCatalogTask(tasks.SyncCatalogPayload{JobPayload: tasks.JobPayload{JobID: id}, Products: products, Shard: -1})
		}, func(ctx context.Context, j jobs.Job) error {
			return s.runs.InsertRun(ctx, j.ID, ModeCatalog.String())
		})
	if err != nil {
		return "", fmt.Errorf("start catalog re-enrichment: %w", err)
	}
	return job.ID, nil
}

// Catalog runs one task of a catalog re-enrichment job: the plan (shard
// -1) splits customers into key ranges and enqueues one task each; a
// shard re-enriches the products' buyers in its range; the last shard
// done completes the job.
func (s *Service) Catalog(ctx context.Context, p tasks.SyncCatalogPayload) error {
	if p.Shard < 0 {
		return s.planCatalog(ctx, p)
	}
	if done, err := s.runs.ShardIsDone(ctx, p.JobID, p.Shard); err != nil {
		return fmt.Errorf("catalog shard %d: %w", p.Shard, err)
	} else if done {
		return nil
	}
	gen, err := s.engine.Current(ctx)
	if err != nil {
		return err
	}
	enr := source.NewEnricher(s.source)
	n, err := s.inBatches(func(fn func(profile.Profile) error) error { return enr.Buyers(ctx, p.Lo, p.Hi, p.Products, fn) },
		func(batch []profile.Profile) error {
			if err := s.write(ctx, gen, batch); err != nil {
				return fmt.Errorf("catalog shard %d: %w", p.Shard, err)
			}
			metrics.DocumentsIndexed.WithLabelValues(ModeCatalog.String()).Add(float64(len(batch)))
			return nil
		})
	if err != nil {
		return err
	}
	s.notify(func(n Notifier) error { return n.Changed(ctx) })
	c, err := s.runs.ShardDone(ctx, p.JobID, p.Shard, n, Drift{})
	if err != nil {
		return fmt.Errorf("catalog shard %d done: %w", p.Shard, err)
	}
	if !c.Counted {
		return nil // counted by an earlier attempt
	}
	_ = s.jobs.SetProgress(ctx, p.JobID, jobs.Progress{Done: int64(c.Done), Total: int64(c.Total)})
	if c.Done == c.Total {
		_, err = s.jobs.Succeed(ctx, p.JobID, map[string]any{"products": len(p.Products), "shards": c.Total, "documents": c.Documents})
	}
	return err
}

func (s *Service) planCatalog(ctx context.Context, p tasks.SyncCatalogPayload) error {
	bounds, err := source.ShardBounds(ctx, s.source, s.cfg.ShardSize)
	if err != nil {
		return err
	}
	err = s.runs.InsertShards(ctx, p.JobID, bounds)
	if err != nil {
		return fmt.Errorf("plan catalog: %w", err)
	}
	todo, err := s.runs.PendingShards(ctx, p.JobID)
	if err != nil {
		return err
	}
	for _, sh := range todo {
		task, id, err := tasks.NewSyncCatalogTask(tasks.SyncCatalogPayload{JobPayload: p.JobPayload, Products: p.Products,
			Shard: sh.N, Lo: sh.Lo, Hi: sh.Hi})
		if err != nil {
			return err
		}
		if err := s.dispatcher.Follow(ctx, p.JobID, task, id); err != nil {
			return err
		}
	}
	return s.jobs.SetProgress(ctx, p.JobID, jobs.Progress{Done: 0, Total: int64(len(bounds) + 1)})
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

// inBatches hands the profiles read produces to write in batches of
// BatchSize and returns how many it wrote.
func (s *Service) inBatches(read func(func(profile.Profile) error) error, write func([]profile.Profile) error) (int64, error) {
	var n int64
	batch := make([]profile.Profile, 0, s.cfg.BatchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := write(batch); err != nil {
			return err
		}
		n += int64(len(batch))
		batch = batch[:0]
		return nil
	}
	err := read(func(p profile.Profile) error {
		batch = append(batch, p)
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return n, err
}
