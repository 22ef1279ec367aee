package syncrun

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/source"
)

// Change tracking (docs/change-tracking.md). The service database keeps
// (through Tracking), per generation, what each customer's document was
// computed from (tracked_customers) and, per alias, the source snapshot
// the serving generation is current with and the catalog it reflects. A
// pass reads in one source snapshot the customers written since, the
// catalog, and per bucket of customer ids the customers and invoices of
// those not written (lower than tracked: something was deleted or moved
// away), comparing customer by customer only the buckets that differ.

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

// trackChanges catches the serving generation up with every change since its
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
