// Package syncrun keeps the search index in step with the source database:
// a full sync builds a new generation shard by shard and swaps it in; an
// incremental sync and a refresh upsert changed customers into the serving
// generation; a reconcile pass proves the index equals the source and
// repairs it. Its state lives behind Store and Tracking (the postgres
// adapter); the source database is read through internal/source.
//
// One file per flow: start.go (starting a sync, the one-running rule),
// plan.go (a full sync's plan and shards), scores.go (the scores fitted
// between them), finalize.go (verify, promote, adopt), incremental.go
// (incremental sync, refresh, the shared upsert), track.go (change
// tracking), catalog.go (re-enriching buyers of changed products),
// reconcile.go, view.go (a run's status).
package syncrun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/scores"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/source"
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

// NewGeneration names a generation after the source time it started from,
// plus a random suffix: lowercase, sortable, valid as an index or table name.
func NewGeneration(t time.Time) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return strings.ToLower(t.UTC().Format("20060102t150405")) + "_" + hex.EncodeToString(b)
}
