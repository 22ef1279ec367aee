package scores

import (
	"context"
	"fmt"
	"time"

	"github.com/reactivation/reactivation/internal/errs"
)

// Repository keeps models per generation. The postgres adapter
// implements it.
type Repository interface {
	// SaveModels writes the models of generation gen, replacing any it
	// had, at once.
	SaveModels(ctx context.Context, gen string, models []*Model) error
	// HasModels reports whether generation gen has saved models.
	HasModels(ctx context.Context, gen string) (bool, error)
	// LoadModels returns the models of generation gen (none when it has
	// none).
	LoadModels(ctx context.Context, gen string) ([]*Model, error)
	// PruneModels deletes the models of every generation but keep.
	PruneModels(ctx context.Context, keep string) error
}

// Store keeps models in a Repository, per generation. Safe for concurrent
// use.
type Store struct {
	repo Repository
}

// NewStore returns a Store over repo.
func NewStore(repo Repository) *Store { return &Store{repo: repo} }

// Save writes the models of generation gen, replacing any it had.
func (s *Store) Save(ctx context.Context, gen string, models map[string]*Model) error {
	list := make([]*Model, 0, len(models))
	for _, m := range models {
		list = append(list, m)
	}
	if err := s.repo.SaveModels(ctx, gen, list); err != nil {
		return fmt.Errorf("scores: save generation %s: %w", gen, err)
	}
	return nil
}

// Has reports whether generation gen has saved models.
func (s *Store) Has(ctx context.Context, gen string) (bool, error) {
	ok, err := s.repo.HasModels(ctx, gen)
	if err != nil {
		return false, fmt.Errorf("scores: generation %s: %w", gen, err)
	}
	return ok, nil
}

// Load returns the models of generation gen, scoring days in loc. A
// generation without models is an empty Set (no scores).
func (s *Store) Load(ctx context.Context, gen string, loc *time.Location) (*Set, error) {
	models, err := s.repo.LoadModels(ctx, gen)
	if err != nil {
		return nil, fmt.Errorf("scores: load generation %s: %w", gen, err)
	}
	set := &Set{Generation: gen, Models: map[string]*Model{}, Location: loc}
	for _, m := range models {
		set.Models[m.CompanyID] = m
	}
	return set, nil
}

// Company returns the model of company in generation gen; a generation
// or company without one is errs.NotFound.
func (s *Store) Company(ctx context.Context, gen, company string, loc *time.Location) (*Model, error) {
	set, err := s.Load(ctx, gen, loc)
	if err != nil {
		return nil, err
	}
	m, ok := set.Models[company]
	if !ok {
		return nil, errs.E(errs.NotFound, "no scores for company %q: run a full sync with scores enabled", company)
	}
	return m, nil
}

// Prune deletes the models of every generation but keep.
func (s *Store) Prune(ctx context.Context, keep string) error {
	if err := s.repo.PruneModels(ctx, keep); err != nil {
		return fmt.Errorf("scores: prune: %w", err)
	}
	return nil
}
