package syncrun

import (
	"context"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/source"
)

// Tracking keeps what the index's documents were computed from: per
// generation the tracked customers, per alias the serving generation's
// source snapshot and the catalog it reflects (see
// track.go). The postgres adapter implements it.
type Tracking interface {
	// TrackedState returns alias's tracked generation and its source
	// snapshot; both "" when no full sync has been adopted since change
	// tracking began.
	TrackedState(ctx context.Context, alias string) (gen, snapshot string, err error)
	// Track records what docs were computed from in generation gen; an
	// older version never replaces a newer one, and of two docs of one
	// customer in docs the newer is kept.
	Track(ctx context.Context, alias, gen string, docs []profile.Profile) error
	// TrackNew is Track for a generation a full sync is building, whose
	// customers are tracked once unless a shard runs again: cheaper
	// while none is tracked yet, Track's result either way.
	TrackNew(ctx context.Context, alias, gen string, docs []profile.Profile) error
	// TrackedCompanies returns the company tracked for each of ids that
	// generation gen tracks.
	TrackedCompanies(ctx context.Context, alias, gen string, ids []string) (map[string]string, error)
	// Untrack forgets ids in generation gen, except those tracked at a
	// version newer than version.
	Untrack(ctx context.Context, alias, gen string, ids []string, version int64) error
	// Tracked returns generation gen's tracked customers as the change
	// pass compares them.
	Tracked(alias, gen string) source.Tracked
	// TrackedProducts returns the catalog alias reflects: product id to
	// fingerprint.
	TrackedProducts(ctx context.Context, alias string) (map[string]string, error)
	// SaveCatalog replaces the catalog alias reflects, atomically.
	SaveCatalog(ctx context.Context, alias string, products map[string]string) error
	// Adopt makes gen alias's tracked generation as of snapshot, with
	// catalog; atomic and idempotent. Reads name their generation, so
	// other generations' records are only space until DropOthers.
	Adopt(ctx context.Context, alias, gen, snapshot string, catalog map[string]string) error
	// DropOthers deletes the tracked customers of every generation of
	// alias but gen.
	DropOthers(ctx context.Context, alias, gen string) error
	// AdvanceSnapshot moves alias's snapshot to snapshot if gen is still
	// its tracked generation.
	AdvanceSnapshot(ctx context.Context, alias, gen, snapshot string) error
}
